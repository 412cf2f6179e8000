"""Organization pages: who they are, their members and their papers, and managing them.

Public pages (`/orgs`, `/orgs/{name}`) are cached like feeds for visitors; their validator
also covers the organization's details and members, which change without touching papers.
Every form posts to its own path, answers with a redirect on success, and re-renders the
page with the message (400, or 404 for an unknown paper) when it cannot be done.
"""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from paperfeed.community import organizations as orgs
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.errors import UserError
from paperfeed.models import Organization, OrgMembership, Paper, User
from paperfeed.papers import feeds
from paperfeed.papers.store import lock_changes
from paperfeed.plurals import plural
from paperfeed.web.deps import DatabaseDep, ReaderDep, SettingsDep
from paperfeed.web.forms import Form, FormDep
from paperfeed.web.listings import newest_or_upvoted
from paperfeed.web.responses import page, public_page, voted_for
from paperfeed.web.routes.pages import PageParam
from paperfeed.web.security import CurrentUser, SignedInUser, check_csrf, enforce, resolve_user

router = APIRouter(include_in_schema=False)
Csrf = Depends(check_csrf)
SortParam = Query("newest", pattern="^(upvotes|newest)$")

NOTICES = {
    "created": "Your organization is ready. Invite people from the members page.",
    "invited": "Invitation sent. It shows on their invitations page until they answer.",
    "accepted": "Welcome! You are now a member.",
    "declined": "Invitation declined.",
    "left": "You left the organization.",
    "removed": "Removed.",
    "role": "Role changed.",
    "tagged": "The paper is now tagged with this organization.",
    "untagged": "The tag was removed from the paper.",
    "saved": "Details saved.",
}


def notice(request: Request) -> str | None:
    return NOTICES.get(request.query_params.get("done", ""))


def _fields(form: Form, *names: str, limit: int = 5000) -> dict[str, str]:
    """Form values as bounded strings (a missing field is empty, a longer one is a 400)."""
    return {name: form.text(name, max_len=limit) for name in names}


def _digest(*parts: object) -> str:
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:16]


def _org_or_404(session: Session, name: str) -> Organization:
    try:
        return orgs.get(session, name)
    except orgs.OrgNotFound as exc:
        raise HTTPException(404, str(exc)) from None


# --- the list of organizations and creating one --------------------------------------------


@router.get("/orgs")
def organization_list(
    request: Request, session: ReaderDep, settings: SettingsDep, p: int = PageParam
) -> Response:
    size = settings.page_size
    member_count = (
        select(func.count())
        .where(OrgMembership.organization_id == Organization.id, OrgMembership.status == "active")
        .correlate(Organization)
        .scalar_subquery()
    )
    paper_count = (
        select(func.count())
        .where(Paper.organization_id == Organization.id, Paper.hidden_at.is_(None))
        .correlate(Organization)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Organization, member_count, paper_count)
        .order_by(func.lower(Organization.name), Organization.id)
        .limit(size)
        .offset((p - 1) * size)
    ).all()
    total = session.execute(select(func.count()).select_from(Organization)).scalar_one()
    if p > 1 and not rows:
        raise HTTPException(
            404, f"Page {p} is past the end of this list ({plural(total, 'organization')})."
        )
    listing = [(org, members, papers) for org, members, papers in rows]
    extra = _digest(total, [(o.name, o.fullname, o.description, m, n) for o, m, n in listing])
    context = {
        "view": "orgs",
        "orgs": listing,
        "total": total,
        "page": p,
        "pages": max(1, -(-total // size)),
        "sort": None,
    }
    return public_page(request, session, "orgs.html", context, extra=extra)


@router.get("/orgs/new")
def new_form(request: Request, user: SignedInUser) -> Response:
    return page(request, "org_new.html", view="orgs", form={})


@router.post("/orgs/new", dependencies=[Csrf])
def create(request: Request, db: DatabaseDep, user: SignedInUser, raw: FormDep) -> Response:
    form = _fields(raw, "name", "fullname", "description", "website")
    if user.role != "admin":
        enforce(db, orgs.CREATE_LIMIT, f"user:{user.id}")
    try:
        with db.transaction() as session:
            org = orgs.create(
                session, user, form["name"], form["fullname"], form["description"], form["website"]
            )
            name = org.name
    except orgs.OrgError as exc:
        return page(request, "org_new.html", status=400, view="orgs", form=form, error=str(exc))
    except IntegrityError:  # someone took the name a moment ago
        error = f"The name “{form['name'].strip()}” is taken. Choose another one."
        return page(request, "org_new.html", status=400, view="orgs", form=form, error=error)
    return RedirectResponse(f"/orgs/{name}?done=created", status_code=303)


# --- invitations ----------------------------------------------------------------------------


@router.get("/orgs/invitations")
def invitation_list(request: Request, db: DatabaseDep, user: SignedInUser) -> Response:
    with db.reader() as session:
        pending = orgs.invitations(session, user)
        mine = session.execute(
            select(Organization.name, Organization.fullname, OrgMembership.role)
            .join(OrgMembership, OrgMembership.organization_id == Organization.id)
            .where(OrgMembership.user_id == user.id, OrgMembership.status == "active")
            .order_by(func.lower(Organization.name))
        ).all()
    return page(
        request,
        "org_invitations.html",
        view="orgs",
        invitations=pending,
        memberships=mine,
        notice=notice(request),
    )


def _answer(db: Database, name: str, user: User, verb: str) -> Response:
    answer = orgs.accept if verb == "accept" else orgs.decline
    with db.transaction() as session:
        org = orgs.get(session, name, lock=True)
        canonical = org.name
        answer(session, org, user)
    if verb == "accept":
        return RedirectResponse(f"/orgs/{canonical}?done=accepted", status_code=303)
    return RedirectResponse("/orgs/invitations?done=declined", status_code=303)


@router.post("/orgs/{name}/accept", dependencies=[Csrf])
def accept(db: DatabaseDep, name: str, user: SignedInUser) -> Response:
    return _answer(db, name, user, "accept")


@router.post("/orgs/{name}/decline", dependencies=[Csrf])
def decline(db: DatabaseDep, name: str, user: SignedInUser) -> Response:
    return _answer(db, name, user, "decline")


@router.post("/orgs/{name}/leave", dependencies=[Csrf])
def leave(
    request: Request, db: DatabaseDep, settings: SettingsDep, name: str, user: SignedInUser
) -> Response:
    try:
        with db.transaction() as session:
            org = orgs.get(session, name, lock=True)
            canonical = org.name
            orgs.leave(session, org, user)
    except orgs.OrgNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except orgs.OrgError as exc:
        with db.reader() as session:
            org = _org_or_404(session, name)
            return org_response(request, session, settings, org, exc.status, str(exc))
    return RedirectResponse(f"/orgs/{canonical}?done=left", status_code=303)


# --- the organization page ------------------------------------------------------------------


def org_context(
    request: Request,
    session: Session,
    settings: Settings,
    org: Organization,
    p: int = 1,
    sort: str = "newest",
) -> dict[str, Any]:
    """Everything org.html shows; raises 404 for a page past the end."""
    size = settings.page_size
    where = (Paper.organization_id == org.id, Paper.hidden_at.is_(None))
    papers, total = newest_or_upvoted(session, where, sort, size, (p - 1) * size)
    if p > 1 and not papers:
        raise HTTPException(
            404, f"Page {p} is past the end of this list ({plural(total, 'paper')})."
        )
    viewer = resolve_user(request)
    mine = orgs.membership(session, org, viewer.id) if viewer is not None else None
    return {
        "view": "org",
        "org": org,
        "members": orgs.members(session, org),
        "mine": mine,
        "can_manage": orgs.can_manage(session, org, viewer),
        "papers": papers,
        "extras": feeds.card_extras(session, papers),
        "total": total,
        "page": p,
        "pages": max(1, -(-total // size)),
        "sort": sort,
        "notice": notice(request),
        "form": {},
    }


def org_response(
    request: Request,
    session: Session,
    settings: Settings,
    org: Organization,
    status: int,
    error: str,
    form: dict[str, str] | None = None,
) -> Response:
    """The organization page again, with what went wrong with a form on it."""
    context = org_context(request, session, settings, org)
    context.update(error=error, form=form or {}, notice=None)
    context["voted"] = voted_for(request, session, context["papers"])
    return page(request, "org.html", status=status, **context)


@router.get("/orgs/{name}")
def organization_page(
    request: Request,
    session: ReaderDep,
    settings: SettingsDep,
    viewer: CurrentUser,
    name: str,
    p: int = PageParam,
    sort: str = SortParam,
) -> Response:
    org = _org_or_404(session, name)
    if org.name != name:
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"/orgs/{org.name}{query}", status_code=301)
    context = org_context(request, session, settings, org, p, sort)
    extra = _digest(
        org.fullname,
        org.description,
        org.website,
        [(m.username, m.fullname, m.role) for m in context["members"]],
    )
    return public_page(request, session, "org.html", context, extra=extra)


@router.post("/orgs/{name}/papers", dependencies=[Csrf])
def tag_paper(
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    name: str,
    user: SignedInUser,
    raw: FormDep,
) -> Response:
    form = _fields(raw, "paper", "action", limit=300)
    action = form["action"] or "tag"
    try:
        if action not in ("tag", "untag"):
            raise orgs.OrgError("Choose whether to tag or untag the paper.")
        with db.transaction() as session:
            lock_changes(session)
            org = orgs.get(session, name)
            canonical = org.name
            change = orgs.tag_paper if action == "tag" else orgs.untag_paper
            change(session, org, user, form["paper"])
    except orgs.OrgForbidden as exc:
        raise HTTPException(403, str(exc)) from None
    except UserError as exc:  # the page again, with why (an unknown id too)
        with db.reader() as session:
            org = _org_or_404(session, name)
            return org_response(request, session, settings, org, exc.status, str(exc), form)
    return RedirectResponse(f"/orgs/{canonical}?done={action}ged", status_code=303)


# --- managing members -----------------------------------------------------------------------


def members_response(
    request: Request,
    db: Database,
    user: User,
    name: str,
    status: int = 200,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    with db.reader() as session:
        org = _org_or_404(session, name)
        if not orgs.can_manage(session, org, user):
            raise HTTPException(403, "Only admins of this organization can manage its members.")
        people = orgs.members(session, org, include_invited=True)
        admins = sum(1 for m in people if m.role == "admin" and m.status == "active")
    return page(
        request,
        "org_members.html",
        status=status,
        view="org",
        org=org,
        people=people,
        admins=admins,
        error=error,
        form=form or {},
        notice=notice(request) if status == 200 else None,
    )


@router.get("/orgs/{name}/members")
def members_page(request: Request, db: DatabaseDep, name: str, user: SignedInUser) -> Response:
    return members_response(request, db, user, name)


def _manage(
    request: Request, db: Database, raw: Form, name: str, user: User, done: str, action: Any
) -> Response:
    """Run one membership change under the organization's lock; answer like the forms want."""
    form = _fields(raw, "username", "role", "fullname", "description", "website")
    form["which"] = done
    try:
        with db.transaction() as session:
            org = orgs.get(session, name, lock=True)
            canonical = org.name
            action(session, org, form)
            still_manager = orgs.can_manage(session, org, user)
    except orgs.OrgForbidden as exc:
        raise HTTPException(403, str(exc)) from None
    except orgs.OrgNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except orgs.OrgError as exc:
        return members_response(request, db, user, name, exc.status, str(exc), form)
    target = f"/orgs/{canonical}/members" if still_manager else f"/orgs/{canonical}"
    return RedirectResponse(f"{target}?done={done}", status_code=303)


@router.post("/orgs/{name}/members/invite", dependencies=[Csrf])
def invite(
    request: Request, db: DatabaseDep, name: str, user: SignedInUser, form: FormDep
) -> Response:
    enforce(db, orgs.INVITE_LIMIT, f"user:{user.id}")
    return _manage(
        request,
        db,
        form,
        name,
        user,
        "invited",
        lambda session, org, form: orgs.invite(session, org, user, form["username"]),
    )


@router.post("/orgs/{name}/members/remove", dependencies=[Csrf])
def remove(
    request: Request, db: DatabaseDep, name: str, user: SignedInUser, form: FormDep
) -> Response:
    return _manage(
        request,
        db,
        form,
        name,
        user,
        "removed",
        lambda session, org, form: orgs.remove(session, org, user, form["username"]),
    )


@router.post("/orgs/{name}/members/role", dependencies=[Csrf])
def set_role(
    request: Request, db: DatabaseDep, name: str, user: SignedInUser, form: FormDep
) -> Response:
    return _manage(
        request,
        db,
        form,
        name,
        user,
        "role",
        lambda session, org, form: orgs.set_member_role(
            session, org, user, form["username"], form["role"]
        ),
    )


@router.post("/orgs/{name}/edit", dependencies=[Csrf])
def edit(
    request: Request, db: DatabaseDep, name: str, user: SignedInUser, form: FormDep
) -> Response:
    return _manage(
        request,
        db,
        form,
        name,
        user,
        "saved",
        lambda session, org, form: orgs.update(
            session, org, user, form["fullname"], form["description"], form["website"]
        ),
    )
