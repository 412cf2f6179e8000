"""Comments on papers: Markdown bodies, replies one level deep, edits, deletes, moderation.

Storage and display:
- The Markdown source is what is stored; HTML is rendered when a page is shown
  (`render_markdown`, memoized on the source). The source is needed anyway to prefill the
  edit form, and rendering late means a tightened sanitizer policy applies to every old
  comment at once, with no migration of stored HTML that was cleaned under older rules.
- Rendering is markdown-it (CommonMark, raw HTML off, images off, links only to absolute
  http/https/mailto URLs) followed by nh3, which keeps only a few tags and those schemes,
  and adds rel="nofollow ugc noopener".
  Either step alone would be enough today; both together survive a mistake in one.
- Math: `$...$` and `$$...$$` become MathML through `latex.formula`, the one path titles
  take (an allowlist of MathML, all text escaped). nh3 would strip MathML, so formulas are
  placeholders (with a per-render nonce nobody can type) until nh3 is done. A `$` opens
  math only when not followed by a space, and closes it when not preceded by a space nor
  followed by a digit, so "$5 and $10" stays prices; `\\$` is a dollar; code keeps its `$`.

Counts: `papers.comment_count` is the number of comments neither deleted nor hidden. Every
write here first takes the change counter's lock (`lock_changes`), then moves the count in
the same transaction as the row and bumps the paper's `change_seq` (`touch_paper`), so the
cards, the paper page and HTTP validators agree with the rows at every commit.

Deleting is soft: the row stays so that replies keep their parent, and a deleted comment
with visible replies shows as "[deleted]". Its text is cleared: a deleted comment is gone.
A member who deletes their account may keep their comments: they stay, with no author
(`user_id` None), signed DELETED_USER wherever an author is shown.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from paperfeed import clock, errors, latex
from paperfeed.community.audit import log
from paperfeed.community.limits import Limit
from paperfeed.errors import Forbidden, NotFound, UserError
from paperfeed.models import Comment, Paper, Report, User
from paperfeed.papers.store import lock_changes, touch_paper

COMMENT = Limit("comment", 20, 3600)
REPORT = Limit("report", 30, 3600)
MAX_BODY = 5_000
MAX_REASON = 500
MODERATORS = ("moderator", "admin")
# How a comment whose author deleted their account is signed (no link: there is no profile).
DELETED_USER = "deleted user"

ALLOWED_TAGS = frozenset(
    {
        "p",
        "br",
        "em",
        "strong",
        "code",
        "pre",
        "blockquote",
        "ul",
        "ol",
        "li",
        "a",
        "hr",
        "h3",
        "h4",
        "h5",
        "h6",
    }
)
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow ugc noopener"
# C0 controls other than tab and newline: PostgreSQL refuses NUL in text, the rest is noise.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

_markdown = MarkdownIt("commonmark", {"html": False, "breaks": True}).disable("image")


def _absolute_link(url: str) -> bool:
    """Only absolute http, https and mailto links become links; others stay plain text."""
    scheme, colon, _ = url.strip().partition(":")
    return bool(colon) and scheme.lower() in URL_SCHEMES


_markdown.validateLink = _absolute_link  # type: ignore[method-assign]  # markdown-it's documented hook for link checks

_DOLLAR = re.compile(r"(?<!\\)\$")
_DOLLARS = re.compile(r"(?<!\\)\$\$")


def _math_rule(state: StateInline, silent: bool) -> bool:
    """`$tex$` or `$$tex$$` at this position, as one `math` token (markdown-it inline rule).

    Inline math ends at the next unescaped `$`, which must not follow a space nor precede a
    digit; else the opening `$` is a plain dollar ("$5 and $10" is money). A formula never
    spans a backtick, so a code span keeps its `$`. Each `$` looks only as far as the next
    one: linear time.
    """
    src, start = state.src, state.pos
    if src[start] != "$":
        return False
    display = src.startswith("$$", start)
    first = start + (2 if display else 1)
    if first >= state.posMax or (src[first].isspace() and not display):
        return False
    tick = src.find("`", first, state.posMax)
    limit = state.posMax if tick < 0 else tick
    closing = (_DOLLARS if display else _DOLLAR).search(src, first, limit)
    if closing is None or not src[first : closing.start()].strip():
        return False
    after = closing.end()
    if not display and (src[closing.start() - 1].isspace() or src[after : after + 1].isdigit()):
        return False
    if not silent:
        token = state.push("math", "", 0)
        token.content = src[first : closing.start()]
        token.meta = {"display": display, "source": src[start:after]}
    state.pos = after
    return True


_markdown.inline.ruler.before("escape", "math", _math_rule)


class CommentError(UserError):
    """A comment action that cannot be done; `status` is the HTTP answer, the text says why."""

    status = 400


class CommentNotFound(CommentError, NotFound):
    status = 404


class NotAllowed(CommentError, Forbidden):
    status = 403


class Conflict(CommentError, errors.Conflict):
    status = 409


# --- rendering ------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def render_markdown(source: str) -> Markup:
    """Safe HTML for a comment's Markdown source, its formulas as MathML."""
    env: dict[str, object] = {}
    tokens = _markdown.parse(source, env)
    formulas: list[Markup] = []
    nonce = secrets.token_hex(8)
    for token in tokens:
        # A comment sits under the page's h2: "# Title" becomes h3, and so on down to h6.
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1]) + 2)}"
        for child in token.children or []:
            if child.type == "math":
                meta = child.meta
                formulas.append(latex.formula(child.content, meta["display"], meta["source"]))
                child.type, child.content = "text", f"pfmath-{nonce}-{len(formulas) - 1}-"
    html = _markdown.renderer.render(tokens, _markdown.options, env)
    cleaned = nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )
    if formulas:
        placeholder = re.compile(rf"pfmath-{nonce}-(\d+)-")
        cleaned = placeholder.sub(lambda m: str(formulas[int(m.group(1))]), cleaned)
    return Markup(cleaned)


def clean_text(text: str) -> str:
    """Normalize newlines, drop control characters and surrounding blank space."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip()


def check_body(body: str) -> str:
    body = clean_text(body)
    if not body:
        raise CommentError("Write something first: the comment is empty.")
    if len(body) > MAX_BODY:
        raise CommentError(
            f"Comments are limited to {MAX_BODY:,} characters; this one has {len(body):,}."
        )
    return body


def check_reason(reason: str, what: str) -> str:
    reason = clean_text(reason)
    if not reason:
        raise CommentError(f"Give a reason for the {what}.")
    if len(reason) > MAX_REASON:
        raise CommentError(f"Keep the reason under {MAX_REASON} characters.")
    return reason


def is_moderator(user: User | None) -> bool:
    return user is not None and user.role in MODERATORS


# --- writing --------------------------------------------------------------------------------


def _counted(comment: Comment) -> bool:
    return comment.deleted_at is None and comment.hidden_at is None


def _change_paper(session: Session, paper_id: int, delta: int) -> Paper:
    """Move the displayed count by `delta` (possibly 0) and mark the paper changed."""
    paper = session.get(Paper, paper_id)
    assert paper is not None  # the foreign key guarantees it
    if delta:
        paper.comment_count = Paper.comment_count + delta
    touch_paper(session, paper)
    session.flush()
    return paper


def _live_comment(session: Session, comment_id: int) -> Comment:
    """The comment, unless it does not exist, was deleted, or is on a removed paper."""
    comment = session.get(Comment, comment_id)
    if comment is None or comment.deleted_at is not None:
        raise CommentNotFound(f"There is no comment {comment_id} here (it may have been deleted).")
    hidden_paper = session.execute(
        select(Paper.hidden_at).where(Paper.id == comment.paper_id)
    ).scalar_one()
    if hidden_paper is not None:
        raise CommentNotFound("This paper was removed by a moderator.")
    return comment


def add_comment(
    session: Session, user: User, paper_id: int, body: str, parent_id: int | None = None
) -> Comment:
    """Post a comment or a reply; a reply to a reply joins its top-level thread."""
    lock_changes(session)
    body = check_body(body)
    paper = session.get(Paper, paper_id)
    if paper is None or paper.hidden_at is not None:
        raise CommentNotFound("There is no such paper here.")
    if parent_id is not None:
        parent = session.get(Comment, parent_id)
        if parent is None or parent.paper_id != paper_id:
            raise CommentNotFound(f"There is no comment {parent_id} on this paper to reply to.")
        if parent.deleted_at is not None:
            raise Conflict("That comment was deleted, so it cannot take new replies.")
        if parent.hidden_at is not None:
            raise Conflict("A moderator hid that comment, so it cannot take new replies.")
        if parent.parent_id is not None:
            parent_id = parent.parent_id
    comment = Comment(
        paper_id=paper_id,
        user_id=user.id,
        parent_id=parent_id,
        body=body,
        created_at=clock.now(),
    )
    session.add(comment)
    session.flush()
    _change_paper(session, paper_id, +1)
    return comment


def edit_comment(session: Session, user: User, comment_id: int, body: str) -> Comment:
    """Replace the text of one's own comment; an unchanged text changes nothing."""
    lock_changes(session)
    comment = _live_comment(session, comment_id)
    if comment.user_id != user.id:
        raise NotAllowed("You can only edit your own comments.")
    if comment.hidden_at is not None:
        raise Conflict("A moderator hid this comment, so it can no longer be edited.")
    body = check_body(body)
    if body != comment.body:
        comment.body = body
        comment.edited_at = clock.now()
        _change_paper(session, comment.paper_id, 0)
    return comment


def delete_comment(session: Session, user: User, comment_id: int) -> Comment:
    """Delete one's own comment (soft: replies keep their place under a placeholder)."""
    lock_changes(session)
    comment = _live_comment(session, comment_id)
    if comment.user_id != user.id:
        raise NotAllowed("You can only delete your own comments.")
    erase(session, comment)
    return comment


def erase(session: Session, comment: Comment) -> None:
    """Delete a comment as its author does (soft, text cleared, open reports closed, count
    moved); also for an account being deleted, whose comments may be on removed papers.
    The caller holds `lock_changes` and has checked the comment is not deleted already."""
    delta = -1 if _counted(comment) else 0
    comment.deleted_at = clock.now()
    comment.body = ""
    _resolve_open_reports(session, comment.id, None, "deleted")
    _change_paper(session, comment.paper_id, delta)


def hide_comment(session: Session, moderator: User, comment_id: int, reason: str) -> Comment:
    """Hide a comment from everyone but moderators; logged, and its open reports closed."""
    lock_changes(session)
    if not is_moderator(moderator):
        raise NotAllowed("Only moderators can hide comments.")
    comment = _live_comment(session, comment_id)
    reason = check_reason(reason, "hiding")
    if comment.hidden_at is not None:
        raise Conflict("This comment is already hidden.")
    comment.hidden_at = clock.now()
    comment.hidden_by_id = moderator.id
    comment.hidden_reason = reason
    _resolve_open_reports(session, comment.id, moderator, "hidden")
    paper = _change_paper(session, comment.paper_id, -1)
    log(
        session,
        moderator,
        "hide",
        "comment",
        str(comment.id),
        reason=reason,
        detail={"paper": paper.public_id},
    )
    return comment


def unhide_comment(session: Session, moderator: User, comment_id: int) -> Comment:
    lock_changes(session)
    if not is_moderator(moderator):
        raise NotAllowed("Only moderators can unhide comments.")
    comment = _live_comment(session, comment_id)
    if comment.hidden_at is None:
        raise Conflict("This comment is not hidden.")
    previous = comment.hidden_reason
    comment.hidden_at = None
    comment.hidden_by_id = None
    comment.hidden_reason = None
    paper = _change_paper(session, comment.paper_id, +1)
    log(
        session,
        moderator,
        "unhide",
        "comment",
        str(comment.id),
        detail={"paper": paper.public_id, "hidden_reason": previous},
    )
    return comment


def report_comment(session: Session, user: User, comment_id: int, reason: str) -> Report:
    """Ask moderators to look at a comment; one open report per user and comment."""
    # Serializes the duplicate check below with other writers on both backends.
    lock_changes(session)
    comment = _live_comment(session, comment_id)
    if comment.user_id == user.id:
        raise CommentError("You cannot report your own comment; edit or delete it instead.")
    if comment.hidden_at is not None:
        raise Conflict("A moderator has already hidden this comment.")
    reason = check_reason(reason, "report")
    already = session.execute(
        select(Report.id).where(
            Report.comment_id == comment_id,
            Report.reporter_id == user.id,
            Report.resolved_at.is_(None),
        )
    ).first()
    if already is not None:
        raise Conflict("You have already reported this comment; a moderator will look at it.")
    report = Report(
        reporter_id=user.id, comment_id=comment_id, reason=reason, created_at=clock.now()
    )
    session.add(report)
    session.flush()
    return report


def resolve_report(
    session: Session, moderator: User, report_id: int, action: str, reason: str = ""
) -> Report:
    """Close a report by hiding its comment (closing every open report on it) or dismissing."""
    lock_changes(session)
    if not is_moderator(moderator):
        raise NotAllowed("Only moderators can resolve reports.")
    if action not in ("hide", "dismiss"):
        raise CommentError("Choose whether to hide the comment or dismiss the report.")
    report = session.get(Report, report_id)
    if report is None or report.comment_id is None:
        raise CommentNotFound(f"There is no comment report {report_id}.")
    if report.resolved_at is not None:
        raise Conflict("This report was already resolved.")
    comment = session.get(Comment, report.comment_id)
    assert comment is not None  # reports are deleted with their comment
    if action == "hide":
        if comment.deleted_at is None and comment.hidden_at is None:
            hide_comment(session, moderator, comment.id, reason.strip() or report.reason)
        _close(report, moderator, "hidden")
    else:
        _close(report, moderator, "dismissed")
    log(
        session,
        moderator,
        "resolve_report",
        "report",
        str(report.id),
        reason=reason.strip() or None,
        detail={"comment": comment.id, "resolution": report.resolution},
    )
    return report


def _close(report: Report, moderator: User | None, resolution: str) -> None:
    report.resolved_at = clock.now()
    report.resolved_by_id = moderator.id if moderator else None
    report.resolution = resolution


def _resolve_open_reports(
    session: Session, comment_id: int, moderator: User | None, resolution: str
) -> None:
    for report in session.execute(
        select(Report).where(Report.comment_id == comment_id, Report.resolved_at.is_(None))
    ).scalars():
        _close(report, moderator, resolution)


# --- reading --------------------------------------------------------------------------------


@dataclass
class CommentView:
    """One comment as a given viewer may see it, with the actions open to that viewer."""

    id: int
    author: str | None  # None for a deleted comment; DELETED_USER when the account is gone
    body: str
    html: Markup
    created_at: datetime
    edited_at: datetime | None
    deleted: bool
    hidden: bool
    hidden_reason: str | None = None
    hidden_by: str | None = None
    top_level: bool = True
    can_reply: bool = False
    can_edit: bool = False
    can_delete: bool = False
    can_report: bool = False
    can_hide: bool = False
    can_unhide: bool = False
    reported: bool = False
    author_deleted: bool = False  # the author deleted their account and kept the comment
    replies: list[CommentView] = field(default_factory=list)


def thread(session: Session, paper_id: int, viewer: User | None) -> list[CommentView]:
    """The paper's comments, oldest first, replies under their parent.

    Deleted comments disappear unless they have replies left, then show as "[deleted]".
    Hidden ones show their text and reason to moderators only.
    """
    hider = aliased(User)
    rows = session.execute(
        select(Comment, User.username, hider.username)
        .outerjoin(User, User.id == Comment.user_id)
        .outerjoin(hider, hider.id == Comment.hidden_by_id)
        .where(Comment.paper_id == paper_id)
        .order_by(Comment.created_at, Comment.id)
    ).all()
    reported: set[int | None] = set()  # comment_id is nullable; the IN leaves no NULL
    if viewer is not None and rows:
        reported = set(
            session.execute(
                select(Report.comment_id).where(
                    Report.reporter_id == viewer.id,
                    Report.resolved_at.is_(None),
                    Report.comment_id.in_([row[0].id for row in rows]),
                )
            ).scalars()
        )
    moderator = is_moderator(viewer)
    views = {
        comment.id: _view(comment, author, hidden_by, viewer, moderator, comment.id in reported)
        for comment, author, hidden_by in rows
    }
    tops: list[CommentView] = []
    for comment, _, _ in rows:
        view = views[comment.id]
        if comment.parent_id is None:
            tops.append(view)
        elif not view.deleted and comment.parent_id in views:
            views[comment.parent_id].replies.append(view)
    return [view for view in tops if not view.deleted or view.replies]


def _view(
    comment: Comment,
    author: str | None,
    hidden_by: str | None,
    viewer: User | None,
    moderator: bool,
    reported: bool,
) -> CommentView:
    deleted = comment.deleted_at is not None
    hidden = comment.hidden_at is not None
    mine = viewer is not None and comment.user_id is not None and viewer.id == comment.user_id
    shows_text = not deleted and (not hidden or moderator)
    live = not deleted and not hidden
    return CommentView(
        id=comment.id,
        author=None if deleted else (author or DELETED_USER),
        body=comment.body if mine and live else "",
        html=render_markdown(comment.body) if shows_text else Markup(""),
        created_at=comment.created_at,
        edited_at=comment.edited_at,
        deleted=deleted,
        hidden=hidden,
        hidden_reason=comment.hidden_reason if moderator else None,
        hidden_by=hidden_by if moderator else None,
        top_level=comment.parent_id is None,
        # Replying to a reply is allowed: the reply joins the top-level thread.
        can_reply=viewer is not None and live,
        can_edit=mine and live,
        can_delete=mine and not deleted,
        can_report=viewer is not None and not mine and live and not reported,
        can_hide=moderator and live,
        can_unhide=moderator and hidden and not deleted,
        reported=reported,
        author_deleted=comment.user_id is None,
    )


@dataclass
class OpenReport:
    id: int
    reason: str
    created_at: datetime
    reporter: str
    paper_id: str
    paper_title: str
    comment: CommentView


def open_reports(session: Session, moderator: User, limit: int = 200) -> list[OpenReport]:
    """The moderation queue: unresolved comment reports, oldest first."""
    reporter, author, hider = aliased(User), aliased(User), aliased(User)
    rows = session.execute(
        select(Report, reporter.username, Comment, author.username, hider.username, Paper)
        .join(reporter, reporter.id == Report.reporter_id)
        .join(Comment, Comment.id == Report.comment_id)
        .outerjoin(author, author.id == Comment.user_id)
        .outerjoin(hider, hider.id == Comment.hidden_by_id)
        .join(Paper, Paper.id == Comment.paper_id)
        .where(Report.resolved_at.is_(None))
        .order_by(Report.created_at, Report.id)
        .limit(limit)
    ).all()
    return [
        OpenReport(
            id=report.id,
            reason=report.reason,
            created_at=report.created_at,
            reporter=reporter_name,
            paper_id=paper.public_id,
            paper_title=paper.title,
            comment=_view(comment, author_name, hider_name, moderator, True, False),
        )
        for report, reporter_name, comment, author_name, hider_name, paper in rows
    ]
