"""Summaries in a real browser: the demo corpus, its newest feed papers summarised by the
`summaries` job against the loopback chat-completions stand-in; a reader opens a paper,
reads the machine-written summary with its model named, follows the link to the prompt;
another paper quotes a key sentence of its abstract. At desktop and mobile widths, in
light and dark."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from paperfeed import clock
from paperfeed.db import Database
from paperfeed.demo import load_demo
from paperfeed.ingest.chat_api import ChatClient
from paperfeed.ingest.summarize import update_summaries
from paperfeed.models import Paper, PaperSummary
from paperfeed.papers import summaries
from paperfeed.web.app import create_app
from tests.chat_server import FakeChatApi
from tests.conftest import FIXED_NOW, make_settings
from tests.web.browser import Journey, Viewport, browser, viewport
from tests.web.live import start_server

pytestmark = pytest.mark.browser
__all__ = ["browser", "viewport"]  # the harness's fixtures, used by the tests below


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    tmp = tmp_path_factory.mktemp("live-summaries")
    url = f"sqlite:///{tmp / 'summaries.sqlite3'}"
    db = Database(url)
    db.upgrade()
    chat = FakeChatApi().start()
    settings = make_settings(tmp, url).model_copy(
        update={
            "summary_api_url": chat.url,
            "summary_model": "test-model-1",
            "summary_request_interval": 0.0,
            "summary_batch": 3,
        }
    )
    settings.index_dir = tmp / "index"
    with clock.frozen(FIXED_NOW):
        load_demo(db, settings.tz)
        with ChatClient.from_settings(settings) as client:
            stats = update_summaries(db, settings, client)
    chat.stop()
    assert stats.written == 3
    with db.reader() as session:
        summarised = session.scalar(
            select(Paper.public_id)
            .join(PaperSummary, PaperSummary.paper_id == Paper.id)
            .where(PaperSummary.summary.is_not(None))
        )
        other = session.scalar(  # queued, not yet written
            select(Paper.public_id)
            .join(PaperSummary, PaperSummary.paper_id == Paper.id)
            .where(PaperSummary.summary.is_(None), Paper.abstract.like("%. %. %. %"))
            .order_by(Paper.id)
        )
    assert summarised and other
    live = start_server(create_app(settings, db))
    yield live.url, summarised, other
    live.stop()
    db.dispose()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_reader_sees_a_labelled_summary_and_the_prompt_behind_it(
    browser, live_server: tuple[str, str, str], viewport: Viewport, scheme: str
) -> None:
    url, summarised, other = live_server
    with Journey(browser, f"summaries-{scheme}", viewport, scheme=scheme) as journey:
        page = journey.page
        page.goto(f"{url}/papers/{summarised}")
        section = page.get_by_role("region", name="Machine-written summary")
        assert section.is_visible()
        assert section.locator(".summary-text").inner_text().startswith("This paper presents")
        assert "test-model-1" in section.inner_text()
        section.scroll_into_view_if_needed()
        journey.fits()
        journey.shot("summary")
        section.get_by_role("link", name="How it is written (prompt v1)").click()
        page.wait_for_url("**/about/summaries")
        assert summaries.SYSTEM_PROMPT in page.locator("blockquote.prompt").inner_text()
        journey.fits()
        journey.shot("prompt")

        page.goto(f"{url}/papers/{other}")
        quote = page.get_by_role("region", name="Key sentence")
        assert quote.is_visible()
        sentence = quote.locator("blockquote").inner_text().strip()
        abstract = page.locator(".abstract-full").inner_text()
        assert sentence and sentence[:40] in abstract
        assert page.get_by_role("region", name="Machine-written summary").count() == 0
        journey.fits()
        journey.shot("key-sentence")
