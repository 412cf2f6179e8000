"""Keyword tags on cards: at most three, each a link to a search for it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from fastapi.testclient import TestClient

from paperfeed.db import Database
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from paperfeed.search.keywords import extract, update_keywords
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.search.test_keywords import ABSTRACT, TITLE

FEED_AT = datetime(2026, 11, 19, 9, 0, tzinfo=UTC)


def test_cards_show_three_keyword_links(db: Database, tmp_path: Path) -> None:
    with db.transaction() as session:
        upsert_papers(
            session,
            [PaperRecord(title=TITLE, abstract=ABSTRACT, arxiv_id="2410.22222", feed_at=FEED_AT)],
        )
    settings = make_settings(tmp_path, db.url)
    update_keywords(db, settings)
    html = TestClient(create_app(settings, db)).get("/papers/date/2026-11-19").text
    block = html.split('class="card-keywords"')[1].split("</p>")[0]
    expected = [k for k, _ in extract(TITLE, ABSTRACT)][:3]
    assert block.count('class="keyword"') == 3
    for keyword in expected:
        assert f'href="/papers?q={quote(keyword)}"' in block
