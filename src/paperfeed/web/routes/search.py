"""The search page: `/papers?q=...` (and `/search`), with filters, sorts and paging."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from paperfeed.models import Organization
from paperfeed.papers import feeds
from paperfeed.search.engine import SEARCH_SORTS, SearchRequest, search
from paperfeed.search.lexical import Filters
from paperfeed.web.deps import ReaderDep
from paperfeed.web.forms import optional_int
from paperfeed.web.highlight import highlighter, snippet
from paperfeed.web.responses import REVALIDATE, page
from paperfeed.web.votes import voted_for

router = APIRouter(include_in_schema=False)
PER_PAGE = 20
MAX_PAGE = 50


@router.get("/search")
def search_alias(request: Request) -> Response:
    query = request.url.query
    return RedirectResponse("/papers" + (f"?{query}" if query else "?q="), status_code=301)


class SearchFormError(ValueError):
    pass


def read_form(request: Request, session: Session) -> tuple[SearchRequest, dict[str, str]]:
    """The search form's fields, validated; raises SearchFormError with a readable reason."""
    params = request.query_params
    form = {
        key: params.get(key, "").strip()
        for key in ("q", "from", "to", "org", "author", "sort", "p")
    }
    filters = Filters()
    for key, attr in (("from", "date_from"), ("to", "date_to")):
        if form[key]:
            try:
                setattr(filters, attr, date.fromisoformat(form[key]))
            except ValueError:
                raise SearchFormError(
                    f"“{form[key][:20]}” is not a date: use YYYY-MM-DD."
                ) from None
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise SearchFormError("The “from” date is after the “to” date.")
    if form["org"]:
        org_id = session.execute(
            select(Organization.id).where(Organization.name == form["org"])
        ).scalar_one_or_none()
        if org_id is None:
            raise SearchFormError(f"There is no organization named “{form['org'][:60]}”.")
        filters.organization_id = org_id
    if form["author"]:
        filters.author = form["author"][:200]
    sort = form["sort"] or "relevance"
    if sort not in SEARCH_SORTS:
        raise SearchFormError(f"Unknown sort “{sort[:20]}”: use relevance, upvotes or newest.")
    try:
        page = optional_int(form["p"].strip(), "p", 1, MAX_PAGE) or 1
    except HTTPException:
        raise SearchFormError(
            f"The page number must be a whole number from 1 to {MAX_PAGE}."
        ) from None
    return (
        SearchRequest(q=form["q"], filters=filters, sort=sort, page=page, per_page=PER_PAGE),  # type: ignore[arg-type]
        form,
    )


def search_page(request: Request, session: Session) -> Response:
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
    runtime = request.app.state.search
    result = search(
        session, runtime.index(), runtime.embeddings() if form["q"] else None, search_request
    )
    if result.redirect_to and search_request.page == 1:
        return RedirectResponse(f"/papers/{result.redirect_to}", status_code=302)
    pattern = highlighter(result.query)
    papers = [hit.paper for hit in result.hits]
    context = {
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
