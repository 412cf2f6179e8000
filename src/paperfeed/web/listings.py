"""The lists behind feeds and exports: the same papers, in the same order, as the pages.

A `Listing` is what a list page shows, as data: a title, the page's address, and its
papers in page order with everything a feed entry or an export row needs (full author
lists, organization, a score where the page shows one). Each builder runs the query its
page runs (the period feeds, trending, an organization, a member's lists, search with the
page's filters), so a feed never disagrees with the page it is the alternate of.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

from fastapi import HTTPException, Request
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from paperfeed import clock
from paperfeed.community import organizations
from paperfeed.models import Organization, Paper, PaperAuthor, Upvote, User
from paperfeed.papers import feeds
from paperfeed.papers.authors import Author
from paperfeed.papers.related import load_related
from paperfeed.papers.topics import Topic, category_filter
from paperfeed.papers.trending import Formula, trending
from paperfeed.plurals import plural
from paperfeed.search.engine import search
from paperfeed.web.deps import get_search, get_settings
from paperfeed.web.search_form import read_form

USER_LISTS = ("submitted", "claimed", "upvoted")


@dataclass
class Listing:
    """One list page's papers, ready to be written as a feed or an export."""

    title: str
    description: str
    page_path: str  # the HTML page this list is the alternate of, with its query
    slug: str  # a short name for download file names
    papers: list[Paper]
    total: int  # how many papers the whole list has (the export may hold fewer)
    authors: dict[int, list[str]] = field(default_factory=dict)
    organizations: dict[int, Organization] = field(default_factory=dict)
    scores: dict[int, float] = field(default_factory=dict)
    score_label: str = ""
    more: bool | None = None  # whether papers follow this slice; None: compare with `total`


def complete(session: Session, listing: Listing) -> Listing:
    """Load every visible author (in order) and the organization of the listing's papers."""
    related = load_related(session, listing.papers, hidden_authors=False, people=False)
    listing.authors = related.author_names()
    listing.organizations = related.organizations
    return listing


def _query(request: Request, *names: str) -> str:
    """The page's query string with only the parameters that shape the list."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k in names]
    return "&".join(f"{k}={v}" for k, v in _encoded(kept))


def _encoded(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    from urllib.parse import quote_plus

    return [(quote_plus(k), quote_plus(v)) for k, v in pairs]


def _with_query(path: str, query: str) -> str:
    return f"{path}?{query}" if query else path


def _sort(request: Request, default: str) -> str:
    sort = request.query_params.get("sort", default)
    if sort not in feeds.SORTS:
        raise HTTPException(400, f"Bad request: sort must be upvotes or newest, not “{sort[:20]}”.")
    return sort


# --- builders: one per kind of list page ----------------------------------------------------


def period_listing(
    request: Request,
    session: Session,
    period: feeds.Period,
    limit: int,
    offset: int,
    topic: Topic | None = None,
) -> Listing:
    settings = get_settings(request)
    sort = _sort(request, "upvotes")
    if topic is None:  # `?category=` on the site's own feeds
        topic = category_filter(request.query_params.getlist("category"))
    papers, total = feeds.papers_in_period(
        session,
        period,
        settings.tz,
        sort,  # type: ignore[arg-type]  # _sort checks it
        limit,
        offset,
        topic,
    )
    kind = {"date": "Daily", "week": "Weekly", "month": "Monthly"}[period.kind]
    within = f" in {topic.label}" if topic else ""
    return Listing(
        title=f"{topic.name + ': ' if topic else ''}{kind} papers: {period.label} · "
        f"{settings.site_name}",
        description=f"Papers{within} that entered the {settings.site_name} feed "
        f"{'on' if period.kind == 'date' else 'in'} {period.label}"
        + (", newest first." if sort == "newest" else ", most upvoted first."),
        page_path=_with_query(period.path, _query(request, "sort", "category")),
        slug=f"{topic.code + '-' if topic else ''}{period.kind}-{period.key}",
        papers=papers,
        total=total,
    )


def topic_listing(
    request: Request, session: Session, topic: Topic, limit: int, offset: int
) -> Listing:
    """A topic's latest feed day, as its address without a date shows."""
    settings = get_settings(request)
    day = feeds.latest_feed_day(session, settings.tz, clock.now(), topic)
    if day is None:
        return Listing(
            title=f"{topic.name}: daily papers · {settings.site_name}",
            description=f"No papers in {topic.label} yet.",
            page_path=topic.path,
            slug=topic.code,
            papers=[],
            total=0,
        )
    period = feeds.day_period(day).under(topic.path)
    listing = period_listing(request, session, period, limit, offset, topic)
    listing.page_path = _with_query(topic.path, _query(request, "sort"))
    listing.title = f"{topic.name}: daily papers · {settings.site_name}"
    return listing


def home_listing(request: Request, session: Session, limit: int, offset: int) -> Listing:
    """The latest feed day, like the home page (an empty site gives an empty list)."""
    settings = get_settings(request)
    wanted = category_filter(request.query_params.getlist("category"))
    day = feeds.latest_feed_day(session, settings.tz, clock.now(), wanted)
    if day is None:
        return Listing(
            title=f"Daily papers · {settings.site_name}",
            description="No papers yet.",
            page_path="/",
            slug="daily",
            papers=[],
            total=0,
        )
    listing = period_listing(request, session, feeds.day_period(day), limit, offset)
    listing.page_path = _with_query("/", _query(request, "sort", "category"))
    listing.title = f"Daily papers · {settings.site_name}"
    return listing


def trending_listing(
    request: Request, session: Session, limit: int, offset: int, topic: Topic | None = None
) -> Listing:
    settings = get_settings(request)
    if topic is None:
        topic = category_filter(request.query_params.getlist("category"))
    formula = Formula.from_settings(settings)
    result = trending(session, clock.now(), formula, limit, offset, topic)
    within = f" in {topic.label}" if topic else ""
    return Listing(
        title=f"Trending{' in ' + topic.name if topic else ' papers'} · {settings.site_name}",
        description=(
            f"Papers{within} from the last {plural(formula.window_days, 'day')} "
            f"ranked by {formula.text()}."
        ),
        page_path=f"{topic.path}/trending" if topic else "/papers/trending",
        slug=f"{topic.code}-trending" if topic else "trending",
        papers=result.papers,
        total=result.total,
        scores=result.scores,
        score_label="trending score",
    )


def find_organization(session: Session, name: str) -> Organization:
    org = organizations.find(session, name)
    if org is None:
        raise HTTPException(404, f"There is no organization named “{name[:80]}” here.")
    return org


def newest_or_upvoted(
    session: Session, where: Sequence[ColumnElement[bool]], sort: str, limit: int, offset: int
) -> tuple[list[Paper], int]:
    """The papers matching `where`, newest first or by upvotes, and how many match: the
    list of an organization's or an author's page and of its feeds."""
    order = (
        (Paper.upvotes.desc(), Paper.feed_at.desc(), Paper.id.desc())
        if sort == "upvotes"
        else (Paper.feed_at.desc(), Paper.id.desc())
    )
    papers = list(
        session.execute(select(Paper).where(*where).order_by(*order).limit(limit).offset(offset))
        .scalars()
        .all()
    )
    total = session.execute(select(func.count()).select_from(Paper).where(*where)).scalar_one()
    return papers, total


def organization_listing(
    request: Request, session: Session, org: Organization, limit: int, offset: int
) -> Listing:
    settings = get_settings(request)
    where = (Paper.organization_id == org.id, Paper.hidden_at.is_(None))
    papers, total = newest_or_upvoted(session, where, _sort(request, "newest"), limit, offset)
    name = org.fullname or org.name
    return Listing(
        title=f"{name} · {settings.site_name}",
        description=org.description or f"Papers from {name} on {settings.site_name}.",
        page_path=_with_query(f"/orgs/{org.name}", _query(request, "sort")),
        slug=f"org-{org.name}",
        papers=papers,
        total=total,
    )


def author_papers(author: Author) -> tuple[ColumnElement[bool], ...]:
    """The visible papers listing any of the author's names."""
    ids = select(PaperAuthor.paper_id).where(
        PaperAuthor.name.in_(author.names), PaperAuthor.hidden.is_(False)
    )
    return (Paper.id.in_(ids), Paper.hidden_at.is_(None))


def author_listing(
    request: Request, session: Session, author: Author, limit: int, offset: int
) -> Listing:
    settings = get_settings(request)
    where = author_papers(author)
    papers, total = newest_or_upvoted(session, where, _sort(request, "newest"), limit, offset)
    return Listing(
        title=f"Papers by {author.name} · {settings.site_name}",
        description=f"New papers by {author.name} on {settings.site_name}, newest first.",
        page_path=_with_query(f"/authors/{quote(author.name)}", _query(request, "sort")),
        slug="author",
        papers=papers,
        total=total,
    )


def find_user(session: Session, name: str) -> User:
    user = session.execute(select(User).where(User.username == name)).scalar_one_or_none()
    if user is None:
        raise HTTPException(404, f"There is no user named “{name[:40]}” here.")
    return user


def user_list_name(request: Request) -> str:
    which = request.query_params.get("list", "submitted")
    if which not in USER_LISTS:
        raise HTTPException(400, f"Unknown list “{which[:20]}”: use submitted, claimed or upvoted.")
    return which


def user_listing(
    request: Request, session: Session, user: User, which: str, limit: int, offset: int
) -> Listing:
    """A member's submitted, claimed or (when public) upvoted papers, ordered as on the profile.

    Feeds are public documents, so private upvotes stay private even for their owner here.
    """
    settings = get_settings(request)
    visible = Paper.hidden_at.is_(None)
    if which == "submitted":
        query = (
            select(Paper)
            .where(Paper.submitted_by_id == user.id, visible)
            .order_by(Paper.feed_at.desc(), Paper.id.desc())
        )
        count = select(func.count()).select_from(Paper).where(Paper.submitted_by_id == user.id)
        label = "submitted by"
    elif which == "claimed":
        claimed = select(PaperAuthor.paper_id).where(PaperAuthor.user_id == user.id)
        query = (
            select(Paper)
            .where(Paper.id.in_(claimed), visible)
            .order_by(Paper.published_at.desc(), Paper.id.desc())
        )
        count = select(func.count()).select_from(Paper).where(Paper.id.in_(claimed))
        label = "by"
    else:
        if not user.upvotes_public:
            raise HTTPException(404, f"{user.username} keeps upvotes private.")
        query = (
            select(Paper)
            .join(Upvote, Upvote.paper_id == Paper.id)
            .where(Upvote.user_id == user.id, visible)
            .order_by(Upvote.created_at.desc(), Paper.id.desc())
        )
        count = (
            select(func.count())
            .select_from(Paper)
            .join(Upvote, Upvote.paper_id == Paper.id)
            .where(Upvote.user_id == user.id)
        )
        label = "upvoted by"
    papers = list(session.execute(query.limit(limit).offset(offset)).scalars().all())
    total = session.execute(count.where(visible)).scalar_one()
    who = user.fullname or user.username
    return Listing(
        title=f"Papers {label} {who} · {settings.site_name}",
        description=f"Papers {label} @{user.username} on {settings.site_name}.",
        page_path=f"/users/{user.username}",
        slug=f"user-{user.username}-{which}",
        papers=papers,
        total=total,
    )


def search_listing(request: Request, session: Session, limit: int, page: int) -> Listing:
    """The search page's matches, ranked and filtered exactly as the page ranks them."""
    settings = get_settings(request)
    search_request, form = read_form(request, session)
    search_request.per_page = limit
    search_request.page = page
    runtime = get_search(request)
    result = search(
        session, runtime.index(), runtime.embeddings() if form["q"] else None, search_request
    )
    papers = [hit.paper for hit in result.hits]
    total = result.total
    if result.redirect_to:  # an arXiv id: the list is that one paper
        papers = list(
            session.execute(
                select(Paper).where(
                    Paper.public_id == result.redirect_to, Paper.hidden_at.is_(None)
                )
            ).scalars()
        )
        total = len(papers)
    shown = _query(request, "q", "from", "to", "org", "author", "category", "sort")
    described = form["q"] or "everything"
    return Listing(
        title=f"Search: {described} · {settings.site_name}",
        description=result.message or f"Papers on {settings.site_name} matching “{described}”.",
        page_path=_with_query("/papers", shown),
        slug="search",
        papers=papers,
        total=total,
        scores={hit.paper.id: hit.score for hit in result.hits},
        score_label="relevance",
        # The match count estimates keyword hits beyond the ranked candidates; the ranked
        # list's own length decides whether another page exists.
        more=result.pages > page and not result.redirect_to,
    )
