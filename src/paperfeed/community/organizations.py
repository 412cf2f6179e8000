"""Organizations: creation, invitations, member roles, and tagging papers.

Rules:
- any signed-in user may create an organization and becomes its first admin;
- names are 2 to 40 letters, digits, '-' or '_', unique ignoring case (they are URLs);
- org admins invite by username; the invitee accepts (membership becomes active) or declines;
- org admins remove members and make members admins; an organization always keeps at least
  one active admin, so the last admin can neither leave, be removed nor be demoted;
- org admins tag papers with the organization, and untag them; a paper tagged by another
  organization stays theirs. Site admins may act on any organization (logged as moderation).

Every change to an organization's members first locks the organization's row, so two admins
acting at once cannot both pass the last-admin check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from paperfeed import clock
from paperfeed.community.audit import log
from paperfeed.community.limits import Limit
from paperfeed.errors import Forbidden, NotFound, UserError
from paperfeed.models import Organization, OrgMembership, Paper, User
from paperfeed.papers.lookup import visible_paper
from paperfeed.papers.store import lock_changes, touch_paper

NAME = re.compile(r"^[A-Za-z0-9_-]{2,40}$")
# Paths under /orgs/ that are pages rather than organizations.
RESERVED = frozenset({"new", "invitations"})
MAX_FULLNAME = 100
MAX_DESCRIPTION = 2000
MAX_WEBSITE = 500
MEMBER_ROLES = ("member", "admin")

CREATE_LIMIT = Limit("org-create", 5, 86400)
INVITE_LIMIT = Limit("org-invite", 60, 3600)


class OrgError(UserError):
    """A request about an organization that cannot be done; the message says why."""

    status = 400


class OrgNotFound(OrgError, NotFound):
    status = 404


class OrgForbidden(OrgError, Forbidden):
    status = 403


@dataclass
class Member:
    username: str
    fullname: str
    role: str
    status: str


@dataclass
class Invitation:
    org_name: str
    org_fullname: str
    invited_by: str | None


# --- lookups --------------------------------------------------------------------------------


def find(session: Session, name: str) -> Organization | None:
    """The organization with this name: exact spelling first, then ignoring case."""
    org = session.execute(
        select(Organization).where(Organization.name == name)
    ).scalar_one_or_none()
    if org is None:
        org = (
            session.execute(
                select(Organization)
                .where(func.lower(Organization.name) == name.lower())
                .order_by(Organization.id)
                .limit(1)
            )
            .scalars()
            .first()
        )
    return org


def get(session: Session, name: str, lock: bool = False) -> Organization:
    """The organization or OrgNotFound; `lock` takes its row lock for membership changes."""
    org = find(session, name)
    if org is None:
        raise OrgNotFound(f"There is no organization named “{name[:80]}” here.")
    if lock:
        session.execute(select(Organization.id).where(Organization.id == org.id).with_for_update())
    return org


def membership(session: Session, org: Organization, user_id: int) -> OrgMembership | None:
    return session.get(OrgMembership, (org.id, user_id))


def is_org_admin(session: Session, org: Organization, user: User | None) -> bool:
    if user is None:
        return False
    row = membership(session, org, user.id)
    return row is not None and row.status == "active" and row.role == "admin"


def can_manage(session: Session, org: Organization, user: User | None) -> bool:
    """Org admins manage their organization; site admins may step in for any."""
    return user is not None and (user.role == "admin" or is_org_admin(session, org, user))


def members(session: Session, org: Organization, include_invited: bool = False) -> list[Member]:
    """Active members (and, for the admin page, pending invitations), admins first."""
    statuses = ("active", "invited") if include_invited else ("active",)
    rows = session.execute(
        select(User.username, User.fullname, OrgMembership.role, OrgMembership.status)
        .join(OrgMembership, OrgMembership.user_id == User.id)
        .where(OrgMembership.organization_id == org.id, OrgMembership.status.in_(statuses))
        .order_by(
            OrgMembership.status,
            OrgMembership.role,
            func.lower(User.username),
        )
    ).all()
    return [Member(*row) for row in rows]


def invitations(session: Session, user: User) -> list[Invitation]:
    """The invitations waiting for this user's answer."""
    inviter = aliased(User)
    rows = session.execute(
        select(Organization.name, Organization.fullname, inviter.username)
        .join(OrgMembership, OrgMembership.organization_id == Organization.id)
        .outerjoin(inviter, inviter.id == OrgMembership.invited_by_id)
        .where(OrgMembership.user_id == user.id, OrgMembership.status == "invited")
        .order_by(OrgMembership.created_at.desc())
    ).all()
    return [Invitation(*row) for row in rows]


def user_named(session: Session, username: str) -> User:
    username = username.strip().lstrip("@")
    user = session.execute(
        select(User).where(func.lower(User.username) == username.lower()[:40])
    ).scalar_one_or_none()
    if user is None:
        raise OrgError(f"There is no user named “{username[:40]}”.")
    return user


# --- creating -----------------------------------------------------------------------------


def check_details(fullname: str, description: str, website: str) -> tuple[str, str, str | None]:
    """Validate and tidy the free-text fields; raise OrgError with what to fix."""
    fullname, description, website = fullname.strip(), description.strip(), website.strip()
    if len(fullname) > MAX_FULLNAME:
        raise OrgError(f"The full name is limited to {MAX_FULLNAME} characters.")
    if len(description) > MAX_DESCRIPTION:
        raise OrgError(f"The description is limited to {MAX_DESCRIPTION} characters.")
    if website:
        if len(website) > MAX_WEBSITE:
            raise OrgError(f"The website address is limited to {MAX_WEBSITE} characters.")
        if not re.match(r"^https?://[^\s/$.?#][^\s]*$", website, re.I):
            raise OrgError("The website must be an http:// or https:// address.")
    return fullname, description, website or None


def create(
    session: Session,
    creator: User,
    name: str,
    fullname: str = "",
    description: str = "",
    website: str = "",
) -> Organization:
    """Create an organization with `creator` as its first (active) admin."""
    name = name.strip()
    if not NAME.match(name):
        raise OrgError(
            "Organization names have 2 to 40 letters, digits, '-' or '_' (they appear in URLs)."
        )
    if name.lower() in RESERVED:
        raise OrgError(f"“{name}” is reserved. Choose another name.")
    fullname, description, site = check_details(fullname, description, website)
    if find(session, name) is not None:
        raise OrgError(f"The name “{name}” is taken. Choose another one.")
    now = clock.now()
    org = Organization(
        name=name,
        fullname=fullname,
        description=description,
        website=site,
        created_by_id=creator.id,
        created_at=now,
    )
    session.add(org)
    session.flush()
    session.add(
        OrgMembership(
            organization_id=org.id,
            user_id=creator.id,
            role="admin",
            status="active",
            created_at=now,
            accepted_at=now,
        )
    )
    session.flush()
    return org


def update(
    session: Session, org: Organization, actor: User, fullname: str, description: str, website: str
) -> None:
    _require_manager(session, org, actor)
    org.fullname, org.description, org.website = check_details(fullname, description, website)
    _log_if_site_admin(session, org, actor, "org_update", detail={"org": org.name})


# --- members ------------------------------------------------------------------------------


def _require_manager(session: Session, org: Organization, actor: User) -> None:
    if not can_manage(session, org, actor):
        raise OrgForbidden("Only admins of this organization can do that.")


def _log_if_site_admin(
    session: Session, org: Organization, actor: User, action: str, detail: dict[str, str]
) -> None:
    """A site admin acting on someone else's organization leaves a trace in the audit log."""
    if actor.role == "admin" and not is_org_admin(session, org, actor):
        log(session, actor, action, "organization", org.name, detail=detail)


def _active_admins(session: Session, org: Organization) -> int:
    return session.execute(
        select(func.count())
        .select_from(OrgMembership)
        .where(
            OrgMembership.organization_id == org.id,
            OrgMembership.role == "admin",
            OrgMembership.status == "active",
        )
    ).scalar_one()


def _is_last_admin(session: Session, org: Organization, row: OrgMembership) -> bool:
    return row.status == "active" and row.role == "admin" and _active_admins(session, org) <= 1


def invite(session: Session, org: Organization, actor: User, username: str) -> OrgMembership:
    """Invite a user by username; they become a member once they accept."""
    _require_manager(session, org, actor)
    if not username.strip():
        raise OrgError("Enter the username of the person to invite.")
    user = user_named(session, username)
    if user.banned_at is not None:
        raise OrgError(f"{user.username} cannot be invited.")
    existing = membership(session, org, user.id)
    if existing is not None:
        if existing.status == "active":
            raise OrgError(f"{user.username} is already a member.")
        raise OrgError(f"{user.username} is already invited.")
    row = OrgMembership(
        organization_id=org.id,
        user_id=user.id,
        role="member",
        status="invited",
        invited_by_id=actor.id,
        created_at=clock.now(),
    )
    session.add(row)
    _log_if_site_admin(session, org, actor, "org_invite", detail={"user": user.username})
    session.flush()
    return row


def _invitation(session: Session, org: Organization, user: User) -> OrgMembership:
    row = membership(session, org, user.id)
    if row is None or row.status != "invited":
        raise OrgNotFound(f"You have no pending invitation from {org.fullname or org.name}.")
    return row


def accept(session: Session, org: Organization, user: User) -> None:
    row = _invitation(session, org, user)
    row.status = "active"
    row.accepted_at = clock.now()


def decline(session: Session, org: Organization, user: User) -> None:
    session.delete(_invitation(session, org, user))


def leave(session: Session, org: Organization, user: User) -> None:
    row = membership(session, org, user.id)
    if row is None or row.status != "active":
        raise OrgNotFound(f"You are not a member of {org.fullname or org.name}.")
    if _is_last_admin(session, org, row):
        raise OrgError(
            "You are the last admin of this organization: make another member an admin first."
        )
    session.delete(row)


def remove(session: Session, org: Organization, actor: User, username: str) -> None:
    """Remove a member, or withdraw an invitation."""
    _require_manager(session, org, actor)
    user = user_named(session, username)
    row = membership(session, org, user.id)
    if row is None:
        raise OrgError(f"{user.username} is not a member of this organization.")
    if _is_last_admin(session, org, row):
        raise OrgError(f"{user.username} is the last admin: make another member an admin first.")
    session.delete(row)
    _log_if_site_admin(session, org, actor, "org_remove", detail={"user": user.username})


def set_member_role(
    session: Session, org: Organization, actor: User, username: str, role: str
) -> None:
    _require_manager(session, org, actor)
    if role not in MEMBER_ROLES:
        raise OrgError("A member's role is either member or admin.")
    user = user_named(session, username)
    row = membership(session, org, user.id)
    if row is None or row.status != "active":
        raise OrgError(f"{user.username} is not an active member of this organization.")
    if row.role == role:
        return
    if role == "member" and _is_last_admin(session, org, row):
        raise OrgError(f"{user.username} is the last admin: make another member an admin first.")
    row.role = role
    _log_if_site_admin(
        session, org, actor, "org_set_role", detail={"user": user.username, "role": role}
    )


# --- papers -------------------------------------------------------------------------------


def find_paper(session: Session, text: str) -> Paper:
    """A visible paper by any id form (see papers/lookup.py); OrgError for an empty field."""
    if not text.strip():
        raise OrgError("Enter an arXiv id (like 2401.01234) or a paper's id.")
    return visible_paper(session, text, missing=OrgNotFound).paper


def tag_paper(session: Session, org: Organization, actor: User, text: str) -> Paper:
    """Tag a paper with the organization. Call at the start of a transaction (locks first)."""
    lock_changes(session)
    _require_manager(session, org, actor)
    paper = find_paper(session, text)
    if paper.organization_id == org.id:
        raise OrgError(f"{paper.public_id} is already tagged with {org.fullname or org.name}.")
    if paper.organization_id is not None and actor.role != "admin":
        other = session.get(Organization, paper.organization_id)
        owner = other.fullname or other.name if other else "another organization"
        raise OrgError(f"{paper.public_id} is tagged with {owner}; only they can untag it.")
    paper.organization_id = org.id
    touch_paper(session, paper)
    _log_if_site_admin(session, org, actor, "org_tag_paper", detail={"paper": paper.public_id})
    return paper


def untag_paper(session: Session, org: Organization, actor: User, text: str) -> Paper:
    """Remove the organization's tag from a paper. Call at the start of a transaction."""
    lock_changes(session)
    _require_manager(session, org, actor)
    paper = find_paper(session, text)
    if paper.organization_id != org.id:
        raise OrgError(f"{paper.public_id} is not tagged with {org.fullname or org.name}.")
    paper.organization_id = None
    touch_paper(session, paper)
    _log_if_site_admin(session, org, actor, "org_untag_paper", detail={"paper": paper.public_id})
    return paper
