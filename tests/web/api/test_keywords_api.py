"""`ai_keywords` in the paper API, read with the official huggingface_hub client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from huggingface_hub import HfApi

from paperfeed.search.keywords import update_keywords
from paperfeed.web.app import create_app
from tests.web.api.conftest import World
from tests.web.live import LiveServer, start_server


@pytest.fixture
def live(world: World) -> Iterator[LiveServer]:
    update_keywords(world.db, world.settings)
    server = start_server(create_app(world.settings, world.db))
    yield server
    server.stop()


def test_paper_info_and_daily_papers_carry_ai_keywords(live: LiveServer) -> None:
    api = HfApi(endpoint=live.url, token=False)
    info = api.paper_info("2611.00001")
    assert info.ai_keywords and all(isinstance(k, str) and k for k in info.ai_keywords)
    assert len(info.ai_keywords) <= 5
    daily = {p.id: p for p in api.list_daily_papers(date="2026-11-19")}
    assert daily["2611.00001"].ai_keywords == info.ai_keywords
    raw = httpx.get(live.url + "/api/daily_papers", params={"date": "2026-11-19"}).json()
    assert raw[0]["paper"]["ai_keywords"] == raw[0]["ai_keywords"]
