from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from paperfeed.db import Database
from paperfeed.web.app import create_app
from tests.conftest import make_settings

BROWSER_HEADERS = {"accept": "text/html,application/xhtml+xml"}


@pytest.fixture
def client(sample_db: Database, tmp_path: Path) -> Iterator[TestClient]:
    """A client on the shared sample corpus (read-only)."""
    app = create_app(make_settings(tmp_path, sample_db.url), sample_db)
    with TestClient(app, follow_redirects=False, headers=BROWSER_HEADERS) as test_client:
        yield test_client


@pytest.fixture
def empty_client(db: Database, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(make_settings(tmp_path, db.url), db)
    with TestClient(app, follow_redirects=False, headers=BROWSER_HEADERS) as test_client:
        yield test_client


@pytest.fixture
def search_client(search_site) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """A client on the sample corpus with a built search index."""
    app = create_app(search_site.settings, search_site.db)
    with TestClient(app, follow_redirects=False, headers=BROWSER_HEADERS) as test_client:
        yield test_client
