"""Finding one's way in a real browser: the header's links and its menu on a phone, the
calendar from the home page to a day, the first card high on a phone's screen, a card's
comment count on its meta line, and the demo banner dismissed for good, with and without
JavaScript. At desktop and mobile widths where it is visual (harness: tests/web/browser.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page
from sqlalchemy import select

from paperfeed import clock
from paperfeed.community import accounts, comments
from paperfeed.demo import load_demo
from paperfeed.models import Paper
from paperfeed.search.indexing import run_index
from paperfeed.web.app import create_app
from tests.conftest import FIXED_NOW
from tests.web.browser import MOBILE, Journey, Viewport, browser, open_menu, viewport
from tests.web.live import site_database, start_server

pytestmark = pytest.mark.browser
__all__ = ["browser", "viewport"]  # the harness's fixtures, used by the tests below
PASSWORD = "long enough password"
TOP_THIRD = MOBILE.height / 3  # 281 px of a 390×844 phone
COMMENTED = "The Art of Scaling Reinforcement Learning Compute for LLMs"  # first on the home page


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo (a demo database: every page has the banner) with a keyword index, a member,
    an admin, and a comment on the home page's first paper."""
    tmp = tmp_path_factory.mktemp("live-layout")
    db, settings = site_database(tmp)
    with clock.frozen(FIXED_NOW):
        load_demo(db, settings.tz)
        with db.transaction() as session:
            reader = accounts.create_user(
                session, "reader", "reader@example.org", PASSWORD, verified=True
            )
            accounts.create_user(
                session, "ada", "ada@example.org", PASSWORD, role="admin", verified=True
            )
            paper = session.execute(select(Paper).where(Paper.title == COMMENTED)).scalar_one()
            comments.add_comment(session, reader, paper.id, "A clear scaling law.")
        run_index(db, settings, embed=False)
    live = start_server(create_app(settings, db))
    yield live.url
    live.stop()
    db.dispose()


@pytest.fixture(autouse=True)
def fixed_clock() -> Iterator[None]:
    """The live server's clock stays on FIXED_NOW (the demo's last day is the day before)."""
    with clock.frozen(FIXED_NOW):
        yield


def dismiss_banner(page: Page) -> None:
    """Press the demo banner's Dismiss (a form: the page reloads without the banner)."""
    banner = page.get_by_role("region", name="About this demo")
    assert banner.is_visible()
    with page.expect_navigation():
        banner.get_by_role("button", name="Dismiss").click()
    assert page.get_by_role("region", name="About this demo").count() == 0


def log_in(page: Page, base: str, name: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("Username or email").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("main").get_by_role("button", name="Log in").click()
    page.wait_for_url(base + "/")


def top_of(page: Page, selector: str) -> float:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not shown on {page.url}"
    return box["y"]


FIRST_CARDS = {
    "home": "/",
    "week": "/papers/week/2026-W47",
    "month": "/papers/month/2026-11",
    "trending": "/papers/trending",
    "search": "/papers?q=quantum",
}


@pytest.mark.parametrize("name", FIRST_CARDS)
def test_the_first_card_starts_in_the_top_third_of_a_phone(
    browser, live_server: str, name: str
) -> None:
    path = FIRST_CARDS[name]
    with Journey(browser, f"phone-budget-{name}", MOBILE) as journey:
        page = journey.page
        page.goto(live_server + path)
        dismiss_banner(page)
        assert page.url == live_server + path  # back where it was
        assert page.locator("header.site-header").bounding_box()["height"] <= 64  # type: ignore[index]
        first = top_of(page, "li.card")
        assert first < TOP_THIRD, f"the first card starts at y={first:.0f} on {path}"
        journey.fits()
        journey.shot("first-card")


def test_the_header_menu_leads_to_every_area(browser, live_server: str, viewport: Viewport) -> None:
    with Journey(browser, "header-menu", viewport) as journey:
        page = journey.page
        page.goto(live_server + "/")
        dismiss_banner(page)
        header = page.locator("header.site-header")
        height = header.bounding_box()["height"]  # type: ignore[index]
        feeds_nav = page.get_by_role("navigation", name="Feeds")
        if viewport is MOBILE:
            assert height <= 64  # one row: brand, search, Menu
            assert not feeds_nav.is_visible()
            assert page.get_by_role("searchbox", name="Search papers").is_visible()
        else:
            assert height <= 110  # two rows at most
            assert feeds_nav.is_visible()
        open_menu(page)
        journey.shot("menu-visitor")
        feeds_nav.get_by_role("link", name="Organizations").click()
        page.wait_for_url("**/orgs")
        assert page.locator("h1").inner_text() == "Organizations"

        log_in(page, live_server, "ada")
        open_menu(page)
        account = page.get_by_role("navigation", name="Account")
        for name, href in [
            ("Submit", "/papers/submit"),
            ("ada", "/users/ada"),
            ("Account", "/account"),
            ("Digest", "/account/digest"),
            ("Admin", "/admin"),
        ]:
            link = account.get_by_role("link", name=name, exact=True)
            assert link.is_visible() and link.get_attribute("href") == href
        assert account.get_by_role("button", name="Log out").is_visible()
        journey.fits()
        journey.shot("menu-admin")
        account.get_by_role("link", name="Admin").click()
        page.wait_for_url("**/admin")
        open_menu(page)
        account.get_by_role("link", name="ada", exact=True).click()
        page.wait_for_url("**/users/ada")
        assert page.locator("h1").is_visible()

        member = journey.person()
        log_in(member, live_server, "reader")
        open_menu(member)
        member_nav = member.get_by_role("navigation", name="Account")
        assert member_nav.get_by_role("link", name="reader").is_visible()
        assert member_nav.get_by_role("link", name="Admin").count() == 0


def test_without_javascript_the_menu_opens_and_the_banner_stays_dismissed(
    browser, live_server: str
) -> None:
    with Journey(browser, "no-script", MOBILE) as journey:
        page = journey.person(java_script_enabled=False)
        page.goto(live_server + "/papers/trending")
        dismiss_banner(page)
        assert page.url == live_server + "/papers/trending"
        for path in ("/", "/papers/0704.0001", "/orgs", "/papers/calendar/2026-11"):
            page.goto(live_server + path)
            assert page.get_by_role("region", name="About this demo").count() == 0, path
        page.reload()
        assert page.get_by_role("region", name="About this demo").count() == 0

        feeds_nav = page.get_by_role("navigation", name="Feeds")
        assert not feeds_nav.is_visible()
        page.locator("details.site-menu > summary").click()
        assert feeds_nav.is_visible()
        journey.shot("menu-open", page)
        feeds_nav.get_by_role("link", name="Trending").click()
        page.wait_for_url("**/papers/trending")

        # Someone else, in another browser, still sees the banner.
        other = journey.person(java_script_enabled=False)
        other.goto(live_server + "/papers/trending")
        assert other.get_by_role("region", name="About this demo").is_visible()


def test_from_the_home_page_to_a_day_by_the_calendar(
    browser, live_server: str, viewport: Viewport
) -> None:
    with Journey(browser, "calendar", viewport) as journey:
        page = journey.page
        page.goto(live_server + "/")
        dismiss_banner(page)
        page.get_by_role("navigation", name="Other days").get_by_role(
            "link", name="Calendar"
        ).click()
        page.wait_for_url("**/papers/calendar/2026-11")
        assert page.locator("h1").inner_text() == "November 2026"
        grid = page.locator("table.calendar")
        days = grid.get_by_role("link")
        assert days.count() == 14  # November 6th to 19th
        assert grid.get_by_text("Thursday, November 5: no papers").count() == 1
        journey.fits()
        journey.shot("month")

        grid.get_by_role("link", name="Wednesday, November 18: 27 papers").click()
        page.wait_for_url("**/papers/date/2026-11-18")
        assert page.locator("h1").inner_text() == "Wednesday, November 18, 2026"
        assert page.locator("li.card").count() == 27
        journey.shot("day")

        page.go_back()
        page.get_by_role("navigation", name="Other months").get_by_role("link").first.click()
        page.wait_for_url("**/papers/calendar/2007-0*")
        assert page.locator("table.calendar").get_by_role("link").count() > 0
        journey.fits()
        journey.shot("spring-2007")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_comment_count_sits_on_the_meta_line(
    browser, live_server: str, viewport: Viewport, scheme: str
) -> None:
    with Journey(browser, f"comment-count-{scheme}", viewport, scheme=scheme) as journey:
        page = journey.page
        page.goto(live_server + "/")
        dismiss_banner(page)
        for path in ("/", "/papers/trending"):
            page.goto(live_server + path)
            card = page.locator("li.card").filter(has_text=COMMENTED)
            count = card.locator(".meta .comment-count")
            assert " ".join(count.inner_text().split()) == "1 comment"  # "comment" for readers
            assert count.get_attribute("title") == "1 comment"
            boxes = card.locator(".meta > *").evaluate_all(
                "els => els.map(e => { const r = e.getBoundingClientRect();"
                " return {cls: e.className, top: r.top, height: r.height}; })"
            )
            mine = next(b for b in boxes if b["cls"] == "comment-count")
            before = boxes[boxes.index(mine) - 1]
            assert abs(mine["top"] - before["top"]) <= 2, (path, boxes)
            assert mine["height"] <= before["height"] + 2, (path, boxes)
            card.scroll_into_view_if_needed()
            journey.shot(path.strip("/").replace("/", "-") or "home")
        assert {b["cls"] for b in boxes} >= {"authors", "in-feed", "comment-count", "score"}
