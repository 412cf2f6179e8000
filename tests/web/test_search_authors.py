"""Search by author: the filter accepts every name of an author, and a query that is an
author's name puts that author's papers first, on the page and in the API alike."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from paperfeed.db import Database
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from paperfeed.search.indexing import run_index
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.web.conftest import BROWSER_HEADERS

DAY = datetime(2026, 11, 19, 9, 0, tzinfo=UTC)
PAPERS = [
    # arxiv id, title, authors, categories, days before DAY
    ("2411.10001", "Soft gluon resummation", ["Edmond L. Berger", "Bo Li"], ["hep-ph"], 3),
    ("2411.10002", "Top quark pairs at threshold", ["E. L. Berger", "Bo Li"], ["hep-ex"], 2),
    ("2411.10003", "Berger equations in hydrodynamics", ["Ann Other"], ["physics.flu-dyn"], 0),
    ("2411.10004", "Neural coding in the retina", ["Edward Berger"], ["q-bio.NC"], 1),
    ("2411.10005", "Threshold resummation for Higgs", ["Berger, E.L."], ["hep-ph"], 4),
]


@pytest.fixture
def client(db: Database, tmp_path: Path) -> Iterator[TestClient]:
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(
                    title=title,
                    abstract=f"{title}. A study in its field.",
                    arxiv_id=arxiv_id,
                    authors=authors,
                    categories=categories,
                    feed_at=DAY - timedelta(days=ago),
                )
                for arxiv_id, title, authors, categories, ago in PAPERS
            ],
        )
    settings = make_settings(tmp_path, db.url)
    run_index(db, settings, embed=False)
    with TestClient(create_app(settings, db), headers=BROWSER_HEADERS) as test_client:
        yield test_client


def page_ids(html: str) -> list[str]:
    return list(
        dict.fromkeys(re.findall(r'class="card-title"[^>]*>\s*<a href="/papers/([^"]+)"', html))
    )


def api_ids(client: TestClient, **params: str) -> list[str]:
    response = client.get("/api/papers/search", params=params)
    assert response.status_code == 200, response.text
    return [hit["paper"]["id"] for hit in response.json()]


def test_the_author_filter_accepts_any_variant(client: TestClient) -> None:
    physicist = {"2411.10001", "2411.10002", "2411.10005"}
    for variant in ("E. L. Berger", "Berger, E.L.", "Edmond L. Berger"):
        assert set(page_ids(client.get("/papers", params={"author": variant}).text)) == physicist
        with_words = client.get("/papers", params={"q": "resummation", "author": variant}).text
        assert set(page_ids(with_words)) == {"2411.10001", "2411.10005"}
    # A namesake is another person; a bare surname still means any Berger.
    assert page_ids(client.get("/papers", params={"author": "Edward Berger"}).text) == [
        "2411.10004"
    ]
    every = set(page_ids(client.get("/papers", params={"author": "Berger"}).text))
    assert every == physicist | {"2411.10004"}


def test_a_query_that_names_an_author_puts_their_papers_first(client: TestClient) -> None:
    # "Berger" is also a word in another paper's title; the author's papers lead.
    for query in ("Edmond L. Berger", "Edmond Berger", "E. L. Berger"):
        ids = page_ids(client.get("/papers", params={"q": query}).text)
        assert ids[:3] == ["2411.10002", "2411.10001", "2411.10005"], query  # newest first
        assert api_ids(client, q=query)[:3] == ids[:3]
    # "E. Berger" could be Edmond or Edward: nobody is put first on a guess.
    ids = page_ids(client.get("/papers", params={"q": "E. Berger"}).text)
    assert ids[:3] != ["2411.10002", "2411.10001", "2411.10005"]


def test_a_nul_in_the_author_filter_is_no_server_error(client: TestClient) -> None:
    for address in ("/papers?author=Bo%00Li", "/api/papers/search?author=Bo%00Li"):
        assert client.get(address).status_code < 500, address
