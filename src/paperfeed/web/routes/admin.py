"""Administration: the dashboard, the author-claim queue, hiding papers, roles and bans,
and the author-claim form itself.

The claim form lives at `/papers/{id}/claim`; this router is included before the pages
router, so it is matched before the generic `/papers/{paper_id:path}` page (ids may hold
a slash, like hep-th/9901001). Moderators reach the dashboard and papers; claims and
users are for admins. Every form is CSRF-checked, and a refused form re-renders its page
with the reason (400, or 404 for an unknown id).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select

from paperfeed import outbox
from paperfeed.community import accounts, claims, moderation
from paperfeed.db import Database
from paperfeed.errors import UserError
from paperfeed.models import AuthorClaim, Paper, User
from paperfeed.web.deps import DatabaseDep
from paperfeed.web.forms import Form, FormDep, parse_int
from paperfeed.web.responses import page
from paperfeed.web.security import SignedInUser, check_csrf, enforce, require_role

router = APIRouter(include_in_schema=False)
Csrf = Depends(check_csrf)
Moderator = Annotated[User, Depends(require_role("moderator"))]
Admin = Annotated[User, Depends(require_role("admin"))]
LOG_SIZE = 50

NOTICES = {
    "approved": "Claim approved: the paper now lists on the author's profile.",
    "rejected": "Claim rejected.",
    "hidden": "The paper is hidden from feeds, search and listings.",
    "unhidden": "The paper is visible again.",
    "role": "Role changed.",
    "banned": "User banned; their sessions have ended.",
    "unbanned": "User unbanned.",
}


def notice(request: Request) -> str | None:
    return NOTICES.get(request.query_params.get("done", ""))


def fields(form: Form, *names: str, limit: int = 2000) -> dict[str, str]:
    """Form values as bounded strings (a missing field is empty, a longer one is a 400)."""
    return {name: form.text(name, max_len=limit) for name in names}


# --- dashboard ------------------------------------------------------------------------------


@router.get("/admin")
def dashboard(request: Request, db: DatabaseDep, user: Moderator) -> Response:
    with db.reader() as session:
        pending = session.execute(
            select(func.count()).select_from(AuthorClaim).where(AuthorClaim.status == "pending")
        ).scalar_one()
        hidden = session.execute(
            select(func.count()).select_from(Paper).where(Paper.hidden_at.is_not(None))
        ).scalar_one()
        entries = moderation.recent_log(session, LOG_SIZE)
        mail = outbox.queue_state(session) if user.role == "admin" else None
    return page(
        request,
        "admin_dashboard.html",
        view="admin",
        me=user,
        pending_claims=pending,
        hidden_papers=hidden,
        entries=entries,
        mail=mail,
    )


# --- author claims: the form and the queue ---------------------------------------------------


def claim_response(
    request: Request,
    db: Database,
    user: User,
    paper_id: str,
    status: int = 200,
    error: str | None = None,
    chosen: int | None = None,
) -> Response:
    with db.reader() as session:
        paper = claims.find_paper(session, paper_id)
        choices = claims.slots(session, paper, user)
    sent = status == 200 and request.query_params.get("sent") == "1"
    return page(
        request,
        "claim.html",
        status=status,
        view="paper",
        paper=paper,
        slots=choices,
        approved=next((s for s in choices if s.mine == "approved"), None),
        pending=next((s for s in choices if s.mine == "pending"), None),
        error=error,
        chosen=chosen,
        sent=sent,
    )


@router.get("/papers/{paper_id:path}/claim")
def claim_form(request: Request, db: DatabaseDep, paper_id: str, user: SignedInUser) -> Response:
    return claim_response(request, db, user, paper_id)


@router.post("/papers/{paper_id:path}/claim", dependencies=[Csrf])
def claim(
    request: Request, db: DatabaseDep, paper_id: str, user: SignedInUser, form: FormDep
) -> Response:
    try:
        position = parse_int(form.text("position", max_len=100).strip(), "position", 0, 999_999)
    except HTTPException:
        return claim_response(request, db, user, paper_id, 400, "Choose which author you are.")
    enforce(db, claims.CLAIM_LIMIT, f"user:{user.id}")
    try:
        with db.transaction() as session:
            claims.submit(session, paper_id, user, position)
            public_id = claims.find_paper(session, paper_id).public_id
    except claims.ClaimError as exc:
        if exc.status == 404:
            raise
        return claim_response(request, db, user, paper_id, exc.status, str(exc), position)
    return RedirectResponse(f"/papers/{public_id}/claim?sent=1", status_code=303)


def claims_response(
    request: Request, db: Database, status: int = 200, error: str | None = None
) -> Response:
    with db.reader() as session:
        pending = claims.queue(session, "pending")
        decided = claims.queue(session, "decided", limit=20)
    return page(
        request,
        "admin_claims.html",
        status=status,
        view="admin",
        pending=pending,
        decided=decided,
        error=error,
        notice=notice(request) if status == 200 else None,
    )


@router.get("/admin/claims")
def claim_queue(request: Request, db: DatabaseDep, user: Admin) -> Response:
    return claims_response(request, db)


@router.post("/admin/claims/{claim_id}/approve", dependencies=[Csrf])
def approve_claim(
    request: Request, db: DatabaseDep, claim_id: int, user: Admin, form: FormDep
) -> Response:
    return _decide(request, db, form, claim_id, user, "approved")


@router.post("/admin/claims/{claim_id}/reject", dependencies=[Csrf])
def reject_claim(
    request: Request, db: DatabaseDep, claim_id: int, user: Admin, form: FormDep
) -> Response:
    return _decide(request, db, form, claim_id, user, "rejected")


def _decide(
    request: Request, db: Database, raw: Form, claim_id: int, user: User, outcome: str
) -> Response:
    form = fields(raw, "reason", limit=1000)
    try:
        with db.transaction() as session:
            if outcome == "approved":
                claims.approve(session, claim_id, user)
            else:
                claims.reject(session, claim_id, user, form["reason"])
    except claims.ClaimNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except claims.ClaimError as exc:
        return claims_response(request, db, exc.status, str(exc))
    return RedirectResponse(f"/admin/claims?done={outcome}", status_code=303)


# --- papers ---------------------------------------------------------------------------------


def papers_response(
    request: Request,
    db: Database,
    status: int = 200,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    with db.reader() as session:
        hidden = moderation.hidden_papers(session)
    return page(
        request,
        "admin_papers.html",
        status=status,
        view="admin",
        hidden=hidden,
        error=error,
        form=form or {"paper": request.query_params.get("paper", "")[:200]},
        notice=notice(request) if status == 200 else None,
    )


@router.get("/admin/papers")
def papers_page(request: Request, db: DatabaseDep, user: Moderator) -> Response:
    return papers_response(request, db)


def _paper_action(
    request: Request, db: Database, raw: Form, user: User, action: Any, done: str
) -> Response:
    form = fields(raw, "paper", "reason", limit=1000)
    form["which"] = done
    try:
        with db.transaction() as session:
            action(session, form["paper"], user, form["reason"])
    except UserError as exc:  # the form again, with why (an unknown id too)
        return papers_response(request, db, exc.status, str(exc), form)
    return RedirectResponse(f"/admin/papers?done={done}", status_code=303)


@router.post("/admin/papers/hide", dependencies=[Csrf])
def hide_paper(request: Request, db: DatabaseDep, user: Moderator, form: FormDep) -> Response:
    return _paper_action(request, db, form, user, moderation.hide_paper, "hidden")


@router.post("/admin/papers/unhide", dependencies=[Csrf])
def unhide_paper(request: Request, db: DatabaseDep, user: Moderator, form: FormDep) -> Response:
    return _paper_action(request, db, form, user, moderation.unhide_paper, "unhidden")


# --- users ----------------------------------------------------------------------------------


def users_response(
    request: Request,
    db: Database,
    me: User,
    status: int = 200,
    error: str | None = None,
) -> Response:
    query = request.query_params.get("q", "")[:40]
    with db.reader() as session:
        found = moderation.search_users(session, query)
    return page(
        request,
        "admin_users.html",
        status=status,
        view="admin",
        me=me,
        q=query,
        users=found,
        roles=accounts.ROLES,
        error=error,
        notice=notice(request) if status == 200 else None,
    )


@router.get("/admin/users")
def users_page(request: Request, db: DatabaseDep, user: Admin) -> Response:
    return users_response(request, db, user)


def _user_action(
    request: Request, db: Database, raw: Form, username: str, user: User, action: Any, done: str
) -> Response:
    form = fields(raw, "role", "reason", limit=1000)
    try:
        with db.transaction() as session:
            target = action(session, username, form)
            name = target.username
    except moderation.NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except moderation.ModerationError as exc:
        return users_response(request, db, user, exc.status, str(exc))
    return RedirectResponse(f"/admin/users?q={name}&done={done}", status_code=303)


@router.post("/admin/users/{username}/role", dependencies=[Csrf])
def set_role(
    request: Request, db: DatabaseDep, username: str, user: Admin, form: FormDep
) -> Response:
    return _user_action(
        request,
        db,
        form,
        username,
        user,
        lambda session, name, form: moderation.set_role(session, name, form["role"], user),
        "role",
    )


@router.post("/admin/users/{username}/ban", dependencies=[Csrf])
def ban(request: Request, db: DatabaseDep, username: str, user: Admin, form: FormDep) -> Response:
    return _user_action(
        request,
        db,
        form,
        username,
        user,
        lambda session, name, form: moderation.ban(session, name, form["reason"], user),
        "banned",
    )


@router.post("/admin/users/{username}/unban", dependencies=[Csrf])
def unban(request: Request, db: DatabaseDep, username: str, user: Admin, form: FormDep) -> Response:
    return _user_action(
        request,
        db,
        form,
        username,
        user,
        lambda session, name, form: moderation.unban(session, name, user),
        "unbanned",
    )
