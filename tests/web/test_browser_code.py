"""Code links and stars in a real browser: the demo corpus, its 50 GitHub repositories asked
of a loopback GitHub stand-in by the `github` job; a reader sees a card's repository and
stars, opens the paper, and finds them in its Details. At desktop and mobile widths."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from paperfeed import clock
from paperfeed.db import Database
from paperfeed.demo import load_demo
from paperfeed.ingest.github_api import GitHubClient
from paperfeed.ingest.github_repos import update_github
from paperfeed.models import PaperCodeLink
from paperfeed.papers.code_links import update_code_links
from paperfeed.web.app import create_app
from tests.conftest import FIXED_NOW, make_settings
from tests.servers import FakeGitHubApi
from tests.web.browser import Journey, Viewport, browser, viewport
from tests.web.live import start_server

pytestmark = pytest.mark.browser
__all__ = ["browser", "viewport"]  # the harness's fixtures, used by the tests below


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("live-code")
    url = f"sqlite:///{tmp / 'code.sqlite3'}"
    db = Database(url)
    db.upgrade()
    github = FakeGitHubApi().start()
    settings = make_settings(tmp, url).model_copy(
        update={"github_api_url": github.url, "github_request_interval": 0.0}
    )
    settings.index_dir = tmp / "index"
    with clock.frozen(FIXED_NOW):
        load_demo(db, settings.tz)
        update_code_links(db)
        with db.reader() as session:
            urls = session.scalars(
                select(PaperCodeLink.url).where(PaperCodeLink.kind == "github")
            ).all()
        for n, link in enumerate(urls):
            github.add(link.removeprefix("https://github.com/"), 1000 + 37 * n, "A repository")
        with GitHubClient.from_settings(settings) as client:
            stats = update_github(db, settings, client)
    github.stop()
    assert stats.fetched == 50
    live = start_server(create_app(settings, db))
    yield live.url
    live.stop()
    db.dispose()


def test_a_card_shows_stars_and_the_paper_page_its_repository(
    browser, live_server: str, viewport: Viewport
) -> None:
    with Journey(browser, "code", viewport) as journey:
        page = journey.page
        page.goto(live_server + "/papers/trending")
        with_code = page.locator("li.card", has=page.locator(".code-link .stars"))
        assert with_code.count() > 0
        first = with_code.first
        repo = first.locator(".code-link a")
        assert repo.get_attribute("href", timeout=2000).startswith("https://github.com/")
        assert first.locator(".stars").inner_text().split()[0].replace(",", "").isdigit()
        assert "stars" in first.locator(".stars").text_content()  # for screen readers
        box = first.locator(".code-link").bounding_box()
        card = first.bounding_box()
        assert box is not None and card is not None
        assert box["x"] + box["width"] <= card["x"] + card["width"] + 1  # inside its card
        first.scroll_into_view_if_needed()
        journey.fits()
        journey.shot("card-with-stars")

        href = repo.get_attribute("href")
        first.locator("h3 a").click()
        page.wait_for_url("**/papers/**")
        details = page.locator(".paper-code")
        assert details.locator("a").get_attribute("href") == href
        assert " stars" in details.inner_text() and "last push" in details.inner_text()
        assert page.get_by_role("link", name="Code", exact=True).get_attribute("href") == href
        details.scroll_into_view_if_needed()
        journey.fits()
        journey.shot("paper-with-code")
