"""Browsing by arXiv category: `/papers/categories` and the feeds of one topic.

`/papers/category/{code}` takes a category (`cs.CL`) or an archive (`cs`, meaning all of
its categories); an alias (`math.IT`, `cmp-lg`) redirects to its canonical topic, so each
topic has one address. Under it are the main feeds' pages, built by the same code with the
topic as a filter: `/date/YYYY-MM-DD`, `/week/YYYY-Www`, `/month/YYYY-MM`, `/trending`,
each with the same `.rss`, `.atom`, `.csv` and `.jsonl` versions as the main feeds.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from paperfeed import clock
from paperfeed.papers import feeds
from paperfeed.papers.topics import Topic, UnknownTopic, find_topic, topic_counts
from paperfeed.web import listings
from paperfeed.web.deps import ReaderDep, SettingsDep
from paperfeed.web.responses import public_page
from paperfeed.web.routes.downloads import FORMATS, respond
from paperfeed.web.routes.pages import PageParam, SortParam, feed_page, trending_view

router = APIRouter(include_in_schema=False)


def _topic(code: str, request: Request) -> Topic | RedirectResponse:
    """The topic `code` names, or a redirect to its canonical address."""
    topic = find_topic(code)
    if topic.code != code:
        canonical = request.url.path.replace(f"/papers/category/{code}", topic.path, 1)
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(canonical + query, status_code=301)
    return topic


@router.get("/papers/categories")
def categories_index(request: Request, session: ReaderDep) -> Response:
    context = {"view": "categories", "archives": topic_counts(session)}
    return public_page(request, session, "categories.html", context)


@router.get("/papers/category/{code}")
def topic_latest(
    request: Request, session: ReaderDep, settings: SettingsDep, code: str
) -> Response:
    """The topic's latest day with papers (a redirect); `cs.CL.rss` and the other
    suffixes are that day's feed, as `/papers.rss` is the home page's."""
    base, _, fmt = code.rpartition(".")
    if fmt in FORMATS and not _is_topic(code):
        found = _topic(base, request)
        if isinstance(found, Response):
            return found
        return respond(
            request,
            session,
            settings,
            fmt,
            lambda limit, offset: listings.topic_listing(request, session, found, limit, offset),
        )
    topic = _topic(code, request)
    if isinstance(topic, Response):
        return topic
    today = clock.now().astimezone(settings.tz).date()
    day = feeds.latest_feed_day(session, settings.tz, clock.now(), topic) or today
    return RedirectResponse(feeds.day_period(day).under(topic.path).path, status_code=302)


def _is_topic(code: str) -> bool:
    try:
        find_topic(code)
    except UnknownTopic:
        return False
    return True


@router.get("/papers/category/{code}/trending.{fmt}")
def topic_trending_list(
    request: Request, session: ReaderDep, settings: SettingsDep, code: str, fmt: str
) -> Response:
    topic = _topic(code, request)
    if isinstance(topic, Response):
        return topic
    bucket = str(int(clock.now().timestamp()) // 600)  # scores decay, as on the page
    return respond(
        request,
        session,
        settings,
        fmt,
        lambda limit, offset: listings.trending_listing(request, session, limit, offset, topic),
        extra=bucket,
    )


@router.get("/papers/category/{code}/trending")
def topic_trending(
    request: Request, session: ReaderDep, settings: SettingsDep, code: str, p: int = PageParam
) -> Response:
    topic = _topic(code, request)
    if isinstance(topic, Response):
        return topic
    return trending_view(request, session, settings, p, topic)


@router.get("/papers/category/{code}/{kind}/{key}.{fmt}")
def topic_period_list(
    request: Request,
    session: ReaderDep,
    settings: SettingsDep,
    code: str,
    kind: str,
    key: str,
    fmt: str,
) -> Response:
    topic = _topic(code, request)
    if isinstance(topic, Response):
        return topic
    period = feeds.parse_period(kind, key).under(topic.path)
    return respond(
        request,
        session,
        settings,
        fmt,
        lambda limit, offset: listings.period_listing(
            request, session, period, limit, offset, topic
        ),
    )


@router.get("/papers/category/{code}/{kind}/{key}")
def topic_period(
    request: Request,
    session: ReaderDep,
    settings: SettingsDep,
    code: str,
    kind: str,
    key: str,
    sort: str = SortParam,
    p: int = PageParam,
) -> Response:
    topic = _topic(code, request)
    if isinstance(topic, Response):
        return topic
    period = feeds.parse_period(kind, key).under(topic.path)
    return feed_page(request, session, settings, period, sort, p, topic=topic)
