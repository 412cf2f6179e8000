"""On the Hub in a real browser: the demo corpus, one of its ten newest arXiv papers cited
by models, datasets and Spaces of a loopback Hub stand-in, asked by the `hub` job; a reader
opens it and finds the section with likes, downloads and counts, fitting the screen at desktop and
mobile widths; a sample listing without an arXiv id has no such section."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from paperfeed import clock
from paperfeed.db import Database
from paperfeed.demo import load_demo
from paperfeed.ingest.hub_links import HubClient, update_hub
from paperfeed.models import Paper
from paperfeed.web.app import create_app
from tests.conftest import FIXED_NOW, make_settings
from tests.hub_server import running_hub
from tests.web.browser import Journey, Viewport, browser, viewport
from tests.web.live import start_server

pytestmark = pytest.mark.browser
__all__ = ["browser", "viewport"]  # the harness's fixtures, used by the tests below

LONG = "a-rather-long-organization-name/an-instruction-tuned-model-with-a-very-long-name-v2"


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    tmp = tmp_path_factory.mktemp("live-hub")
    url = f"sqlite:///{tmp / 'hub.sqlite3'}"
    db = Database(url)
    db.upgrade()
    with running_hub() as hub, clock.frozen(FIXED_NOW):
        settings = make_settings(tmp, url).model_copy(
            update={"hub_endpoint": hub.url, "hub_request_interval": 0.0, "hub_batch": 10}
        )
        settings.index_dir = tmp / "index"
        load_demo(db, settings.tz)
        with db.reader() as session:
            newest = session.execute(
                select(Paper.public_id, Paper.arxiv_id, Paper.abstract)
                .where(Paper.arxiv_id.is_not(None))
                .order_by(Paper.id.desc())
                .limit(10)
            ).all()
            local = session.scalars(
                select(Paper.public_id).where(Paper.arxiv_id.is_(None)).limit(1)
            ).one()
        # One without TeX in its abstract: the page's width is then the section's doing.
        page_id, cited = next((p.public_id, p.arxiv_id) for p in newest if "$" not in p.abstract)
        hub.add("model", LONG, likes=4321, downloads=1_234_567, arxiv=cited)
        for i in range(14):
            hub.add("model", f"lab/model-{i}", likes=i, downloads=10 * i, arxiv=cited)
        hub.add("dataset", "lab/benchmark", likes=88, downloads=45_000, arxiv=cited)
        hub.add("space", "lab/demo", likes=12, arxiv=cited, extra="gradio")
        with HubClient.from_settings(settings) as client:
            stats = update_hub(db, settings, client)
    assert (stats.checked, stats.linked) == (10, 1)
    live = start_server(create_app(settings, db))
    yield live.url, page_id, local
    live.stop()
    db.dispose()


def test_a_reader_finds_what_cites_the_paper_on_the_hub(
    browser, live_server: tuple[str, str, str], viewport: Viewport
) -> None:
    url, cited, local = live_server
    with Journey(browser, "hub", viewport) as journey:
        page = journey.page
        page.goto(f"{url}/papers/{cited}")
        section = page.locator("section.hub-links")
        assert section.get_by_role("heading", name="On the Hub").is_visible()
        models = page.locator("#hub-models")
        assert "(15)" in models.inner_text()
        first = section.locator("ul.hub-list").first.locator("li").first
        assert first.locator("a").get_attribute("href", timeout=2000).endswith(f"/{LONG}")
        assert "4,321 likes" in first.inner_text() and "1,234,567 downloads" in first.inner_text()
        assert section.locator("ul.hub-list").first.locator("li").count() == 10
        assert "The 10 most liked of 15" in section.inner_text()
        assert "/spaces/lab/demo" in (
            section.get_by_role("link", name="lab/demo").get_attribute("href") or ""
        )
        section.scroll_into_view_if_needed()
        journey.fits()  # the long repository name wraps on a phone
        journey.shot("paper-on-the-hub")

        page.goto(f"{url}/papers/{local}")
        assert page.locator("h1").is_visible()
        assert page.locator("section.hub-links").count() == 0
