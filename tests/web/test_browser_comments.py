"""The comment journey in a real browser: a user comments and edits, another replies and
reports, and a moderator hides a comment and clears the report queue. No JavaScript is
needed for any of it; the journeys fail on any console error or failed request and save
screenshots at desktop and mobile widths under test-artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from paperfeed import clock
from paperfeed.community import accounts
from paperfeed.db import Database
from paperfeed.demo import load_demo
from paperfeed.papers.counts import inconsistent
from paperfeed.web.app import create_app
from tests.conftest import FIXED_NOW, make_settings
from tests.web.live import start_server
from tests.web.test_browser import DESKTOP, MOBILE, Journey, browser  # noqa: F401

pytestmark = pytest.mark.browser
PASSWORD = "long enough password"
PEOPLE = (("ada", "user"), ("bob", "user"), ("mod", "moderator"))


class Server:
    def __init__(self, url: str, db: Database) -> None:
        self.url = url
        self.db = db


@pytest.fixture(scope="module")
def comments_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The demo site with three accounts, served by uvicorn on a real port."""
    tmp = tmp_path_factory.mktemp("live-comments")
    url = f"sqlite:///{tmp / 'demo.sqlite3'}"
    db = Database(url)
    db.upgrade()
    settings = make_settings(tmp, url)
    settings.index_dir = tmp / "index"  # no search index: similar papers say so, politely
    with clock.frozen(FIXED_NOW):
        load_demo(db, settings.tz)
        with db.transaction() as session:
            for name, role in PEOPLE:
                accounts.create_user(
                    session, name, f"{name}@example.org", PASSWORD, role=role, verified=True
                )
    live = start_server(create_app(settings, db))
    yield Server(live.url, db)
    live.stop()
    db.dispose()


def log_in(journey: Journey, base: str, name: str, path: str) -> None:
    page = journey.page
    page.goto(f"{base}/login?next={path}")
    page.get_by_label("Username or email").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**{path}")


@pytest.mark.parametrize(
    ("label", "viewport", "paper"),
    [("desktop", DESKTOP, "/papers/0704.0002"), ("mobile", MOBILE, "/papers/0704.0003")],
)
def test_comment_reply_report_and_hide(
    browser,  # noqa: F811
    comments_server: Server,
    label: str,
    viewport: dict[str, int],
    paper: str,
) -> None:
    base = comments_server.url
    visitor = Journey(browser, f"comments-{label}-visitor", viewport)
    visitor.page.goto(base + paper)
    assert visitor.page.get_by_role("heading", name="Comments (0)").is_visible()
    assert visitor.page.get_by_role("link", name="Log in to comment").is_visible()

    # ada writes a comment, then fixes it.
    ada = Journey(browser, f"comments-{label}-ada", viewport)
    log_in(ada, base, "ada", paper)
    page = ada.page
    page.get_by_label("Add a comment").fill(
        "Does the **main result** hold for `n > 2`?\n\n- see [the appendix](https://example.org/a)"
    )
    page.get_by_role("button", name="Post comment").click()
    page.wait_for_url("**#comment-*")
    top = page.url.rsplit("#", 1)[1]
    comment = page.locator(f"#{top}")
    assert comment.locator("strong").inner_text() == "main result"
    assert comment.get_by_role("link", name="the appendix").get_attribute("rel") == (
        "nofollow ugc noopener"
    )
    page.locator(f"#{top} summary", has_text="Edit").click()
    box = page.locator(f"#{top}").get_by_label("Edit your comment")
    box.fill(box.input_value() + "\n\nAnd for `n = 2`?")
    ada.shot("editing")
    page.locator(f"#{top}").get_by_role("button", name="Save changes").click()
    page.wait_for_url(f"**#{top}")
    assert page.locator(f"#{top} .comment-edited").inner_text() == "edited"
    assert page.get_by_role("heading", name="Comments (1)").is_visible()
    ada.shot("commented")

    # bob replies, and reports ada's comment.
    bob = Journey(browser, f"comments-{label}-bob", viewport)
    log_in(bob, base, "bob", paper)
    page = bob.page
    own = page.locator(f"#{top} > article")
    own.get_by_text("Reply to ada", exact=True).click()
    own.get_by_label("Your reply to ada").fill("It does: see _Lemma 3_.")
    own.get_by_role("button", name="Post reply").click()
    page.wait_for_url("**#comment-*")
    reply = page.url.rsplit("#", 1)[1]
    assert page.locator(f"#{top} .comment-replies #{reply} em").inner_text() == "Lemma 3"
    own.locator("summary", has_text="Report").click()
    own.get_by_label("Why should a moderator look at this comment?").fill("Off topic")
    own.get_by_role("button", name="Send report").click()
    page.wait_for_url(f"**?reported=*#{top}")
    assert page.get_by_role("status").filter(has_text="moderator will look").is_visible()
    assert page.get_by_role("heading", name="Comments (2)").is_visible()
    bob.shot("replied-and-reported")

    # The moderator hides bob's reply from the paper page and dismisses the report.
    mod = Journey(browser, f"comments-{label}-mod", viewport)
    log_in(mod, base, "mod", paper)
    page = mod.page
    page.locator(f"#{reply} summary", has_text="Hide").click()
    hidden = page.locator(f"#{reply}")
    hidden.get_by_label("Reason for hiding (shown to moderators)").fill("Spoils the puzzle")
    mod.shot("hiding")
    hidden.get_by_role("button", name="Hide comment").click()
    page.wait_for_url(f"**#{reply}")
    assert "Hidden by mod: Spoils the puzzle" in page.locator(f"#{reply}").inner_text()
    assert page.get_by_role("heading", name="Comments (1)").is_visible()
    mod.shot("hidden")
    page.get_by_role("link", name="Open reports").click()
    page.wait_for_url("**/admin/reports")
    assert "Off topic" in page.locator(".report-list").inner_text()
    mod.shot("queue")
    page.locator(".report-list li").filter(has_text="Off topic").get_by_role(
        "button", name="Dismiss report"
    ).click()
    page.wait_for_url("**/admin/reports?done=dismissed")
    mod.shot("queue-cleared")

    # Everyone else now sees the placeholder, and nothing overflows sideways. (A new visitor:
    # the first one's browser may keep its public copy for `cache_max_age` seconds.)
    visitor.close()
    visitor = Journey(browser, f"comments-{label}-visitor-later", viewport)
    visitor.page.goto(base + paper)
    visitor.page.locator(f"#{reply}").scroll_into_view_if_needed()
    assert (
        visitor.page.locator(f"#{reply}")
        .inner_text()
        .strip()
        .endswith("This comment was hidden by a moderator.")
    )
    assert "Spoils" not in visitor.page.content()
    assert visitor.page.get_by_role("heading", name="Comments (1)").is_visible()
    visitor.shot("after-moderation")
    width = visitor.page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"]
    with comments_server.db.reader() as session:
        assert inconsistent(session) == []
    for journey in (visitor, ada, bob, mod):
        journey.close()
