"""A demo site (the sample corpus at FIXED_NOW) pointed at a real local SMTP server."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.demo import load_demo
from tests.conftest import make_settings


@pytest.fixture
def demo_db(db: Database, tmp_path: Path) -> Database:
    load_demo(db, make_settings(tmp_path, db.url).tz)
    return db


def mail_settings(server, tmp_path: Path, db: Database) -> Settings:  # type: ignore[no-untyped-def]
    return server.settings(make_settings(tmp_path, db.url)).model_copy(
        update={"digest_retry_backoff": 0.0, "site_url": "https://papers.example.org"}
    )
