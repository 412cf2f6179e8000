"""The paper page's "Code and project page" form: who sees and may use it, CSRF, refusals
with reasons, the audit entry moderators see, and what the page and cards then show."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from paperfeed.community import accounts
from paperfeed.community.paper_links import EDIT_LINKS
from paperfeed.db import Database
from paperfeed.ingest.github_api import GitHubClient
from paperfeed.ingest.github_repos import update_github
from paperfeed.models import GithubRepo, ModerationLog, Paper, PaperAuthor, User
from paperfeed.papers.code_links import update_code_links
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.web.conftest import BROWSER_HEADERS

PASSWORD = "long enough password"
PAPER = "/papers/2411.00001"
FOUND = "https://github.com/found/in-abstract"
TOKEN = re.compile(r'name="csrf" value="([^"]+)"')
FORM = 'action="/papers/2411.00001/links"'


@pytest.fixture
def app(db: Database, tmp_path: Path, fixed_clock) -> FastAPI:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(
                    title="Linked paper",
                    abstract=f"Our code: {FOUND}.",
                    arxiv_id="2411.00001",
                    authors=["Ada Lovelace", "Alan Turing"],
                    feed_at=fixed_clock,
                )
            ],
        )
        users = {
            name: accounts.create_user(
                session, name, f"{name}@example.org", PASSWORD, role=role, verified=True
            )
            for name, role in (
                ("sub", "user"),
                ("author", "user"),
                ("other", "user"),
                ("mod", "moderator"),
                ("root", "admin"),
            )
        }
        session.flush()
        paper = session.execute(select(Paper)).scalar_one()
        paper.submitted_by_id = users["sub"].id
        session.get(PaperAuthor, (paper.id, 1)).user_id = users["author"].id
        session.add(
            GithubRepo(
                repo="set/repo",
                full_name="Set/Repo",
                stars=1234,
                status="ok",
                created_at=fixed_clock,
                checked_at=fixed_clock,
            )
        )
    update_code_links(db)
    return create_app(make_settings(tmp_path, db.url), db)


class Browser:
    def __init__(self, app: FastAPI, name: str) -> None:
        self.client = TestClient(app, follow_redirects=False, headers=BROWSER_HEADERS)
        token = TOKEN.search(self.client.get("/login").text).group(1)
        self.client.post("/login", data={"csrf": token, "login": name, "password": PASSWORD})
        self.token = TOKEN.search(self.client.get(PAPER).text).group(1)

    def save(self, code: str, project: str = "", **extra: str):  # type: ignore[no-untyped-def]
        data = {"csrf": self.token, "github_url": code, "project_url": project, **extra}
        return self.client.post(f"{PAPER}/links", data=data)


@pytest.fixture
def people(app: FastAPI) -> Iterator[dict[str, Browser]]:
    browsers = {name: Browser(app, name) for name in ("sub", "author", "other", "mod", "root")}
    yield browsers
    for browser in browsers.values():
        browser.client.close()


@pytest.fixture
def visitor(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False, headers=BROWSER_HEADERS) as client:
        yield client


def stored(db: Database) -> tuple[str | None, str | None]:
    with db.reader() as session:
        return tuple(session.execute(select(Paper.github_url, Paper.project_url)).one())


def log_rows(db: Database) -> list[ModerationLog]:
    with db.reader() as session:
        return list(session.scalars(select(ModerationLog).order_by(ModerationLog.id)))


def test_the_form_shows_only_to_those_who_may_use_it(
    people: dict[str, Browser], visitor: TestClient
) -> None:
    for name in ("sub", "author", "mod", "root"):
        page = people[name].client.get(PAPER).text
        assert FORM in page and "Code and project page" in page, name
    assert FORM not in people["other"].client.get(PAPER).text
    anonymous = visitor.get(PAPER)
    assert FORM not in anonymous.text and anonymous.headers["cache-control"].startswith("public")


def test_anonymous_is_sent_to_log_in_and_the_api_answers_401(
    app: FastAPI, visitor: TestClient, db: Database
) -> None:
    refused = visitor.post(f"{PAPER}/links", data={"github_url": "https://github.com/a/b"})
    assert refused.status_code in (303, 403)
    api = visitor.post(
        "/api/papers/2411.00001/links", json={"githubRepo": "https://github.com/a/b"}
    )
    assert api.status_code == 401 and api.json()["error"]
    assert stored(db) == (None, None)


def test_another_user_is_refused_with_the_reason(people: dict[str, Browser], db: Database) -> None:
    refused = people["other"].save("https://github.com/not/mine")
    assert refused.status_code == 403
    assert "submitter, its verified authors and moderators" in refused.text
    assert "claim your name" in refused.text
    assert stored(db) == (None, None) and log_rows(db) == []


def test_a_form_without_the_csrf_token_is_refused(people: dict[str, Browser], db: Database) -> None:
    for token in ("", "forged"):
        response = people["sub"].client.post(
            f"{PAPER}/links", data={"csrf": token, "github_url": "https://github.com/a/b"}
        )
        assert response.status_code == 403 and "expired" in response.text
    assert stored(db) == (None, None)


@pytest.mark.parametrize("name", ["sub", "author", "mod", "root"])
def test_set_links_show_at_once_with_stars_and_in_the_log(
    people: dict[str, Browser], visitor: TestClient, db: Database, name: str
) -> None:
    before = visitor.get(PAPER)
    assert f'href="{FOUND}"' in before.text and "named in the abstract" in before.text
    saved = people[name].save("https://github.com/set/repo/tree/main", "https://acme.example/p")
    assert saved.status_code == 303
    assert saved.headers["location"] == f"{PAPER}?links=saved#links"
    assert stored(db) == ("https://github.com/set/repo", "https://acme.example/p")
    assert "were saved" in people[name].client.get(saved.headers["location"]).text
    # The anonymous page's validator changed, and the page shows the set repository (as
    # GitHub spells it, with its stars), the found one among the others, the project page.
    again = visitor.get(PAPER, headers={"if-none-match": before.headers["etag"]})
    assert again.status_code == 200 and again.headers["etag"] != before.headers["etag"]
    page = again.text
    assert 'href="https://github.com/Set/Repo">Set/Repo</a>' in page and "1,234 stars" in page
    assert "named in the abstract" not in page and "github.com/found/in-abstract" in page
    assert 'href="https://acme.example/p">Project page</a>' in page
    card = visitor.get("/papers").text
    assert "Set/Repo" in card
    [entry] = log_rows(db)
    assert entry.action == "set_paper_links" and entry.target_id == "2411.00001"
    assert entry.detail is not None and entry.detail["code"] == (
        "(none) → https://github.com/set/repo"
    )
    dashboard = people["mod"].client.get("/admin").text  # where moderators read the log
    assert "set paper links" in dashboard and "(none) → https://github.com/set/repo" in dashboard


def test_clearing_falls_back_to_the_found_link(
    people: dict[str, Browser], visitor: TestClient, db: Database
) -> None:
    people["author"].save("https://gitlab.com/set/project", "https://acme.example/")
    assert 'href="https://gitlab.com/set/project"' in visitor.get(PAPER).text
    assert people["mod"].save("", "").status_code == 303
    assert stored(db) == (None, None)
    page = visitor.get(PAPER).text
    assert f'href="{FOUND}">found/in-abstract</a>' in page and "named in the abstract" in page
    assert "Project page</a>" not in page
    assert log_rows(db)[-1].detail == {
        "as": "moderator",
        "code": "https://gitlab.com/set/project → (none)",
        "project page": "https://acme.example/ → (none)",
    }


@pytest.mark.parametrize(
    ("code", "project", "reason"),
    [
        ("javascript:alert(1)", "", "must start with https://"),
        ("https://github.com/owner", "", "must be a repository on GitHub, GitLab or the Hugging"),
        ("https://example.org/code", "", "must be a repository"),
        ("https://github.com/" + "a" * 600, "", "limited to 500 characters"),
        ("", "data:text/html,<script>alert(1)</script>", "must start with https://"),
        ("", "javascript:alert(1)", "must start with https://"),
    ],
)
def test_bad_links_get_the_form_again_with_the_reason(
    people: dict[str, Browser], db: Database, code: str, project: str, reason: str
) -> None:
    response = people["sub"].save(code, project)
    assert response.status_code == 400
    assert reason in response.text.replace("&#39;", "'")
    assert re.search(r'<div class="paper-links-edit" id="links">\s*<details open>', response.text)
    assert "<script>alert(1)</script>" not in response.text  # kept, escaped
    assert stored(db) == (None, None) and log_rows(db) == []


def test_a_nul_or_an_oversized_field_is_refused_unread(
    people: dict[str, Browser], db: Database
) -> None:
    nul = people["sub"].save("https://github.com/a/b\x00")
    assert nul.status_code == 400 and "NUL" in nul.text
    huge = people["sub"].save("https://github.com/" + "a" * 2000)
    assert huge.status_code == 400 and "limited to 1,000 characters" in huge.text
    assert stored(db) == (None, None)


def test_changes_are_rate_limited(people: dict[str, Browser]) -> None:
    sub = people["sub"]
    for i in range(EDIT_LINKS.count):
        assert sub.save(f"https://github.com/a/r{i}").status_code == 303
    refused = sub.save("https://github.com/a/last")
    assert refused.status_code == 429 and refused.headers["retry-after"]


def test_the_api_sets_with_the_same_rules(
    app: FastAPI, people: dict[str, Browser], db: Database
) -> None:
    client = people["author"].client
    url = "/api/papers/2411.00001/links"
    headers = {"x-csrf-token": people["author"].token}
    done = client.post(url, json={"githubRepo": "http://github.com/set/repo.git"}, headers=headers)
    assert done.status_code == 200, done.text
    assert done.json() == {
        "githubRepo": "https://github.com/set/repo",
        "projectPage": None,
        "changed": True,
    }
    project = client.post(url, json={"projectPage": "https://acme.example/"}, headers=headers)
    assert project.json()["githubRepo"] == "https://github.com/set/repo"  # left out: kept
    assert project.json()["projectPage"] == "https://acme.example/"
    bad = client.post(url, json={"githubRepo": "https://example.org/x"}, headers=headers)
    assert bad.status_code == 400 and "must be a repository" in bad.json()["error"]
    nul = client.post(url, json={"projectPage": "https://a.example/\u0000"}, headers=headers)
    assert nul.status_code == 400 and "control" in nul.json()["error"]
    no_csrf = client.post(url, json={"githubRepo": None})
    assert no_csrf.status_code == 403
    other = people["other"]
    forbidden = other.client.post(
        url, json={"githubRepo": None}, headers={"x-csrf-token": other.token}
    )
    assert forbidden.status_code == 403 and "verified authors" in forbidden.json()["error"]
    missing = client.post("/api/papers/2411.09999/links", json={}, headers=headers)
    assert missing.status_code == 404
    cleared = client.post(url, json={"githubRepo": None}, headers=headers)
    assert cleared.json()["githubRepo"] is None and cleared.json()["changed"] is True
    assert stored(db) == (None, "https://acme.example/")
    assert len(log_rows(db)) == 3
    with db.reader() as session:
        author = session.execute(select(User).where(User.username == "author")).scalar_one()
        assert {e.actor_id for e in log_rows(db)} == {author.id}


def test_after_the_github_job_the_set_repository_shows_its_stars(
    app: FastAPI,
    people: dict[str, Browser],
    visitor: TestClient,
    db: Database,
    tmp_path: Path,
    github_api,  # type: ignore[no-untyped-def]
) -> None:
    github_api.add("Fresh/Code", 77, "The official code")
    github_api.add("found/in-abstract", 5)
    assert people["author"].save("https://github.com/fresh/code").status_code == 303
    page = visitor.get(PAPER).text
    assert 'href="https://github.com/fresh/code">fresh/code</a>' in page  # at once, no stars yet
    assert "77 stars" not in page
    settings = make_settings(tmp_path, db.url).model_copy(
        update={"github_api_url": github_api.url, "github_request_interval": 0.0}
    )
    with GitHubClient.from_settings(settings, backoff=0.01, max_retries=1) as client:
        stats = update_github(db, settings, client)
    assert stats.fetched == 1  # the set repository; the found one is no paper's primary link
    page = visitor.get(PAPER).text
    assert 'href="https://github.com/Fresh/Code">Fresh/Code</a>' in page and "77 stars" in page
    assert "The official code" in page
