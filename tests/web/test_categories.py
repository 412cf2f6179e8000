"""arXiv categories on paper pages and cards: by name, the primary first, cross-lists
marked, each a link."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from paperfeed.db import Database
from paperfeed.papers.ids import local_id_for
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.web.conftest import BROWSER_HEADERS

FEED_AT = datetime(2026, 11, 19, 15, 0, tzinfo=UTC)  # Thursday, November 19 in New York


def record(arxiv_id: str, title: str, categories: list[str], **more: object) -> PaperRecord:
    paper = PaperRecord(
        title=title, abstract="a", arxiv_id=arxiv_id, categories=categories, feed_at=FEED_AT
    )
    for key, value in more.items():
        setattr(paper, key, value)
    return paper


@pytest.fixture
def client(db: Database, tmp_path: Path) -> Iterator[TestClient]:
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                record("2411.00001", "Parsing with transformers", ["cs.CL", "cs.LG"], upvotes=9),
                record("2411.00002", "Codes and channels", ["cs.IT", "math.IT"], upvotes=5),
                record("2411.00003", "A private code", ["xx.YY"], upvotes=3),
                PaperRecord(title="An HF listing", abstract="b", feed_at=FEED_AT, upvotes=1),
            ],
        )
    app = create_app(make_settings(tmp_path, db.url), db)
    with TestClient(app, follow_redirects=False, headers=BROWSER_HEADERS) as test_client:
        yield test_client


def text_of(fragment: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


def categories_of(html: str) -> list[str]:
    return re.findall(r'<span class="categories[^"]*">(.*?)</span>\s*(?:</p>|</dd>)', html, re.S)


def card_of(html: str, title: str) -> str:
    for card in html.split('<li class="card">')[1:]:
        if title in card:
            return card.split("</li>")[0]
    raise AssertionError(f"no card for {title!r}")


def test_paper_page_names_the_primary_category_and_marks_cross_lists(
    client: TestClient,
) -> None:
    html = client.get("/papers/2411.00001").text
    [chips] = categories_of(html)
    assert text_of(chips) == (
        "Computation and Language (cs.CL) · cross-listed: Machine Learning (cs.LG)"
    )
    links = re.findall(r'<a class="category( primary)?" href="([^"]+)"', chips)
    assert [href for _, href in links] == ["/papers?q=cs.CL", "/papers?q=cs.LG"]
    assert links[0][0] == " primary" and links[1][0] == ""
    eyebrow = re.search(r'<p class="eyebrow">(.*?)</p>', html, re.S).group(1)  # type: ignore[union-attr]
    assert text_of(eyebrow) == "arXiv:2411.00001 · Computation and Language"


def test_an_alias_keeps_its_own_code_and_name(client: TestClient) -> None:
    [chips] = categories_of(client.get("/papers/2411.00002").text)
    assert text_of(chips) == (
        "Information Theory (cs.IT) · cross-listed: Information Theory (math.IT)"
    )


def test_a_code_arxiv_does_not_define_is_shown_as_it_is(client: TestClient) -> None:
    [chips] = categories_of(client.get("/papers/2411.00003").text)
    assert text_of(chips) == "xx.YY"


def test_a_paper_without_categories_shows_none(client: TestClient) -> None:
    html = client.get(f"/papers/{local_id_for('An HF listing')}").text
    assert categories_of(html) == []
    assert "<dt>Categories</dt>" not in html


def test_cards_show_categories_compactly(client: TestClient) -> None:
    html = client.get("/papers/date/2026-11-19").text
    card = card_of(html, "Parsing with transformers")
    [chips] = categories_of(card)
    assert text_of(chips) == "Computation and Language · cross-listed: cs.LG"
    assert 'title="Machine Learning (cs.LG)"' in chips
    assert categories_of(card_of(html, "An HF listing")) == []
