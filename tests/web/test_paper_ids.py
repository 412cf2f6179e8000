"""Every route that takes a paper id accepts the same id forms, on both backends.

`paper_info('arXiv:0704.0001')` worked while `read_paper` (the same id, `/papers/{id}.md`)
was a 404: each route parsed ids its own way. Now they share `canonical_id`, and this
checks each route with each form: plain, versioned, `arXiv:` prefixed, old style.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from paperfeed.community import accounts, api_tokens
from paperfeed.db import Database
from paperfeed.papers.ids import canonical_id
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.web.conftest import BROWSER_HEADERS

PASSWORD = "long enough password"
NEW, OLD = "2611.00001", "hep-th/9901001"


def forms(base: str) -> list[str]:
    return [base, f"{base}v2", f"arXiv:{base}", f"arxiv:{base}v1"]


@pytest.fixture
def app(db: Database, tmp_path: Path):  # type: ignore[no-untyped-def]
    day = datetime(2026, 11, 19, 14, 0, tzinfo=UTC)
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(title="New style", abstract="a", arxiv_id=NEW, feed_at=day),
                PaperRecord(title="Old style", abstract="b", arxiv_id=OLD, feed_at=day),
            ],
        )
        ada = accounts.create_user(session, "ada", "ada@example.org", PASSWORD, verified=True)
        token = api_tokens.create_token(session, ada, "script").token
    app = create_app(make_settings(tmp_path, db.url), db)
    app.state.test_token = token
    return app


@pytest.fixture
def browser(app) -> Iterator[tuple[TestClient, str]]:  # type: ignore[no-untyped-def]
    """A signed-in browser and its CSRF token."""
    with TestClient(app, follow_redirects=False, headers=BROWSER_HEADERS) as client:
        page = client.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"csrf": csrf, "login": "ada", "password": PASSWORD})
        page = client.get(f"/papers/{NEW}")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        yield client, csrf


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2611.00001", NEW),
        (" 2611.00001v12/ ", NEW),
        ("arXiv:2611.00001", NEW),
        ("https://arxiv.org/abs/2611.00001v3", NEW),
        ("hep-th/9901001", OLD),
        ("arXiv:hep-th/9901001v2", OLD),
        ("pf-0123456789ab", "pf-0123456789ab"),
        ("", None),
        ("x" * 65, None),
    ],
)
def test_canonical_id(text: str, expected: str | None) -> None:
    assert canonical_id(text) == expected


@pytest.mark.parametrize("base", [NEW, OLD])
def test_pages_and_exports_take_every_form(browser, base: str) -> None:  # type: ignore[no-untyped-def]
    client, _ = browser
    for form, suffix in ((f, s) for f in forms(base) for s in ("", ".bib", ".md")):
        response = client.get(f"/papers/{form}{suffix}")
        if form == base:
            assert response.status_code == 200, (suffix, response.text[:200])
        else:  # one address per paper: the other forms redirect to it
            assert response.status_code == 301, (suffix, response.text[:200])
            assert response.headers["location"] == f"/papers/{base}{suffix}"
            assert client.get(response.headers["location"]).status_code == 200


@pytest.mark.parametrize("base", [NEW, OLD])
def test_the_api_takes_every_form(app, base: str) -> None:  # type: ignore[no-untyped-def]
    auth = {"authorization": f"Bearer {app.state.test_token}"}
    with TestClient(app) as client:
        for form in forms(base):
            info = client.get(f"/api/papers/{form}")
            assert info.status_code == 200 and info.json()["id"] == base
            upvote = client.post(f"/api/papers/{form}/upvote", headers=auth)
            assert upvote.status_code == 200 and upvote.json()["upvoted"] is True
            comment = client.post(
                f"/api/papers/{form}/comment", headers=auth, json={"comment": "Hi"}
            )
            assert comment.status_code in (200, 201), comment.text
            assert client.delete(f"/api/papers/{form}/upvote", headers=auth).status_code == 200


@pytest.mark.parametrize("base", [NEW, OLD])
def test_the_upvote_and_comment_forms_take_every_form(browser, base: str) -> None:  # type: ignore[no-untyped-def]
    client, csrf = browser
    for form in forms(base):
        voted = client.post(
            f"/papers/{form}/upvote", data={"csrf": csrf}, headers={"accept": "application/json"}
        )
        assert voted.status_code == 200 and voted.json()["upvoted"] is True, voted.text[:200]
        posted = client.post(f"/papers/{form}/comments", data={"csrf": csrf, "body": f"On {form}"})
        assert posted.status_code == 303, posted.text[:200]
        assert posted.headers["location"].startswith(f"/papers/{base}#comment-")
        assert f"On {form}" in client.get(f"/papers/{base}").text


def test_unknown_and_overlong_ids_are_404_with_a_reason(browser) -> None:  # type: ignore[no-untyped-def]
    client, csrf = browser
    for path in ("/papers/2611.99999", "/papers/2611.99999.md", "/api/papers/arXiv:2611.99999"):
        response = client.get(path)
        assert response.status_code == 404 and "no paper with id" in response.text
    assert client.get("/papers/" + "a" * 500 + ".bib").status_code == 404
    voted = client.post("/papers/2611.99999/upvote", data={"csrf": csrf})
    assert voted.status_code == 404


def test_the_hub_client_reads_papers_by_every_form(app) -> None:  # type: ignore[no-untyped-def]
    """The reported case: `read_paper('arXiv:…')` (GET /papers/{id}.md) was a 404."""
    from huggingface_hub import HfApi

    from tests.web.live import start_server

    server = start_server(app)
    try:
        hub = HfApi(endpoint=server.url, token=False)
        for base in (NEW, OLD):
            for form in forms(base):
                assert hub.read_paper(form).startswith("# ")
                assert hub.paper_info(form).id == base
    finally:
        server.stop()
