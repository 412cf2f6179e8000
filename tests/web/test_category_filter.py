"""The category filter (`?category=`, repeatable, any-of) on the site's feed pages, their
RSS/CSV versions and the JSON API: archives match their categories, aliases resolve, an
unknown code is a 400 that names it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from paperfeed.db import Database
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.web.conftest import BROWSER_HEADERS

FEED_AT = datetime(2026, 11, 19, 15, 0, tzinfo=UTC)  # Thursday, November 19 in New York


def record(arxiv_id: str, title: str, categories: list[str], upvotes: int) -> PaperRecord:
    return PaperRecord(
        title=title,
        abstract="a",
        arxiv_id=arxiv_id,
        categories=categories,
        feed_at=FEED_AT,
        upvotes=upvotes,
    )


@pytest.fixture
def client(db: Database, tmp_path: Path) -> Iterator[TestClient]:
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                record("2411.00001", "Parsing with transformers", ["cs.CL", "cs.LG"], 9),
                record("2411.00002", "Codes and channels", ["math.IT"], 5),
                record("2411.00003", "Strings", ["hep-th"], 3),
                record("2411.00004", "Colliders", ["hep-ph", "hep-ex"], 2),
                PaperRecord(title="An HF listing", abstract="b", feed_at=FEED_AT, upvotes=1),
            ],
        )
    app = create_app(make_settings(tmp_path, db.url), db)
    with TestClient(app, follow_redirects=False, headers=BROWSER_HEADERS) as test_client:
        yield test_client


ALL = {"Parsing with transformers", "Codes and channels", "Strings", "Colliders", "An HF listing"}


def titles_in(html: str) -> set[str]:
    return {title for title in ALL if title in html}


def test_feed_page_filter_one_several_archive_alias(client: TestClient) -> None:
    week = "/papers/week/2026-W47"
    assert titles_in(client.get(week).text) == ALL
    one = client.get(week, params={"category": "cs.CL"})
    assert one.status_code == 200
    assert titles_in(one.text) == {"Parsing with transformers"}
    assert "1 paper" in one.text
    several = client.get(f"{week}?category=cs.CL&category=hep-th")
    assert titles_in(several.text) == {"Parsing with transformers", "Strings"}
    assert "2 papers" in several.text
    # an archive means all the categories listed in it (math.IT is listed under math);
    # an alias resolves: math.IT is cs.IT
    assert titles_in(client.get(week, params={"category": "cs"}).text) == {
        "Parsing with transformers"
    }
    assert titles_in(client.get(week, params={"category": "math"}).text) == {"Codes and channels"}
    assert titles_in(client.get(week, params={"category": "cs.IT"}).text) == {"Codes and channels"}
    assert titles_in(client.get(week, params={"category": "math.IT"}).text) == {
        "Codes and channels"
    }
    # links to the other views and to the feeds keep the filter
    assert "/papers/month/2026-11?category=cs.CL&amp;category=hep-th" in several.text
    assert "/papers/week/2026-W47.rss?category=cs.CL&amp;category=hep-th" in several.text
    assert "?sort=newest&amp;category=cs.CL&amp;category=hep-th" in several.text


def test_day_trending_and_home(client: TestClient) -> None:
    day = client.get("/papers/date/2026-11-19", params={"category": "hep-ph"})
    assert titles_in(day.text) == {"Colliders"}
    home = client.get("/papers", params={"category": "hep-th"})
    assert titles_in(home.text) == {"Strings"}
    latest = client.get("/papers/week", params={"category": "hep-th"})
    assert latest.status_code == 302
    assert latest.headers["location"].endswith("?category=hep-th")


def test_feeds_and_exports_carry_the_filter(client: TestClient) -> None:
    rss = client.get("/papers/week/2026-W47.rss", params={"category": "cs"})
    assert rss.status_code == 200
    assert titles_in(rss.text) == {"Parsing with transformers"}
    jsonl = client.get("/papers/week/2026-W47.jsonl?category=hep-th&category=hep-ph")
    rows = [json.loads(line) for line in jsonl.text.splitlines() if line]
    assert {row["title"] for row in rows} == {"Strings", "Colliders"}


def test_unknown_category_is_a_400_naming_it(client: TestClient) -> None:
    for path in ("/papers/week/2026-W47", "/papers/week/2026-W47.rss", "/papers/trending"):
        response = client.get(path, params={"category": ["cs.CL", "xx.YY"]})
        assert response.status_code == 400, path
        assert "xx.YY" in response.text


def api_titles(response: object) -> set[str]:
    data = response.json()  # type: ignore[attr-defined]
    return {(entry.get("paper") or entry)["title"] for entry in data}


def test_api_daily_and_papers(client: TestClient) -> None:
    for path in ("/api/daily_papers", "/api/papers"):
        base = client.get(path)
        assert base.status_code == 200, base.text
        assert api_titles(base) >= ALL - {"An HF listing"}
        one = client.get(path, params={"category": "hep-th"})
        assert api_titles(one) == {"Strings"}
        repeated = client.get(f"{path}?category=hep-th&category=cs&category=math")
        wanted = {"Strings", "Parsing with transformers", "Codes and channels"}
        assert api_titles(repeated) == wanted
        alias = client.get(path, params={"category": "math.IT"})
        assert api_titles(alias) == {"Codes and channels"}
        bad = client.get(path, params={"category": "nope.XX"})
        assert bad.status_code == 400
        assert "nope.XX" in bad.json()["error"]
    week = client.get("/api/daily_papers?week=2026-W47&category=hep-ph&sort=trending")
    assert api_titles(week) == {"Colliders"}
