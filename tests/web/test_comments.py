"""Comments through the web stack: forms with CSRF, replies, edits, deletes, moderation,
reports, rate limits, and hostile Markdown rendered inert."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from paperfeed.community import accounts
from paperfeed.community.comments import COMMENT, MAX_BODY
from paperfeed.db import Database
from paperfeed.models import Comment, ModerationLog, Paper, Report
from paperfeed.papers.counts import inconsistent
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.web.conftest import BROWSER_HEADERS

PASSWORD = "long enough password"
PAPER = "/papers/2411.00001"
TOKEN = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def app(db: Database, tmp_path: Path, fixed_clock) -> FastAPI:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(
                    title="Discussed paper",
                    abstract="x",
                    arxiv_id="2411.00001",
                    feed_at=fixed_clock,
                )
            ],
        )
        for name, role in (("ada", "user"), ("bob", "user"), ("mod", "moderator")):
            accounts.create_user(
                session, name, f"{name}@example.org", PASSWORD, role=role, verified=True
            )
    return create_app(make_settings(tmp_path, db.url), db)


class Browser:
    """A signed-in TestClient that knows its CSRF token."""

    def __init__(self, app: FastAPI, name: str) -> None:
        self.client = TestClient(app, follow_redirects=False, headers=BROWSER_HEADERS)
        token = TOKEN.search(self.client.get("/login").text).group(1)
        self.client.post("/login", data={"csrf": token, "login": name, "password": PASSWORD})
        self.token = TOKEN.search(self.client.get(PAPER).text).group(1)

    def get(self, path: str = PAPER):  # type: ignore[no-untyped-def]
        return self.client.get(path)

    def post(self, path: str, **data: object):  # type: ignore[no-untyped-def]
        return self.client.post(path, data={"csrf": self.token, **data})

    def comment(self, body: str, parent: int | None = None):  # type: ignore[no-untyped-def]
        data: dict[str, object] = {"body": body}
        if parent is not None:
            data["parent_id"] = parent
        return self.post(f"{PAPER}/comments", **data)


@pytest.fixture
def people(app: FastAPI) -> Iterator[dict[str, Browser]]:
    browsers = {name: Browser(app, name) for name in ("ada", "bob", "mod")}
    yield browsers
    for browser in browsers.values():
        browser.client.close()


@pytest.fixture
def visitor(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False, headers=BROWSER_HEADERS) as client:
        yield client


def new_id(response) -> int:  # type: ignore[no-untyped-def]
    assert response.status_code == 303, response.text[:500]
    location = response.headers["location"]
    assert location.startswith(f"{PAPER}#comment-")
    return int(location.rsplit("-", 1)[1])


def consistent(db: Database) -> int:
    """The paper's comment count, after checking it agrees with the rows."""
    with db.reader() as session:
        assert inconsistent(session) == []
        return session.execute(select(Paper.comment_count)).scalar_one()


def comment_html(page: str, comment_id: int) -> str:
    """The markup of one comment (up to the next comment's start)."""
    start = page.index(f'id="comment-{comment_id}"')
    following = page.find('<li class="comment', start + 1)
    return page[start : following if following != -1 else len(page)]


def test_visitors_read_comments_and_are_asked_to_log_in(
    app: FastAPI, people: dict[str, Browser], visitor: TestClient, db: Database
) -> None:
    empty = visitor.get(PAPER).text
    assert "No comments yet." in empty and "Log in to comment" in empty
    new_id(people["ada"].comment("Nice **result**"))
    page = visitor.get(PAPER)
    assert page.status_code == 200 and page.headers["cache-control"].startswith("public")
    assert "<strong>result</strong>" in page.text and "Comments <span" in page.text
    assert 'name="body"' not in page.text and 'href="/login?next=/papers/2411.00001"' in page.text
    refused = visitor.post(f"{PAPER}/comments", data={"body": "anonymous"})
    assert refused.status_code in (303, 403)
    assert consistent(db) == 1


def test_post_reply_edit_and_delete(
    people: dict[str, Browser], visitor: TestClient, db: Database
) -> None:
    ada, bob = people["ada"], people["bob"]
    top = new_id(ada.comment("First!"))
    reply = new_id(bob.comment("A reply", parent=top))
    deeper = new_id(ada.comment("Reply to the reply", parent=reply))
    with db.reader() as session:
        parents = dict(session.execute(select(Comment.id, Comment.parent_id)).all())
    assert parents == {top: None, reply: top, deeper: top}
    page = bob.get().text
    assert 'Comments <span class="comment-total">(3)</span>' in page
    replies = page[page.index('<ol class="comment-replies"') :]
    assert f'id="comment-{reply}"' in replies and f'id="comment-{deeper}"' in replies
    assert f'action="/comments/{reply}/edit"' in page  # bob's own
    assert f'action="/comments/{top}/edit"' not in page  # ada's
    assert f'action="/comments/{top}/report"' in page

    assert ada.post(f"/comments/{top}/edit", body="First, _edited_").status_code == 303
    mine = comment_html(visitor.get(PAPER).text, top)
    assert "<em>edited</em>" in mine and 'class="comment-edited"' in mine

    deleted = ada.post(f"/comments/{top}/delete")
    assert (deleted.status_code, deleted.headers["location"]) == (303, f"{PAPER}#comments")
    page = visitor.get(PAPER).text
    assert "[deleted]" in comment_html(page, top) and "First" not in page
    assert consistent(db) == 2
    day = visitor.get("/papers/date/2026-11-20").text
    assert "2 comments" in day  # the card agrees with the page


def test_refused_text_comes_back_on_the_form(people: dict[str, Browser], db: Database) -> None:
    ada = people["ada"]
    empty = ada.comment("   ")
    assert empty.status_code == 400
    assert 'role="alert"' in empty.text and "the comment is empty" in empty.text
    long_text = "z" * (MAX_BODY + 1)
    too_long = ada.comment(long_text)
    assert too_long.status_code == 400 and f"limited to {MAX_BODY:,}" in too_long.text
    assert f">{long_text}</textarea>" in too_long.text  # nothing typed is lost
    assert too_long.headers["cache-control"].startswith("private")

    top = new_id(ada.comment("Fine"))
    bad_edit = ada.post(f"/comments/{top}/edit", body="")
    assert bad_edit.status_code == 400
    assert re.search(r"<details open>\s*<summary>Edit", bad_edit.text)
    bad_reply = people["bob"].comment("", parent=top)
    assert bad_reply.status_code == 400 and re.search(
        r"<details open>\s*<summary>Reply", bad_reply.text
    )
    no_reason = people["bob"].post(f"/comments/{top}/report", reason=" ")
    assert no_reason.status_code == 400 and "Give a reason" in no_reason.text
    no_hide_reason = people["mod"].post(f"/comments/{top}/hide", reason="")
    assert no_hide_reason.status_code == 400
    assert consistent(db) == 1


def test_other_peoples_comments_and_bad_ids(people: dict[str, Browser], db: Database) -> None:
    ada, bob = people["ada"], people["bob"]
    top = new_id(ada.comment("Mine"))
    assert bob.post(f"/comments/{top}/edit", body="Yours now").status_code == 403
    assert bob.post(f"/comments/{top}/delete").status_code == 403
    assert bob.post(f"/comments/{top}/hide", reason="no").status_code == 403
    assert bob.post(f"/comments/{top}/unhide").status_code == 403
    assert bob.get("/admin/reports").status_code == 403
    assert bob.post("/admin/reports/1/resolve", action="dismiss").status_code == 403
    for path in ("/comments/999/edit", "/comments/999/delete", "/comments/999/report"):
        assert bob.post(path, body="x", reason="x").status_code == 404
    assert bob.post("/comments/abc/edit", body="x").status_code == 400
    assert bob.post("/comments/99999999999999999999/edit", body="x").status_code == 400
    assert bob.comment("x", parent="nope").status_code == 400  # type: ignore[arg-type]
    assert bob.comment("x", parent=424242).status_code == 404
    assert bob.post("/papers/9999.99999/comments", body="x").status_code == 404
    assert people["mod"].post("/admin/reports/77/resolve", action="dismiss").status_code == 404
    with db.reader() as session:
        assert session.get(Comment, top).body == "Mine"
    assert consistent(db) == 1


def test_forged_csrf_changes_nothing(people: dict[str, Browser], db: Database) -> None:
    ada = people["ada"]
    top = new_id(ada.comment("Hello"))
    client = ada.client
    for path, data in (
        (f"{PAPER}/comments", {"body": "forged"}),
        (f"/comments/{top}/edit", {"body": "forged"}),
        (f"/comments/{top}/delete", {}),
    ):
        assert client.post(path, data={"csrf": "forged", **data}).status_code == 403
        assert client.post(path, data=data).status_code == 403
    # Another user's valid token is no good either.
    assert (
        client.post(f"/comments/{top}/delete", data={"csrf": people["bob"].token}).status_code
        == 403
    )
    with db.reader() as session:
        assert session.execute(select(Comment.body)).scalars().all() == ["Hello"]


def test_posting_is_rate_limited(people: dict[str, Browser], db: Database) -> None:
    ada = people["ada"]
    for n in range(COMMENT.count):
        new_id(ada.comment(f"Comment {n}"))
    blocked = ada.comment("One too many")
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    assert "Too many attempts" in blocked.text
    new_id(people["bob"].comment("Others are not affected"))
    assert consistent(db) == COMMENT.count + 1


def test_hostile_markdown_is_inert_on_the_page(
    people: dict[str, Browser], visitor: TestClient
) -> None:
    payload = (
        "<script>alert('x')</script>\n\n"
        "[click me](javascript:alert(1)) <img src=x onerror=alert(1)>\n\n"
        '<a href="https://example.org" onclick="alert(1)">raw</a> ![pic](https://example.org/p.png)\n\n'
        "[fine](https://example.org/ok)"
    )
    top = new_id(people["ada"].comment(payload))
    page = visitor.get(PAPER).text
    assert page.count("<script") == 1  # only the site's own app.js
    html = comment_html(page, top)
    body = html[html.index('<div class="comment-body">') :]
    assert "<script" not in body and "&lt;script&gt;" in body
    assert "<img" not in body and 'href="javascript' not in body.lower()
    assert re.search(r"<a [^>]*onclick", body) is None
    assert '<a href="https://example.org/ok" rel="nofollow ugc noopener">fine</a>' in body


def test_math_in_a_comment_renders_on_the_page_and_stays_inert(
    people: dict[str, Browser], visitor: TestClient
) -> None:
    body = (
        "Take $k$ clusters and $\\alpha^2$; it costs $5 and $10. `$PATH`\n\n"
        "$\\text{<img src=x onerror=alert(1)>}$"
    )
    top = new_id(people["ada"].comment(body))
    html = comment_html(visitor.get(PAPER).text, top)
    shown = html[html.index('<div class="comment-body">') :]
    assert shown.count("<math") == 2 and "<mi>k</mi>" in shown and "<msup>" in shown
    assert "costs $5 and $10." in shown and "<code>$PATH</code>" in shown
    assert "<img" not in shown and "&lt;img" in shown  # the formula shows as its source
    assert re.search(r"<[^>]*\bon\w+\s*=", shown) is None


def test_moderators_hide_and_unhide(
    people: dict[str, Browser], visitor: TestClient, db: Database
) -> None:
    ada, mod = people["ada"], people["mod"]
    top = new_id(ada.comment("Buy cheap pills"))
    new_id(people["bob"].comment("Fine", parent=top))
    assert f'action="/comments/{top}/hide"' in mod.get().text
    assert f'action="/comments/{top}/hide"' not in ada.get().text
    hidden = mod.post(f"/comments/{top}/hide", reason="Spam")
    assert (hidden.status_code, hidden.headers["location"]) == (303, f"{PAPER}#comment-{top}")
    assert consistent(db) == 1

    public = visitor.get(PAPER).text
    assert "hidden by a moderator" in public and "pills" not in public and "Spam" not in public
    moderator_view = comment_html(mod.get().text, top)
    assert "pills" in moderator_view and "Hidden by mod: Spam" in moderator_view
    assert f'action="/comments/{top}/unhide"' in moderator_view
    assert mod.post(f"/comments/{top}/hide", reason="Again").status_code == 409

    assert mod.post(f"/comments/{top}/unhide").status_code == 303
    assert "pills" in visitor.get(PAPER).text
    assert consistent(db) == 2
    with db.reader() as session:
        log = session.execute(
            select(ModerationLog.action, ModerationLog.target_id, ModerationLog.reason).order_by(
                ModerationLog.id
            )
        ).all()
    assert log == [("hide", str(top), "Spam"), ("unhide", str(top), None)]


def test_report_and_resolve(people: dict[str, Browser], db: Database) -> None:
    ada, bob, mod = people["ada"], people["bob"], people["mod"]
    rude = new_id(ada.comment("Something rude"))
    odd = new_id(ada.comment("Something odd"))
    sent = bob.post(f"/comments/{rude}/report", reason="Insulting")
    assert sent.status_code == 303
    assert sent.headers["location"] == f"{PAPER}?reported={rude}#comment-{rude}"
    thanks = bob.get(sent.headers["location"].split("#")[0]).text
    assert "a moderator will look at this comment" in comment_html(thanks, rude)
    assert bob.post(f"/comments/{rude}/report", reason="Again").status_code == 409
    assert ada.post(f"/comments/{odd}/report", reason="Mine").status_code == 400
    assert bob.post(f"/comments/{odd}/report", reason="Strange").status_code == 303

    queue = mod.get("/admin/reports")
    assert queue.status_code == 200 and queue.headers["cache-control"] == "private, no-store"
    assert "Insulting" in queue.text and "Something rude" in queue.text and "Strange" in queue.text
    with db.reader() as session:
        first, second = session.execute(select(Report.id).order_by(Report.id)).scalars()

    done = mod.post(f"/admin/reports/{first}/resolve", action="hide", reason="")
    assert (done.status_code, done.headers["location"]) == (303, "/admin/reports?done=hidden")
    dismissed = mod.post(f"/admin/reports/{second}/resolve", action="dismiss")
    assert dismissed.headers["location"] == "/admin/reports?done=dismissed"
    assert mod.post(f"/admin/reports/{second}/resolve", action="dismiss").status_code == 409
    assert mod.post(f"/admin/reports/{first}/resolve", action="maybe").status_code in (400, 409)
    assert "There are no open reports" in mod.get("/admin/reports?done=dismissed").text

    assert consistent(db) == 1
    with db.reader() as session:
        assert session.get(Comment, rude).hidden_reason == "Insulting"
        assert session.get(Comment, odd).hidden_at is None
        log = session.execute(
            select(ModerationLog.action, ModerationLog.target_type).order_by(ModerationLog.id)
        ).all()
    assert log == [("hide", "comment"), ("resolve_report", "report"), ("resolve_report", "report")]


def test_visitors_see_a_new_comment_despite_their_cached_copy(
    people: dict[str, Browser], visitor: TestClient
) -> None:
    first = visitor.get(PAPER)
    top = new_id(people["ada"].comment("Fresh"))
    again = visitor.get(PAPER, headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 200 and "Fresh" in again.text
    people["ada"].post(f"/comments/{top}/edit", body="Fresher")
    third = visitor.get(PAPER, headers={"if-none-match": again.headers["etag"]})
    assert third.status_code == 200 and "Fresher" in third.text
