"""The application factory: settings, database, templates, routes and error pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from paperfeed import __version__
from paperfeed.config import Settings, get_settings
from paperfeed.db import Database
from paperfeed.search.runtime import SearchRuntime
from paperfeed.web import (
    accounts,
    admin,
    api,
    api_docs,
    comments,
    digest,
    downloads,
    orgs,
    outage,
    outbox_page,
    pages,
    search,
    submissions,
    votes,
)
from paperfeed.web.compression import GzipUnlessSecret
from paperfeed.web.forms import BodyLimit
from paperfeed.web.headers import SecurityHeaders, secured
from paperfeed.web.lifespan import while_serving
from paperfeed.web.security import LoginRequired
from paperfeed.web.templating import make_templates

STATIC_DIR = Path(__file__).parent / "static"


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title=settings.site_name,
        version=__version__,
        docs_url=None,  # api_docs.py serves /api/docs without a CDN
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=while_serving,  # the search index follows the database; queued mail goes out
    )
    app.state.settings = settings
    app.state.db = db or Database(settings.resolved_database_url())
    app.state.templates = make_templates(settings)
    app.add_middleware(GzipUnlessSecret)
    app.add_middleware(BodyLimit)  # 413 for bodies over forms.MAX_BODY, before any route
    app.add_middleware(SecurityHeaders)  # CSP, no framing, nosniff; HSTS on https
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.state.search = SearchRuntime(settings, app.state.db)
    app.include_router(downloads.router)  # before the pages: `/users/x.rss`, `/papers/x.bib`
    app.include_router(accounts.router)
    app.include_router(votes.router)
    app.include_router(submissions.router)
    app.include_router(comments.router)
    app.include_router(admin.router)
    app.include_router(search.router)
    app.include_router(orgs.router)
    app.include_router(api_docs.router)
    app.include_router(api.router)
    app.include_router(digest.router)
    app.include_router(outbox_page.router)
    app.include_router(pages.router)

    outage.register(app)  # 503 + Retry-After while the database is away; /readyz

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> PlainTextResponse:  # on the loop: never queued behind the threads
        return PlainTextResponse("ok")

    # Error pages are sync (Starlette runs them in the thread pool): the page header looks up
    # who is signed in, which reads the database.
    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return error_page(request, exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": "Sign in first (or send an API token)."}, 401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(RequestValidationError)
    def validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or e['loc'][0]}: {e['msg']}"
            for e in exc.errors()
        )
        return error_page(request, 400, f"Bad request: {problems}")

    @app.exception_handler(Exception)
    def unexpected_error(request: Request, exc: Exception) -> Response:
        page = error_page(request, 500, "Something went wrong on our side. Please try again.")
        return secured(request, page)  # sent from outside the middleware stack

    return app


TITLES = {
    400: "Bad request",
    404: "Not found",
    405: "Method not allowed",
    429: "Slow down",
    503: "Temporarily unavailable",
}


def error_page(
    request: Request, status: int, detail: str, headers: dict[str, str] | None = None
) -> Response:
    accept = request.headers.get("accept", "")
    wants_json = "application/json" in accept and "text/html" not in accept
    if request.url.path.startswith("/api/") or wants_json:
        return JSONResponse({"error": detail}, status_code=status, headers=headers)
    templates = request.app.state.templates
    context: dict[str, Any] = {
        "status": status,
        "title": TITLES.get(status, "Error"),
        "detail": detail,
    }
    response = templates.TemplateResponse(
        request, "error.html", context, status_code=status, headers=headers
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def error_html(request: Request, status: int, detail: str) -> HTMLResponse:
    """Raise-free helper for routes that want to answer with an error page directly."""
    return error_page(request, status, detail)  # type: ignore[return-value]


__all__ = ["HTTPException", "create_app", "error_page"]
