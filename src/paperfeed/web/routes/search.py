"""The search page: `/papers?q=...` (and `/search`), with filters, sorts and paging."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from paperfeed.models import Organization
from paperfeed.papers import feeds
from paperfeed.search.engine import search
from paperfeed.search.runtime import SearchRuntime
from paperfeed.web.deps import ReaderDep
from paperfeed.web.highlight import highlighter, snippet
from paperfeed.web.responses import REVALIDATE, page, voted_for
from paperfeed.web.search_form import MAX_PAGE, SearchFormError, category_field, read_form

router = APIRouter(include_in_schema=False)


@router.get("/search")
def search_alias(request: Request) -> Response:
    query = request.url.query
    return RedirectResponse("/papers" + (f"?{query}" if query else "?q="), status_code=301)


def search_page(request: Request, session: Session, runtime: SearchRuntime) -> Response:
    orgs = list(
        session.execute(
            select(Organization.name, Organization.fullname).order_by(Organization.name).limit(500)
        )
    )
    try:
        search_request, form = read_form(request, session)
    except SearchFormError as exc:
        form = {
            k: request.query_params.get(k, "") for k in ("q", "from", "to", "org", "author", "sort")
        }
        form["category"] = category_field(request)
        return page(
            request,
            "search.html",
            400,
            view="search",
            form=form,
            error=str(exc),
            result=None,
            orgs=orgs,
        )
    result = search(
        session, runtime.index(), runtime.embeddings() if form["q"] else None, search_request
    )
    if result.redirect_to and search_request.page == 1:
        return RedirectResponse(f"/papers/{result.redirect_to}", status_code=302)
    pattern = highlighter(result.query)
    papers = [hit.paper for hit in result.hits]
    context: dict[str, Any] = {
        "view": "search",
        "form": form,
        "error": None,
        "result": result,
        "hits": result.hits,
        "extras": feeds.card_extras(session, papers),
        "voted": voted_for(request, session, papers),
        "pattern": pattern,
        "snippet": snippet,
        "orgs": orgs,
        "page": search_request.page,
        "pages": min(result.pages, MAX_PAGE),
    }
    cache = REVALIDATE if "pf_session" in request.cookies else "public, max-age=60"
    return page(request, "search.html", cache=cache, **context)


__all__ = ["ReaderDep", "router", "search_page"]
