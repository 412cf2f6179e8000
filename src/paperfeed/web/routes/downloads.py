"""Routes for feeds and exports: add an extension to a page's address.

Every list page has `.rss`, `.atom`, `.csv` and `.jsonl` versions at its own path with its
own query (`/papers/date/2026-11-19.rss?sort=newest`, `/papers.atom?q=graphs&from=...`),
and every paper has `.bib` and `.md`. Feeds hold the first FEED_LIMIT papers of the list;
exports hold EXPORT_LIMIT rows per file and take `?p=` for the next ones (announced in a
`Link: rel="next"` header). Nothing here depends on who asks, so responses carry an ETag
from the change sequence (plus what else the list depends on) and answer 304 before any
list is built.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from paperfeed import __version__, clock
from paperfeed.community.comments import DELETED_USER
from paperfeed.config import Settings
from paperfeed.models import Comment, Paper, PaperAuthor, User
from paperfeed.papers import feeds
from paperfeed.papers.lookup import visible_paper
from paperfeed.papers.store import content_version
from paperfeed.search.runtime import served_state
from paperfeed.web import exports, listings, syndication
from paperfeed.web.caching import Validators
from paperfeed.web.deps import ReaderDep, SearchDep, SettingsDep
from paperfeed.web.forms import query_int

router = APIRouter(include_in_schema=False)

FEED_LIMIT = 100
EXPORT_LIMIT = 1000
FORMATS = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "csv": "text/csv; charset=utf-8; header=present",
    "jsonl": "application/jsonl; charset=utf-8",
}
Build = Callable[[int, int], listings.Listing]  # (limit, offset) -> the list


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise HTTPException(
            404, f"Unknown format “{fmt[:20]}”: lists come as .rss, .atom, .csv or .jsonl."
        )
    return fmt


def page_number(request: Request) -> int:
    return query_int(request, "p", 1, 10_000, default=1, what="page number")


def cache_validators(request: Request, session: Session, extra: str = "") -> Validators:
    """A validator for this URL and the current data; the same for every viewer."""
    version, updated_at = content_version(session)
    digest = hashlib.sha1(
        f"{__version__}|{request.url.path}|{request.url.query}|{extra}".encode()
    ).hexdigest()[:16]
    return Validators(f'W/"{version}-{digest}"', updated_at)


def self_url(request: Request, site_url: str) -> str:
    site = site_url.rstrip("/")
    query = f"?{request.url.query}" if request.url.query else ""
    # The path as routed is decoded (`/authors/Zoë Åberg.rss`); a link needs it encoded.
    return f"{site}{quote(request.url.path)}{query}"


def respond(
    request: Request,
    session: Session,
    settings: Settings,
    fmt: str,
    build: Build,
    extra: str = "",
) -> Response:
    """Build the list (unless the client's copy is current) and write it in `fmt`."""
    check_format(fmt)
    page = page_number(request)
    v = cache_validators(request, session, extra)
    if v.matches(request):
        return v.apply(Response(status_code=304), settings.cache_max_age)
    size = FEED_LIMIT if fmt in ("rss", "atom") else EXPORT_LIMIT
    listing = listings.complete(session, build(size, (page - 1) * size))
    if page > 1 and not listing.papers:
        raise HTTPException(404, f"Page {page} is past the end of this list.")
    headers: dict[str, str] = {}
    if fmt in ("rss", "atom"):
        updated = v.last_modified or clock.now()
        write = syndication.rss if fmt == "rss" else syndication.atom
        body: bytes | str = write(
            listing, settings.site_url, self_url(request, settings.site_url), updated
        )
    else:
        records = exports.rows(listing, settings.site_url, settings.tz, (page - 1) * size + 1)
        body = exports.to_csv(records) if fmt == "csv" else exports.to_jsonl(records)
        suffix = f"-p{page}" if page > 1 else ""
        filename = f"{settings.site_name}-{listing.slug}{suffix}.{fmt}"
        headers["Content-Disposition"] = f'attachment; filename="{_safe(filename)}"'
        more = listing.more if listing.more is not None else page * size < listing.total
        if more:
            following = request.url.include_query_params(p=page + 1)
            headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'
    response = Response(body, media_type=FORMATS[fmt], headers=headers)
    return v.apply(response, settings.cache_max_age)


def _safe(filename: str) -> str:
    """A download name with only characters every browser and shell accepts."""
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in filename)


# --- list pages -----------------------------------------------------------------------------


@router.get("/papers.{fmt}")
def home_or_search(
    request: Request,
    session: ReaderDep,
    settings: SettingsDep,
    runtime: SearchDep,
    fmt: str,
) -> Response:
    """`/papers.rss` is the home page's list (the latest day); with `?q=` the search's."""
    if "q" in request.query_params:
        index = runtime.index()
        state = served_state(index)
        return respond(
            request,
            session,
            settings,
            fmt,
            lambda limit, offset: listings.search_listing(
                request, session, limit, offset // limit + 1
            ),
            extra=state,
        )
    return respond(
        request,
        session,
        settings,
        fmt,
        lambda limit, offset: listings.home_listing(request, session, limit, offset),
    )


@router.get("/papers/trending.{fmt}")
def trending_list(
    request: Request, session: ReaderDep, settings: SettingsDep, fmt: str
) -> Response:
    # Scores decay with time: the validator changes every ten minutes, as the page's does.
    bucket = str(int(clock.now().timestamp()) // 600)
    return respond(
        request,
        session,
        settings,
        fmt,
        lambda limit, offset: listings.trending_listing(request, session, limit, offset),
        extra=bucket,
    )


def _period_list(
    request: Request, session: Session, settings: Settings, kind: str, key: str, fmt: str
) -> Response:
    check_format(fmt)
    period = feeds.parse_period(kind, key)
    return respond(
        request,
        session,
        settings,
        fmt,
        lambda limit, offset: listings.period_listing(request, session, period, limit, offset),
    )


@router.get("/papers/date/{key}.{fmt}")
def day_list(
    request: Request, session: ReaderDep, settings: SettingsDep, key: str, fmt: str
) -> Response:
    return _period_list(request, session, settings, "date", key, fmt)


@router.get("/papers/week/{key}.{fmt}")
def week_list(
    request: Request, session: ReaderDep, settings: SettingsDep, key: str, fmt: str
) -> Response:
    return _period_list(request, session, settings, "week", key, fmt)


@router.get("/papers/month/{key}.{fmt}")
def month_list(
    request: Request, session: ReaderDep, settings: SettingsDep, key: str, fmt: str
) -> Response:
    return _period_list(request, session, settings, "month", key, fmt)


@router.get("/orgs/{name}.{fmt}")
def organization_list(
    request: Request, session: ReaderDep, settings: SettingsDep, name: str, fmt: str
) -> Response:
    check_format(fmt)
    org = listings.find_organization(session, name)
    if org.name != name:
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"/orgs/{org.name}.{fmt}{query}", status_code=301)
    extra = f"{org.fullname}|{org.description}"
    return respond(
        request,
        session,
        settings,
        fmt,
        lambda limit, offset: listings.organization_listing(request, session, org, limit, offset),
        extra=extra,
    )


@router.get("/users/{name}.{fmt}")
def user_list(
    request: Request, session: ReaderDep, settings: SettingsDep, name: str, fmt: str
) -> Response:
    check_format(fmt)
    user = listings.find_user(session, name)
    which = listings.user_list_name(request)
    extra = f"{user.fullname}|{user.upvotes_public}"
    return respond(
        request,
        session,
        settings,
        fmt,
        lambda limit, offset: listings.user_listing(request, session, user, which, limit, offset),
        extra=extra,
    )


# --- one paper: BibTeX and Markdown ---------------------------------------------------------


def find_paper(session: Session, paper_id: str, ext: str) -> Paper | Response:
    """The paper, a redirect to its canonical address, or a 404 that says why."""
    found = visible_paper(session, paper_id)
    if not found.exact:
        return RedirectResponse(f"/papers/{found.paper.public_id}.{ext}", status_code=301)
    return found.paper


def paper_authors(session: Session, paper: Paper) -> list[str]:
    return list(
        session.execute(
            select(PaperAuthor.name)
            .where(PaperAuthor.paper_id == paper.id, PaperAuthor.hidden.is_(False))
            .order_by(PaperAuthor.position)
        ).scalars()
    )


def paper_comments(session: Session, paper: Paper) -> list[exports.MarkdownComment]:
    """Visible comments, oldest first, replies under their parent; a deleted or hidden
    comment with visible replies stays as "[deleted]" so the replies keep their context."""
    rows = session.execute(
        select(Comment, User.username)
        .outerjoin(User, User.id == Comment.user_id)
        .where(Comment.paper_id == paper.id)
        .order_by(Comment.created_at, Comment.id)
    ).all()
    made: dict[int, exports.MarkdownComment] = {}
    tops: list[tuple[bool, exports.MarkdownComment]] = []
    for comment, username in rows:
        gone = comment.deleted_at is not None or comment.hidden_at is not None
        view = exports.MarkdownComment(
            "[deleted]" if gone else (username or DELETED_USER),
            comment.created_at.replace(tzinfo=comment.created_at.tzinfo or UTC),
            "" if gone else comment.body,
            [],
        )
        if comment.parent_id is None:
            made[comment.id] = view
            tops.append((gone, view))
        elif not gone and comment.parent_id in made:
            made[comment.parent_id].replies.append(view)
    return [view for gone, view in tops if not gone or view.replies]


def _paper_response(
    request: Request, session: Session, settings: Settings, paper_id: str, ext: str
) -> Response:
    v = cache_validators(request, session)
    if v.matches(request):
        return v.apply(Response(status_code=304), settings.cache_max_age)
    found = find_paper(session, paper_id, ext)
    if isinstance(found, Response):
        return found
    paper = found
    authors = paper_authors(session, paper)
    if ext == "bib":
        body = exports.bibtex(paper, authors, settings.site_url)
    else:
        org = paper.organization if paper.organization_id else None
        body = exports.markdown(
            paper, authors, org, paper_comments(session, paper), settings.site_url, settings.tz
        )
    # Shown in the browser (text/plain), saved under a sensible name.
    filename = _safe(f"{paper.public_id.replace('/', '_')}.{ext}")
    response = Response(
        body,
        media_type="text/plain; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )
    return v.apply(response, settings.cache_max_age)


@router.get("/papers/{paper_id:path}.bib")
def paper_bibtex(
    request: Request, session: ReaderDep, settings: SettingsDep, paper_id: str
) -> Response:
    return _paper_response(request, session, settings, paper_id, "bib")


@router.get("/papers/{paper_id:path}.md")
def paper_markdown(
    request: Request, session: ReaderDep, settings: SettingsDep, paper_id: str
) -> Response:
    return _paper_response(request, session, settings, paper_id, "md")


@router.get("/favicon.ico")
def favicon() -> Response:
    """Browsers showing a feed or an export as text ask for /favicon.ico (no <link> there)."""
    return RedirectResponse("/static/favicon.svg", status_code=301)
