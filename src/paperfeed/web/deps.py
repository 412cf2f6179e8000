"""Typed dependencies shared by the route modules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from paperfeed.config import Settings
from paperfeed.db import Database


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_db(request: Request) -> Database:
    return request.app.state.db


def get_reader(request: Request) -> Iterator[Session]:
    """A read-only session for GET pages (never takes SQLite's write lock)."""
    with request.app.state.db.reader() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_db)]
ReaderDep = Annotated[Session, Depends(get_reader)]
