"""Setting a paper's code link in a real browser: a verified author opens "Code and project
page" on the paper page, is told why a page that is no repository is refused, sets the
repository and the project page, and sees them in place of the link found in the abstract;
a visitor sees them too. At desktop and mobile widths."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from playwright.sync_api import Page
from sqlalchemy import select

from paperfeed import clock
from paperfeed.community import accounts
from paperfeed.db import Database
from paperfeed.models import Paper, PaperAuthor
from paperfeed.papers.code_links import update_code_links
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from paperfeed.web.app import create_app
from tests.conftest import FIXED_NOW, make_settings
from tests.web.browser import VIEWPORTS, Journey, Viewport, browser, viewport
from tests.web.live import start_server

pytestmark = pytest.mark.browser
__all__ = ["browser", "viewport"]  # the harness's fixtures, used by the tests below
PASSWORD = "long enough password"
FOUND = "https://github.com/found/in-abstract"


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One paper per width, each with a link in its abstract and a verified author."""
    tmp = tmp_path_factory.mktemp("live-paper-links")
    url = f"sqlite:///{tmp / 'links.sqlite3'}"
    db = Database(url)
    db.upgrade()
    settings = make_settings(tmp, url)
    settings.index_dir = tmp / "index"
    with clock.frozen(FIXED_NOW), db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(
                    title=f"A paper with code, {each.label}",
                    abstract=f"We release our code at {FOUND}.",
                    arxiv_id=f"2411.0000{n}",
                    authors=["Ada Lovelace", "Alan Turing"],
                    feed_at=FIXED_NOW,
                )
                for n, each in enumerate(VIEWPORTS, start=1)
            ],
        )
        for n, each in enumerate(VIEWPORTS, start=1):
            author = accounts.create_user(
                session,
                f"author-{each.label}",
                f"{each.label}@example.org",
                PASSWORD,
                verified=True,
            )
            session.flush()
            paper = session.execute(
                select(Paper).where(Paper.arxiv_id == f"2411.0000{n}")
            ).scalar_one()
            session.get(PaperAuthor, (paper.id, 0)).user_id = author.id
    update_code_links(db)
    live = start_server(create_app(settings, db))
    yield live.url
    live.stop()
    db.dispose()


@pytest.fixture(autouse=True)
def fixed_clock() -> Iterator[datetime]:
    with clock.frozen(FIXED_NOW):
        yield FIXED_NOW


def log_in(page: Page, base: str, login: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("Username or email").fill(login)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base + "/")


def test_a_verified_author_sets_the_code_and_project_page(
    browser, live_server: str, viewport: Viewport
) -> None:  # type: ignore[no-untyped-def]
    n = [v.label for v in VIEWPORTS].index(viewport.label) + 1
    paper_url = f"{live_server}/papers/2411.0000{n}"
    with Journey(browser, "paper-links", viewport) as journey:
        page = journey.page
        log_in(page, live_server, f"author-{viewport.label}")
        page.goto(paper_url)
        assert page.locator(".paper-code a").get_attribute("href") == FOUND
        page.get_by_text("Code and project page").click()
        code = page.get_by_label("Code repository")
        code.fill("https://example.org/our-code")
        page.get_by_role("button", name="Save links").click()
        alert = page.get_by_role("alert")
        assert "must be a repository on GitHub, GitLab or the Hugging Face Hub" in (
            alert.inner_text()
        )
        for expected in (  # the refusal, as meant: nothing else may have gone wrong
            f"HTTP 400: {paper_url}/links",
            "console error: Failed to load resource: the server responded with a status of "
            "400 (Bad Request)",
        ):
            journey.problems.remove(expected)
        assert code.input_value() == "https://example.org/our-code"  # kept, form open
        journey.fits()
        journey.shot("refused-with-the-reason")

        code.fill("https://github.com/ada/official-code/tree/main")
        page.get_by_label("Project page").fill("https://ada.example/project")
        page.get_by_role("button", name="Save links").click()
        page.wait_for_url(f"{paper_url}?links=saved#links")
        assert "were saved" in page.get_by_role("status").first.inner_text()
        code_link = page.locator(".paper-code a")
        assert code_link.get_attribute("href") == "https://github.com/ada/official-code"
        assert page.locator(".paper-links a", has_text="found/in-abstract").count() == 1
        journey.fits()
        journey.shot("set-links-shown")

        visitor = journey.person()
        visitor.goto(paper_url)
        assert visitor.get_by_text("Code and project page").count() == 0
        project = visitor.get_by_role("link", name="Project page")
        assert project.get_attribute("href") == "https://ada.example/project"
        assert visitor.get_by_role("link", name="Code", exact=True).get_attribute("href") == (
            "https://github.com/ada/official-code"
        )
        journey.fits(visitor)
        journey.shot("a-visitor-sees-them", visitor)
