"""HTML pages: the daily/weekly/monthly feeds, trending, and paper pages."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session, selectinload

from paperfeed import clock
from paperfeed.config import Settings
from paperfeed.ingest.hub_links import load_hub
from paperfeed.models import Paper, PaperAuthor
from paperfeed.papers import feeds
from paperfeed.papers.code_links import load_code, load_links
from paperfeed.papers.lookup import visible_paper
from paperfeed.papers.related import load_categories, load_keywords
from paperfeed.papers.summaries import load_summaries
from paperfeed.papers.thumbnails import load_thumbnails
from paperfeed.papers.topics import Topic, category_filter
from paperfeed.papers.trending import STAR_DAYS, Formula, trending
from paperfeed.plurals import plural
from paperfeed.search.engine import similar
from paperfeed.search.key_sentence import key_sentence
from paperfeed.search.runtime import served_state
from paperfeed.web.deps import ReaderDep, SearchDep, SettingsDep, get_search, get_settings
from paperfeed.web.forms import query_int
from paperfeed.web.responses import public_page
from paperfeed.web.routes.comments import comment_section
from paperfeed.web.routes.paper_links import links_form

router = APIRouter(include_in_schema=False)
SIMILAR_COUNT = 6

SortParam = Query("upvotes", pattern="^(upvotes|newest)$", description="upvotes or newest")
PageParam = Query(1, ge=1, le=10_000, description="page number, from 1")


def feed_params(request: Request) -> tuple[str, int]:
    """`sort` and `p` for the home page, validated like the typed routes' parameters."""
    sort = request.query_params.get("sort", "upvotes")
    if sort not in feeds.SORTS:
        raise HTTPException(400, f"Bad request: sort must be upvotes or newest, not “{sort[:20]}”.")
    return sort, query_int(request, "p", 1, 10_000, default=1, what="page number")


def feed_page(
    request: Request,
    session: Session,
    settings: Settings,
    period: feeds.Period,
    sort: str,
    page: int,
    is_home: bool = False,
    topic: Topic | None = None,
) -> Response:
    """A period's feed page: the whole site's, or a topic's (`period.base` is its feed)."""
    size = settings.page_size
    if topic is None:  # `?category=cs.CL&category=hep-ph` on the site's own feed
        topic = category_filter(request.query_params.getlist("category"))
    papers, total = feeds.papers_in_period(
        session,
        period,
        settings.tz,
        sort,  # type: ignore[arg-type]  # upvotes or newest: SortParam and feed_params check it
        size,
        (page - 1) * size,
        topic,
    )
    if page > 1 and not papers:
        raise HTTPException(
            404, f"Page {page} is past the end of this list ({plural(total, 'paper')})."
        )
    previous, following = feeds.neighbours(session, period, settings.tz, topic)
    context = {
        "view": period.kind,
        "period": period,
        "papers": papers,
        "extras": feeds.card_extras(session, papers),
        "total": total,
        "sort": sort,
        "page": page,
        "pages": max(1, -(-total // size)),
        "previous": previous,
        "following": following,
        "is_home": is_home,
        "topic": topic,
        "switch": {
            kind: feeds.period_containing(kind, period.first).under(period.base)
            for kind in ("date", "week", "month")
        },
    }
    return public_page(request, session, "feed.html", context)


@router.get("/")
@router.get("/papers")
def home(
    request: Request, session: ReaderDep, settings: SettingsDep, runtime: SearchDep
) -> Response:
    """The latest day's papers; with `?q=` the search page."""
    if "q" in request.query_params or request.query_params.get("author", "").strip():
        from paperfeed.web.routes.search import search_page

        return search_page(request, session, runtime)
    sort, p = feed_params(request)
    wanted = category_filter(request.query_params.getlist("category"))
    day = feeds.latest_feed_day(session, settings.tz, clock.now(), wanted)
    if day is None:
        return public_page(request, session, "empty.html", {"view": "date"})
    return feed_page(request, session, settings, feeds.day_period(day), sort, p, is_home=True)


@router.get("/papers/trending")
def trending_page(
    request: Request, session: ReaderDep, settings: SettingsDep, p: int = PageParam
) -> Response:
    return trending_view(request, session, settings, p)


def trending_view(
    request: Request, session: Session, settings: Settings, p: int, topic: Topic | None = None
) -> Response:
    """The trending page: the whole site's, or a topic's."""
    size = settings.page_size
    now = clock.now()
    if topic is None:
        topic = category_filter(request.query_params.getlist("category"))
    formula = Formula.from_settings(settings)
    result = trending(session, now, formula, size, (p - 1) * size, topic)
    if p > 1 and not result.papers:
        raise HTTPException(
            404, f"Page {p} is past the end of this list ({plural(result.total, 'paper')})."
        )
    context = {
        "view": "trending",
        "papers": result.papers,
        "scores": result.scores,
        "trending": result,
        "extras": feeds.card_extras(session, result.papers),
        "total": result.total,
        "page": p,
        "pages": max(1, -(-result.total // size)),
        "formula": formula,
        "star_days": STAR_DAYS,
        "window_days": formula.window_days,
        "topic": topic,
    }
    # Scores decay with time: the validator changes every ten minutes even with no new data.
    return public_page(
        request, session, "trending.html", context, extra=str(int(now.timestamp()) // 600)
    )


@router.get("/papers/date")
@router.get("/papers/week")
@router.get("/papers/month")
def latest_period(request: Request, session: ReaderDep, settings: SettingsDep) -> Response:
    """The period that holds the latest feed day (so "Weekly" is never empty on a Monday)."""
    kind = request.url.path.rsplit("/", 1)[1]
    today = clock.now().astimezone(settings.tz).date()
    wanted = category_filter(request.query_params.getlist("category"))
    day = feeds.latest_feed_day(session, settings.tz, clock.now(), wanted) or today
    period = feeds.period_containing(kind, day)  # type: ignore[arg-type]  # date, week or month: the three routes above
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(period.path + query, status_code=302)


@router.get("/papers/{kind}/{key}")
def period_page(
    request: Request,
    session: ReaderDep,
    settings: SettingsDep,
    kind: str,
    key: str,
    sort: str = SortParam,
    p: int = PageParam,
) -> Response:
    if kind not in ("date", "week", "month"):
        return paper_page(request, session, f"{kind}/{key}")
    period = feeds.parse_period(kind, key)
    return feed_page(request, session, settings, period, sort, p)


@router.get("/papers/{paper_id:path}")
def paper_route(request: Request, session: ReaderDep, paper_id: str) -> Response:
    return paper_page(request, session, paper_id)


def paper_page(request: Request, session: Session, paper_id: str) -> Response:
    found = visible_paper(
        session,
        paper_id,
        selectinload(Paper.authors).selectinload(PaperAuthor.user),
        selectinload(Paper.versions),
        selectinload(Paper.organization),
        selectinload(Paper.submitted_by),
    )
    paper = found.paper
    if not found.exact:  # a version, an `arXiv:` prefix or an old alias: one address per paper
        return RedirectResponse(f"/papers/{paper.public_id}", status_code=301)
    settings = get_settings(request)
    feed_day = paper.feed_at.astimezone(settings.tz).date() if paper.feed_at else None
    index = get_search(request).index()
    neighbours = similar(session, index, paper, SIMILAR_COUNT)
    code = load_code(session, [paper]).get(paper.id)
    keywords = load_keywords(session, [paper.id]).get(paper.id, [])
    summary = load_summaries(session, [paper.id]).get(paper.id)
    context = {
        "view": "paper",
        "paper": paper,
        "feed_day": feed_day,
        "similar": neighbours,
        "similar_extras": feeds.card_extras(session, [p for p, _ in neighbours]),
        "categories": load_categories(session, [paper.id])[paper.id],
        "keywords": keywords,
        # A machine-written summary, else a sentence quoted from the abstract.
        "summary": summary,
        "key_sentence": None if summary else key_sentence(paper.abstract, keywords),
        "code": code,
        "thumbnail": load_thumbnails(session, [paper]).get(paper.id),
        "other_links": [link for link in load_links(session, paper.id) if not link.is_primary],
        "hub": load_hub(session, paper),  # None without an arXiv id or an answer yet
        "hub_endpoint": settings.hub_endpoint.rstrip("/"),
        "index_ready": index is not None,
        "comments": comment_section(request, session, paper),
        "links_form": links_form(request, session, paper),
    }
    state = served_state(index)
    return public_page(request, session, "paper.html", context, extra=state)
