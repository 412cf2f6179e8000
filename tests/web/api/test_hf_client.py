"""The official `huggingface_hub` client, unchanged, against a live paperfeed server.

`HfApi(endpoint=...)` talks HTTP to uvicorn on loopback; the world is written through the
API itself (token-authenticated upvotes and comments) and read back with `list_daily_papers`
(by date, week, month, trending), `list_papers(query=...)` and `paper_info(id)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from huggingface_hub import HfApi, __version__
from huggingface_hub.errors import HfHubHTTPError

from paperfeed.config import index_dir_for
from paperfeed.search.embeddings import embed_pending
from paperfeed.search.index import SearchIndex
from paperfeed.web.app import create_app
from tests.web.api.conftest import World
from tests.web.live import LiveServer, start_server

PINNED = "2.4.0"  # keep in step with constraints.txt and the README


@pytest.fixture
def live(world: World, encoder) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    embed_pending(world.db, encoder)
    SearchIndex(index_dir_for(world.settings, world.db.url), world.settings.tz).sync(world.db)
    server = start_server(create_app(world.settings, world.db))
    yield server
    server.stop()


def hub(server: LiveServer) -> HfApi:
    return HfApi(endpoint=server.url, token=False)


def write(server: LiveServer, token: str, method: str, path: str, **kwargs) -> httpx.Response:  # type: ignore[no-untyped-def]
    response = httpx.request(
        method, server.url + path, headers={"authorization": f"Bearer {token}"}, **kwargs
    )
    assert response.status_code in (200, 201), response.text
    return response


def test_the_pinned_client_is_installed() -> None:
    assert __version__ == PINNED


def test_daily_papers_round_trip(live: LiveServer, world: World) -> None:
    write(live, world.token, "POST", "/api/papers/2611.00002/upvote")
    write(live, world.grace_token, "POST", "/api/papers/2611.00002/comment", json={"comment": "Hi"})
    api = hub(live)
    papers = list(api.list_daily_papers(date="2026-11-19"))
    assert [p.id for p in papers] == ["2611.00001", "2611.00002"]
    first, second = papers
    assert first.title == "Attention Is Still All You Need"
    assert first.summary == "We revisit attention with $O(n)$ memory."
    assert [a.name for a in first.authors] == ["Ada Lovelace", "Alan Turing", "Grace Hopper"]
    assert first.authors[0].user.username == "ada" and first.authors[1].user is None
    assert first.published_at == datetime(2026, 11, 18, 17, 0, tzinfo=UTC)
    assert first.submitted_at == datetime(2026, 11, 19, 15, 0, tzinfo=UTC)
    assert first.upvotes == 7 and first.comments == 2
    assert first.submitted_by.username == "ada" and first.submitted_by.fullname == "Ada Lovelace"
    assert first.submitted_by.avatar_url == "https://avatars.example/ada.png"
    assert first.organization.name == "acme" and first.organization.fullname == "Acme Research"
    assert first.github_repo == "https://github.com/acme/attention"
    assert first.project_page == "https://acme.example/attention"
    assert second.upvotes == 10 and second.comments == 1
    assert second.submitted_by is None and second.organization is None
    assert second.published_at == datetime(2026, 11, 18, 12, 0, tzinfo=UTC)


def test_weeks_months_trending_submitter_and_paging(live: LiveServer) -> None:
    api = hub(live)
    week = [p.id for p in api.list_daily_papers(week="2026-W47")]
    assert week == ["2611.00001", "2611.00002"]
    [local] = api.list_daily_papers(week="2026-W46")
    assert local.id.startswith("pf-") and local.upvotes == 2 and local.comments == 0
    assert [p.id for p in api.list_daily_papers(month="2026-10")] == ["2610.00003"]
    trending = list(api.list_daily_papers(sort="trending"))
    # Within 14 days: 2611.00001 (7 upvotes, 2 comments) outscores 2611.00002 (9, 0).
    assert [p.id for p in trending] == ["2611.00001", "2611.00002", local.id]
    assert all(p.trendingScore > 0 for p in trending)  # forward-compatible extra field
    assert [p.id for p in api.list_daily_papers(submitter="ada")] == ["2611.00001"]
    pages = [[p.id for p in api.list_daily_papers(p=n, limit=3)] for n in range(2)]
    assert pages == [["2611.00001", "2611.00002", local.id], ["2610.00003"]]


def test_search_and_paper_info(live: LiveServer) -> None:
    api = hub(live)
    found = list(api.list_papers(query="sparse mixtures of experts"))
    assert found[0].id == "2611.00002"
    assert found[0].title == "Sparse Mixtures of Small Experts"
    assert [a.name for a in found[0].authors] == ["Edsger Dijkstra"]
    assert len(list(api.list_papers(query="attention", limit=1))) == 1
    paper = api.paper_info("2611.00001")
    assert paper.id == "2611.00001" and paper.title == "Attention Is Still All You Need"
    assert paper.upvotes == 7 and paper.comments == 2
    assert paper.published_at == datetime(2026, 11, 18, 17, 0, tzinfo=UTC)
    assert paper.submitted_at == datetime(2026, 11, 19, 15, 0, tzinfo=UTC)
    assert paper.submitted_by.username == "ada" and paper.organization.name == "acme"
    assert [a.name for a in paper.authors][:2] == ["Ada Lovelace", "Alan Turing"]
    assert api.paper_info("2611.00001v2").id == "2611.00001"


def test_errors_reach_the_client_as_http_errors(live: LiveServer) -> None:
    api = hub(live)
    with pytest.raises(HfHubHTTPError) as missing:
        api.paper_info("2611.09999")
    assert missing.value.response.status_code == 404
    assert "no paper with id" in missing.value.response.json()["error"]
    with pytest.raises(HfHubHTTPError) as bad:
        list(api.list_daily_papers(date="2026-02-30"))
    assert bad.value.response.status_code == 400


def test_whoami_with_a_paperfeed_token(live: LiveServer, world: World) -> None:
    me = HfApi(endpoint=live.url, token=world.token).whoami()
    assert me["name"] == "ada" and me["type"] == "user"
