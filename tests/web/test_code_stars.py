"""Code links and stars on cards, paper pages and in the API (read with huggingface_hub)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from huggingface_hub import HfApi
from sqlalchemy import select

from paperfeed import clock
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.ingest.github_api import GitHubClient
from paperfeed.ingest.github_repos import update_github
from paperfeed.models import Paper
from paperfeed.papers.feeds import card_extras
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import current_change_seq, upsert_papers
from paperfeed.search.indexing import run_index
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.papers.test_related import counted
from tests.servers import FakeGitHubApi
from tests.web.live import start_server

pytest_plugins = ["tests.servers"]

FEED_AT = datetime(2026, 11, 19, 9, 0, tzinfo=UTC)


def seed(db: Database) -> None:
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(
                    title="Found code",
                    abstract="Code: https://github.com/found/one. "
                    "Data: huggingface.co/datasets/o/d",
                    arxiv_id="2611.10001",
                    feed_at=FEED_AT,
                ),
                PaperRecord(
                    title="Set code",
                    abstract="A fork at github.com/someone/fork.",
                    github_url="https://github.com/Owner/Official",
                    arxiv_id="2611.10002",
                    feed_at=FEED_AT,
                ),
                PaperRecord(
                    title="Gone code",
                    abstract="https://github.com/gone/away",
                    arxiv_id="2611.10003",
                    feed_at=FEED_AT,
                ),
                PaperRecord(
                    title="No code", abstract="Nothing.", arxiv_id="2611.10004", feed_at=FEED_AT
                ),
            ],
        )


@pytest.fixture
def site_settings(db: Database, tmp_path: Path, github_api: FakeGitHubApi) -> Settings:
    seed(db)
    github_api.add("found/one", 1234, "The found repository")
    github_api.add("Owner/Official", 56)
    settings = make_settings(tmp_path, db.url).model_copy(
        update={"github_api_url": github_api.url, "github_request_interval": 0.0}
    )
    with GitHubClient.from_settings(settings) as client:
        update_github(db, settings, client)
    run_index(db, settings, embed=False)
    return settings


@pytest.fixture
def client(db: Database, site_settings: Settings) -> TestClient:
    return TestClient(create_app(site_settings, db))


def card(html: str, title: str) -> str:
    return html.split(f">{title}</a>")[1].split("</li>")[0]


def test_cards_show_the_repository_and_its_stars(client: TestClient) -> None:
    html = client.get("/papers/date/2026-11-19").text
    found = card(html, "Found code")
    assert 'href="https://github.com/found/one"' in found and "found/one" in found
    assert "1,234" in found and "GitHub stars" in found
    official = card(html, "Set code")
    assert 'href="https://github.com/Owner/Official"' in official and "56" in official
    assert "https://github.com/someone/fork" not in official  # the link set on the paper wins
    gone = card(html, "Gone code")
    assert "gone/away" in gone and 'class="stars"' not in gone  # no stars for a gone repository
    assert "code-link" not in card(html, "No code")


def test_the_paper_page_shows_code_stars_and_other_links(client: TestClient) -> None:
    html = client.get("/papers/2611.10001").text
    details = html.split('class="paper-code"')[1].split("</dd>")[0]
    assert 'href="https://github.com/found/one"' in details
    assert "1,234 stars" in details and "last push" in details
    assert "(named in the abstract)" in details and "The found repository" in details
    assert 'href="https://huggingface.co/datasets/o/d"' in html.split("Also linked")[1]
    assert '<a class="button" href="https://github.com/found/one">Code</a>' in html
    official = client.get("/papers/2611.10002").text
    assert "56 stars" in official and "named in the" not in official.split("paper-code")[1]
    assert "github.com/someone/fork" in official.split("Also linked")[1]
    assert "paper-code" not in client.get("/papers/2611.10004").text


def test_cards_load_code_in_one_query_whatever_their_number(
    db: Database, site_settings: Settings
) -> None:
    with db.reader() as session:
        papers = list(session.scalars(select(Paper)))
        with counted(db) as statements:
            extras = card_extras(session, papers)
    assert sum("paper_code_links" in s for s in statements) == 1
    assert sorted(c.name for c in extras.code.values()) == [
        "Owner/Official",
        "found/one",
        "gone/away",
    ]


@pytest.fixture
def live(db: Database, site_settings: Settings) -> Iterator[str]:
    server = start_server(create_app(site_settings, db))
    yield server.url
    server.stop()


def test_hf_client_reads_github_repo_and_stars(live: str) -> None:
    api = HfApi(endpoint=live, token=False)
    info = api.paper_info("2611.10001")
    assert (info.github_repo, info.github_stars) == ("https://github.com/found/one", 1234)
    official = api.paper_info("2611.10002")
    assert (official.github_repo, official.github_stars) == (
        "https://github.com/Owner/Official",
        56,
    )
    gone = api.paper_info("2611.10003")
    assert (gone.github_repo, gone.github_stars) == ("https://github.com/gone/away", None)
    none = api.paper_info("2611.10004")
    assert (none.github_repo, none.github_stars) == (None, None)
    daily = {p.id: p for p in api.list_daily_papers(date="2026-11-19")}
    assert daily["2611.10001"].github_stars == 1234
    assert daily["2611.10002"].github_repo == "https://github.com/Owner/Official"


def test_new_stars_change_the_etag_without_reindexing(
    db: Database, client: TestClient, site_settings: Settings, github_api: FakeGitHubApi
) -> None:
    first = client.get("/papers/2611.10001")
    assert "1,234 stars" in first.text
    with db.reader() as session:
        before = current_change_seq(session)[0]
    github_api.add("found/one", 1300, "The found repository")
    with (
        clock.frozen(clock.now() + timedelta(days=1)),
        GitHubClient.from_settings(site_settings) as gh,
    ):
        stats = update_github(db, site_settings, gh)
        assert (stats.fetched, stats.unchanged) == (1, 1)  # the other repository: a 304
    second = client.get("/papers/2611.10001", headers={"if-none-match": first.headers["etag"]})
    assert second.status_code == 200 and second.headers["etag"] != first.headers["etag"]
    assert "1,300 stars" in second.text
    with db.reader() as session:
        assert current_change_seq(session)[0] == before  # no paper changed: nothing re-indexed
