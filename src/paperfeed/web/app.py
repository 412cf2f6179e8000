"""The application factory: settings, database, templates, routes and error pages."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import (
    PlainTextResponse,
)
from fastapi.staticfiles import StaticFiles

from paperfeed import __version__
from paperfeed.config import Settings, get_settings
from paperfeed.db import Database
from paperfeed.search.runtime import SearchRuntime
from paperfeed.web import outage, responses
from paperfeed.web.compression import GzipUnlessSecret
from paperfeed.web.forms import BodyLimit, NoNul, TrailingSlash
from paperfeed.web.headers import SecurityHeaders
from paperfeed.web.lifespan import while_serving
from paperfeed.web.routes import ROUTERS
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
    app.add_middleware(NoNul)  # 400 for a NUL in the address, before any route
    app.add_middleware(TrailingSlash)  # /orgs/ -> /orgs, never via the Host header
    app.router.redirect_slashes = False
    app.add_middleware(SecurityHeaders)  # CSP, no framing, nosniff; HSTS on https
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.state.search = SearchRuntime(settings, app.state.db)
    for router in ROUTERS:  # in order: see web/routes/__init__.py
        app.include_router(router)

    outage.register(app)  # 503 + Retry-After while the database is away; /readyz

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> PlainTextResponse:  # on the loop: never queued behind the threads
        return PlainTextResponse("ok")

    responses.register(app)  # every failure becomes an error page or {"error": ...}

    return app


__all__ = ["create_app"]
