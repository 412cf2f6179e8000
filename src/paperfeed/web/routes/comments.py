"""Comment routes: post, reply, edit, delete, report, and the moderators' hide and queue.

Every form is a plain POST with the session's CSRF token that answers with a 303 back to
the comment on the paper page, so the whole feature works without JavaScript. A form
whose text is refused (empty, too long, no reason) gets the paper page again with status
400, the message next to that form and the text kept; other refusals get an error page
(403, 404, 409, 429).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from paperfeed.community import comments
from paperfeed.community.comments import COMMENT, MAX_BODY, MAX_REASON, REPORT, CommentError
from paperfeed.db import Database
from paperfeed.models import Comment, Paper, User
from paperfeed.papers.lookup import visible_paper
from paperfeed.web.deps import DatabaseDep
from paperfeed.web.forms import FormDep, optional_int
from paperfeed.web.responses import page
from paperfeed.web.security import SignedInUser, check_csrf, enforce, require_role, resolve_user

router = APIRouter(include_in_schema=False)
MAX_ID = 2_147_483_647  # the database's integer range; larger ids cannot exist
# Twice the longest text we keep: longer is refused unread, shorter gets the services' message.
MAX_FIELD = 2 * MAX_BODY
CommentId = Annotated[int, Path(ge=1, le=MAX_ID)]
Moderator = Annotated[User, Depends(require_role("moderator"))]
Csrf = [Depends(check_csrf)]


@dataclass
class CommentForm:
    """A refused form to show again: which one, the text typed, and why it was refused."""

    kind: str  # new | reply | edit | report | hide
    target: int | None = None
    text: str = ""
    error: str = ""


@dataclass
class CommentSection:
    """What `_comments.html` needs besides the paper."""

    threads: list[comments.CommentView]
    signed_in: bool
    moderator: bool
    form: CommentForm | None = None
    reported: int | None = None
    max_body: int = MAX_BODY
    max_reason: int = MAX_REASON

    def form_for(self, kind: str, target: int | None = None) -> CommentForm | None:
        """The refused form of this kind and target, if that is what is being shown again."""
        form = self.form
        if form is not None and form.kind == kind and form.target == target:
            return form
        return None


def comment_section(request: Request, session: Session, paper: Paper) -> CommentSection:
    """The paper page's comments for whoever is asking."""
    user = resolve_user(request)
    reported = optional_int(request.query_params.get("reported"), "reported", 1, MAX_ID)
    return CommentSection(
        threads=comments.thread(session, paper.id, user),
        signed_in=user is not None,
        moderator=comments.is_moderator(user),
        form=getattr(request.state, "comment_form", None),
        reported=reported,
    )


def _paper_of(db: Database, comment_id: int) -> str:
    with db.reader() as session:
        public_id = session.execute(
            select(Paper.public_id)
            .join(Comment, Comment.paper_id == Paper.id)
            .where(Comment.id == comment_id)
        ).scalar_one_or_none()
    if public_id is None:
        raise HTTPException(404, f"There is no comment {comment_id} here.")
    return public_id


def _refused(
    request: Request, db: Database, exc: CommentError, public_id: str, form: CommentForm
) -> Response:
    """The paper page with the refused form open, or an error page for other refusals."""
    if exc.status != 400:
        raise HTTPException(exc.status, str(exc))
    from paperfeed.web.routes.pages import paper_page

    form.error = str(exc)
    request.state.comment_form = form
    with db.reader() as session:
        response = paper_page(request, session, public_id)
    response.status_code = 400
    return response


def _back(public_id: str, anchor: str, query: str = "") -> RedirectResponse:
    return RedirectResponse(f"/papers/{public_id}{query}#{anchor}", status_code=303)


@router.post("/papers/{paper_id:path}/comments", dependencies=Csrf)
def post_comment(
    request: Request, db: DatabaseDep, paper_id: str, user: SignedInUser, form: FormDep
) -> Response:
    body = form.text("body", max_len=MAX_FIELD)
    parent_id = form.integer("parent_id", 1, MAX_ID)
    enforce(db, COMMENT, f"user:{user.id}")
    try:
        with db.transaction() as session:
            paper = visible_paper(session, paper_id).paper
            paper_id = paper.public_id
            comment = comments.add_comment(session, user, paper.id, body, parent_id)
            new_id = comment.id
    except CommentError as exc:
        kind = "new" if parent_id is None else "reply"
        return _refused(request, db, exc, paper_id, CommentForm(kind, parent_id, body))
    return _back(paper_id, f"comment-{new_id}")


@router.post("/comments/{comment_id}/edit", dependencies=Csrf)
def edit(
    request: Request, db: DatabaseDep, comment_id: CommentId, user: SignedInUser, form: FormDep
) -> Response:
    body = form.text("body", max_len=MAX_FIELD)
    public_id = _paper_of(db, comment_id)
    try:
        with db.transaction() as session:
            comments.edit_comment(session, user, comment_id, body)
    except CommentError as exc:
        return _refused(request, db, exc, public_id, CommentForm("edit", comment_id, body))
    return _back(public_id, f"comment-{comment_id}")


@router.post("/comments/{comment_id}/delete", dependencies=Csrf)
def delete(db: DatabaseDep, comment_id: CommentId, user: SignedInUser) -> Response:
    public_id = _paper_of(db, comment_id)
    with db.transaction() as session:
        comments.delete_comment(session, user, comment_id)
    return _back(public_id, "comments")


@router.post("/comments/{comment_id}/report", dependencies=Csrf)
def report(
    request: Request, db: DatabaseDep, comment_id: CommentId, user: SignedInUser, form: FormDep
) -> Response:
    reason = form.text("reason", max_len=MAX_FIELD)
    public_id = _paper_of(db, comment_id)
    enforce(db, REPORT, f"user:{user.id}")
    try:
        with db.transaction() as session:
            comments.report_comment(session, user, comment_id, reason)
    except CommentError as exc:
        return _refused(request, db, exc, public_id, CommentForm("report", comment_id, reason))
    return _back(public_id, f"comment-{comment_id}", f"?reported={comment_id}")


@router.post("/comments/{comment_id}/hide", dependencies=Csrf)
def hide(
    request: Request, db: DatabaseDep, comment_id: CommentId, user: Moderator, form: FormDep
) -> Response:
    reason = form.text("reason", max_len=MAX_FIELD)
    public_id = _paper_of(db, comment_id)
    try:
        with db.transaction() as session:
            comments.hide_comment(session, user, comment_id, reason)
    except CommentError as exc:
        return _refused(request, db, exc, public_id, CommentForm("hide", comment_id, reason))
    return _back(public_id, f"comment-{comment_id}")


@router.post("/comments/{comment_id}/unhide", dependencies=Csrf)
def unhide(db: DatabaseDep, comment_id: CommentId, user: Moderator) -> Response:
    public_id = _paper_of(db, comment_id)
    try:
        with db.transaction() as session:
            comments.unhide_comment(session, user, comment_id)
    except CommentError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    return _back(public_id, f"comment-{comment_id}")


@router.get("/admin/reports")
def reports_queue(request: Request, db: DatabaseDep, user: Moderator) -> Response:
    with db.reader() as session:
        queue = comments.open_reports(session, user)
    done = request.query_params.get("done", "")
    return page(
        request,
        "admin_reports.html",
        view="admin",
        reports=queue,
        done=done if done in ("hidden", "dismissed") else None,
        max_reason=MAX_REASON,
    )


@router.post("/admin/reports/{report_id}/resolve", dependencies=Csrf)
def resolve(
    db: DatabaseDep,
    report_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    user: Moderator,
    form: FormDep,
) -> Response:
    action = form.text("action", max_len=100)
    reason = form.text("reason", max_len=MAX_FIELD)
    try:
        with db.transaction() as session:
            resolved = comments.resolve_report(session, user, report_id, action, reason)
            outcome = resolved.resolution
    except CommentError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    return RedirectResponse(f"/admin/reports?done={outcome}", status_code=303)


__all__ = ["CommentSection", "comment_section", "router"]
