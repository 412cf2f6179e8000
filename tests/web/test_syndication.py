"""RSS and Atom feeds of every list page, read back with feedparser on both backends.

Each feed must parse without a single complaint (bozo 0), hold the page's papers in the
page's order, and be announced in the page's <head> and in a visible link.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path

import feedparser
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from paperfeed import clock
from paperfeed.community import accounts, comments, organizations
from paperfeed.community.votes import set_vote
from paperfeed.db import Database
from paperfeed.models import Paper, PaperAuthor
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import lock_changes, touch_paper, upsert_papers
from paperfeed.web.app import create_app
from tests.conftest import FIXED_NOW, make_settings
from tests.web.conftest import BROWSER_HEADERS

SITE = "http://127.0.0.1:8000"
PASSWORD = "long enough password"
TRICKY_TITLE = 'Cost & 100% of $x_i^2$ #1: <b>bold</b> "quoted", a_b ~ ^ {open'
# As feeds title it: the formula as plain text, everything else exactly as it was.
TRICKY_FEED_TITLE = 'Cost & 100% of x_i² #1: <b>bold</b> "quoted", a_b ~ ^ {open'


# --- helpers --------------------------------------------------------------------------------


def card_ids(html: str) -> list[str]:
    """Paper ids of the cards on a page, in page order."""
    return re.findall(
        r'<h3 class="card-title"[^>]*>\s*(?:<span class="rank">[^<]*</span>\s*)?'
        r'<a href="/papers/([^"]+)">',
        html,
    )


def head_of(html: str) -> str:
    return html.split("</head>", 1)[0]


def alternates(html: str) -> dict[str, str]:
    """type -> href of the <link rel="alternate"> elements in the page's head."""
    found = {}
    for tag in re.findall(r'<link rel="alternate"[^>]*>', head_of(html)):
        kind = re.search(r'type="([^"]+)"', tag)
        href = re.search(r'href="([^"]+)"', tag)
        assert kind and href, tag
        found.setdefault(kind[1], href[1].replace("&amp;", "&"))
    return found


def entry_ids(feed: feedparser.FeedParserDict) -> list[str]:
    return [entry.link.removeprefix(f"{SITE}/papers/") for entry in feed.entries]


def parse_feed(client: TestClient, href: str, kind: str) -> feedparser.FeedParserDict:
    response = client.get(href)
    assert response.status_code == 200, (href, response.text[:300])
    expected = "application/rss+xml" if kind == "rss" else "application/atom+xml"
    assert response.headers["content-type"].startswith(expected)
    feed = feedparser.parse(response.content)
    assert feed.bozo == 0, (href, feed.get("bozo_exception"))
    assert feed.version == ("rss20" if kind == "rss" else "atom10")
    return feed


def both_feeds(client: TestClient, page_html: str) -> dict[str, feedparser.FeedParserDict]:
    links = alternates(page_html)
    return {
        "rss": parse_feed(client, links["application/rss+xml"], "rss"),
        "atom": parse_feed(client, links["application/atom+xml"], "atom"),
    }


# --- a small community site: people, organizations, votes, comments --------------------------


@dataclass
class Site:
    db: Database
    client: TestClient
    ids: dict[str, str]


def build_site(db: Database) -> dict[str, str]:
    """Four papers (one hidden), three people, an organization, votes, claims, comments."""
    day = datetime(2026, 11, 19, 14, 0, tzinfo=UTC)
    records = {
        "tricky": PaperRecord(
            title=TRICKY_TITLE,
            abstract='We bound $\\alpha$ by 50%, with commas, "quotes"\x0b and\na new line.',
            arxiv_id="2611.00001",
            authors=["José Müller", "Zoë O'Brien-Łukasz", "Wei Zhang"],
            categories=["cs.LG", "stat.ML"],
            doi="10.1000/xyz_1",
            published_at=datetime(2026, 11, 2, 17, 0, tzinfo=UTC),
            feed_at=day,
            upvotes=5,
        ),
        "local": PaperRecord(
            title="Über BERT: Attention & Tables, 50% faster",
            abstract="Local paper without an arXiv id.",
            authors=["Ada Lovelace"],
            published_at=datetime(2026, 11, 10, 12, 0, tzinfo=UTC),
            feed_at=day + timedelta(hours=1),
            upvotes=3,
        ),
        "old": PaperRecord(
            title="Strings in {curved} space",
            abstract="An old-style arXiv id.",
            arxiv_id="hep-th/9901001",
            authors=["Edward Witten"],
            categories=["hep-th"],
            journal_ref="Nucl.Phys. B550 (1999) 1",
            published_at=datetime(1999, 1, 4, 9, 0, tzinfo=UTC),
            feed_at=day - timedelta(days=1),
        ),
        "hidden": PaperRecord(
            title="A paper a moderator removed",
            abstract="Gone.",
            feed_at=day + timedelta(hours=2),
            upvotes=99,
        ),
    }
    with db.transaction() as session:
        upsert_papers(session, list(records.values()))
    with db.transaction() as session:
        lock_changes(session)
        papers = {
            key: session.execute(select(Paper).where(Paper.title == r.title)).scalar_one()
            for key, r in records.items()
        }
        ada = accounts.create_user(session, "ada", "ada@example.org", PASSWORD)
        bob = accounts.create_user(session, "bob", "bob@example.org", PASSWORD)
        mod = accounts.create_user(session, "mod", "mod@example.org", PASSWORD, role="moderator")
        ada.fullname = "Ada L."
        ada.upvotes_public = True  # she chose to show them; bob keeps the default, private
        for key in ("tricky", "local"):
            papers[key].submitted_by_id = ada.id
            touch_paper(session, papers[key])
        papers["hidden"].hidden_at = FIXED_NOW
        touch_paper(session, papers["hidden"])
        session.execute(
            update(PaperAuthor)
            .where(PaperAuthor.paper_id == papers["old"].id, PaperAuthor.position == 0)
            .values(user_id=ada.id)
        )
        ids = {key: p.public_id for key, p in papers.items()}
        pks = {key: p.id for key, p in papers.items()}
        user_ids = {"ada": ada.id, "bob": bob.id, "mod": mod.id}
    with db.transaction() as session:
        ada = session.get(accounts.User, user_ids["ada"])
        org = organizations.create(session, ada, "acme", "Acme Research", "Engines.", "")
        for key in ("old", "tricky"):
            organizations.tag_paper(session, org, ada, ids[key])
    # Votes at distinct instants, so "most recently upvoted" has one right order.
    for minutes, (who, key) in enumerate([("ada", "tricky"), ("ada", "old"), ("bob", "local")]):
        with clock.frozen(FIXED_NOW - timedelta(minutes=30 - minutes)), db.transaction() as s:
            set_vote(s, user_ids[who], pks[key], True)
    with db.transaction() as session:
        ada = session.get(accounts.User, user_ids["ada"])
        bob = session.get(accounts.User, user_ids["bob"])
        mod = session.get(accounts.User, user_ids["mod"])
        first = comments.add_comment(
            session, ada, pks["tricky"], "Nice *result* with $x^2$.\n\nSecond paragraph."
        )
        session.flush()
        comments.add_comment(session, bob, pks["tricky"], "Agreed.", parent_id=first.id)
        rude = comments.add_comment(session, bob, pks["tricky"], "Something rude.")
        session.flush()
        comments.hide_comment(session, mod, rude.id, "Rude.")
    return ids


@pytest.fixture
def site(db: Database, tmp_path: Path) -> Iterator[Site]:
    ids = build_site(db)
    app = create_app(make_settings(tmp_path, db.url), db)
    with TestClient(app, follow_redirects=False, headers=BROWSER_HEADERS) as client:
        yield Site(db, client, ids)


# --- every list page on the sample corpus -----------------------------------------------


LIST_PAGES = [
    "/",
    "/?sort=newest",
    "/papers/date/2026-11-18?sort=newest",
    "/papers/week/2026-W47",
    "/papers/month/2026-11",
    "/papers/month/2007-04?sort=newest",
    "/papers/trending",
]


@pytest.mark.parametrize("path", LIST_PAGES)
def test_feeds_of_list_pages_hold_the_pages_papers_in_order(client: TestClient, path: str) -> None:
    html = client.get(path).text
    shown = card_ids(html)
    assert shown, path
    feeds = both_feeds(client, html)
    for kind, feed in feeds.items():
        ids = entry_ids(feed)
        assert ids[: len(shown)] == shown, (path, kind)
        assert len(ids) == min(100, len(ids)) and len(set(ids)) == len(ids)
    # The visible links are the same addresses as the head's alternates.
    links = alternates(html)
    for href in links.values():
        assert f'href="{href.replace("&", "&amp;")}"' in html.split("</head>", 1)[1]


def test_a_long_list_continues_in_page_order(client: TestClient) -> None:
    """The month has 368 papers: the feed's 100 are pages 1 and 2 of the page."""
    first = card_ids(client.get("/papers/month/2026-11").text)
    second = card_ids(client.get("/papers/month/2026-11?p=2").text)
    feed = parse_feed(client, "/papers/month/2026-11.rss", "rss")
    assert entry_ids(feed) == first + second
    assert len(first + second) == 100


def test_alternates_name_the_page_and_keep_its_sort(client: TestClient) -> None:
    html = client.get("/papers/date/2026-11-18?sort=newest&p=1").text
    assert alternates(html) == {
        "application/rss+xml": "/papers/date/2026-11-18.rss?sort=newest",
        "application/atom+xml": "/papers/date/2026-11-18.atom?sort=newest",
    }
    home = alternates(client.get("/").text)
    assert home["application/rss+xml"] == "/papers.rss"
    assert 'href="/papers/date/2026-11-18.csv?sort=newest" download' in html


def test_entries_carry_title_link_authors_dates_summary_and_categories(
    client: TestClient,
) -> None:
    feeds = both_feeds(client, client.get("/papers/date/2007-04-02").text)
    rss = {e.link: e for e in feeds["rss"].entries}
    atom = {e.link: e for e in feeds["atom"].entries}
    link = f"{SITE}/papers/0704.0001"
    item, entry = rss[link], atom[link]
    title = "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    assert item.title == entry.title == title
    assert item.id == entry.id == link  # the guid is the paper's address, in every feed
    names = ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan"]
    assert [a.name for a in entry.authors] == [a.name for a in item.authors] == names
    assert [t.term for t in item.tags] == [t.term for t in entry.tags] == ["hep-ph"]
    assert entry.summary.startswith("A fully differential calculation")
    assert item.summary == entry.summary
    # RSS dates are RFC 822 and Atom dates RFC 3339, both the instant the paper entered.
    raw = client.get("/papers/date/2007-04-02.rss").text
    assert "<pubDate>Mon, 02 Apr 2007 19:18:42 GMT</pubDate>" in raw
    raw_atom = client.get("/papers/date/2007-04-02.atom").text
    assert "<published>2007-04-02T19:18:42Z</published>" in raw_atom
    assert "<updated>2007-07-24T20:10:27Z</updated>" in raw_atom  # the second version
    assert parsedate_to_datetime(feeds["rss"].feed.updated) <= FIXED_NOW
    # Every link is absolute, from the site's address.
    assert feeds["atom"].feed.link == f"{SITE}/papers/date/2007-04-02"
    assert all(e.link.startswith(f"{SITE}/papers/") for e in feeds["rss"].entries)


def test_feed_titles_are_plain_text_and_abstracts_keep_their_latex(client: TestClient) -> None:
    for kind in ("atom", "rss"):
        feed = parse_feed(client, f"/papers/month/2007-04.{kind}?sort=newest", kind)
        feed_all = feed.entries
        assert all("<math" not in e.title and "<math" not in e.summary for e in feed_all)
        assert not [e.title for e in feed_all if "$" in e.title or "\\" in e.title]
        assert any("$" in e.summary for e in feed_all), "April 2007 has abstracts with formulas"
        titles = {e.title for e in feed_all}
        # The sample has "... of $\Lambda_{c}^{+}$ ..." style titles: greek letters appear.
        assert any(ch in title for title in titles for ch in "αβγδΛΣΩ"), titles


def test_the_organization_feed_follows_its_page(client: TestClient) -> None:
    html = client.get("/orgs/facebook").text
    shown = card_ids(html)
    feeds = both_feeds(client, html)
    assert entry_ids(feeds["rss"]) == entry_ids(feeds["atom"]) == shown
    assert feeds["atom"].feed.title.startswith("AI at Meta")
    # The name's spelling in the address is corrected like the page's.
    moved = client.get("/orgs/FaceBook.rss?sort=upvotes")
    assert moved.status_code == 301
    assert moved.headers["location"] == "/orgs/facebook.rss?sort=upvotes"


# --- search feeds: the search page's ranking and filters -------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "q=theory&from=2007-01-01&to=2007-12-31",
        "q=theory&sort=newest",
        "q=graphs&sort=upvotes",
        "q=language+models",
    ],
)
def test_search_feeds_rank_like_the_search_page(search_client: TestClient, query: str) -> None:
    html = search_client.get(f"/papers?{query}").text
    shown = card_ids(html)
    assert shown
    links = alternates(html)
    assert links["application/rss+xml"] == f"/papers.rss?{query}"
    for kind, feed in both_feeds(search_client, html).items():
        assert entry_ids(feed)[: len(shown)] == shown, kind
    second = search_client.get(f"/papers?{query}&p=2")
    if second.status_code == 200:
        more = card_ids(second.text)
        feed = parse_feed(search_client, f"/papers.rss?{query}", "rss")
        assert entry_ids(feed)[len(shown) : len(shown) + len(more)] == more


def test_search_feed_errors_and_empty_searches(search_client: TestClient) -> None:
    bad = search_client.get("/papers.rss?q=graphs&from=2007-13-01")
    assert bad.status_code == 400 and "is not a date" in bad.text
    nothing = parse_feed(search_client, "/papers.atom?q=zzzqqqxxy+wwvvkk", "atom")
    assert nothing.entries == []
    one = parse_feed(search_client, "/papers.rss?q=arXiv:0704.0002", "rss")
    assert entry_ids(one) == ["0704.0002"]
    # A page with a bad filter has no alternates to offer.
    page = search_client.get("/papers?q=graphs&org=nobody")
    assert page.status_code == 400 and alternates(page.text) == {}


# --- people and organizations on a small community site -------------------------------------


def test_member_feeds_follow_the_profile(site: Site) -> None:
    client, ids = site.client, site.ids
    html = client.get("/users/ada").text
    links = re.findall(r'<link rel="alternate" type="application/rss\+xml"[^>]*>', head_of(html))
    assert len(links) == 3  # submitted, claimed, and upvoted (public)
    sections = {
        heading: card_ids(part)
        for heading, part in re.findall(r"<h2>([^<]+)</h2>(.*?)</section>", html, re.S)
    }
    expected = {
        "": sections["Submitted papers"],
        "?list=claimed": sections["Claimed papers"],
        "?list=upvoted": sections["Upvoted papers"],
    }
    assert expected[""] == [ids["local"], ids["tricky"]]
    assert expected["?list=claimed"] == [ids["old"]]
    assert expected["?list=upvoted"] == [ids["old"], ids["tricky"]]
    for query, shown in expected.items():
        for kind in ("rss", "atom"):
            feed = parse_feed(client, f"/users/ada.{kind}{query}", kind)
            assert entry_ids(feed) == shown, (query, kind)
            assert "Ada L." in feed.feed.title
    # Bob keeps his upvotes private: no alternate, no feed.
    bob = client.get("/users/bob").text
    assert "list=upvoted" not in head_of(bob)
    private = client.get("/users/bob.rss?list=upvoted")
    assert private.status_code == 404 and "keeps upvotes private" in private.text


def test_hidden_papers_and_tricky_text_in_feeds(site: Site) -> None:
    client, ids = site.client, site.ids
    for kind in ("rss", "atom"):
        feed = parse_feed(client, f"/papers/date/2026-11-19.{kind}", kind)
        assert entry_ids(feed) == [ids["tricky"], ids["local"]]  # by upvotes; hidden left out
        tricky = feed.entries[0]
        assert tricky.title == TRICKY_FEED_TITLE
        # The control character XML cannot hold is dropped; the rest survives intact.
        assert tricky.summary.startswith('We bound $\\alpha$ by 50%, with commas, "quotes" and')
        assert [a.name for a in tricky.authors] == [
            "José Müller",
            "Zoë O'Brien-Łukasz",
            "Wei Zhang",
        ]
    org = parse_feed(client, "/orgs/acme.atom", "atom")
    assert entry_ids(org) == [ids["tricky"], ids["old"]]  # newest first, like the page
    assert entry_ids(org) == card_ids(client.get("/orgs/acme").text)


def test_feeds_are_cached_and_change_with_the_data(site: Site) -> None:
    client = site.client
    first = client.get("/papers/trending.rss")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert first.headers["cache-control"].startswith("public")
    again = client.get("/papers/trending.rss", headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""
    since = client.get("/papers/trending.rss", headers={"if-modified-since": modified})
    assert since.status_code == 304
    # Another list has another validator.
    other = client.get("/papers/trending.atom", headers={"if-none-match": etag})
    assert other.status_code == 200
    # A vote changes the data, so the old validator no longer matches.
    with site.db.transaction() as session:
        pk = session.execute(select(Paper.id).where(Paper.public_id == site.ids["local"]))
        set_vote(session, 3, pk.scalar_one(), True)
    changed = client.get("/papers/trending.rss", headers={"if-none-match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    # Signed-in visitors get the same public document.
    client.cookies.set("pf_session", "whatever")
    signed_in = client.get(
        "/papers/trending.rss", headers={"if-none-match": changed.headers["etag"]}
    )
    assert signed_in.status_code == 304


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/papers/date/2026-11-19.xml", 404, "Unknown format"),
        ("/papers/trending.json", 404, "Unknown format"),
        ("/papers/date/2026-02-30.rss", 400, "is not a valid date"),
        ("/papers/week/2026-W60.atom", 400, "ISO week"),
        ("/papers/month/26-11.rss", 400, "YYYY-MM"),
        ("/papers/date/2026-11-19.rss?sort=random", 400, "sort must be"),
        ("/papers.rss?p=0", 400, "page number"),
        ("/papers.rss?p=9", 404, "past the end"),
        ("/orgs/nobody.rss", 404, "no organization"),
        ("/users/nobody.atom", 404, "no user named"),
        ("/users/ada.rss?list=everything", 400, "Unknown list"),
    ],
)
def test_bad_feed_addresses_get_a_4xx_with_a_reason(
    site: Site, path: str, status: int, message: str
) -> None:
    response = site.client.get(path)
    assert response.status_code == status, response.text[:200]
    assert message in response.text
    assert "Traceback" not in response.text


def test_an_empty_site_has_an_empty_valid_feed(empty_client: TestClient) -> None:
    for kind in ("rss", "atom"):
        feed = parse_feed(empty_client, f"/papers.{kind}", kind)
        assert feed.entries == []
        assert feed.feed.title == "Daily papers · paperfeed"


# --- RSS descriptions are HTML whose text is the abstract -----------------------------------


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def visible_text(fragment: str) -> str:
    """What a reader shows of an HTML fragment (tags dropped, entities decoded)."""
    parser = _Text()
    parser.feed(fragment)
    parser.close()
    return "".join(parser.parts)


ANGLED = [
    "We use a tool called <projektor>, which is fast.",
    "For 0<delta<1 the bound holds & a > b.",
    "Tags <b>stay</b> text, &amp; entities too: &lt; \"quotes\" 'apostrophes'.",
]


def test_rss_descriptions_show_the_abstract_exactly(db: Database, tmp_path: Path) -> None:
    day = datetime(2026, 11, 19, 14, 0, tzinfo=UTC)
    records = [
        PaperRecord(title=f"Angled {i}", abstract=text, feed_at=day, upvotes=10 - i)
        for i, text in enumerate(ANGLED)
    ]
    with db.transaction() as session:
        upsert_papers(session, records)
    app = create_app(make_settings(tmp_path, db.url), db)
    with TestClient(app) as client:
        rss = feedparser.parse(client.get("/papers/date/2026-11-19.rss").content)
        atom = feedparser.parse(client.get("/papers/date/2026-11-19.atom").content)
    assert not rss.bozo and not atom.bozo
    assert [visible_text(e.summary) for e in rss.entries] == ANGLED
    assert all(e.summary_detail.type == "text/html" for e in rss.entries)
    assert [e.summary for e in atom.entries] == ANGLED  # Atom says type="text"
