"""Comments: sanitized Markdown, one level of replies, permissions, moderation, and counts
that agree with the rows after every kind of action (on SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from paperfeed.community import accounts
from paperfeed.community.comments import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    MAX_BODY,
    CommentError,
    CommentNotFound,
    Conflict,
    NotAllowed,
    add_comment,
    delete_comment,
    edit_comment,
    hide_comment,
    open_reports,
    render_markdown,
    report_comment,
    resolve_report,
    thread,
    unhide_comment,
)
from paperfeed.db import Database
from paperfeed.latex import MATHML_ATTRIBUTES, MATHML_ELEMENTS
from paperfeed.models import Comment, ModerationLog, Paper, Report, User
from paperfeed.papers.counts import inconsistent
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from tests.test_latex import PAYLOADS as LATEX_PAYLOADS

PASSWORD = "long enough password"


class Site:
    """Two papers and four people: two users, a moderator and an admin."""

    def __init__(self, db: Database) -> None:
        self.db = db
        with db.transaction() as session:
            upsert_papers(
                session,
                [
                    PaperRecord(title="First paper", abstract="x", arxiv_id="2411.00001"),
                    PaperRecord(title="Second paper", abstract="y", arxiv_id="2411.00002"),
                ],
            )
            self.paper, self.other_paper = session.execute(
                select(Paper.id).order_by(Paper.public_id)
            ).scalars()
            self.ada, self.bob, self.mod, self.root = (
                accounts.create_user(session, name, f"{name}@example.org", PASSWORD, role=role)
                for name, role in (
                    ("ada", "user"),
                    ("bob", "user"),
                    ("mod", "moderator"),
                    ("root", "admin"),
                )
            )

    def do(self, action, *args):  # type: ignore[no-untyped-def]
        """Run one action in its own transaction, then check every count against the rows."""
        with self.db.transaction() as session:
            result = action(session, *args)
            result_id = getattr(result, "id", None)
        self.check()
        return result_id

    def check(self) -> None:
        with self.db.reader() as session:
            assert inconsistent(session) == []

    def count(self, paper: int | None = None) -> int:
        with self.db.reader() as session:
            return session.get(Paper, paper or self.paper).comment_count

    def seq(self) -> int:
        with self.db.reader() as session:
            return session.get(Paper, self.paper).change_seq

    def comment(self, comment_id: int) -> Comment:
        with self.db.reader() as session:
            return session.get(Comment, comment_id)

    def view(self, viewer: User | None, paper: int | None = None):  # type: ignore[no-untyped-def]
        with self.db.reader() as session:
            return thread(session, paper or self.paper, viewer)


@pytest.fixture
def site(db: Database) -> Site:
    return Site(db)


# --- rendering ------------------------------------------------------------------------------


class Elements(HTMLParser):
    """Every element and attribute a browser would build from the HTML."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.comments: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


def assert_inert(html: str) -> None:
    parsed = Elements(html)
    assert parsed.comments == []
    for tag, attrs in parsed.found:
        assert tag in ALLOWED_TAGS, tag
        assert set(attrs) <= ALLOWED_ATTRIBUTES.get(tag, set()) | ({"rel"} if tag == "a" else set())
        if tag == "a":
            assert attrs["rel"] == "nofollow ugc noopener"
            href = attrs.get("href")
            assert href is None or href.split(":", 1)[0] in ("http", "https", "mailto"), href


@pytest.mark.parametrize(
    ("source", "gone"),
    [
        ("<script>alert(1)</script>", "script"),
        ("hello <script>alert(1)</script>", "script"),
        ("[click](javascript:alert(1))", "href"),
        ("[click](JaVaScRiPt:alert(1))", "href"),
        ("[click](java&#x09;script:alert(1))", "href"),
        ("<javascript:alert(1)>", "href"),
        ("[x](vbscript:msgbox(1))", "href"),
        ("[x](data:text/html;base64,PHNjcmlwdD4=)", "href"),
        ('<a href="https://example.org" onclick="steal()">x</a>', "onclick"),
        ('<img src="x" onerror="alert(1)">', "img"),
        ("![a picture](https://example.org/tracker.png)", "img"),
        ('<div style="position:fixed">cover</div>', "style"),
        ("<iframe src=https://example.org></iframe>", "iframe"),
        ('[x](https://example.org "t" onmouseover="y")', "onmouseover"),
        ("[relative](/admin/reports)", "href"),
        ("[ftp](ftp://example.org/file)", "href"),
        ("<!-- a comment -->", "comment"),
    ],
)
def test_markdown_is_rendered_inert(source: str, gone: str) -> None:
    html = str(render_markdown(source))
    assert_inert(html)
    parsed = Elements(html)
    present = {tag for tag, _ in parsed.found} | {a for _, attrs in parsed.found for a in attrs}
    if parsed.comments:
        present.add("comment")
    if gone == "href":  # the link text may stay; where the link goes may not
        assert all("href" not in attrs for _, attrs in parsed.found), html
    else:
        assert gone not in present, html


def test_markdown_keeps_safe_formatting_and_marks_links() -> None:
    html = str(
        render_markdown(
            "# Big title\n\n**bold** _it_ `code`\n\n> quoted\n\n- one\n- two\n\n"
            "1. first\n\n```\na < b\n```\n\n[site](https://example.org) <mailto:a@example.org>"
        )
    )
    assert "<h3>Big title</h3>" in html  # headings start below the page's h2
    for fragment in (
        "<strong>bold</strong>",
        "<em>it</em>",
        "<code>code</code>",
        "<blockquote>",
        "<ul>",
        "<ol>",
        "<pre><code>a &lt; b",
    ):
        assert fragment in html
    assert_inert(html)
    assert '<a href="https://example.org" rel="nofollow ugc noopener">site</a>' in html
    assert 'href="mailto:a@example.org"' in html
    # An image becomes a plain link to it; nothing is loaded from elsewhere.
    assert str(render_markdown("![pic](https://example.org/p.png)")) == (
        '<p>!<a href="https://example.org/p.png" rel="nofollow ugc noopener">pic</a></p>\n'
    )


# --- math -----------------------------------------------------------------------------------


def assert_inert_with_math(html: str) -> None:
    """Like `assert_inert`, but MathML from the allowlist (and a source span) may appear too."""
    parsed = Elements(html)
    assert parsed.comments == []
    for tag, attrs in parsed.found:
        if tag in MATHML_ELEMENTS:
            assert set(attrs) <= MATHML_ATTRIBUTES | {"xmlns"}, (tag, attrs)
        elif tag == "span":
            assert attrs == {"class": "tex-source"}, attrs
        else:
            assert tag in ALLOWED_TAGS, tag
            assert set(attrs) <= ALLOWED_ATTRIBUTES.get(tag, set()) | {"rel"}, (tag, attrs)
    assert not re.search(r"<[^>]*\bon\w+\s*=", html), html


def test_inline_and_display_math_render_as_mathml() -> None:
    html = str(render_markdown("Pick $k$ and $\\alpha^2$, over $\\Q$.\n\n$$\n\\sum_i x_i\n$$"))
    assert html.count("<math") == 4 and html.count('display="block"') == 1
    assert "<mi>k</mi>" in html and "<msup><mi>α</mi><mn>2</mn></msup>" in html
    assert "<mi>ℚ</mi>" in html  # the same macros as titles
    assert "$" not in html
    assert_inert_with_math(html)


@pytest.mark.parametrize(
    ("source", "kept"),
    [
        ("It costs $5 and $10.", "It costs $5 and $10."),
        ("From $5 to $10, and $x$ too", "From $5 to $10, and "),
        ("A price: \\$x\\$ exactly", "A price: $x$ exactly"),
        ("Run `echo $HOME $PATH` now", "<code>echo $HOME $PATH</code>"),
        ("Costs $x, see `y$z`", "Costs $x, see <code>y$z</code>"),
        ("```\n$x$ and $$y$$\n```", "<pre><code>$x$ and $$y$$\n</code></pre>"),
        ("    $x$ indented code", "<pre><code>$x$ indented code"),
        ("$ x$ and $x $", "$ x$ and $x $"),
        ("$2$3 is not math", "$2$3 is not math"),
    ],
)
def test_dollars_that_are_not_math_stay_dollars(source: str, kept: str) -> None:
    html = str(render_markdown(source))
    assert kept in html, html
    assert html.count("<math") == source.count("$x$ too"), html


def test_markdown_around_math_still_works_and_math_keeps_its_underscores() -> None:
    html = str(render_markdown("**$a_1$** and _$b_2 * c_3$_ in [$x$](https://example.org)"))
    assert "<strong><math" in html and "<em><math" in html and "<a href" in html
    assert "<msub><mi>b</mi><mn>2</mn></msub>" in html  # `_` inside math is no emphasis
    assert_inert_with_math(html)


@pytest.mark.parametrize("payload", LATEX_PAYLOADS)
def test_markup_inside_a_formula_in_a_comment_is_shown_as_text(payload: str) -> None:
    html = str(render_markdown(payload))
    assert_inert_with_math(html)
    assert "&lt;" in html  # the markup is shown as text


def test_a_typed_placeholder_is_only_text() -> None:
    # Formulas wait behind placeholders while nh3 runs; one typed by hand matches no nonce.
    body = "pfmath-0123456789abcdef-0- and $x$ and pfmath-%s-0-"
    html = str(render_markdown(body % "0123456789abcdef"))
    assert html.count("<math") == 1
    assert html.count("pfmath-0123456789abcdef-0-") == 2


# --- posting and replies ----------------------------------------------------------------------


def test_empty_or_too_long_comments_are_refused_and_change_nothing(site: Site) -> None:
    before = site.seq()
    for body in ("", "   \n\t ", "\x00\x01", "x" * (MAX_BODY + 1)):
        with pytest.raises(CommentError) as refused:
            site.do(add_comment, site.ada, site.paper, body)
        assert refused.value.status == 400
    assert site.do(add_comment, site.ada, site.paper, "y" * MAX_BODY)
    assert site.count() == 1
    assert site.seq() > before


def test_control_characters_are_dropped(site: Site) -> None:
    comment_id = site.do(add_comment, site.ada, site.paper, "  a\x00b\r\nc\x1b  ")
    assert site.comment(comment_id).body == "ab\nc"


def test_replies_are_one_level_deep(site: Site) -> None:
    top = site.do(add_comment, site.ada, site.paper, "Top")
    reply = site.do(add_comment, site.bob, site.paper, "Reply", top)
    deeper = site.do(add_comment, site.ada, site.paper, "Reply to the reply", reply)
    assert site.comment(reply).parent_id == top
    assert site.comment(deeper).parent_id == top  # attached to the top-level comment
    [view] = site.view(site.bob)
    assert [r.id for r in view.replies] == [reply, deeper]
    assert site.count() == 3


def test_replies_must_target_a_live_comment_on_the_same_paper(site: Site) -> None:
    top = site.do(add_comment, site.ada, site.paper, "Top")
    with pytest.raises(CommentNotFound):
        site.do(add_comment, site.bob, site.other_paper, "Wrong paper", top)
    with pytest.raises(CommentNotFound):
        site.do(add_comment, site.bob, site.paper, "Nothing there", 999_999)
    site.do(hide_comment, site.mod, top, "spam")
    with pytest.raises(Conflict):
        site.do(add_comment, site.bob, site.paper, "Under a hidden one", top)
    site.do(unhide_comment, site.mod, top)
    site.do(delete_comment, site.ada, top)
    with pytest.raises(Conflict):
        site.do(add_comment, site.bob, site.paper, "Under a deleted one", top)
    assert site.count() == 0


def test_hidden_papers_take_no_comments(site: Site) -> None:
    with site.db.transaction() as session:
        session.get(Paper, site.other_paper).hidden_at = session.get(Paper, site.paper).created_at
    with pytest.raises(CommentNotFound):
        site.do(add_comment, site.ada, site.other_paper, "Hello")


# --- editing and deleting -------------------------------------------------------------------


def test_only_the_author_edits_and_deletes(site: Site) -> None:
    comment_id = site.do(add_comment, site.ada, site.paper, "Original")
    for someone in (site.bob, site.mod, site.root):
        with pytest.raises(NotAllowed):
            site.do(edit_comment, someone, comment_id, "Vandalized")
        with pytest.raises(NotAllowed):
            site.do(delete_comment, someone, comment_id)
    assert site.comment(comment_id).body == "Original"
    with pytest.raises(CommentNotFound):
        site.do(edit_comment, site.ada, 424242, "Nothing")


def test_editing_marks_the_comment_and_the_paper(site: Site) -> None:
    comment_id = site.do(add_comment, site.ada, site.paper, "Original")
    before = site.seq()
    site.do(edit_comment, site.ada, comment_id, "Original")  # same text: nothing changes
    assert site.comment(comment_id).edited_at is None and site.seq() == before
    site.do(edit_comment, site.ada, comment_id, "Better **text**")
    edited = site.comment(comment_id)
    assert edited.body == "Better **text**" and edited.edited_at is not None
    assert site.seq() > before  # cached pages of the paper go stale
    with pytest.raises(CommentError):
        site.do(edit_comment, site.ada, comment_id, "  ")
    [view] = site.view(site.ada)
    assert view.edited_at is not None and "<strong>text</strong>" in view.html


def test_delete_keeps_a_placeholder_only_while_replies_remain(site: Site) -> None:
    top = site.do(add_comment, site.ada, site.paper, "Top")
    reply = site.do(add_comment, site.bob, site.paper, "Reply", top)
    lonely = site.do(add_comment, site.bob, site.paper, "Alone")
    assert site.count() == 3
    site.do(delete_comment, site.ada, top)
    site.do(delete_comment, site.bob, lonely)
    assert site.count() == 1
    [placeholder] = site.view(None)
    assert placeholder.deleted and placeholder.author is None and placeholder.html == ""
    assert [r.id for r in placeholder.replies] == [reply]
    assert site.comment(top).body == ""  # the text is gone, not just hidden
    with pytest.raises(CommentNotFound):
        site.do(delete_comment, site.ada, top)  # twice changes nothing
    site.do(delete_comment, site.bob, reply)
    assert site.view(None) == [] and site.count() == 0


# --- moderation -----------------------------------------------------------------------------


def test_moderators_hide_and_unhide_with_a_logged_reason(site: Site) -> None:
    comment_id = site.do(add_comment, site.ada, site.paper, "Buy cheap pills")
    with pytest.raises(NotAllowed):
        site.do(hide_comment, site.bob, comment_id, "I do not like it")
    with pytest.raises(CommentError):
        site.do(hide_comment, site.mod, comment_id, " ")
    site.do(hide_comment, site.mod, comment_id, "Spam")
    assert site.count() == 0
    with pytest.raises(Conflict):
        site.do(hide_comment, site.root, comment_id, "Spam again")

    [seen_by_user] = site.view(site.bob)
    assert seen_by_user.hidden and seen_by_user.html == "" and seen_by_user.hidden_reason is None
    assert not (seen_by_user.can_reply or seen_by_user.can_report or seen_by_user.can_unhide)
    [seen_by_mod] = site.view(site.mod)
    assert "pills" in seen_by_mod.html
    assert (seen_by_mod.hidden_reason, seen_by_mod.hidden_by) == ("Spam", "mod")
    assert seen_by_mod.can_unhide and not seen_by_mod.can_hide
    [own] = site.view(site.ada)
    assert not own.can_edit and own.can_delete and own.html == ""

    site.do(unhide_comment, site.root, comment_id)
    assert site.count() == 1
    with pytest.raises(Conflict):
        site.do(unhide_comment, site.root, comment_id)
    with site.db.reader() as session:
        rows = session.execute(select(ModerationLog).order_by(ModerationLog.id)).scalars().all()
    assert [(r.action, r.target_type, r.target_id, r.actor_id, r.reason) for r in rows] == [
        ("hide", "comment", str(comment_id), site.mod.id, "Spam"),
        ("unhide", "comment", str(comment_id), site.root.id, None),
    ]
    assert rows[0].detail == {"paper": "2411.00001"}
    assert rows[1].detail == {"paper": "2411.00001", "hidden_reason": "Spam"}


def test_deleting_a_hidden_comment_does_not_count_twice(site: Site) -> None:
    comment_id = site.do(add_comment, site.ada, site.paper, "Rude")
    site.do(add_comment, site.bob, site.paper, "Fine")
    site.do(hide_comment, site.mod, comment_id, "Rude")
    site.do(delete_comment, site.ada, comment_id)
    assert site.count() == 1
    with pytest.raises(CommentNotFound):
        site.do(unhide_comment, site.mod, comment_id)


def test_reports_one_open_per_user_then_hide_closes_them_all(site: Site) -> None:
    comment_id = site.do(add_comment, site.ada, site.paper, "Offensive")
    with pytest.raises(CommentError):
        site.do(report_comment, site.ada, comment_id, "Reporting myself")
    with pytest.raises(CommentError):
        site.do(report_comment, site.bob, comment_id, "")
    first = site.do(report_comment, site.bob, comment_id, "Offensive")
    with pytest.raises(Conflict):
        site.do(report_comment, site.bob, comment_id, "Really offensive")
    second = site.do(report_comment, site.root, comment_id, "Rude")
    with site.db.reader() as session:
        queue = open_reports(session, site.mod)
    assert [(r.id, r.reporter, r.reason, r.paper_id) for r in queue] == [
        (first, "bob", "Offensive", "2411.00001"),
        (second, "root", "Rude", "2411.00001"),
    ]
    assert "Offensive" in queue[0].comment.html
    [view] = site.view(site.bob)
    assert view.reported and not view.can_report

    with pytest.raises(NotAllowed):
        site.do(resolve_report, site.bob, first, "hide")
    with pytest.raises(CommentError):
        site.do(resolve_report, site.mod, first, "ignore")
    site.do(resolve_report, site.mod, first, "hide", "")
    assert site.count() == 0
    with site.db.reader() as session:
        reports = session.execute(select(Report).order_by(Report.id)).scalars().all()
        assert [(r.resolution, r.resolved_by_id) for r in reports] == [
            ("hidden", site.mod.id),
            ("hidden", site.mod.id),
        ]
        assert session.get(Comment, comment_id).hidden_reason == "Offensive"  # the report's
        actions = session.execute(
            select(ModerationLog.action, ModerationLog.target_type, ModerationLog.target_id)
        ).all()
        assert sorted(actions) == [
            ("hide", "comment", str(comment_id)),
            ("resolve_report", "report", str(first)),
        ]
        assert open_reports(session, site.mod) == []
    with pytest.raises(Conflict):
        site.do(resolve_report, site.mod, second, "dismiss")
    with pytest.raises(CommentNotFound):
        site.do(resolve_report, site.mod, 987_654, "dismiss")


def test_dismissed_reports_can_be_made_again(site: Site) -> None:
    comment_id = site.do(add_comment, site.ada, site.paper, "Borderline")
    report_id = site.do(report_comment, site.bob, comment_id, "Hmm")
    site.do(resolve_report, site.mod, report_id, "dismiss", "It is fine")
    assert site.count() == 1 and site.comment(comment_id).hidden_at is None
    with site.db.reader() as session:
        entry = session.execute(select(ModerationLog)).scalar_one()
    assert (entry.action, entry.reason, entry.detail) == (
        "resolve_report",
        "It is fine",
        {"comment": comment_id, "resolution": "dismissed"},
    )
    site.do(report_comment, site.bob, comment_id, "Now it is worse")
    site.do(delete_comment, site.ada, comment_id)  # the author deleting closes open reports
    with site.db.reader() as session:
        assert open_reports(session, site.mod) == []
        assert (
            session.execute(select(Report.resolution).order_by(Report.id.desc())).scalars().first()
            == "deleted"
        )


# --- counts under load ------------------------------------------------------------------------


def test_parallel_comments_and_moderation_keep_counts_exact(site: Site) -> None:
    other = Database(site.db.url)  # a second "process" writing at the same time
    top = site.do(add_comment, site.ada, site.paper, "Start")

    def work(n: int) -> None:
        database = site.db if n % 2 else other
        author = (site.ada, site.bob)[n % 2]
        with database.transaction() as session:
            comment = add_comment(
                session, author, site.paper, f"Comment {n}", top if n % 3 else None
            )
            new_id = comment.id
        if n % 4 == 0:
            with database.transaction() as session:
                hide_comment(session, site.mod, new_id, "test")
        if n % 5 == 0:
            with database.transaction() as session:
                delete_comment(session, author, new_id)

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(work, range(30)))
    site.check()
    with site.db.reader() as session:
        visible = session.execute(
            select(func.count())
            .select_from(Comment)
            .where(Comment.deleted_at.is_(None), Comment.hidden_at.is_(None))
        ).scalar_one()
    removed = len({n for n in range(30) if n % 4 == 0 or n % 5 == 0})
    assert site.count() == visible == 31 - removed
    other.dispose()
