"""`GET /api/daily_papers`: periods, sorts, paging, submitters, validation and caching."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from paperfeed import clock
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.papers import feeds
from paperfeed.papers.trending import Formula, trending
from tests.web.api.conftest import World


def ids(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    return [entry["paper"]["id"] for entry in response.json()]


def test_a_day_lists_its_papers_newest_first(api: TestClient) -> None:
    # 2611.00001 entered at 10:00 New York time, 2611.00002 at 09:00; the hidden one is left out.
    assert ids(api.get("/api/daily_papers?date=2026-11-19")) == ["2611.00001", "2611.00002"]
    assert ids(api.get("/api/daily_papers?date=2026-11-19&sort=upvotes")) == [
        "2611.00002",  # 9 imported upvotes against 5 + 2 votes
        "2611.00001",
    ]
    assert ids(api.get("/api/daily_papers?date=2026-11-20")) == []


def test_weeks_months_and_everything(api: TestClient) -> None:
    week = ids(api.get("/api/daily_papers?week=2026-W46"))
    assert len(week) == 1 and week[0].startswith("pf-")
    assert ids(api.get("/api/daily_papers?month=2026-10")) == ["2610.00003"]
    assert len(ids(api.get("/api/daily_papers?month=2026-11"))) == 3
    everything = ids(api.get("/api/daily_papers"))
    assert everything[:2] == ["2611.00001", "2611.00002"] and everything[-1] == "2610.00003"
    assert "2611.00005" not in everything


def test_entry_shape(api: TestClient) -> None:
    entry = api.get("/api/daily_papers?date=2026-11-19").json()[0]
    paper = entry["paper"]
    assert paper["id"] == "2611.00001" and entry["title"] == paper["title"]
    assert entry["publishedAt"] == "2026-11-19T15:00:00.000Z"  # entered the daily feed
    assert paper["publishedAt"] == "2026-11-18T17:00:00.000Z"  # arXiv publication
    assert paper["submittedOnDailyAt"] == entry["publishedAt"]
    assert entry["upvotes"] == paper["upvotes"] == 7
    assert entry["numComments"] == paper["numComments"] == 2
    assert entry["githubRepo"] == paper["githubRepo"] == "https://github.com/acme/attention"
    assert entry["projectPage"] == "https://acme.example/attention"
    assert entry["submittedBy"]["user"] == entry["submittedBy"]["name"] == "ada"
    assert entry["submittedBy"]["fullname"] == "Ada Lovelace"
    assert entry["organization"]["name"] == "acme"
    assert entry["organization"]["fullname"] == "Acme Research"
    names = [a["name"] for a in paper["authors"]]
    assert names == ["Ada Lovelace", "Alan Turing", "Grace Hopper"]
    assert paper["authors"][0]["user"]["user"] == "ada"
    assert "user" not in paper["authors"][1]
    assert len({a["_id"] for a in paper["authors"]}) == 3
    plain = api.get("/api/daily_papers?date=2026-11-19").json()[1]
    assert "githubRepo" not in plain and "submittedBy" not in plain and "organization" not in plain


def test_submitter_filter(api: TestClient) -> None:
    assert ids(api.get("/api/daily_papers?submitter=ada")) == ["2611.00001"]
    assert ids(api.get("/api/daily_papers?submitter=ADA&date=2026-11-19")) == ["2611.00001"]
    assert ids(api.get("/api/daily_papers?submitter=grace")) == []
    assert ids(api.get("/api/daily_papers?submitter=nobody")) == []


def test_paging(api: TestClient) -> None:
    everything = ids(api.get("/api/daily_papers?limit=100"))
    pages = [ids(api.get(f"/api/daily_papers?limit=2&p={p}")) for p in range(3)]
    assert [i for page in pages for i in page] == everything
    assert [len(page) for page in pages] == [2, 2, 0]


def test_trending_matches_the_trending_page(sample_api: TestClient, sample_db: Database) -> None:
    settings = Settings()
    with sample_db.reader() as session:
        expected = trending(session, clock.now(), Formula.from_settings(settings), 30)
    entries = sample_api.get("/api/daily_papers?sort=trending&limit=30").json()
    assert [e["paper"]["id"] for e in entries] == [p.public_id for p in expected.papers]
    assert [e["trendingScore"] for e in entries] == [
        round(expected.scores[p.id], 4) for p in expected.papers
    ]
    second = sample_api.get("/api/daily_papers?sort=trending&limit=10&p=1").json()
    assert [e["paper"]["id"] for e in second] == [p.public_id for p in expected.papers[10:20]]


def test_trending_within_a_day_ranks_by_score(sample_api: TestClient) -> None:
    entries = sample_api.get("/api/daily_papers?date=2026-11-18&sort=trending&limit=100").json()
    scores = [e["trendingScore"] for e in entries]
    assert len(entries) > 10 and scores == sorted(scores, reverse=True)
    day = sample_api.get("/api/daily_papers?date=2026-11-18&limit=100").json()
    assert {e["paper"]["id"] for e in day} == {e["paper"]["id"] for e in entries}


def test_a_day_equals_the_day_page(sample_api: TestClient, sample_db: Database) -> None:
    tz = Settings().tz
    period = feeds.parse_period("date", "2026-11-17")
    with sample_db.reader() as session:
        papers, total = feeds.papers_in_period(session, period, tz, "upvotes", 100)
    entries = sample_api.get("/api/daily_papers?date=2026-11-17&sort=upvotes&limit=100").json()
    assert [e["paper"]["id"] for e in entries] == [p.public_id for p in papers]
    assert len(entries) == total > 20


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("p=-1", "p: Input should be greater than or equal to 0"),
        ("p=1001", "p: Input should be less than or equal to 1000"),
        ("p=two", "p: Input should be a valid integer"),
        ("limit=0", "limit: Input should be greater than or equal to 1"),
        ("limit=101", "limit: Input should be less than or equal to 100"),
        ("sort=hot", "sort: Input should be 'publishedAt', 'trending' or 'upvotes'"),
        ("date=2026-02-30", "'2026-02-30' is not a valid date: use YYYY-MM-DD"),
        ("date=yesterday", "is not a valid date"),
        ("week=2026-W54", "is not a valid week: use YYYY-Www"),
        ("month=2026-13", "is not a valid month: use YYYY-MM"),
        ("month=9999-12", "Bad month: '9999-12' is out of range."),
        ("date=9999-12-31", "Bad date: '9999-12-31' is out of range."),
        ("date=2026-11-19&week=2026-W47", "Give at most one of date, week and month."),
        ("submitter=" + "x" * 41, "submitter: String should have at most 40 characters"),
    ],
)
def test_bad_parameters_get_400_with_a_message(
    sample_api: TestClient, query: str, message: str
) -> None:
    response = sample_api.get(f"/api/daily_papers?{query}")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert message in response.json()["error"]


def test_etag_and_304(api: TestClient, world: World) -> None:
    first = api.get("/api/daily_papers?date=2026-11-19")
    etag = first.headers["etag"]
    assert first.headers["cache-control"].startswith("public")
    again = api.get("/api/daily_papers?date=2026-11-19", headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""
    other = api.get("/api/daily_papers?date=2026-11-18", headers={"if-none-match": etag})
    assert other.status_code == 200
    # An upvote changes the answer, so the old validator no longer matches.
    vote = api.post(
        "/api/papers/2611.00002/upvote", headers={"authorization": f"Bearer {world.token}"}
    )
    assert vote.status_code == 200
    after = api.get("/api/daily_papers?date=2026-11-19", headers={"if-none-match": etag})
    assert after.status_code == 200 and after.headers["etag"] != etag
    assert after.json()[1]["upvotes"] == 10
