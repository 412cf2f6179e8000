"""Community journeys in a real browser: sign up and confirm by the emailed link, upvote
(the in-place JavaScript path, order of the day changing), and submit a paper by arXiv id
against a local arXiv API stand-in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from paperfeed import clock
from paperfeed.db import Database
from paperfeed.demo import load_demo
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.web.live import start_server
from tests.web.test_browser import DESKTOP, MOBILE, Journey, browser  # noqa: F401

pytestmark = pytest.mark.browser
PASSWORD = "long enough password"
NOW = datetime(2024, 8, 5, 15, 0, tzinfo=UTC)  # 2408.00716 (the recorded API sample) is new


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, object, object]]:  # type: ignore[no-untyped-def]
    from tests.servers import FakeArxivApi, SmtpServer

    smtp = SmtpServer().start()
    arxiv = FakeArxivApi().start()
    tmp = tmp_path_factory.mktemp("live-community")
    url = f"sqlite:///{tmp / 'demo.sqlite3'}"
    db = Database(url)
    db.upgrade()
    settings = smtp.settings(make_settings(tmp, url)).model_copy(
        update={"arxiv_api_url": arxiv.url, "arxiv_request_interval": 0.0}
    )
    settings.index_dir = tmp / "index"
    clock.set_now(NOW)
    load_demo(db, settings.tz)
    live = start_server(create_app(settings, db))
    try:
        yield live.url, smtp, db
    finally:
        live.stop()
        clock.set_now(None)
        smtp.stop()
        arxiv.stop()
        db.dispose()


@pytest.fixture(autouse=True)
def fixed_clock():  # type: ignore[no-untyped-def]
    """The live server's clock stays on NOW for the whole module."""
    with clock.frozen(NOW):
        yield NOW


@pytest.mark.parametrize(("label", "viewport"), [("desktop", DESKTOP), ("mobile", MOBILE)])
def test_sign_up_confirm_upvote_and_submit(browser, site, label: str, viewport) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    base, smtp, _db = site
    name = f"reader{label}"
    journey = Journey(browser, f"community-{label}", viewport)
    page = journey.page

    page.goto(base + "/")
    page.get_by_role("link", name="Sign up").click()
    page.get_by_label("Username").fill(name)
    page.get_by_label("Email").fill(f"{name}@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    journey.shot("sign-up")
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url("**/account?welcome=1")
    assert "not confirmed" in page.content()

    mail = next(m for m in smtp.wait_for(1 if label == "desktop" else 2) if name in m.text)
    link = re.search(r"https?://[^/\s]+(/verify\?token=\S+)", mail.text).group(1)
    page.goto(base + link)
    assert "Email confirmed" in page.locator("h1").inner_text()

    # Upvote the last paper of the day: the count changes in place, then the order does.
    page.goto(base + "/")
    cards = page.locator("li.card")
    last = cards.last
    title = last.locator("h3 a").inner_text()
    before = int(last.locator(".count").inner_text().replace(",", ""))
    last.locator("button[aria-pressed]").click()
    page.wait_for_function(
        "([t, n]) => [...document.querySelectorAll('li.card')].some(c => "
        "c.querySelector('h3 a').innerText === t && "
        "c.querySelector('.count').innerText.replace(',', '') == String(n))",
        arg=[title, before + 1],
    )
    assert page.url == base + "/"  # no page load: the script updated the button
    journey.shot("upvoted")
    page.reload()
    titles = page.locator("li.card h3 a").all_inner_texts()
    votes = [int(v.replace(",", "")) for v in page.locator("li.card .count").all_inner_texts()]
    assert votes == sorted(votes, reverse=True)
    assert titles.index(title) < len(titles) - 1 or before + 1 <= min(votes)

    page.get_by_role("link", name="Submit").first.click()
    page.get_by_label("arXiv id or link").fill("https://arxiv.org/abs/2408.00716")
    page.get_by_role("button", name="Submit").last.click()
    page.wait_for_url("**/papers/2408.00716?submitted=*")
    assert page.get_by_role("status").first.is_visible()
    journey.shot("submitted")
    journey.close()
