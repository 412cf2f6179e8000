"""Typed dependencies shared by the route modules."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.ingest.arxiv_api import ArxivClient


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_db(request: Request) -> Database:
    return request.app.state.db


def get_reader(request: Request) -> Iterator[Session]:
    """A read-only session for GET pages (never takes SQLite's write lock)."""
    with request.app.state.db.reader() as session:
        yield session


_client_lock = threading.Lock()


def arxiv_client(request: Request) -> ArxivClient:
    """One client per process, so arXiv's one-request-per-3-seconds pacing holds."""
    state = request.app.state
    with _client_lock:  # routes run in threads: two first submissions must share one client
        if getattr(state, "arxiv", None) is None:
            state.arxiv = ArxivClient.from_settings(state.settings)
    return state.arxiv


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_db)]
ReaderDep = Annotated[Session, Depends(get_reader)]
