"""Submitting while arXiv cannot be reached: the page answers within PAPERFEED_ARXIV_TIMEOUT,
tells the member to try later and the operator which address the server could not reach."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from paperfeed.community import accounts
from paperfeed.db import Database
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.servers import refused_url
from tests.web.conftest import BROWSER_HEADERS

PASSWORD = "long enough password"
TIMEOUT = 2.0
MARGIN = 1.5  # the page around the lookup, on a busy test machine


def signed_in(db: Database, tmp_path: Path, arxiv_url: str) -> TestClient:
    settings = make_settings(tmp_path, db.url).model_copy(
        update={"arxiv_api_url": arxiv_url, "arxiv_timeout": TIMEOUT}
    )
    with db.transaction() as session:
        accounts.create_user(session, "ada", "ada@example.org", PASSWORD, verified=True)
    client = TestClient(create_app(settings, db), follow_redirects=False, headers=BROWSER_HEADERS)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    client.post("/login", data={"csrf": token.group(1), "login": "ada", "password": PASSWORD})
    return client


@pytest.mark.parametrize("down", ["silent", "refused"])
def test_submitting_while_arxiv_is_unreachable_says_so_in_time(
    down: str, db: Database, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("silent_server").url if down == "silent" else refused_url()
    with signed_in(db, tmp_path, url) as client:
        form = client.get("/papers/submit").text
        token = re.search(r'name="csrf" value="([^"]+)"', form)
        assert token is not None
        started = time.monotonic()
        response = client.post(
            "/papers/submit", data={"csrf": token.group(1), "arxiv": "2408.00716", "org": ""}
        )
        elapsed = time.monotonic() - started
    assert elapsed < TIMEOUT + MARGIN, elapsed
    assert response.status_code == 503 and response.headers["retry-after"] == "60"
    page = response.text
    assert "arXiv could not be reached" in page and "try again in a few minutes" in page
    note = re.search(r'<p class="hint" id="operator-note">(.*?)</p>', page, re.S)
    assert note is not None
    assert f"could not reach arXiv at {url}" in note.group(1)
    assert "PAPERFEED_ARXIV_API_URL" in note.group(1)
    assert 'value="2408.00716"' in page  # the form keeps what was typed


def test_the_form_says_how_long_a_lookup_may_take(db: Database, tmp_path: Path) -> None:
    with signed_in(db, tmp_path, refused_url()) as client:
        form = client.get("/papers/submit").text
    assert '<script src="/static/submit.js' in form
    progress = re.search(
        r'<p class="hint" id="submit-progress" role="status" hidden>(.*?)</p>', form
    )
    assert progress is not None and "up to 2 seconds" in progress.group(1)
