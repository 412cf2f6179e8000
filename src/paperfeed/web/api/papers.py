"""Paper endpoints: search (HF's `list_papers`), one paper (`paper_info`), and the archive.

- `GET /api/papers/search?q=&limit=` ranks with `search.engine.search`, the very function
  behind the search page and `paperfeed search`, with the same filters and sorts.
- `GET /api/papers/{id}` is the flat paper; `?field=comments` adds the comment threads.
- `GET /api/papers?limit=&cursor=` walks every paper on the feed, newest first, with keyset
  pagination: the `Link: <…>; rel="next"` header (what `huggingface_hub.utils.paginate`
  follows) carries an opaque cursor, so each page costs one index range scan however deep.
"""

from __future__ import annotations

import base64
import binascii
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session
from starlette.datastructures import URL

from paperfeed import clock
from paperfeed.community import comments
from paperfeed.ingest.hub_links import load_hub
from paperfeed.models import Comment, Organization, Paper, User
from paperfeed.papers.lookup import visible_paper
from paperfeed.papers.related import load_related
from paperfeed.papers.topics import category_filter
from paperfeed.search.engine import OUTDATED_INDEX, SearchRequest, search
from paperfeed.search.lexical import Filters
from paperfeed.search.query import parse_query
from paperfeed.search.runtime import served_state
from paperfeed.web.api.common import cached_json
from paperfeed.web.api.daily import CATEGORY_HELP
from paperfeed.web.api.schemas import DailyEntryOut, PaperOut, errors
from paperfeed.web.api.serializers import (
    Json,
    daily_entry_json,
    hub_json,
    iso,
    object_id,
    paper_json,
    user_json,
)
from paperfeed.web.deps import ReaderDep, SearchDep, SettingsDep, get_settings

router = APIRouter()
SearchSort = Literal["relevance", "upvotes", "newest"]


# --- search ---------------------------------------------------------------------------------


def _filters(
    session: Session,
    date_from: str | None,
    date_to: str | None,
    org: str | None,
    author: str | None,
) -> Filters:
    filters = Filters()
    for name, value, attr in (("from", date_from, "date_from"), ("to", date_to, "date_to")):
        if value:
            try:
                setattr(filters, attr, date.fromisoformat(value.strip()))
            except ValueError:
                raise HTTPException(
                    400, f"Bad {name}: “{value[:20]}” is not a date; use YYYY-MM-DD."
                ) from None
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise HTTPException(400, "The “from” date is after the “to” date.")
    if org:
        org_id = session.execute(
            select(Organization.id).where(Organization.name == org.strip())
        ).scalar_one_or_none()
        if org_id is None:
            raise HTTPException(400, f"There is no organization named “{org[:60]}”.")
        filters.organization_id = org_id
    if author and author.strip():
        filters.author = author.strip()
    return filters


def _latest(session: Session, limit: int) -> list[Paper]:
    now = clock.now()
    return list(
        session.execute(
            select(Paper)
            .where(Paper.hidden_at.is_(None), Paper.feed_at.is_not(None), Paper.feed_at <= now)
            .order_by(Paper.feed_at.desc(), Paper.id.desc())
            .limit(limit)
        ).scalars()
    )


@router.get(
    "/papers/search",
    summary="Search papers (HF's list_papers)",
    response_model=list[DailyEntryOut],
    responses=errors(304, 400, 503),
)
def search_papers(
    request: Request,
    session: ReaderDep,
    runtime: SearchDep,
    q: Annotated[
        str, Query(max_length=1000, description="Words, “a phrase”, -excluded, or an arXiv id")
    ] = "",
    limit: Annotated[int, Query(ge=1, le=120, description="How many results")] = 50,
    sort: Annotated[SearchSort, Query(description="relevance, upvotes or newest")] = "relevance",
    date_from: Annotated[
        str | None, Query(alias="from", max_length=40, description="Published on or after")
    ] = None,
    date_to: Annotated[
        str | None, Query(alias="to", max_length=40, description="Published on or before")
    ] = None,
    org: Annotated[str | None, Query(max_length=100, description="Organization name")] = None,
    author: Annotated[str | None, Query(max_length=200, description="Author name")] = None,
    category: Annotated[list[str] | None, Query(max_length=200, description=CATEGORY_HELP)] = None,
) -> Response:
    """With no query, the latest papers on the feed (so `list_papers()` lists something)."""
    filters = _filters(session, date_from, date_to, org, author)
    filters.categories = category_filter(category or [])
    index = runtime.index()
    state = served_state(index)
    if filters.categories is not None and index is not None and index.ready:
        assert index.lexical is not None
        if not index.lexical.has_categories:
            raise HTTPException(503, OUTDATED_INDEX)

    site = get_settings(request).site_url

    def build() -> list[Json]:
        if not q.strip() and not filters.active:
            papers = _latest(session, limit)
            related = load_related(
                session, papers, keywords=True, code=True, summaries=True, thumbnails=site
            )
            return [daily_entry_json(paper, related) for paper in papers]
        parsed = parse_query(q)
        needs_index = parsed.arxiv_id is None and (
            not parsed.is_empty or bool(filters.author) or filters.categories is not None
        )
        if needs_index and not parsed.only_stop_words and (index is None or not index.ready):
            raise HTTPException(
                503, "The search index is not built yet. Run `paperfeed index` on the server."
            )
        result = search(
            session,
            index,
            runtime.embeddings() if q.strip() else None,
            SearchRequest(q=q, filters=filters, sort=sort, page=1, per_page=limit),
        )
        if result.redirect_to:
            papers = [visible_paper(session, result.redirect_to).paper]
        else:
            papers = [hit.paper for hit in result.hits]
        related = load_related(
            session, papers, keywords=True, code=True, summaries=True, thumbnails=site
        )
        return [daily_entry_json(paper, related) for paper in papers]

    return cached_json(request, session, build, extra=state)


# --- the archive, with a cursor -------------------------------------------------------------


def _encode_cursor(public_id: str) -> str:
    return base64.urlsafe_b64encode(public_id.encode()).decode().rstrip("=")


def _decode_cursor(session: Session, cursor: str) -> tuple[Any, int]:
    bad = HTTPException(
        400, "This cursor is not valid: use the one from the previous page's Link header."
    )
    try:
        public_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad from None
    row = session.execute(
        select(Paper.feed_at, Paper.id).where(
            Paper.public_id == public_id, Paper.feed_at.is_not(None)
        )
    ).first()
    if row is None:
        raise bad
    return row.feed_at, row.id


@router.get(
    "/papers",
    summary="Every paper on the feed, newest first, with cursor pagination",
    response_model=list[PaperOut],
    responses=errors(304, 400),
)
def list_papers(
    request: Request,
    session: ReaderDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=100, description="Papers per page")] = 50,
    cursor: Annotated[
        str | None, Query(max_length=200, description="From the Link header of the last page")
    ] = None,
    category: Annotated[list[str] | None, Query(max_length=200, description=CATEGORY_HELP)] = None,
) -> Response:
    now = clock.now()
    topics = category_filter(category or [])
    conditions = [Paper.hidden_at.is_(None), Paper.feed_at.is_not(None), Paper.feed_at <= now]
    if topics is not None:
        conditions.append(Paper.id.in_(topics.paper_ids()))
    if cursor is not None:
        conditions.append(
            tuple_(Paper.feed_at, Paper.id) < tuple_(*_decode_cursor(session, cursor))
        )
    papers = list(
        session.execute(
            select(Paper)
            .where(*conditions)
            .order_by(Paper.feed_at.desc(), Paper.id.desc())
            .limit(limit + 1)
        ).scalars()
    )
    headers = {}
    if len(papers) > limit:
        papers = papers[:limit]
        # From the site URL, never the request's Host header (this answer is cached).
        site = settings.site_url.rstrip("/")
        following = URL(f"{site}{request.url.path}?{request.url.query}").include_query_params(
            limit=limit, cursor=_encode_cursor(papers[-1].public_id)
        )
        headers["Link"] = f'<{following}>; rel="next"'

    def build() -> list[Json]:
        related = load_related(
            session,
            papers,
            keywords=True,
            code=True,
            summaries=True,
            thumbnails=settings.site_url,
        )
        return [paper_json(paper, related) for paper in papers]

    return cached_json(
        request, session, build, extra=str(int(now.timestamp()) // 600), headers=headers
    )


# --- one paper ------------------------------------------------------------------------------


def _author_json(user: User | None) -> Json:
    """The comment's author; one who deleted their account and kept their comments is
    "deleted user", a name no account can have (usernames have no spaces)."""
    if user is not None:
        return user_json(user)
    name = comments.DELETED_USER
    return {
        "_id": object_id("user", name),
        "user": name,
        "name": name,
        "fullname": name,
        "avatarUrl": None,
        "type": "user",
        "deleted": True,
    }


def comments_json(session: Session, paper: Paper) -> list[Json]:
    """The visible comments as anyone sees them on the page: threads, oldest first."""
    threads = comments.thread(session, paper.id, None)
    rows = session.execute(
        select(Comment.id, Comment.parent_id, Comment.body, User)
        .outerjoin(User, User.id == Comment.user_id)
        .where(
            Comment.paper_id == paper.id,
            Comment.deleted_at.is_(None),
            Comment.hidden_at.is_(None),
        )
    ).all()
    live = {row.id: row for row in rows}

    def one(view: comments.CommentView, parent: int | None) -> Json:
        row = live.get(view.id)
        shown = row is not None
        return {
            "id": view.id,
            "parentId": parent,
            "author": _author_json(row.User) if row is not None else None,
            "content": row.body if row is not None else "",
            "html": str(view.html) if shown else "",
            "createdAt": iso(view.created_at),
            "editedAt": iso(view.edited_at),
            "deleted": not shown,
        }

    result = []
    for top in threads:
        replies = [one(reply, top.id) for reply in top.replies if reply.id in live]
        if top.id not in live and not replies:
            continue
        entry = one(top, None)  # a removed comment with replies stays as a placeholder
        entry["replies"] = replies
        result.append(entry)
    return result


@router.get(
    "/papers/{paper_id:path}",
    summary="One paper (HF's paper_info)",
    response_model=PaperOut,
    responses=errors(304, 400, 404),
)
def paper_info(
    request: Request,
    session: ReaderDep,
    paper_id: str,
    field: Annotated[
        Literal["comments"] | None, Query(description="comments: add the comment threads")
    ] = None,
) -> Response:
    paper = visible_paper(session, paper_id).paper

    def build() -> Json:
        site = get_settings(request).site_url
        data = paper_json(
            paper,
            load_related(
                session, [paper], keywords=True, code=True, summaries=True, thumbnails=site
            ),
        )
        data.update(hub_json(load_hub(session, paper)))  # what the `hub` job stored
        if field == "comments":
            data["comments"] = comments_json(session, paper)
        return data

    return cached_json(request, session, build)
