"""Submitting with code and project-page links, by the form and the API, against the local
arXiv API stand-in: checked before arXiv is asked, stored as the paper's set links, logged;
a duplicate's links are used only from someone who may change that paper's links."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from paperfeed import clock
from paperfeed.community import accounts, api_tokens
from paperfeed.db import Database
from paperfeed.models import ModerationLog, Paper, Submission, User
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.web.conftest import BROWSER_HEADERS

PASSWORD = "long enough password"
DAY_AFTER = datetime(2024, 8, 5, 15, 0, tzinfo=UTC)  # 2408.00716 appeared on 2024-08-01
TOKEN = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def app(db: Database, tmp_path: Path, arxiv_api):  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, db.url).model_copy(
        update={"arxiv_api_url": arxiv_api.url, "arxiv_request_interval": 0.0}
    )
    with db.transaction() as session:
        for name, role in (("ada", "user"), ("grace", "user"), ("mod", "moderator")):
            accounts.create_user(
                session, name, f"{name}@example.org", PASSWORD, role=role, verified=True
            )
    with clock.frozen(DAY_AFTER):
        yield create_app(settings, db)


def client_for(app: FastAPI, name: str) -> TestClient:
    client = TestClient(app, follow_redirects=False, headers=BROWSER_HEADERS)
    token = TOKEN.search(client.get("/login").text).group(1)
    client.post("/login", data={"csrf": token, "login": name, "password": PASSWORD})
    return client


def submit(client: TestClient, arxiv: str, code: str = "", project: str = ""):  # type: ignore[no-untyped-def]
    form = client.get("/papers/submit")
    assert 'name="github_url"' in form.text and 'name="project_url"' in form.text
    token = TOKEN.search(form.text).group(1)
    data = {"csrf": token, "arxiv": arxiv, "github_url": code, "project_url": project}
    return client.post("/papers/submit", data=data)


def paper_links(db: Database) -> tuple[str | None, str | None]:
    with db.reader() as session:
        return tuple(session.execute(select(Paper.github_url, Paper.project_url)).one())  # type: ignore[return-value]


def test_a_submission_with_links_shows_them(app: FastAPI, db: Database) -> None:
    ada = client_for(app, "ada")
    response = submit(
        ada, "2408.00716", "https://huggingface.co/acme/model/tree/main", "https://acme.example/"
    )
    assert response.status_code == 303, response.text[:300]
    assert paper_links(db) == ("https://huggingface.co/acme/model", "https://acme.example/")
    page = ada.get("/papers/2408.00716").text
    assert 'href="https://huggingface.co/acme/model">acme/model</a>' in page
    assert 'href="https://acme.example/">Project page</a>' in page
    with db.reader() as session:
        entry = session.execute(select(ModerationLog)).scalar_one()
        assert entry.detail == {
            "as": "submitter",
            "code": "(none) → https://huggingface.co/acme/model",
            "project page": "(none) → https://acme.example/",
        }


@pytest.mark.parametrize(
    ("code", "project", "reason"),
    [
        ("https://github.com/acme", "", "must be a repository"),
        ("javascript:alert(1)", "", "must start with https://"),
        ("", "data:text/html,x", "must start with https://"),
    ],
)
def test_bad_links_refuse_the_submission_before_arxiv_is_asked(
    app: FastAPI, db: Database, arxiv_api, code: str, project: str, reason: str
) -> None:  # type: ignore[no-untyped-def]
    response = submit(client_for(app, "ada"), "2408.00716", code, project)
    assert response.status_code == 400 and reason in response.text
    assert f'value="{code}"' in response.text  # kept for correcting
    assert arxiv_api.requests == []
    with db.reader() as session:
        assert session.execute(select(Paper)).first() is None
        assert session.execute(select(Submission)).first() is None


def test_a_duplicates_links_count_only_from_those_who_may_set_them(
    app: FastAPI, db: Database
) -> None:
    submit(client_for(app, "ada"), "2408.00716", "https://github.com/ada/first")
    grace = client_for(app, "grace")
    response = submit(grace, "2408.00716", "https://github.com/grace/not-hers")
    assert response.headers["location"] == "/papers/2408.00716?submitted=duplicate&links=ignored"
    assert "The links you gave were not used" in grace.get(response.headers["location"]).text
    assert paper_links(db) == ("https://github.com/ada/first", None)
    moderated = submit(client_for(app, "mod"), "2408.00716", "", "https://fixed.example/")
    assert moderated.headers["location"] == "/papers/2408.00716?submitted=duplicate"
    assert paper_links(db) == ("https://github.com/ada/first", "https://fixed.example/")


def test_the_api_submits_with_links(app: FastAPI, db: Database) -> None:
    with db.transaction() as session:
        ada = session.execute(select(User).where(User.username == "ada")).scalar_one()
        token = api_tokens.create_token(session, ada, "script").token
    auth = {"authorization": f"Bearer {token}"}
    with TestClient(app) as client:
        bad = client.post(
            "/api/papers/submit",
            json={"id": "2408.00716", "githubRepo": "https://gitlab.com/solo"},
            headers=auth,
        )
        assert bad.status_code == 400 and "must be a repository" in bad.json()["error"]
        done = client.post(
            "/api/papers/submit",
            json={
                "id": "2408.00716",
                "githubRepo": "https://github.com/ada/code",
                "projectPage": "https://ada.example/",
            },
            headers=auth,
        )
        assert done.status_code == 201, done.text
        paper = done.json()["paper"]
        assert paper["githubRepo"] == "https://github.com/ada/code"
        assert paper["projectPage"] == "https://ada.example/"
