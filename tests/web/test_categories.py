"""arXiv categories on paper pages and cards: by name, the primary first, cross-lists
marked, each a link."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from paperfeed.db import Database
from paperfeed.models import Paper
from paperfeed.papers.ids import local_id_for
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.web.conftest import BROWSER_HEADERS

FEED_AT = datetime(2026, 11, 19, 15, 0, tzinfo=UTC)  # Thursday, November 19 in New York
EARLIER = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)


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
                record("cmp-lg/9404001", "Old parsing", ["cmp-lg"], feed_at=EARLIER),
                record("2411.00006", "Hidden parsing", ["cs.CL"]),
                record("2411.00007", "Strings", ["hep-th"], upvotes=2),
            ],
        )
        hidden = session.execute(select(Paper).where(Paper.arxiv_id == "2411.00006")).scalar_one()
        hidden.hidden_at = FEED_AT
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
    assert [href for _, href in links] == ["/papers/category/cs.CL", "/papers/category/cs.LG"]
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


# --- browsing by topic -------------------------------------------------------------------


def titles(html: str) -> list[str]:
    return re.findall(
        r'<h3 class="card-title"[^>]*>.*?<a href="/papers/[^"]+">(.*?)</a>', html, re.S
    )


def test_a_category_address_goes_to_its_latest_day(client: TestClient) -> None:
    response = client.get("/papers/category/cs.CL")
    assert response.status_code == 302
    assert response.headers["location"] == "/papers/category/cs.CL/date/2026-11-19"
    # A topic with no papers yet: today's (empty) day page.
    assert client.get("/papers/category/astro-ph.CO").headers["location"] == (
        "/papers/category/astro-ph.CO/date/2026-11-20"
    )


def test_a_category_day_lists_only_its_visible_papers(client: TestClient) -> None:
    response = client.get("/papers/category/cs.CL/date/2026-11-19")
    assert response.status_code == 200
    html = response.text
    assert titles(html) == ["Parsing with transformers"]  # the hidden one is left out
    assert "1 paper" in html
    assert "Computation and Language (cs.CL)" in html
    assert "<title>Computation and Language: Thursday, November 19, 2026" in html
    # The neighbours are the category's, not the whole feed's: cmp-lg is cs.CL.
    assert 'rel="prev" href="/papers/category/cs.CL/date/2026-11-17"' in html
    assert 'href="/papers/category/cs.CL/week/2026-W47"' in html
    assert 'href="/papers/category/cs.CL/date/2026-11-19.rss"' in html
    earlier = client.get("/papers/category/cs.CL/date/2026-11-17").text
    assert titles(earlier) == ["Old parsing"]
    assert 'rel="next" href="/papers/category/cs.CL/date/2026-11-19"' in earlier


def test_an_archive_holds_all_its_categories_each_paper_once(client: TestClient) -> None:
    html = client.get("/papers/category/cs/date/2026-11-19").text
    assert titles(html) == ["Parsing with transformers", "Codes and channels"]
    week = client.get("/papers/category/cs/week/2026-W47").text
    assert titles(week) == ["Parsing with transformers", "Codes and channels", "Old parsing"]
    month = client.get("/papers/category/hep-th/month/2026-11").text
    assert titles(month) == ["Strings"]


@pytest.mark.parametrize(
    ("address", "canonical"),
    [
        ("/papers/category/math.IT/date/2026-11-19", "/papers/category/cs.IT/date/2026-11-19"),
        ("/papers/category/cmp-lg", "/papers/category/cs.CL"),
        ("/papers/category/math.IT/trending?p=1", "/papers/category/cs.IT/trending?p=1"),
    ],
)
def test_an_alias_redirects_to_its_canonical_topic(
    client: TestClient, address: str, canonical: str
) -> None:
    response = client.get(address)
    assert response.status_code == 301
    assert response.headers["location"] == canonical


def test_unknown_topics_and_periods_are_refused(client: TestClient) -> None:
    missing = client.get("/papers/category/xx.YY/date/2026-11-19")
    assert missing.status_code == 404
    assert "/papers/categories" in missing.text
    assert client.get("/papers/category/cs.CL/day/2026-11-19").status_code == 400
    assert client.get("/papers/category/cs.CL/date/2026-13-01").status_code == 400


@pytest.mark.parametrize(
    "address", ["/papers/category/cs.CL/day/2026-11-19", "/papers/category/cs/x/y"]
)
def test_an_unknown_view_of_a_topic_is_named(client: TestClient, address: str) -> None:
    response = client.get(address)
    assert response.status_code == 400
    view = address.split("/")[4]
    assert f"Unknown view “{view}”: use date, week or month." in response.text


def test_a_category_trends_on_its_own(client: TestClient) -> None:
    html = client.get("/papers/category/cs/trending").text
    assert titles(html) == ["Parsing with transformers", "Codes and channels", "Old parsing"]
    assert "Trending in Computer Science" in html
    assert 'href="/papers/category/cs/trending.rss"' in html


@pytest.mark.parametrize(
    "address",
    [
        "/papers/category/cs.CL/date/2026-11-19.rss",
        "/papers/category/cs.CL.rss",
        "/papers/category/cs.CL/trending.atom",
    ],
)
def test_category_feeds_hold_what_their_page_shows(client: TestClient, address: str) -> None:
    response = client.get(address)
    assert response.status_code == 200
    assert "Parsing with transformers" in response.text
    assert "Codes and channels" not in response.text
    assert "Hidden parsing" not in response.text


def test_category_exports_use_the_same_suffixes(client: TestClient) -> None:
    response = client.get("/papers/category/cs/week/2026-W47.csv")
    assert response.status_code == 200
    assert "cs-week-2026-W47" in response.headers["content-disposition"]
    assert response.text.count("\n") == 4  # a header and three papers


def test_the_categories_index_counts_papers(client: TestClient) -> None:
    html = client.get("/papers/categories").text
    items = [text_of(item) for item in re.findall(r"<h2>(.*?)</h2>", html, re.S)]
    assert "Computer Science cs · 3 papers" in items  # cross-listed within cs: counted once
    assert "High Energy Physics - Theory hep-th · 1 paper" in items
    assert "Mathematics math · 1 paper" in items
    assert 'href="/papers/category/cs.CL"' in html
    assert re.search(r"Computation and Language</a> <span[^>]*>cs.CL · 1</span>", html)
    assert "Hidden parsing" not in html


def test_the_categories_index_links_only_to_pages_that_exist(client: TestClient) -> None:
    # "A private code" is filed under xx.YY, which arXiv does not define: no page to link.
    html = client.get("/papers/categories").text
    links = set(re.findall(r'href="(/papers/category/[^"]+)"', html))
    assert "/papers/category/cs.CL" in links
    for link in links:
        assert client.get(link).status_code in (200, 301, 302), link
    assert "xx.YY" not in html
