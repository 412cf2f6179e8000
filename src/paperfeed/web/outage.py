"""When the database goes away: 503 with Retry-After instead of a 500, and `/readyz`.

A node keeps running while PostgreSQL is down or restarting. Every request that needs the
database gets a 503 saying so (an HTML page for browsers, `{"error": ...}` for the API),
so browsers, API clients and load balancers know to try again rather than report a bug.
The engine's pool checks connections before use and drops dead ones (see `db.py`), so the
node serves again as soon as the database is back, without a restart.

`/healthz` stays a liveness check (the process answers); `/readyz` also asks the database,
so a load balancer can take a node out of rotation while it cannot reach it.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy import text

from paperfeed.db import OUTAGE_ERRORS, is_outage
from paperfeed.web.deps import get_db
from paperfeed.web.responses import error_page

log = logging.getLogger(__name__)

UNAVAILABLE = "The database is unavailable; try again in a moment."
RETRY_AFTER_SECONDS = 5


def unavailable_headers() -> dict[str, str]:
    return {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}


async def database_unavailable(request: Request, exc: Exception) -> Response:
    """Answer 503 with Retry-After; anything that is not an outage stays a 500."""
    if not is_outage(exc):
        raise exc  # a bug, not an outage: the usual 500 handling (and logging) applies
    log.warning("database unavailable: %s", _first_line(exc))
    # The page header shows who is signed in; that lookup needs the database too, so a
    # request that had not looked yet is shown the page as a visitor.
    if not hasattr(request.state, "user"):
        request.state.user = None
        request.state.web_session = None
    try:
        return error_page(request, 503, UNAVAILABLE, unavailable_headers())
    except Exception:  # the error page itself failed: still say what is going on
        log.exception("the outage page could not be rendered")
        return PlainTextResponse(UNAVAILABLE, status_code=503, headers=unavailable_headers())


def readyz(request: Request) -> PlainTextResponse:
    """Ready to serve: the database answers a trivial query."""
    try:
        with get_db(request).engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        if not is_outage(exc):
            raise
        log.warning("not ready: %s", _first_line(exc))
        return PlainTextResponse(UNAVAILABLE, status_code=503, headers=unavailable_headers())
    return PlainTextResponse("ready", headers={"Cache-Control": "no-store"})


def register(app: FastAPI) -> None:
    """Route database outages to a 503 and add `/readyz`."""
    for error in OUTAGE_ERRORS:
        app.add_exception_handler(error, database_unavailable)
    app.add_api_route("/readyz", readyz, methods=["GET", "HEAD"], include_in_schema=False)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
