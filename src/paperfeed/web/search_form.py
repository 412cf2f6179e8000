"""The search form: query parameters read and checked once, for the page, feeds, exports
and the API alike (`SearchFormError` is a 400 with the reason)."""

from __future__ import annotations

from datetime import date

from fastapi import HTTPException, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from paperfeed.errors import UserError
from paperfeed.models import Organization
from paperfeed.papers.topics import UnknownCategory, category_filter
from paperfeed.search.engine import SEARCH_SORTS, SearchRequest
from paperfeed.search.lexical import Filters
from paperfeed.web.forms import optional_int

PER_PAGE = 20
MAX_PAGE = 50


class SearchFormError(UserError):
    """A search form we cannot run (bad dates, unknown sort or category); 400 with the
    reason."""


def category_field(request: Request) -> str:
    """The `category` values as the form's one field shows them (`cs.CL, hep-ph`)."""
    values = (v.strip() for v in request.query_params.getlist("category"))
    return ", ".join(v for v in values if v)


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
    try:
        filters.categories = category_filter(request.query_params.getlist("category"))
    except UnknownCategory as exc:
        raise SearchFormError(str(exc)) from None
    # Aliases shown as what they mean (`math.IT` is `cs.IT`).
    form["category"] = ", ".join(filters.categories.codes) if filters.categories else ""
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
        SearchRequest(q=form["q"], filters=filters, sort=sort, page=page, per_page=PER_PAGE),  # type: ignore[arg-type]  # sort: checked above
        form,
    )
