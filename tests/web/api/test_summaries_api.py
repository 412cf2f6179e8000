"""`ai_summary` in the paper API, read with the official huggingface_hub client: the
machine-written summary where the job wrote one, null elsewhere (never the key sentence)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from huggingface_hub import HfApi

from paperfeed.ingest.chat_api import ChatClient
from paperfeed.ingest.summarize import update_summaries
from paperfeed.web.app import create_app
from tests.chat_server import FakeChatApi
from tests.web.api.conftest import World
from tests.web.live import LiveServer, start_server

pytest_plugins = ["tests.chat_server"]


@pytest.fixture
def live(world: World, chat_api: FakeChatApi) -> Iterator[LiveServer]:
    settings = world.settings.model_copy(
        update={
            "summary_api_url": chat_api.url,
            "summary_model": "test-model-1",
            "summary_request_interval": 0.0,
        }
    )
    chat_api.answer = lambda body: (
        "Summary of "
        + body["messages"][1]["content"].split("\n")[0].removeprefix("Title: ")
        + ". It finds what it says."
    )
    with ChatClient.from_settings(settings) as client:
        update_summaries(world.db, settings, client)
    server = start_server(create_app(settings, world.db))
    yield server
    server.stop()


def test_paper_info_and_daily_papers_carry_ai_summary(live: LiveServer, world: World) -> None:
    api = HfApi(endpoint=live.url, token=False)
    info = api.paper_info("2611.00001")
    assert info.ai_summary is not None
    assert info.ai_summary.startswith("Summary of ") and info.ai_summary.endswith("says.")
    assert info.title is not None and info.title in info.ai_summary
    daily = {p.id: p for p in api.list_daily_papers(date="2026-11-19")}
    assert daily["2611.00001"].ai_summary == info.ai_summary
    raw = httpx.get(live.url + "/api/daily_papers", params={"date": "2026-11-19"}).json()
    assert raw[0]["paper"]["ai_summary"] == raw[0]["ai_summary"]
    assert raw[0]["ai_summary"].startswith("Summary of ")


def test_a_paper_without_a_summary_has_null(world: World) -> None:
    api = world.client().get("/api/papers/2611.00001")
    assert api.status_code == 200
    assert api.json()["ai_summary"] is None
