"""Author pages: an author's papers, co-authors, categories, sort, 404, links on cards."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from paperfeed.db import Database
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.web.conftest import BROWSER_HEADERS

FEED_AT = datetime(2026, 11, 19, 15, 0, tzinfo=UTC)
EARLIER = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)


@pytest.fixture
def client(db: Database, tmp_path: Path) -> Iterator[TestClient]:
    def record(arxiv_id: str, title: str, authors: list[str], **more: object) -> PaperRecord:
        paper = PaperRecord(
            title=title,
            abstract="a",
            arxiv_id=arxiv_id,
            categories=["cs.CL"],
            authors=authors,
            feed_at=FEED_AT,
        )
        for key, value in more.items():
            setattr(paper, key, value)
        return paper

    with db.transaction() as session:
        upsert_papers(
            session,
            [
                record("2411.00001", "Newer low", ["Zoë Åberg", "Bo Li"], upvotes=1),
                record(
                    "2411.00002",
                    "Older high",
                    ["Zoë Åberg", "Bo Li", "Cy Ng"],
                    upvotes=9,
                    feed_at=EARLIER,
                    categories=["hep-th"],
                ),
                record("2411.00003", "Someone else", ["Cy Ng"], upvotes=5),
            ],
        )
    app = create_app(make_settings(tmp_path, db.url), db)
    with TestClient(app, follow_redirects=False, headers=BROWSER_HEADERS) as test_client:
        yield test_client


def url(name: str) -> str:
    return "/authors/" + quote(name)


def test_page_lists_the_authors_papers_newest_first(client: TestClient) -> None:
    response = client.get(url("Zoë Åberg"))
    assert response.status_code == 200
    html = response.text
    assert "Newer low" in html and "Older high" in html
    assert "Someone else" not in html
    assert html.index("Newer low") < html.index("Older high")


def test_sort_by_upvotes(client: TestClient) -> None:
    html = client.get(url("Zoë Åberg") + "?sort=upvotes").text
    assert html.index("Older high") < html.index("Newer low")


def test_spaces_collapsed(client: TestClient) -> None:
    assert client.get(url("Zoë  Åberg ")).status_code == 200


def test_coauthors_with_counts_and_categories(client: TestClient) -> None:
    html = client.get(url("Zoë Åberg")).text
    assert f'href="{url("Bo Li")}">Bo Li</a> <span class="count">(2 papers)' in html
    assert f'href="{url("Cy Ng")}">Cy Ng</a> <span class="count">(1 paper)' in html
    assert 'href="/papers/category/cs.CL"' in html
    assert 'href="/papers/category/hep-th"' in html
    assert 'Computation and Language (cs.CL)</a> <span class="count">(1 paper)' in html


def test_unknown_author_is_404(client: TestClient) -> None:
    response = client.get(url("Nobody Here"))
    assert response.status_code == 404
    assert "Nobody Here" in response.text


def test_bad_sort_is_rejected(client: TestClient) -> None:
    assert client.get(url("Bo Li") + "?sort=sideways").status_code in (400, 422)


def test_names_on_cards_and_paper_page_link_to_author_pages(client: TestClient) -> None:
    link = f'<a href="{url("Zoë Åberg")}">Zoë Åberg</a>'
    assert link in client.get("/papers/date/2026-11-19").text
    assert link in client.get("/papers/2411.00001").text


def test_rss_and_atom_of_the_authors_papers(client: TestClient) -> None:
    import xml.etree.ElementTree as ET

    rss = client.get(url("Zoë Åberg") + ".rss")
    assert rss.status_code == 200 and "rss" in rss.headers["content-type"]
    titles = [t.text for t in ET.fromstring(rss.content).iter("title")]
    assert "Newer low" in titles and "Older high" in titles and "Someone else" not in titles
    atom = client.get(url("Zoë Åberg") + ".atom")
    assert atom.status_code == 200
    ET.fromstring(atom.content)
    assert client.get(url("Nobody") + ".rss").status_code == 404


def test_the_author_page_links_its_feeds(client: TestClient) -> None:
    page = client.get(url("Zoë Åberg")).text
    for ext, kind in (("rss", "application/rss+xml"), ("atom", "application/atom+xml")):
        href = url("Zoë Åberg") + "." + ext
        assert f'<link rel="alternate" type="{kind}"' in page and f'href="{href}"' in page
        assert client.get(href).status_code == 200


def test_an_approved_claim_shows_the_member_profile(client: TestClient, db: Database) -> None:
    from paperfeed.community import accounts, claims

    assert "Member profile" not in client.get(url("Zoë Åberg")).text
    with db.transaction() as session:
        admin = accounts.create_user(session, "boss", "b@example.org", "x" * 12, role="admin")
        zoe = accounts.create_user(session, "zoe", "z@example.org", "y" * 12, verified=True)
    with db.transaction() as session:
        user = accounts.find_user(session, "zoe")
        assert user is not None and zoe is not None
        claim = claims.submit(session, "2411.00001", user, 0)
        claim_id = claim.id
    with db.transaction() as session:
        boss = accounts.find_user(session, "boss")
        assert boss is not None and admin is not None
        claims.approve(session, claim_id, boss)
    page = client.get(url("Zoë Åberg")).text
    assert "Member profile" in page and 'href="/users/zoe"' in page
    assert "Member profile" not in client.get(url("Bo Li")).text  # the claim is Zoë's only
    # The paper shows the badge beside Zoë's name only.
    paper = client.get("/papers/2411.00001").text
    assert paper.count('class="claimed-badge"') == 1
    zoe_at = paper.index(f'href="{url("Zoë Åberg")}"')
    assert zoe_at < paper.index('class="claimed-badge" href="/users/zoe"') < paper.index("Bo Li")
    assert 'class="claimed-badge"' not in client.get("/papers/2411.00002").text


@pytest.fixture
def variants(db: Database, tmp_path: Path) -> Iterator[TestClient]:
    """One physicist under three spellings, a namesake in another field, a name with a slash."""
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(
                    title=title,
                    abstract="a",
                    arxiv_id=arxiv_id,
                    categories=categories,
                    authors=authors,
                    feed_at=FEED_AT,
                )
                for arxiv_id, title, authors, categories in [
                    ("2411.00011", "Full name", ["Edmond L. Berger", "Bo Li"], ["hep-ph"]),
                    ("2411.00012", "Initials", ["E. L. Berger", "Bo Li"], ["hep-ex"]),
                    ("2411.00013", "Comma form", ["Berger, E.L."], ["hep-ph"]),
                    ("2411.00014", "Namesake", ["Edward Berger"], ["q-bio.NC"]),
                    ("2411.00015", "Collaboration", ["ATLAS/CMS Group"], ["hep-ex"]),
                ]
            ],
        )
    app = create_app(make_settings(tmp_path, db.url), db)
    with TestClient(app, follow_redirects=False, headers=BROWSER_HEADERS) as test_client:
        yield test_client


def test_a_variant_redirects_to_the_fullest_form(variants: TestClient) -> None:
    for variant in ("E. L. Berger", "Berger, E.L."):
        response = variants.get(url(variant) + "?sort=upvotes&p=1")
        assert response.status_code == 301
        assert response.headers["location"] == url("Edmond L. Berger") + "?sort=upvotes&p=1"
    response = variants.get(url("E. L. Berger") + ".rss")
    assert response.status_code == 301
    assert response.headers["location"] == url("Edmond L. Berger") + ".rss"


def test_the_page_lists_every_variants_papers_and_names_them(variants: TestClient) -> None:
    html = variants.get(url("Edmond L. Berger")).text
    assert "Full name" in html and "Initials" in html and "Comma form" in html
    assert "Namesake" not in html  # Edward is another person
    assert "Also listed as" in html and "E. L. Berger" in html and "Berger, E.L." in html
    assert "3 papers" in html
    # Co-authors never include the author's own variants.
    coauthors = html[html.index('id="coauthors-h"') : html.index('id="categories-h"')]
    assert "Bo Li" in coauthors and "(2 papers)" in coauthors
    assert "E. L. Berger" not in coauthors
    feed = variants.get(url("Edmond L. Berger") + ".rss").text
    assert feed.count("<item>") == 3


def test_a_namesake_keeps_a_page_of_their_own(variants: TestClient) -> None:
    html = variants.get(url("Edward Berger")).text
    assert "Namesake" in html and "Full name" not in html and "Also listed as" not in html


def test_a_name_with_a_slash_has_a_page(variants: TestClient) -> None:
    paper = variants.get("/papers/2411.00015").text
    assert 'href="/authors/ATLAS/CMS%20Group"' in paper
    response = variants.get("/authors/ATLAS/CMS%20Group")
    assert response.status_code == 200 and "Collaboration" in response.text
    assert variants.get("/authors/ATLAS/CMS%20Group.atom").status_code == 200


def test_a_feeds_self_link_is_its_address_url_encoded(client: TestClient) -> None:
    rss = client.get(url("Zoë Åberg") + ".rss").text
    assert f'<atom:link href="http://127.0.0.1:8000{url("Zoë Åberg")}.rss" rel="self"' in rss
    atom = client.get(url("Zoë Åberg") + ".atom").text
    assert f'href="http://127.0.0.1:8000{url("Zoë Åberg")}.atom"' in atom


def test_a_nul_in_a_name_is_refused_not_a_server_error(client: TestClient) -> None:
    # PostgreSQL text holds no NUL: the name can be nobody's.
    for address in ("/authors/%00", "/authors/Bo%00Li", "/authors/Bo%00Li.rss"):
        response = client.get(address)
        assert response.status_code in (400, 404), address
        assert "Something went wrong" not in response.text


def test_a_name_stored_with_runs_of_spaces_has_a_page_not_a_redirect_loop(
    db: Database, tmp_path: Path
) -> None:
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(
                    title="Spaced",
                    abstract="a",
                    arxiv_id="2411.00021",
                    categories=["cs.CL"],
                    authors=["Maria  Silva"],  # as an older import stored it
                    feed_at=FEED_AT,
                )
            ],
        )
    app = create_app(make_settings(tmp_path, db.url), db)
    with TestClient(app, follow_redirects=False, headers=BROWSER_HEADERS) as client:
        assert client.get(url("Maria Silva")).status_code == 200
        assert client.get(url("Maria  Silva")).status_code == 200
        assert client.get(url("Maria Silva") + ".rss").status_code == 200
        response = client.get(url("maria silva") + "?sort=upvotes")
        assert response.status_code == 301
        assert response.headers["location"] == url("Maria Silva") + "?sort=upvotes"


def test_co_authors_are_counted_over_the_newest_papers_only(db: Database, tmp_path: Path) -> None:
    """A member of a large collaboration has thousands of papers of thousands of authors:
    the page counts co-authors on a bounded number of the newest papers, not every row."""
    from paperfeed.web.routes.authors import COAUTHOR_PAPERS

    start = datetime(2026, 1, 1, 15, 0, tzinfo=UTC)
    papers = [
        PaperRecord(
            title=f"Paper {i}",
            abstract="a",
            arxiv_id=f"2601.{i:05d}",
            categories=["hep-ex"],
            authors=["G. Aad", "Old Friend" if i == 0 else "New Friend"],
            feed_at=start + timedelta(hours=i),
        )
        for i in range(COAUTHOR_PAPERS + 1)
    ]
    with db.transaction() as session:
        upsert_papers(session, papers)
    app = create_app(make_settings(tmp_path, db.url), db)
    with TestClient(app, follow_redirects=False, headers=BROWSER_HEADERS) as client:
        html = client.get(url("G. Aad")).text
    assert f"{COAUTHOR_PAPERS + 1} papers" in html
    coauthors = html[html.index('id="coauthors-h"') : html.index('id="categories-h"')]
    assert f'New Friend</a> <span class="count">({COAUTHOR_PAPERS} papers)' in coauthors
    assert "Old Friend" not in coauthors
