"""Comment journeys in a real browser, at desktop and mobile width: one member comments and
edits, another replies and reports; an admin finds a reported comment and hides it. No
JavaScript is needed for any of it (harness: tests/web/browser.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page
from sqlalchemy import select

from paperfeed import clock
from paperfeed.community import accounts, comments
from paperfeed.db import Database
from paperfeed.demo import load_demo
from paperfeed.models import Paper
from paperfeed.papers.counts import inconsistent
from paperfeed.web.app import create_app
from tests.conftest import FIXED_NOW
from tests.web.browser import Journey, Viewport, browser, viewport
from tests.web.live import site_database, start_server

pytestmark = pytest.mark.browser
__all__ = ["browser", "viewport"]  # the harness's fixtures, used by the tests below
PASSWORD = "long enough password"
PEOPLE = (("ada", "user"), ("bob", "user"), ("root", "admin"))
# Each journey at each width has a paper of its own.
DISCUSSED = {"desktop": "0704.0002", "mobile": "0704.0003"}
MODERATED = {"desktop": "0704.0004", "mobile": "0704.0005"}
OFFENDING = "Buy cheap citations at example.com"
DISPUTED = "The bound in section 2 looks loose to me."


@dataclass
class Site:
    url: str
    db: Database


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The demo site with two members and an admin; on each MODERATED paper, a spam comment
    by bob that ada reported, and a fair one by ada that bob reported."""
    tmp = tmp_path_factory.mktemp("live-comments")
    db, settings = site_database(tmp)  # no search index: similar papers say so, politely
    with clock.frozen(FIXED_NOW):
        load_demo(db, settings.tz)
        with db.transaction() as session:
            users = {
                name: accounts.create_user(
                    session, name, f"{name}@example.org", PASSWORD, role=role, verified=True
                )
                for name, role in PEOPLE
            }
            for public_id in MODERATED.values():
                paper = session.execute(
                    select(Paper.id).where(Paper.public_id == public_id)
                ).scalar_one()
                spam = comments.add_comment(session, users["bob"], paper, OFFENDING)
                comments.report_comment(session, users["ada"], spam.id, "Advertising")
                fair = comments.add_comment(session, users["ada"], paper, DISPUTED)
                comments.report_comment(session, users["bob"], fair.id, "I disagree")
    live = start_server(create_app(settings, db))
    yield Site(live.url, db)
    live.stop()
    db.dispose()


def log_in(page: Page, base: str, name: str, path: str) -> None:
    page.goto(f"{base}/login?next={path}")
    page.get_by_label("Username or email").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**{path}")


def test_comment_edit_reply_and_report(browser, site: Site, viewport: Viewport) -> None:
    paper = "/papers/" + DISCUSSED[viewport.label]
    with Journey(browser, "comment-and-reply", viewport) as journey:
        visitor = journey.page
        visitor.goto(site.url + paper)
        assert visitor.get_by_role("heading", name="Comments (0)").is_visible()
        visitor.get_by_role("link", name="Log in to comment").scroll_into_view_if_needed()
        journey.shot("no-comments-yet", visitor)

        # ada writes a comment, then fixes it.
        ada = journey.person()
        log_in(ada, site.url, "ada", paper)
        ada.get_by_label("Add a comment").fill(
            "Does the **main result** hold for `n > 2`?\n\n"
            "- see [the appendix](https://example.org/a)"
        )
        ada.get_by_role("button", name="Post comment").click()
        ada.wait_for_url("**#comment-*")
        top = "#" + ada.url.rsplit("#", 1)[1]
        comment = ada.locator(top)
        assert comment.locator("strong").inner_text() == "main result"
        assert comment.get_by_role("link", name="the appendix").get_attribute("rel") == (
            "nofollow ugc noopener"
        )
        journey.shot("commented", ada)
        ada.locator(f"{top} summary", has_text="Edit").click()
        box = comment.get_by_label("Edit your comment")
        box.fill(box.input_value() + "\n\nAnd for `n = 2`?")
        journey.fits(ada)
        journey.shot("editing", ada)
        comment.get_by_role("button", name="Save changes").click()
        ada.wait_for_url(f"**{top}")
        assert ada.locator(f"{top} .comment-edited").inner_text() == "edited"
        assert ada.get_by_role("heading", name="Comments (1)").is_visible()
        journey.shot("edited", ada)

        # bob replies to it, and reports it.
        bob = journey.person()
        log_in(bob, site.url, "bob", paper)
        own = bob.locator(f"{top} > article")
        own.get_by_text("Reply to ada", exact=True).click()
        own.get_by_label("Your reply to ada").fill("It does: see _Lemma 3_.")
        journey.fits(bob)
        journey.shot("replying", bob)
        own.get_by_role("button", name="Post reply").click()
        bob.wait_for_url("**#comment-*")
        reply = "#" + bob.url.rsplit("#", 1)[1]
        assert bob.locator(f"{top} .comment-replies {reply} em").inner_text() == "Lemma 3"
        journey.shot("replied", bob)
        own.locator("summary", has_text="Report").click()
        own.get_by_label("Why should a moderator look at this comment?").fill("Off topic")
        own.get_by_role("button", name="Send report").click()
        bob.wait_for_url(f"**?reported=*{top}")
        assert bob.get_by_role("status").filter(has_text="moderator will look").is_visible()
        journey.shot("reported", bob)

        # A new visitor (the first one's browser may keep its public copy for
        # `cache_max_age` seconds) reads the thread.
        reader = journey.person()
        reader.goto(site.url + paper)
        assert reader.get_by_role("heading", name="Comments (2)").is_visible()
        thread = reader.locator(f"{top}")
        assert "And for n = 2?" in thread.locator("> article .comment-body").inner_text()
        assert thread.locator(f".comment-replies {reply}").is_visible()
        thread.scroll_into_view_if_needed()
        journey.fits(reader)
        journey.shot("thread", reader)


def test_admin_hides_a_reported_comment(browser, site: Site, viewport: Viewport) -> None:
    public_id = MODERATED[viewport.label]
    paper = "/papers/" + public_id
    with Journey(browser, "admin-hides-comment", viewport) as journey:
        page = journey.page
        log_in(page, site.url, "root", "/admin")
        page.get_by_role("link", name="Reported comments").click()
        page.wait_for_url("**/admin/reports")
        on_paper = page.locator(".report").filter(
            has=page.locator(f'a[href^="/papers/{public_id}#comment-"]')
        )
        assert on_paper.count() == 2
        for title in on_paper.get_by_role("link", name="a comment on").all_inner_texts():
            assert "$" not in title  # the paper's TeX renders as in the feed

        # A report that is only disagreement is dismissed; the comment stays.
        disagreement = on_paper.filter(has_text="I disagree")
        disagreement.scroll_into_view_if_needed()
        journey.fits()
        journey.shot("report-queue")
        disagreement.get_by_role("button", name="Dismiss report").click()
        page.wait_for_url("**/admin/reports?done=dismissed")
        assert page.get_by_role("status").inner_text() == "The report was dismissed."
        assert on_paper.count() == 1
        report = on_paper.filter(has_text="Advertising")
        report.scroll_into_view_if_needed()
        journey.shot("dismissed")

        report.get_by_role("link", name="a comment on").click()
        page.wait_for_url(f"**{paper}#comment-*")
        spam = "#" + page.url.rsplit("#", 1)[1]
        assert OFFENDING in page.locator(spam).inner_text()
        assert page.get_by_role("heading", name="Comments (2)").is_visible()
        page.locator(f"{spam} summary", has_text="Hide").click()
        page.locator(spam).get_by_label("Reason for hiding (shown to moderators)").fill("Spam")
        journey.fits()
        journey.shot("hiding")
        page.locator(spam).get_by_role("button", name="Hide comment").click()
        page.wait_for_url(f"**{spam}")
        assert "Hidden by root: Spam" in page.locator(spam).inner_text()
        assert page.get_by_role("heading", name="Comments (1)").is_visible()
        journey.shot("hidden")

        # Hiding closed the report: nothing on this paper is left to review.
        page.goto(site.url + "/admin/reports")
        assert on_paper.count() == 0
        journey.shot("queue-after")

        visitor = journey.person()
        visitor.goto(site.url + paper)
        placeholder = visitor.locator(spam)
        assert placeholder.inner_text().strip().endswith("This comment was hidden by a moderator.")
        assert OFFENDING not in visitor.content() and "Spam" not in visitor.content()
        assert DISPUTED in visitor.locator("#comments").inner_text()
        placeholder.scroll_into_view_if_needed()
        journey.fits(visitor)
        journey.shot("visitor-sees-placeholder", visitor)
    with site.db.reader() as session:
        assert inconsistent(session) == []
