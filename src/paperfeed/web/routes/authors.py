"""Author pages: `/authors/{name}` lists the papers that name appears on.

An author is known by the name string a paper lists; the page matches that name exactly,
spaces collapsed (an indexed lookup on `paper_authors.name`). It shows the papers as the
feed pages' cards, newest first or by upvotes, the co-authors with how many papers they
share, the categories the author publishes in, and the member profile of an approved
author claim.
"""

from __future__ import annotations

from collections import Counter
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from sqlalchemy import func, select

from paperfeed.models import Paper, PaperAuthor, User
from paperfeed.papers import feeds
from paperfeed.plurals import plural
from paperfeed.web.deps import ReaderDep, SettingsDep
from paperfeed.web.listings import Listing
from paperfeed.web.responses import public_page
from paperfeed.web.routes.downloads import respond
from paperfeed.web.routes.orgs import SortParam
from paperfeed.web.routes.pages import PageParam

router = APIRouter(include_in_schema=False)
MAX_NAME = 300  # paper_authors.name
COAUTHORS_SHOWN = 30
FEEDS = ("rss", "atom")  # `/authors/{name}.rss`: the author's newest papers


def _feed(
    request: Request, session: ReaderDep, settings: SettingsDep, wanted: str, fmt: str
) -> Response:
    ids = select(PaperAuthor.paper_id).where(
        PaperAuthor.name == wanted, PaperAuthor.hidden.is_(False)
    )
    where = (Paper.id.in_(ids), Paper.hidden_at.is_(None))

    def build(limit: int, offset: int) -> Listing:
        papers = list(
            session.execute(
                select(Paper)
                .where(*where)
                .order_by(Paper.feed_at.desc(), Paper.id.desc())
                .limit(limit)
                .offset(offset)
            ).scalars()
        )
        total = session.execute(select(func.count()).select_from(Paper).where(*where)).scalar_one()
        if total == 0:
            raise HTTPException(404, f"No papers here list an author named “{wanted[:80]}”.")
        return Listing(
            title=f"Papers by {wanted} · {settings.site_name}",
            description=f"New papers by {wanted} on {settings.site_name}, newest first.",
            page_path=f"/authors/{quote(wanted)}",
            slug="author",
            papers=papers,
            total=total,
        )

    return respond(request, session, settings, fmt, build)


@router.get("/authors/{name}")
def author_page(
    request: Request,
    session: ReaderDep,
    settings: SettingsDep,
    name: str,
    p: int = PageParam,
    sort: str = SortParam,
) -> Response:
    base, _, fmt = name.rpartition(".")
    if fmt in FEEDS and base.strip():
        return _feed(request, session, settings, " ".join(base.split()), fmt)
    wanted = " ".join(name.split())
    if not wanted or len(wanted) > MAX_NAME:
        raise HTTPException(400, f"An author name has 1 to {MAX_NAME} characters.")
    ids = select(PaperAuthor.paper_id).where(
        PaperAuthor.name == wanted, PaperAuthor.hidden.is_(False)
    )
    where = (Paper.id.in_(ids), Paper.hidden_at.is_(None))
    total = session.execute(select(func.count()).select_from(Paper).where(*where)).scalar_one()
    if total == 0:
        raise HTTPException(404, f"No papers here list an author named “{wanted[:80]}”.")
    size = settings.page_size
    order = (
        (Paper.upvotes.desc(), Paper.feed_at.desc(), Paper.id.desc())
        if sort == "upvotes"
        else (Paper.feed_at.desc(), Paper.id.desc())
    )
    papers = list(
        session.execute(
            select(Paper).where(*where).order_by(*order).limit(size).offset((p - 1) * size)
        ).scalars()
    )
    if not papers:
        raise HTTPException(
            404, f"Page {p} is past the end of this list ({plural(total, 'paper')})."
        )
    rows = session.execute(
        select(PaperAuthor.paper_id, PaperAuthor.name, PaperAuthor.user_id)
        .join(Paper, Paper.id == PaperAuthor.paper_id)
        .where(*where, PaperAuthor.hidden.is_(False))
    ).all()
    coauthors: Counter[str] = Counter()
    seen: set[tuple[int, str]] = set()
    claimed: set[int] = set()
    for paper_id, author, user_id in rows:
        if author == wanted:
            if user_id is not None:
                claimed.add(user_id)
        elif (paper_id, author) not in seen:
            seen.add((paper_id, author))
            coauthors[author] += 1
    members = (
        list(session.execute(select(User).where(User.id.in_(claimed))).scalars()) if claimed else []
    )
    extras = feeds.card_extras(session, papers)
    all_ids = [pid for pid, *_ in rows]
    categories = feeds.card_extras(
        session, list(session.execute(select(Paper).where(Paper.id.in_(all_ids))).scalars())
    ).categories
    category_counts: Counter[str] = Counter()
    for tags in categories.values():
        for tag in tags:
            category_counts[tag.code] += 1
    context = {
        "view": "author",
        "author": wanted,
        "papers": papers,
        "extras": extras,
        "coauthors": sorted(coauthors.items(), key=lambda kv: (-kv[1], kv[0]))[:COAUTHORS_SHOWN],
        "categories": sorted(category_counts.items(), key=lambda kv: (-kv[1], kv[0])),
        "members": members,
        "total": total,
        "page": p,
        "pages": max(1, -(-total // size)),
        "sort": sort,
    }
    return public_page(request, session, "author.html", context)
