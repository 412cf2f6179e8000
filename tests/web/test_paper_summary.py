"""A paper's page shows its machine-written summary labelled as such, naming the model and
linking to the prompt; without one, a key sentence labelled as a quote from the abstract;
`/about/summaries` shows the very prompt the job sends."""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.ingest.chat_api import ChatClient
from paperfeed.ingest.summarize import update_summaries
from paperfeed.papers import summaries
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from paperfeed.search.indexing import run_index
from paperfeed.search.key_sentence import key_sentence
from paperfeed.web.app import create_app
from tests.chat_server import FakeChatApi
from tests.conftest import make_settings

pytest_plugins = ["tests.chat_server"]

FEED_AT = datetime(2026, 11, 19, 9, 0, tzinfo=UTC)
ABSTRACT = (
    "Sparse attention lowers the cost of long contexts. We propose a routing scheme for "
    "sparse attention that picks blocks by content. On long-context benchmarks the routed "
    "sparse attention matches dense attention at a fifth of the cost. We release the code."
)


@pytest.fixture
def site(
    db: Database, tmp_path: Path, chat_api: FakeChatApi
) -> Iterator[tuple[Settings, Database]]:
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(
                    title="Routed <Sparse> Attention",
                    abstract=ABSTRACT,
                    arxiv_id="2611.00001",
                    feed_at=FEED_AT,
                ),
                PaperRecord(
                    title="Unsummarised", abstract=ABSTRACT, arxiv_id="2611.00002", feed_at=FEED_AT
                ),
            ],
        )
    settings = make_settings(tmp_path, db.url).model_copy(
        update={
            "summary_api_url": chat_api.url,
            "summary_model": "test-model-1",
            "summary_request_interval": 0.0,
            "summary_batch": 1,
        }
    )
    run_index(db, settings, embed=False)
    yield settings, db


def test_the_summary_is_labelled_machine_written_with_its_model_and_prompt(
    site: tuple[Settings, Database],
) -> None:
    settings, db = site
    with ChatClient.from_settings(settings) as client:
        assert update_summaries(db, settings, client).written == 1  # the newest: 2611.00002
    web = TestClient(create_app(settings, db))
    page = web.get("/papers/2611.00002").text
    section = page.split('class="summary-block"')[1].split("</section>")[0]
    assert '<h2 id="summary-h">Machine-written summary</h2>' in section
    assert "This paper presents Unsummarised." in section
    assert '<span class="summary-model">test-model-1</span>' in section
    assert 'href="/about/summaries"' in section and "prompt v1" in section
    # The other paper has none yet: a quote from its abstract, never called a summary.
    other = web.get("/papers/2611.00001").text
    block = other.split('class="summary-block"')[1].split("</section>")[0]
    assert "Key sentence" in block and "Machine-written" not in block
    assert "Quoted from the abstract" in block
    quoted = key_sentence(ABSTRACT)
    assert quoted is not None and quoted in ABSTRACT
    assert f"<p>{quoted}</p>" in block


def test_a_summary_is_escaped(site: tuple[Settings, Database], chat_api: FakeChatApi) -> None:
    settings, db = site
    chat_api.answer = lambda body: "It routes <script>alert(1)</script> blocks of attention well."
    with ChatClient.from_settings(settings) as client:
        update_summaries(db, settings, client)
    page = TestClient(create_app(settings, db)).get("/papers/2611.00002").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_about_page_shows_the_prompt_the_job_sends(site: tuple[Settings, Database]) -> None:
    settings, db = site
    page = TestClient(create_app(settings, db)).get("/about/summaries")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert summaries.SYSTEM_PROMPT in text
    assert "Title: {title}" in text and "Abstract: {abstract}" in text
    assert "test-model-1" in text
    assert 'id="key-sentence"' in page.text
