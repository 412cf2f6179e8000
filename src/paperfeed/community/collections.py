"""Collections: a member's named, ordered lists of papers, each paper with an optional note.

Who may do what:
- anyone may read a public collection; a private one exists only for its owner (anyone
  else is told 404, so its existence is not given away), except through its feed's secret
  address, which the owner can replace (the old address then stops working);
- only the owner changes a collection (403 for others who can see it);
- every member has a "Saved" collection, made the first time it is asked for; it can be
  emptied and made public but not renamed or deleted.

A collection is named on the Hub's pattern `owner/title-slug-<24 hex>`; the hex `key` alone
finds it, so an old address keeps working after a rename. Limits: MAX_COLLECTIONS per
member, MAX_ITEMS per collection, titles, descriptions and notes by length; every change
counts against one per-member rate limit (`CHANGE`).
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from paperfeed import clock
from paperfeed.community.limits import Limit, hit
from paperfeed.errors import Conflict, Forbidden, NotFound, UserError
from paperfeed.models import Collection, CollectionItem, Paper, User
from paperfeed.papers.lookup import visible_paper
from paperfeed.plurals import plural

MAX_TITLE = 100
MAX_DESCRIPTION = 500
MAX_NOTE = 500  # the Hub's limit for a note
MAX_COLLECTIONS = 200
MAX_ITEMS = 1000
THEMES = ("orange", "blue", "green", "purple", "pink", "indigo")
SAVED_TITLE = "Saved"
SAVED_SLUG = "saved"
CHANGE = Limit("collections", 600, 3600)
_KEY = re.compile(r"[0-9a-f]{24}")


class CollectionError(UserError):
    """A collection change that cannot be made: a bad title, a limit, not the owner."""


class CollectionNotFound(CollectionError, NotFound):
    pass


class CollectionExists(CollectionError, Conflict):
    """A title the owner already uses; `slug` names the collection that has it."""

    def __init__(self, message: str, slug: str) -> None:
        super().__init__(message)
        self.slug = slug


class NotOwner(CollectionError, Forbidden):
    pass


class Invalid(CollectionError):
    status = 422


@dataclass(frozen=True)
class Entry:
    """A paper in a collection, as pages and exports show it."""

    item: CollectionItem
    paper: Paper


# --- names --------------------------------------------------------------------------------


def slugify(title: str) -> str:
    """`Reading group: LLMs & RL` -> `reading-group-llms-rl`; ASCII letters and digits."""
    folded = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")[:MAX_TITLE].strip("-")
    return slug or "collection"


def hub_slug(collection: Collection, owner: User) -> str:
    """The Hub's form of the name: `ada/reading-group-64f9a55bb3115b4f513ec026`."""
    return f"{owner.username}/{collection.slug}-{collection.key}"


def _key_of(name: str) -> str | None:
    """The 24-hex key a `owner/title-slug-<key>` name ends with (or the key itself)."""
    tail = name.strip().rsplit("-", 1)[-1].rsplit("/", 1)[-1].lower()
    return tail if _KEY.fullmatch(tail) else None


def _clean(text: str | None, what: str, limit: int) -> str:
    text = (text or "").strip()
    if "\x00" in text:
        raise Invalid(f"A collection's {what} cannot contain a NUL character.")
    if len(text) > limit:
        raise Invalid(f"A collection's {what} is at most {limit} characters.")
    return text


def _title(text: str | None) -> str:
    title = " ".join(_clean(text, "title", MAX_TITLE).split())
    if not title:
        raise Invalid("Give the collection a title.")
    return title


def _rate_limit(session: Session, user: User) -> None:
    verdict = hit(session, CHANGE, str(user.id))
    if not verdict.allowed:
        raise CollectionError(
            f"Too many collection changes. Try again in {plural(verdict.retry_after, 'second')}.",
            status=429,
            headers={"Retry-After": str(verdict.retry_after)},
        )


def _touch(collection: Collection) -> None:
    collection.updated_at = clock.now()


# --- finding ------------------------------------------------------------------------------


def owner_of(session: Session, collection: Collection) -> User:
    owner = session.get(User, collection.owner_id)
    assert owner is not None  # the foreign key cascades
    return owner


def find(session: Session, name: str, viewer: User | None) -> Collection:
    """The collection `name` (`owner/slug-key`) names, if `viewer` may see it; 404 if not."""
    key = _key_of(name or "")
    collection = (
        session.execute(select(Collection).where(Collection.key == key)).scalar_one_or_none()
        if key
        else None
    )
    owner = owner_of(session, collection) if collection is not None else None
    namespace = name.strip().split("/", 1)[0] if "/" in name else None
    if (
        collection is None
        or owner is None
        or (namespace is not None and namespace.lower() != owner.username.lower())
        or (collection.private and (viewer is None or viewer.id != collection.owner_id))
        or owner.banned_at is not None
    ):
        raise CollectionNotFound(f"There is no collection “{(name or '').strip()[:120]}” here.")
    return collection


def owned(session: Session, name: str, user: User) -> Collection:
    """The collection, if `user` owns it: 404 if they cannot see it, 403 if not theirs."""
    collection = find(session, name, user)
    if collection.owner_id != user.id:
        raise NotOwner("Only the owner of a collection can change it.")
    return collection


def by_feed_secret(session: Session, secret: str) -> Collection | None:
    if not secret or len(secret) > 64:
        return None
    return session.execute(
        select(Collection).where(Collection.feed_secret == secret)
    ).scalar_one_or_none()


def list_of(session: Session, owner: User, viewer: User | None) -> list[Collection]:
    """The owner's collections in their order: all for the owner, public ones for others."""
    query = select(Collection).where(Collection.owner_id == owner.id)
    if viewer is None or viewer.id != owner.id:
        query = query.where(Collection.private.is_(False))
    return list(session.execute(query.order_by(Collection.position, Collection.id)).scalars())


def public(
    session: Session,
    viewer: User | None,
    owner: str | None = None,
    paper: Paper | None = None,
    sort: str = "lastModified",
    limit: int = 100,
    offset: int = 0,
) -> list[Collection]:
    """Collections anyone may see, plus the viewer's own private ones: by an owner, holding
    a paper, most recently changed first (or in the owner's order with `sort="position"`)."""
    query = select(Collection).join(User, User.id == Collection.owner_id)
    query = query.where(User.banned_at.is_(None))
    if viewer is None:
        query = query.where(Collection.private.is_(False))
    else:
        query = query.where(Collection.private.is_(False) | (Collection.owner_id == viewer.id))
    if owner is not None:
        query = query.where(func.lower(User.username) == owner.strip().lower())
    if paper is not None:
        query = query.where(
            Collection.id.in_(
                select(CollectionItem.collection_id).where(CollectionItem.paper_id == paper.id)
            )
        )
    order = (
        (Collection.position, Collection.id)
        if sort == "position"
        else (Collection.updated_at.desc(), Collection.id.desc())
    )
    return list(session.execute(query.order_by(*order).limit(limit).offset(offset)).scalars())


def entries(session: Session, collection: Collection, limit: int | None = None) -> list[Entry]:
    """The collection's visible papers in its order (a paper a moderator removed is left out)."""
    query = (
        select(CollectionItem, Paper)
        .join(Paper, Paper.id == CollectionItem.paper_id)
        .where(CollectionItem.collection_id == collection.id, Paper.hidden_at.is_(None))
        .order_by(CollectionItem.position, CollectionItem.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return [Entry(item, paper) for item, paper in session.execute(query).all()]


def item_count(session: Session, collection: Collection) -> int:
    """Papers listed (a paper a moderator removed is neither listed nor counted)."""
    return session.execute(
        select(func.count())
        .select_from(CollectionItem)
        .join(Paper, Paper.id == CollectionItem.paper_id)
        .where(CollectionItem.collection_id == collection.id, Paper.hidden_at.is_(None))
    ).scalar_one()


def holding(session: Session, user: User, paper_ids: list[int]) -> dict[int, set[int]]:
    """For each of these papers, the ids of the user's collections that hold it: the state
    of the "save" controls on a page, in one query."""
    if not paper_ids:
        return {}
    rows = session.execute(
        select(CollectionItem.paper_id, CollectionItem.collection_id)
        .join(Collection, Collection.id == CollectionItem.collection_id)
        .where(Collection.owner_id == user.id, CollectionItem.paper_id.in_(paper_ids))
    ).all()
    found: dict[int, set[int]] = {}
    for paper_id, collection_id in rows:
        found.setdefault(paper_id, set()).add(collection_id)
    return found


# --- changing collections -----------------------------------------------------------------


def _count(session: Session, user: User) -> int:
    return session.execute(
        select(func.count()).select_from(Collection).where(Collection.owner_id == user.id)
    ).scalar_one()


def _new(session: Session, user: User, title: str, slug: str, **values: object) -> Collection:
    if _count(session, user) >= MAX_COLLECTIONS:
        raise CollectionError(
            f"You have {MAX_COLLECTIONS} collections already, the most an account can. "
            "Delete one first.",
            status=409,
        )
    last = session.execute(
        select(func.max(Collection.position)).where(Collection.owner_id == user.id)
    ).scalar_one()
    now = clock.now()
    collection = Collection(
        owner_id=user.id,
        key=secrets.token_hex(12),
        title=title,
        slug=slug,
        position=(last + 1) if last is not None else 0,
        created_at=now,
        updated_at=now,
        **values,
    )
    session.add(collection)
    session.flush()
    return collection


def _existing(session: Session, user: User, slug: str) -> Collection | None:
    return session.execute(
        select(Collection).where(Collection.owner_id == user.id, Collection.slug == slug)
    ).scalar_one_or_none()


def _slug_for(
    session: Session, user: User, title: str, keep: Collection | None = None
) -> tuple[str, Collection | None]:
    """A slug for `title` free among the member's collections (`keep` may hold it), and
    their collection of the same title if there is one (then the slug is its).

    Titles that differ can share a slug ("C++" and "C#", two titles in Chinese): the
    second gets `-2`, and so on, since a collection is found by its key, not its slug.
    "saved" stays for the Saved collection, made or not.
    """
    base = slugify(title)
    slug, number = base, 1
    while True:
        other = _existing(session, user, slug)
        if other is not None and other is keep:
            return slug, None
        reserved = slug == SAVED_SLUG and not (keep is not None and keep.saved)
        if other is None and not reserved:
            return slug, None
        holder_title = other.title if other is not None else SAVED_TITLE
        if holder_title.casefold() == title.casefold():
            return slug, other if other is not None else saved(session, user)
        number += 1
        slug = f"{base[: MAX_TITLE - 8]}-{number}"


def create(
    session: Session,
    user: User,
    title: str,
    description: str | None = None,
    private: bool = True,
    namespace: str | None = None,
) -> Collection:
    """A new collection at the end of the owner's list; 409 if they have one of that title."""
    if namespace is not None and namespace.strip().lower() != user.username.lower():
        raise NotOwner(f"You can create collections only under your own name, {user.username}.")
    title = _title(title)
    description = _clean(description, "description", MAX_DESCRIPTION)
    _rate_limit(session, user)
    slug, existing = _slug_for(session, user, title)
    if existing is not None:
        raise CollectionExists(
            f"You have a collection called “{existing.title}” already.", hub_slug(existing, user)
        )
    return _new(session, user, title, slug, description=description, private=private)


def saved(session: Session, user: User) -> Collection:
    """The member's "Saved" collection, made (private) the first time it is asked for."""
    found = session.execute(
        select(Collection).where(Collection.owner_id == user.id, Collection.saved.is_(True))
    ).scalar_one_or_none()
    if found is not None:
        return found
    # Two first saves at once (a card and the paper page) both get here: the second
    # insert breaks the unique slug, and that request uses the first one's collection.
    try:
        with session.begin_nested():
            return _new(
                session,
                user,
                SAVED_TITLE,
                SAVED_SLUG,
                description="Papers saved to read later.",
                private=True,
                saved=True,
            )
    except IntegrityError:
        return session.execute(
            select(Collection).where(Collection.owner_id == user.id, Collection.saved.is_(True))
        ).scalar_one()


def change(
    session: Session,
    user: User,
    collection: Collection,
    *,
    title: str | None = None,
    description: str | None = None,
    private: bool | None = None,
    theme: str | None = None,
    position: int | None = None,
) -> Collection:
    """Change what is given (None keeps it). The key stays, so old addresses still work."""
    _owner(user, collection)
    _rate_limit(session, user)
    if title is not None:
        title = _title(title)
        if collection.saved and title != collection.title:
            raise CollectionError("The Saved collection keeps its name.", status=409)
        slug, other = _slug_for(session, user, title, keep=collection)
        if other is not None:
            raise CollectionExists(
                f"You have a collection called “{other.title}” already.", hub_slug(other, user)
            )
        collection.title, collection.slug = title, slug
    if description is not None:
        collection.description = _clean(description, "description", MAX_DESCRIPTION)
    if private is not None:
        collection.private = private
    if theme is not None:
        if theme not in THEMES:
            raise Invalid(f"A collection's theme is one of {', '.join(THEMES)}.")
        collection.theme = theme
    if position is not None:
        _move_collection(session, user, collection, position)
    _touch(collection)
    session.flush()
    return collection


def _move_collection(session: Session, user: User, collection: Collection, position: int) -> None:
    mine = [c for c in list_of(session, user, user) if c.id != collection.id]
    mine.insert(max(0, min(position, len(mine))), collection)
    for index, each in enumerate(mine):
        each.position = index


def delete(session: Session, user: User, collection: Collection) -> None:
    _owner(user, collection)
    if collection.saved:
        raise CollectionError(
            "The Saved collection cannot be deleted; remove its papers instead.", status=409
        )
    _rate_limit(session, user)
    session.delete(collection)
    session.flush()


def rotate_feed_secret(session: Session, user: User, collection: Collection) -> str:
    """A new secret for the private feed's address; the old address stops working."""
    _owner(user, collection)
    _rate_limit(session, user)
    collection.feed_secret = secrets.token_urlsafe(24)
    session.flush()
    return collection.feed_secret


def _owner(user: User, collection: Collection) -> None:
    if collection.owner_id != user.id:
        raise NotOwner("Only the owner of a collection can change it.")


# --- changing items -----------------------------------------------------------------------


def _note(note: str | None) -> str | None:
    if note is None:
        return None
    if "\x00" in note:
        raise Invalid("A note cannot contain a NUL character.")
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise Invalid(f"A note is at most {MAX_NOTE} characters.")
    return note or None


def add(
    session: Session, user: User, collection: Collection, paper_id: str, note: str | None = None
) -> CollectionItem:
    """Put the paper (any form of its id) last; 409 if it is there already."""
    _owner(user, collection)
    paper = visible_paper(session, paper_id).paper
    text = _note(note)
    _rate_limit(session, user)
    present = session.execute(
        select(CollectionItem.id).where(
            CollectionItem.collection_id == collection.id, CollectionItem.paper_id == paper.id
        )
    ).scalar_one_or_none()
    if present is not None:
        raise CollectionError(f"“{collection.title}” holds this paper already.", status=409)
    count = item_count(session, collection)
    if count >= MAX_ITEMS:
        raise CollectionError(
            f"A collection holds at most {MAX_ITEMS:,} papers; “{collection.title}” is full.",
            status=409,
        )
    last = session.execute(
        select(func.max(CollectionItem.position)).where(
            CollectionItem.collection_id == collection.id
        )
    ).scalar_one()
    item = CollectionItem(
        collection_id=collection.id,
        paper_id=paper.id,
        key=secrets.token_hex(12),
        note=text,
        position=(last + 1) if last is not None else 0,
        added_at=clock.now(),
    )
    session.add(item)
    _touch(collection)
    session.flush()
    return item


def item(session: Session, collection: Collection, item_key: str) -> CollectionItem:
    found = session.execute(
        select(CollectionItem).where(
            CollectionItem.collection_id == collection.id,
            CollectionItem.key == (item_key or "").strip().lower()[:24],
        )
    ).scalar_one_or_none()
    if found is None:
        raise CollectionNotFound(f"“{collection.title}” has no item “{(item_key or '')[:30]}”.")
    return found


def item_for_paper(session: Session, collection: Collection, paper_id: str) -> CollectionItem:
    paper = visible_paper(session, paper_id).paper
    found = session.execute(
        select(CollectionItem).where(
            CollectionItem.collection_id == collection.id, CollectionItem.paper_id == paper.id
        )
    ).scalar_one_or_none()
    if found is None:
        raise CollectionNotFound(f"“{collection.title}” does not hold this paper.")
    return found


def change_item(
    session: Session,
    user: User,
    collection: Collection,
    entry: CollectionItem,
    *,
    note: str | None = None,
    position: int | None = None,
) -> CollectionItem:
    """Set the note ("" clears it) and/or move the item to `position` (0 is first)."""
    _owner(user, collection)
    _rate_limit(session, user)
    if note is not None:
        entry.note = _note(note)
    if position is not None:
        if position < 0:
            raise Invalid("A position is 0 or more.")
        rows = list(
            session.execute(
                select(CollectionItem)
                .where(
                    CollectionItem.collection_id == collection.id,
                    CollectionItem.id != entry.id,
                )
                .order_by(CollectionItem.position, CollectionItem.id)
            ).scalars()
        )
        rows.insert(min(position, len(rows)), entry)
        for index, row in enumerate(rows):
            row.position = index
    _touch(collection)
    session.flush()
    return entry


def remove(session: Session, user: User, collection: Collection, entry: CollectionItem) -> None:
    _owner(user, collection)
    _rate_limit(session, user)
    session.delete(entry)
    _touch(collection)
    session.flush()
