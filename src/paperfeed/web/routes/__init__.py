"""Every route of the site, one module per area, in the one order they are matched.

Starlette tries routes in the order they were added and takes the first match, so the
order is part of the behaviour: a route with a fixed word or suffix must come before a
route whose path parameter would also match it. `tests/web/test_routes.py` checks that no
fixed path is shadowed by a catch-all id route.
"""

from __future__ import annotations

from fastapi import APIRouter

from paperfeed.web import api
from paperfeed.web.routes import (
    account_data,
    accounts,
    admin,
    api_docs,
    authors,
    banner,
    calendar,
    categories,
    collections,
    comments,
    digest,
    downloads,
    follows,
    orgs,
    outbox_page,
    pages,
    paper_links,
    search,
    submissions,
    summaries,
    thumbnails,
    votes,
)

ROUTERS: list[APIRouter] = [
    # `/papers/x.bib`, `/papers/x.md`, `/users/x.rss`, `/orgs/x.csv`: before the pages and
    # profiles, whose `{id:path}` and `{name}` would take the suffix as part of the name.
    downloads.router,
    accounts.router,
    account_data.router,
    votes.router,
    follows.router,
    submissions.router,
    comments.router,
    paper_links.router,
    admin.router,
    search.router,
    orgs.router,
    collections.router,
    authors.router,
    api_docs.router,
    api.router,
    digest.router,
    outbox_page.router,
    banner.router,
    summaries.router,
    # `/papers/{id}/thumbnail/{name}`: before the pages, whose `/papers/{id:path}` would
    # read it as a paper id.
    thumbnails.router,
    # `/papers/calendar/{month}`: before the pages, whose `/papers/{kind}/{key}` would read
    # "calendar" as the first part of an old-style paper id.
    calendar.router,
    # `/papers/category/{code}/...` and `/papers/categories`: before the pages, whose
    # `/papers/{kind}/{key}` and `/papers/{id:path}` would read them as paper ids.
    categories.router,
    # Last: `/papers/{id:path}` takes anything under /papers that nothing above claimed.
    pages.router,
]

__all__ = ["ROUTERS"]
