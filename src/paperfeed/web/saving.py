"""The state of the save buttons on a page, read once per request for the signed-in user:
which papers are in their Saved collection (for cards), and which of their collections
hold one paper (for its page)."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy import select

from paperfeed.community import collections as store
from paperfeed.models import Collection, CollectionItem, User
from paperfeed.web.deps import get_db
from paperfeed.web.security import resolve_user


def in_saved(request: Request, paper_id: int) -> bool:
    saved = getattr(request.state, "saved_papers", None)
    if saved is None:
        saved = set()
        user = resolve_user(request)
        if user is not None:
            with get_db(request).reader() as session:
                saved = set(
                    session.execute(
                        select(CollectionItem.paper_id)
                        .join(Collection, Collection.id == CollectionItem.collection_id)
                        .where(Collection.owner_id == user.id, Collection.saved.is_(True))
                    ).scalars()
                )
        request.state.saved_papers = saved
    return paper_id in saved


def collections_for(request: Request, paper_id: int) -> list[tuple[Collection, bool, str]]:
    """The user's collections in their order, each with whether it holds the paper and its
    address; Saved first even before it exists (saving to it makes it)."""
    user: User | None = resolve_user(request)
    if user is None:
        return []
    with get_db(request).reader() as session:
        mine = store.list_of(session, user, user)
        holding = store.holding(session, user, [paper_id]).get(paper_id, set())
        found = [(c, c.id in holding, f"/collections/{store.hub_slug(c, user)}") for c in mine]
    return sorted(found, key=lambda row: not row[0].saved)
