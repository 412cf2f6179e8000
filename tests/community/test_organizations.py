"""Organizations on both backends: naming rules, invitations, member roles, the last-admin
rule and tagging papers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from paperfeed.community import accounts
from paperfeed.community import organizations as orgs
from paperfeed.db import Database
from paperfeed.models import ModerationLog, OrgMembership, Paper, User
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import current_change_seq, upsert_papers

PASSWORD = "long enough password"


def people(db: Database, *names: str, role: str = "user") -> list[User]:
    with db.transaction() as session:
        return [
            accounts.create_user(session, n, f"{n}@example.org", PASSWORD, role=role) for n in names
        ]


def make_org(db: Database, creator: User, name: str = "acme", **fields: str) -> str:
    with db.transaction() as session:
        return orgs.create(session, creator, name, **fields).name


def rows(db: Database, name: str = "acme") -> dict[str, tuple[str, str]]:
    """username -> (role, status) for every membership of the organization."""
    with db.reader() as session:
        org = orgs.get(session, name)
        return {
            username: (role, status)
            for username, role, status in session.execute(
                select(User.username, OrgMembership.role, OrgMembership.status)
                .join(OrgMembership, OrgMembership.user_id == User.id)
                .where(OrgMembership.organization_id == org.id)
            )
        }


def act(db: Database, name: str, fn, *args):  # type: ignore[no-untyped-def]
    """Run one organization action the way the web layer does: under the org's lock."""
    with db.transaction() as session:
        org = orgs.get(session, name, lock=True)
        return fn(session, org, *args)


def test_the_creator_becomes_the_active_admin(db: Database) -> None:
    [ada] = people(db, "ada")
    make_org(
        db,
        ada,
        "Acme-Lab_2",
        fullname=" Acme Lab ",
        description="We build things.",
        website="https://acme.example",
    )
    with db.reader() as session:
        org = orgs.get(session, "acme-lab_2")  # found ignoring case
        assert (org.name, org.fullname, org.website) == (
            "Acme-Lab_2",
            "Acme Lab",
            "https://acme.example",
        )
        assert org.created_by_id == ada.id
        row = orgs.membership(session, org, ada.id)
        assert (row.role, row.status) == ("admin", "active")
        assert row.accepted_at is not None
        assert [m.username for m in orgs.members(session, org)] == ["ada"]


@pytest.mark.parametrize(
    ("name", "fields", "message"),
    [
        ("a", {}, "2 to 40"),
        ("x" * 41, {}, "2 to 40"),
        ("has space", {}, "2 to 40"),
        ("dots.not.ok", {}, "2 to 40"),
        ("New", {}, "reserved"),
        ("invitations", {}, "reserved"),
        ("ACME", {}, "taken"),
        ("fine", {"website": "javascript:alert(1)"}, "http"),
        ("fine", {"website": "ftp://example.org"}, "http"),
        ("fine", {"fullname": "x" * 101}, "full name"),
        ("fine", {"description": "x" * 2001}, "description"),
    ],
)
def test_creation_rules(db: Database, name: str, fields: dict[str, str], message: str) -> None:
    [ada] = people(db, "ada")
    make_org(db, ada, "acme")
    with pytest.raises(orgs.OrgError, match=message), db.transaction() as session:
        orgs.create(session, ada, name, **fields)


def test_invite_accept_decline(db: Database) -> None:
    ada, grace, linus = people(db, "ada", "grace", "linus")
    make_org(db, ada)
    act(db, "acme", orgs.invite, ada, "Grace")  # usernames are found ignoring case
    act(db, "acme", orgs.invite, ada, "@linus")
    assert rows(db) == {
        "ada": ("admin", "active"),
        "grace": ("member", "invited"),
        "linus": ("member", "invited"),
    }
    with db.reader() as session:
        [invitation] = orgs.invitations(session, grace)
        assert (invitation.org_name, invitation.invited_by) == ("acme", "ada")
        org = orgs.get(session, "acme")
        assert [m.username for m in orgs.members(session, org)] == ["ada"]  # not yet
    act(db, "acme", orgs.accept, grace)
    act(db, "acme", orgs.decline, linus)
    assert rows(db) == {"ada": ("admin", "active"), "grace": ("member", "active")}
    with db.reader() as session:
        assert orgs.invitations(session, grace) == []
        org = orgs.get(session, "acme")
        assert [m.username for m in orgs.members(session, org)] == ["ada", "grace"]
    # Accepting twice, or without an invitation, is refused.
    with pytest.raises(orgs.OrgNotFound, match="no pending invitation"):
        act(db, "acme", orgs.accept, grace)
    with pytest.raises(orgs.OrgNotFound):
        act(db, "acme", orgs.accept, linus)


@pytest.mark.parametrize(
    ("username", "message"),
    [("nobody", "no user named"), ("ada", "already a member"), ("", "Enter the username")],
)
def test_invitation_mistakes(db: Database, username: str, message: str) -> None:
    [ada] = people(db, "ada")
    make_org(db, ada)
    with pytest.raises(orgs.OrgError, match=message):
        act(db, "acme", orgs.invite, ada, username)


def test_only_org_admins_manage(db: Database) -> None:
    ada, grace, linus = people(db, "ada", "grace", "linus")
    make_org(db, ada)
    act(db, "acme", orgs.invite, ada, "grace")
    with pytest.raises(orgs.OrgError, match="already invited"):
        act(db, "acme", orgs.invite, ada, "grace")
    act(db, "acme", orgs.accept, grace)
    for fn, args in [
        (orgs.invite, (grace, "linus")),
        (orgs.remove, (grace, "ada")),
        (orgs.set_member_role, (grace, "grace", "admin")),
        (orgs.tag_paper, (linus, "2401.00001")),
        (orgs.update, (grace, "x", "y", "")),
    ]:
        with pytest.raises(orgs.OrgForbidden):
            act(db, "acme", fn, *args)
    assert rows(db) == {"ada": ("admin", "active"), "grace": ("member", "active")}


def test_the_last_admin_cannot_leave_or_be_demoted(db: Database) -> None:
    ada, grace = people(db, "ada", "grace")
    make_org(db, ada)
    with pytest.raises(orgs.OrgError, match="last admin"):
        act(db, "acme", orgs.leave, ada)
    with pytest.raises(orgs.OrgError, match="last admin"):
        act(db, "acme", orgs.set_member_role, ada, "ada", "member")
    with pytest.raises(orgs.OrgError, match="last admin"):
        act(db, "acme", orgs.remove, ada, "ada")
    act(db, "acme", orgs.invite, ada, "grace")
    act(db, "acme", orgs.accept, grace)
    with pytest.raises(orgs.OrgError, match="member or admin"):
        act(db, "acme", orgs.set_member_role, ada, "grace", "owner")
    act(db, "acme", orgs.set_member_role, ada, "grace", "admin")
    act(db, "acme", orgs.leave, ada)  # now there is another admin
    assert rows(db) == {"grace": ("admin", "active")}
    with pytest.raises(orgs.OrgNotFound, match="not a member"):
        act(db, "acme", orgs.leave, ada)


def test_members_leave_and_admins_remove(db: Database) -> None:
    ada, grace, linus = people(db, "ada", "grace", "linus")
    make_org(db, ada)
    for user in (grace, linus):
        act(db, "acme", orgs.invite, ada, user.username)
        act(db, "acme", orgs.accept, user)
    act(db, "acme", orgs.leave, grace)
    act(db, "acme", orgs.remove, ada, "linus")
    assert rows(db) == {"ada": ("admin", "active")}
    with pytest.raises(orgs.OrgError, match="not a member"):
        act(db, "acme", orgs.remove, ada, "linus")
    # Removing an invited user withdraws the invitation.
    act(db, "acme", orgs.invite, ada, "linus")
    act(db, "acme", orgs.remove, ada, "linus")
    with db.reader() as session:
        assert orgs.invitations(session, linus) == []


def test_two_admins_leaving_at_once_leave_one_behind(db: Database) -> None:
    ada, grace = people(db, "ada", "grace")
    make_org(db, ada)
    act(db, "acme", orgs.invite, ada, "grace")
    act(db, "acme", orgs.accept, grace)
    act(db, "acme", orgs.set_member_role, ada, "grace", "admin")
    other = Database(db.url)

    def leave(args: tuple[Database, User]) -> str:
        database, user = args
        try:
            act(database, "acme", orgs.leave, user)
            return "left"
        except orgs.OrgError:
            return "refused"

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(pool.map(leave, [(db, ada), (other, grace)]))
    other.dispose()
    assert outcomes == ["left", "refused"]
    assert list(rows(db).values()) == [("admin", "active")]


def test_site_admins_may_manage_any_organization_and_it_is_logged(db: Database) -> None:
    [ada] = people(db, "ada")
    [root] = people(db, "root", role="admin")
    make_org(db, ada)
    act(db, "acme", orgs.invite, root, "root")
    with db.reader() as session:
        entry = session.execute(select(ModerationLog)).scalar_one()
        assert (entry.action, entry.target_id, entry.detail) == (
            "org_invite",
            "acme",
            {"user": "root"},
        )


def papers(db: Database) -> None:
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(title="Tagged", abstract="a", arxiv_id="2401.00001"),
                PaperRecord(title="Old style", abstract="b", arxiv_id="hep-th/9901001"),
            ],
        )


def test_tagging_and_untagging_papers(db: Database) -> None:
    ada, grace = people(db, "ada", "grace")
    make_org(db, ada)
    make_org(db, grace, "other")
    papers(db)
    with db.reader() as session:
        before = current_change_seq(session)[0]
    act(db, "acme", orgs.tag_paper, ada, "https://arxiv.org/abs/2401.00001v2")
    act(db, "acme", orgs.tag_paper, ada, "hep-th/9901001")
    with db.reader() as session:
        tagged = session.execute(
            select(Paper.public_id, Paper.change_seq).where(Paper.organization_id.is_not(None))
        ).all()
        assert {pid for pid, _ in tagged} == {"2401.00001", "hep-th/9901001"}
        assert all(seq > before for _, seq in tagged)  # feeds and the index notice
    with pytest.raises(orgs.OrgError, match="already tagged"):
        act(db, "acme", orgs.tag_paper, ada, "2401.00001")
    with pytest.raises(orgs.OrgError, match="only they can untag"):
        act(db, "other", orgs.tag_paper, grace, "2401.00001")
    with pytest.raises(orgs.OrgError, match="not tagged with"):
        act(db, "other", orgs.untag_paper, grace, "2401.00001")
    with pytest.raises(orgs.OrgNotFound, match="no paper"):
        act(db, "acme", orgs.tag_paper, ada, "2401.99999")
    act(db, "acme", orgs.untag_paper, ada, "2401.00001")
    with db.reader() as session:
        paper = session.execute(select(Paper).where(Paper.public_id == "2401.00001")).scalar_one()
        assert paper.organization_id is None
