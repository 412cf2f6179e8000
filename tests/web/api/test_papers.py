"""`/api/papers/{id}`, `/api/papers` (cursor pages) and `/api/papers/search`."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from paperfeed.models import Paper, PaperAlias
from paperfeed.search.engine import SearchRequest, search
from paperfeed.search.lexical import Filters
from paperfeed.web.app import create_app
from tests.search.test_engine import papers_in_topics
from tests.web.api.conftest import JSON, World


def test_paper_info_is_flat(api: TestClient) -> None:
    paper = api.get("/api/papers/2611.00001").json()
    assert paper["id"] == "2611.00001" and paper["arxivId"] == "2611.00001"
    assert paper["title"] == "Attention Is Still All You Need"
    assert paper["summary"] == "We revisit attention with $O(n)$ memory."
    assert paper["publishedAt"] == "2026-11-18T17:00:00.000Z"
    assert paper["submittedOnDailyAt"] == "2026-11-19T15:00:00.000Z"
    assert paper["upvotes"] == 7 and paper["numComments"] == 2
    assert paper["submittedOnDailyBy"]["user"] == "ada"
    assert paper["organization"]["name"] == "acme"
    assert paper["categories"] == ["cs.CL", "cs.LG"]
    assert "comments" not in paper


def test_ids_versions_and_aliases(api: TestClient, world: World) -> None:
    assert api.get("/api/papers/2611.00001v2").json()["id"] == "2611.00001"
    local = api.get("/api/daily_papers?week=2026-W46").json()[0]["paper"]["id"]
    assert api.get(f"/api/papers/{local}").json()["title"] == "A Local Paper Without an arXiv Id"
    with world.db.transaction() as session:
        pk = session.execute(select(Paper.id).where(Paper.public_id == local)).scalar_one()
        session.add(PaperAlias(alias="pf-000000000000", paper_id=pk))
    assert api.get("/api/papers/pf-000000000000").json()["id"] == local
    for missing, message in (
        ("2611.09999", "no paper with id “2611.09999”"),
        ("2611.00005", "removed by a moderator"),
        ("x" * 300, "no paper with id"),
    ):
        response = api.get(f"/api/papers/{missing}")
        assert response.status_code == 404 and message in response.json()["error"]


def test_comments_field(api: TestClient) -> None:
    paper = api.get("/api/papers/2611.00001?field=comments").json()
    assert paper["numComments"] == 2
    [thread] = paper["comments"]
    assert thread["author"]["user"] == "grace" and thread["content"] == "Great **results**."
    assert thread["html"].strip() == "<p>Great <strong>results</strong>.</p>"
    assert thread["createdAt"].endswith("Z") and thread["deleted"] is False
    [reply] = thread["replies"]
    assert reply["author"]["user"] == "ada" and reply["parentId"] == thread["id"]
    # A deleted comment without replies is gone, as on the page.
    other = api.get("/api/papers/2611.00002?field=comments").json()
    assert other["comments"] == [] and other["numComments"] == 0
    bad = api.get("/api/papers/2611.00001?field=votes")
    assert bad.status_code == 400 and "field: Input should be 'comments'" in bad.json()["error"]


def test_paper_etag(api: TestClient, world: World) -> None:
    first = api.get("/api/papers/2611.00002")
    same = api.get("/api/papers/2611.00002", headers={"if-none-match": first.headers["etag"]})
    assert same.status_code == 304
    api.post(
        "/api/papers/2611.00002/comment",
        json={"comment": "A new comment"},
        headers={"authorization": f"Bearer {world.token}"},
    )
    changed = api.get("/api/papers/2611.00002", headers={"if-none-match": first.headers["etag"]})
    assert changed.status_code == 200 and changed.json()["numComments"] == 1


def walk(client: TestClient, limit: int) -> Iterator[list[dict]]:  # type: ignore[type-arg]
    url = f"/api/papers?limit={limit}"
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.text
        yield response.json()
        link = response.headers.get("link")
        if link is None:
            return
        assert link.endswith('>; rel="next"')
        target = urlsplit(link[1 : link.index(">")])
        assert parse_qs(target.query)["limit"] == [str(limit)]
        url = f"{target.path}?{target.query}"


def test_cursor_pages_walk_every_visible_paper_once(sample_api: TestClient, sample_db) -> None:  # type: ignore[no-untyped-def]
    pages = list(walk(sample_api, 100))
    seen = [paper["id"] for page in pages for paper in page]
    with sample_db.reader() as session:
        visible = set(
            session.execute(select(Paper.public_id).where(Paper.hidden_at.is_(None))).scalars()
        )
    assert len(seen) == len(set(seen)) == len(visible) == 568
    assert [len(p) for p in pages] == [100, 100, 100, 100, 100, 68]
    dates = [paper["submittedOnDailyAt"] for page in pages for paper in page]
    assert dates == sorted(dates, reverse=True)


def test_cursor_pages_skip_hidden_papers(api: TestClient) -> None:
    seen = [paper["id"] for page in walk(api, 1) for paper in page]
    assert len(seen) == 4 and "2611.00005" not in seen


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("cursor=%%%", "This cursor is not valid"),
        ("cursor=bm9wZQ", "This cursor is not valid"),  # a paper that does not exist
        ("limit=0", "limit: Input should be greater than or equal to 1"),
        ("limit=101", "limit: Input should be less than or equal to 100"),
    ],
)
def test_bad_cursor_or_limit(api: TestClient, query: str, message: str) -> None:
    response = api.get(f"/api/papers?{query}")
    assert response.status_code == 400 and message in response.json()["error"]


# --- search ---------------------------------------------------------------------------------


@pytest.fixture
def search_api(search_site) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    app = create_app(search_site.settings, search_site.db)
    with TestClient(app, follow_redirects=False, headers=JSON) as client:
        yield client


def test_search_uses_the_sites_ranking(search_api: TestClient, search_site) -> None:  # type: ignore[no-untyped-def]
    runtime = search_api.app.state.search  # type: ignore[attr-defined]
    for q in ("quantum entanglement", "graph neural networks", '"phase transition"'):
        with search_site.db.reader() as session:
            expected = search(
                session,
                runtime.index(),
                runtime.embeddings(),
                SearchRequest(q=q, filters=Filters(), per_page=25),
            )
        response = search_api.get("/api/papers/search", params={"q": q, "limit": 25})
        got = [entry["paper"]["id"] for entry in response.json()]
        assert got == [hit.paper.public_id for hit in expected.hits] and got, q
        page = search_api.get("/papers", params={"q": q}, headers={"accept": "text/html"}).text
        assert f'href="/papers/{got[0]}"' in page
        etag = response.headers["etag"]
        again = search_api.get(
            "/api/papers/search", params={"q": q, "limit": 25}, headers={"if-none-match": etag}
        )
        assert again.status_code == 304


def test_search_limits_filters_and_ids(search_api: TestClient) -> None:
    many = search_api.get("/api/papers/search?q=learning&limit=120").json()
    assert 20 < len(many) <= 120
    assert len(search_api.get("/api/papers/search?q=learning&limit=3").json()) == 3
    by_id = search_api.get("/api/papers/search?q=arXiv:0704.0001v1").json()
    assert [e["paper"]["id"] for e in by_id] == ["0704.0001"]
    latest = search_api.get("/api/papers/search?limit=5").json()
    assert len(latest) == 5 and latest[0]["publishedAt"] >= latest[-1]["publishedAt"]
    assert search_api.get("/api/papers/search?q=the%20of%20and").json() == []
    wide = search_api.get("/api/papers/search?q=learning&from=0001-01-01&to=9999-12-31&limit=5")
    assert wide.status_code == 200 and len(wide.json()) == 5
    newest = search_api.get("/api/papers/search?q=learning&sort=newest&limit=30").json()
    dates = [e["paper"]["publishedAt"] for e in newest]
    assert dates == sorted(dates, reverse=True)
    for query, message in (
        ("q=x&limit=0", "limit: Input should be greater than or equal to 1"),
        ("q=x&limit=121", "limit: Input should be less than or equal to 120"),
        ("q=x&sort=best", "sort: Input should be 'relevance', 'upvotes' or 'newest'"),
        ("q=x&from=2026-13-01", "Bad from: “2026-13-01” is not a date"),
        ("q=x&from=2026-01-02&to=2026-01-01", "The “from” date is after the “to” date."),
        ("q=x&org=nobody", "There is no organization named “nobody”."),
        ("q=" + "a" * 1001, "q: String should have at most 1000 characters"),
    ):
        response = search_api.get(f"/api/papers/search?{query}")
        assert response.status_code == 400, query
        assert message in response.json()["error"], query


def test_search_by_author_alone(search_api: TestClient) -> None:
    found = search_api.get("/api/papers/search?author=Ileana%20Streinu").json()
    assert [e["paper"]["id"] for e in found] == ["0704.0002"]
    assert search_api.get("/api/papers/search?author=Zzyzx%20Qwerty").json() == []


def test_search_without_an_index_says_so(api: TestClient) -> None:
    response = api.get("/api/papers/search?q=attention")
    assert response.status_code == 503
    assert "search index is not built" in response.json()["error"]
    # An arXiv id needs no index.
    found = api.get("/api/papers/search?q=2611.00001").json()
    assert [e["paper"]["id"] for e in found] == ["2611.00001"]


def test_old_style_ids_with_a_slash(api: TestClient, world: World) -> None:
    from paperfeed.papers.records import PaperRecord
    from paperfeed.papers.store import lock_changes, upsert_papers
    from tests.web.api.conftest import at

    with world.db.transaction() as session:
        lock_changes(session)
        upsert_papers(
            session,
            [
                PaperRecord(
                    title="Old Strings",
                    abstract="From 1999.",
                    arxiv_id="hep-th/9901001",
                    feed_at=at("2026-11-19T13:00:00"),
                )
            ],
        )
    assert api.get("/api/papers/hep-th/9901001").json()["id"] == "hep-th/9901001"
    assert api.get("/api/papers/hep-th/9901001v3").json()["id"] == "hep-th/9901001"
    vote = api.post(
        "/api/papers/hep-th/9901001/upvote", headers={"authorization": f"Bearer {world.token}"}
    )
    assert vote.status_code == 200 and vote.json() == {"upvoted": True, "upvotes": 1}
    day = api.get("/api/daily_papers?date=2026-11-19").json()
    assert day[-1]["paper"]["id"] == "hep-th/9901001"


def test_search_by_category(search_api: TestClient, search_site) -> None:  # type: ignore[no-untyped-def]
    hep = set(papers_in_topics(search_site, "hep-ph"))
    both = set(papers_in_topics(search_site, "hep-ph", "hep-th"))
    listed = search_api.get("/api/papers/search?category=hep-ph&limit=120").json()
    assert {e["paper"]["id"] for e in listed} == hep
    dates = [e["paper"]["publishedAt"] for e in listed]
    assert dates == sorted(dates, reverse=True), "newest first"
    for query in ("category=hep-ph&category=hep-th", "category=hep-ph,hep-th"):
        found = search_api.get(f"/api/papers/search?q=quarks&{query}&limit=120").json()
        assert found and {e["paper"]["id"] for e in found} <= both, query
    cs = search_api.get("/api/papers/search?q=sparse&category=cs&limit=120").json()
    assert {"0704.0002", "0704.0098"} <= {e["paper"]["id"] for e in cs}, "an archive, cross-lists"
    for query in ("category=cs.XX", "q=quarks&category=hep-ph,nonsense"):
        response = search_api.get(f"/api/papers/search?{query}")
        assert response.status_code == 400, query
        error = response.json()["error"]
        assert "Unknown category" in error and ("cs.XX" in error or "nonsense" in error), query
