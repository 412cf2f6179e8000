"""Cards and paper pages: the same date labels everywhere, the comment count among the other
facts, and the header links each visitor gets."""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from paperfeed.community import accounts, comments
from paperfeed.db import Database
from paperfeed.models import Paper
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from paperfeed.search.indexing import run_index
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.web.conftest import BROWSER_HEADERS

PASSWORD = "long enough password"
FEED_AT = datetime(2026, 11, 19, 15, 0, tzinfo=UTC)


@dataclass
class Site:
    app: object
    db: Database

    def client(self, login: str | None = None) -> TestClient:
        client = TestClient(self.app, follow_redirects=False, headers=BROWSER_HEADERS)  # type: ignore[arg-type]
        if login:
            form = client.get("/login").text
            token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
            client.post("/login", data={"csrf": token, "login": login, "password": PASSWORD})
        return client


@pytest.fixture
def site(db: Database, tmp_path: Path) -> Iterator[Site]:
    """Two papers on one feed day: an arXiv paper a member submitted, with a comment, and a
    paper from elsewhere with no arXiv date; a member, a moderator and an admin."""
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(
                    title="Submitted arXiv paper",
                    abstract="a",
                    arxiv_id="2410.11111",
                    published_at=datetime(2025, 10, 15, 14, 0, tzinfo=UTC),
                    feed_at=FEED_AT,
                    upvotes=5,
                ),
                PaperRecord(title="Paper from elsewhere", abstract="b", feed_at=FEED_AT),
            ],
        )
        ada = accounts.create_user(session, "ada", "ada@example.org", PASSWORD, verified=True)
        accounts.create_user(
            session, "mod", "mod@example.org", PASSWORD, role="moderator", verified=True
        )
        accounts.create_user(
            session, "root", "root@example.org", PASSWORD, role="admin", verified=True
        )
        session.flush()
        paper = session.execute(select(Paper).where(Paper.arxiv_id == "2410.11111")).scalar_one()
        paper.submitted_by_id = ada.id
        comments.add_comment(session, ada, paper.id, "Nice result.")
    settings = make_settings(tmp_path, db.url)
    settings.index_dir = tmp_path / "index"
    run_index(db, settings, embed=False)  # keywords are enough to find them
    yield Site(create_app(settings, db), db)


def card_of(html: str, title: str) -> str:
    for card in html.split('<li class="card">')[1:]:
        if title in card:
            return card.split("</li>")[0]
    raise AssertionError(f"no card for {title!r}")


def text_of(fragment: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


@pytest.mark.parametrize("path", ["/", "/papers/date/2026-11-19", "/papers/trending"])
def test_cards_label_the_arxiv_date_and_the_feed_date(site: Site, path: str) -> None:
    html = site.client().get(path).text
    submitted = text_of(card_of(html, "Submitted arXiv paper"))
    assert "Published on Oct 15, 2025" in submitted
    assert "Submitted by ada on Nov 19, 2026" in submitted
    other = text_of(card_of(html, "Paper from elsewhere"))
    assert "In the feed on Nov 19, 2026" in other
    assert "Published on" not in other and "Submitted by" not in other


def test_search_cards_label_their_dates_the_same_way(site: Site) -> None:
    html = site.client().get("/papers?q=submitted").text
    card = text_of(card_of(html, "Submitted"))
    assert "Published on Oct 15, 2025" in card and "Submitted by ada on Nov 19, 2026" in card


def test_the_paper_page_labels_its_dates_like_the_cards(site: Site) -> None:
    html = site.client().get("/papers/2410.11111").text
    dates = text_of(html.split('class="meta paper-dates">')[1].split("</p>")[0])
    assert dates == "Published on Oct 15, 2025 Submitted by ada on Nov 19, 2026"
    assert '<a href="/papers/date/2026-11-19"><time class="feed-date"' in html
    assert "In the feed" not in html and "<dt>Published</dt>" not in html
    with site.db.reader() as session:
        other = session.execute(
            select(Paper.public_id).where(Paper.title == "Paper from elsewhere")
        ).scalar_one()
    page = text_of(site.client().get(f"/papers/{other}").text.split('class="meta paper-dates">')[1])
    assert page.startswith("In the feed on Nov 19, 2026")


def test_the_comment_count_is_one_of_the_meta_items(site: Site) -> None:
    card = card_of(site.client().get("/").text, "Submitted arXiv paper")
    meta = card.split('<p class="meta">')[1].split("</p>")[0]
    count = meta.split('<span class="comment-count"')[1]
    assert text_of(count.split("</span></span>")[0].split(">", 1)[1]) == "1 comment"
    # Not the comment section's class, whose top margin pushed it onto a line of its own.
    assert 'class="comments"' not in card


def header_links(html: str) -> dict[str, str]:
    header = html.split('<header class="site-header">')[1].split("</header>")[0]
    found = re.findall(r'<a (?:class="[^"]*" )?href="([^"]+)"[^>]*>([^<]+)</a>', header)
    return {text.strip(): href for href, text in found}


def test_the_header_links_every_visitor_to_the_feeds_and_organizations(site: Site) -> None:
    links = header_links(site.client().get("/").text)
    assert links["Daily"] == "/" and links["Trending"] == "/papers/trending"
    assert links["Organizations"] == "/orgs"
    assert links["Log in"] == "/login" and links["Sign up"] == "/signup"
    assert links["Digest"] == "/digest"
    assert "Admin" not in links and "Account" not in links


@pytest.mark.parametrize(("login", "admin"), [("ada", False), ("mod", True), ("root", True)])
def test_signed_in_members_find_their_own_pages(site: Site, login: str, admin: bool) -> None:
    links = header_links(site.client(login).get("/").text)
    assert links[login] == f"/users/{login}"
    assert links["Account"] == "/account" and links["Digest"] == "/account/digest"
    assert links["Submit"] == "/papers/submit" and links["Organizations"] == "/orgs"
    assert ("Admin" in links) is admin
    if admin:
        assert links["Admin"] == "/admin"
    assert "Log in" not in links
