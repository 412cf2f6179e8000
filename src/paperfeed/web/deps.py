"""Typed dependencies, and the one way to reach what the app holds.

`create_app` keeps the settings, the database, the page templates and the search runtime
on `app.state`. Routes take them as typed parameters (`SettingsDep`, `DatabaseDep`, ...);
a helper that has only the request calls the function behind the type (`get_settings`).
Nothing else reads `app.state` (`tests/test_architecture.py` checks it), so what a route
needs shows in its signature.

There is no dependency for a write transaction: a route opens `db.transaction()` itself,
so it commits before the answer is sent and can catch what the transaction raises.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.ingest.arxiv_api import ArxivClient
from paperfeed.search.runtime import SearchRuntime


def app_settings(app: Any) -> Settings:
    """The settings of an app, for middleware (which sees the app, not a request)."""
    return app.state.settings


def get_settings(request: Request) -> Settings:
    return app_settings(request.app)


def get_db(request: Request) -> Database:
    return request.app.state.db


def get_search(request: Request) -> SearchRuntime:
    """The process's search index and query embedder (see search/runtime.py)."""
    return request.app.state.search


def get_templates(request: Request) -> Jinja2Templates:
    return request.app.state.templates


def get_reader(request: Request) -> Iterator[Session]:
    """A read-only session for GET pages (never takes SQLite's write lock)."""
    with get_db(request).reader() as session:
        yield session


_client_lock = threading.Lock()


def arxiv_client(request: Request) -> ArxivClient:
    """One client per process, so arXiv's one-request-per-3-seconds pacing holds; someone
    waits on the page, so each lookup ends within PAPERFEED_ARXIV_TIMEOUT."""
    state = request.app.state
    with _client_lock:  # routes run in threads: two first submissions must share one client
        if getattr(state, "arxiv", None) is None:
            state.arxiv = ArxivClient.interactive(state.settings)
    return state.arxiv


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_db)]
ReaderDep = Annotated[Session, Depends(get_reader)]
SearchDep = Annotated[SearchRuntime, Depends(get_search)]
ArxivDep = Annotated[ArxivClient, Depends(arxiv_client)]
