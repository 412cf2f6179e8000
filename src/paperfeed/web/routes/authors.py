"""Author pages: `/authors/{name}` lists the papers of an author under any of their names.

The names on the papers here that are one person's ("Edmond L. Berger", "E. L. Berger")
are grouped by papers/authors.py; every variant's address redirects (301) to the group's
fullest form. The page shows the papers as the feed pages' cards, newest first or by
upvotes, the names it groups, the co-authors with how many papers they share, the
categories the author publishes in, and the member profile of an approved author claim.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Select, distinct, func, select
from sqlalchemy.orm import Session

from paperfeed.models import Paper, PaperAuthor, PaperCategory, User
from paperfeed.papers import feeds, taxonomy
from paperfeed.papers.authors import Author, collapse, find_author
from paperfeed.plurals import plural
from paperfeed.web import listings
from paperfeed.web.deps import ReaderDep, SettingsDep
from paperfeed.web.responses import public_page
from paperfeed.web.routes.downloads import respond
from paperfeed.web.routes.orgs import SortParam
from paperfeed.web.routes.pages import PageParam

router = APIRouter(include_in_schema=False)
MAX_NAME = 300  # paper_authors.name
COAUTHORS_SHOWN = 30
# Co-authors are counted on the author's newest papers only: a member of a large
# collaboration has thousands of papers of thousands of authors each, and counting every
# row cost seconds a view.
COAUTHOR_PAPERS = 100
FEEDS = ("rss", "atom")  # `/authors/{name}.rss`: the author's newest papers


def author_path(name: str) -> str:
    return f"/authors/{quote(name)}"


@router.get("/authors/{name:path}")
def author_page(
    request: Request,
    session: ReaderDep,
    settings: SettingsDep,
    name: str,
    p: int = PageParam,
    sort: str = SortParam,
) -> Response:
    base, _, fmt = name.rpartition(".")
    suffix = ""
    if fmt in FEEDS and base.strip():
        name, suffix = base, f".{fmt}"
    wanted = collapse(name)
    if not wanted or len(wanted) > MAX_NAME:
        raise HTTPException(400, f"An author name has 1 to {MAX_NAME} characters.")
    author = find_author(session, wanted)
    if author is None:
        raise HTTPException(404, f"No papers here list an author named “{wanted[:80]}”.")
    if collapse(author.name) != wanted:  # compared as addresses are: spaces collapsed
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(
            f"{author_path(collapse(author.name))}{suffix}{query}", status_code=301
        )
    if suffix:
        return respond(
            request,
            session,
            settings,
            fmt,
            lambda limit, offset: listings.author_listing(request, session, author, limit, offset),
        )
    size = settings.page_size
    where = listings.author_papers(author)
    papers, total = listings.newest_or_upvoted(session, where, sort, size, (p - 1) * size)
    if not papers:
        raise HTTPException(
            404, f"Page {p} is past the end of this list ({plural(total, 'paper')})."
        )
    context = {
        "view": "author",
        "author": author.name,
        "variants": author.names[1:],
        "papers": papers,
        "extras": feeds.card_extras(session, papers),
        "coauthors": _coauthors(session, author),
        "categories": _categories(session, author),
        "members": _members(session, author),
        "total": total,
        "page": p,
        "pages": max(1, -(-total // size)),
        "sort": sort,
    }
    return public_page(request, session, "author.html", context)


def _visible_ids(author: Author) -> Select[int]:
    return select(Paper.id).where(*listings.author_papers(author))


def _coauthors(session: Session, author: Author) -> list[tuple[str, int]]:
    """The most frequent co-authors on the author's newest COAUTHOR_PAPERS papers, with
    how many of those papers they are on."""
    newest = (
        _visible_ids(author).order_by(Paper.feed_at.desc(), Paper.id.desc()).limit(COAUTHOR_PAPERS)
    )
    shared = func.count(distinct(PaperAuthor.paper_id))
    rows = session.execute(
        select(PaperAuthor.name, shared)
        .where(
            PaperAuthor.paper_id.in_(newest.scalar_subquery()),
            PaperAuthor.hidden.is_(False),
            PaperAuthor.name.not_in(author.names),
        )
        .group_by(PaperAuthor.name)
        .order_by(shared.desc(), PaperAuthor.name)
        .limit(COAUTHORS_SHOWN)
    )
    return [(name, count) for name, count in rows]


def _categories(session: Session, author: Author) -> list[tuple[str, str, int]]:
    """The categories of the author's papers (code, label), most papers first."""
    count = func.count(PaperCategory.paper_id)
    rows = session.execute(
        select(PaperCategory.category, count)
        .where(PaperCategory.paper_id.in_(_visible_ids(author)))
        .group_by(PaperCategory.category)
        .order_by(count.desc(), PaperCategory.category)
    )
    return [(code, taxonomy.label(code), n) for code, n in rows]


def _members(session: Session, author: Author) -> list[User]:
    """The accounts whose approved claims list one of the author's names."""
    claimed = (
        select(PaperAuthor.user_id)
        .where(
            PaperAuthor.name.in_(author.names),
            PaperAuthor.user_id.is_not(None),
            PaperAuthor.paper_id.in_(_visible_ids(author)),
        )
        .distinct()
    )
    return list(session.execute(select(User).where(User.id.in_(claimed))).scalars())
