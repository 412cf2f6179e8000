"""Keyword tags: all of a paper's on its page, at most three on a card, each a link to a
search for it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from fastapi.testclient import TestClient

from paperfeed.db import Database
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from paperfeed.search.indexing import run_index
from paperfeed.search.keywords import extract, update_keywords
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.search.test_keywords import ABSTRACT, TITLE

FEED_AT = datetime(2026, 11, 19, 9, 0, tzinfo=UTC)


def site(db: Database, tmp_path: Path) -> TestClient:
    with db.transaction() as session:
        upsert_papers(
            session,
            [PaperRecord(title=TITLE, abstract=ABSTRACT, arxiv_id="2410.22222", feed_at=FEED_AT)],
        )
    settings = make_settings(tmp_path, db.url)
    update_keywords(db, settings)
    run_index(db, settings, embed=False)
    return TestClient(create_app(settings, db))


def test_cards_show_three_keyword_links(db: Database, tmp_path: Path) -> None:
    html = site(db, tmp_path).get("/papers/date/2026-11-19").text
    block = html.split('class="card-keywords"')[1].split("</p>")[0]
    expected = [k for k, _ in extract(TITLE, ABSTRACT)][:3]
    assert block.count('class="keyword"') == 3
    for keyword in expected:
        assert f'href="/papers?q={quote(keyword)}"' in block


def test_the_paper_page_shows_every_keyword_as_a_search_link(db: Database, tmp_path: Path) -> None:
    client = site(db, tmp_path)
    expected = [k for k, _ in extract(TITLE, ABSTRACT)]
    assert len(expected) > 3
    html = client.get("/papers/2410.22222").text
    block = html.split('class="paper-keywords"')[1].split("</dd>")[0]
    links = [quote(k) for k in expected]
    assert [part.split('"')[0] for part in block.split('href="/papers?q=')[1:]] == links
    results = client.get(f"/papers?q={links[0]}").text
    assert "/papers/2410.22222" in results  # the tag finds the paper it came from
