"""Organizations through the web stack: creating, inviting, accepting, roles, leaving,
tagging papers, permissions, CSRF and caching."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from paperfeed.community import accounts
from paperfeed.db import Database
from paperfeed.models import Organization, OrgMembership, Paper, User
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.web.conftest import BROWSER_HEADERS

PASSWORD = "long enough password"
USERS = (("ada", "user"), ("grace", "user"), ("linus", "user"), ("mod", "moderator"))
USERS += (("root", "admin"),)


@pytest.fixture
def fast_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap argon2 parameters: these tests log many people in and do not test hashing."""
    monkeypatch.setattr(
        accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture
def app(db: Database, tmp_path: Path, fixed_clock, fast_hashes) -> FastAPI:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(
                    title="Notes on the analytical engine",
                    abstract="First.",
                    arxiv_id="2401.00001",
                    authors=["Ada Lovelace", "Charles Babbage"],
                    feed_at=fixed_clock,
                ),
                PaperRecord(
                    title="Compilers for everyone",
                    abstract="Second.",
                    arxiv_id="hep-th/9901001",
                    authors=["Grace Hopper"],
                    feed_at=fixed_clock,
                ),
            ],
        )
        for name, role in USERS:
            accounts.create_user(
                session, name, f"{name}@example.org", PASSWORD, role=role, verified=True
            )
    return create_app(make_settings(tmp_path, db.url), db)


def client_for(app: FastAPI, name: str | None = None) -> TestClient:
    """A browser-like client, logged in as `name` when given."""
    client = TestClient(app, follow_redirects=False, headers=BROWSER_HEADERS)
    if name:
        token = csrf(client, "/login")
        response = client.post("/login", data={"csrf": token, "login": name, "password": PASSWORD})
        assert response.status_code == 303
    return client


def csrf(client: TestClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code)
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def send(client: TestClient, path: str, form_page: str, **data: str):  # type: ignore[no-untyped-def]
    """Post a form the way a browser does: with the token from the page that shows it."""
    return client.post(path, data={"csrf": csrf(client, form_page), **data})


def create_org(client: TestClient, name: str = "acme", **fields: str):  # type: ignore[no-untyped-def]
    data = {
        "name": name,
        "fullname": "Acme Research",
        "description": "We study engines.",
        "website": "https://acme.example",
    }
    return send(client, "/orgs/new", "/orgs/new", **(data | fields))


def membership_rows(db: Database) -> set[tuple[str, str, str]]:
    with db.reader() as session:
        return {
            tuple(row)
            for row in session.execute(
                select(User.username, OrgMembership.role, OrgMembership.status).join(
                    OrgMembership, OrgMembership.user_id == User.id
                )
            )
        }


def invite_and_accept(app: FastAPI, admin: TestClient, *names: str) -> None:
    for name in names:
        response = send(admin, "/orgs/acme/members/invite", "/orgs/acme/members", username=name)
        assert response.status_code == 303
        member = client_for(app, name)
        assert send(member, "/orgs/acme/accept", "/orgs/invitations").status_code == 303


def test_visitors_are_sent_to_log_in_and_forms_need_a_token(app: FastAPI, db: Database) -> None:
    visitor = client_for(app)
    for path in ("/orgs/new", "/orgs/invitations", "/orgs/acme/members"):
        response = visitor.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")
    assert visitor.post("/orgs/new", data={"name": "acme"}).status_code == 403
    ada = client_for(app, "ada")
    forged = ada.post("/orgs/new", data={"csrf": "forged", "name": "acme"})
    assert forged.status_code == 403
    assert ada.post("/orgs/new", data={"name": "acme"}).status_code == 403
    with db.reader() as session:
        assert session.execute(select(Organization)).first() is None


def test_create_an_organization(app: FastAPI, db: Database) -> None:
    ada = client_for(app, "ada")
    response = create_org(ada)
    assert response.status_code == 303
    assert response.headers["location"] == "/orgs/acme?done=created"
    html = ada.get(response.headers["location"]).text
    assert "Your organization is ready" in html
    assert "<h1>Acme Research</h1>" in html
    assert "We study engines." in html
    assert 'href="https://acme.example" rel="nofollow ugc noopener"' in html
    assert 'href="/users/ada"' in html and "Manage members" in html
    assert membership_rows(db) == {("ada", "admin", "active")}
    listing = client_for(app).get("/orgs")
    assert listing.status_code == 200
    assert 'href="/orgs/acme"' in listing.text and "1 member" in listing.text
    # The name is unique ignoring case; a bad name says what is wrong.
    taken = create_org(client_for(app, "grace"), "ACME")
    assert taken.status_code == 400 and "is taken" in taken.text
    bad = create_org(ada, "no spaces please")
    assert bad.status_code == 400 and "2 to 40 letters" in bad.text
    assert 'value="no spaces please"' in bad.text  # the form keeps what was typed
    website = create_org(ada, "beta", website="javascript:alert(1)")
    assert website.status_code == 400 and "http" in website.text
    with db.reader() as session:
        assert session.execute(select(Organization.name)).scalars().all() == ["acme"]


def test_invite_then_accept_or_decline(app: FastAPI, db: Database) -> None:
    ada = client_for(app, "ada")
    create_org(ada)
    for name in ("grace", "linus"):
        invited = send(ada, "/orgs/acme/members/invite", "/orgs/acme/members", username=name)
        assert invited.status_code == 303
        assert invited.headers["location"] == "/orgs/acme/members?done=invited"
    members_page = ada.get("/orgs/acme/members").text
    assert "invited" in members_page and "Withdraw" in members_page
    grace = client_for(app, "grace")
    invitations = grace.get("/orgs/invitations").text
    assert 'href="/orgs/acme"' in invitations and "invited by ada" in invitations
    assert "You are invited to join" in grace.get("/orgs/acme").text
    accepted = send(grace, "/orgs/acme/accept", "/orgs/invitations")
    assert accepted.headers["location"] == "/orgs/acme?done=accepted"
    page = grace.get(accepted.headers["location"]).text
    assert "You are now a member" in page and 'href="/users/grace"' in page
    linus = client_for(app, "linus")
    declined = send(linus, "/orgs/acme/decline", "/orgs/invitations")
    assert declined.headers["location"] == "/orgs/invitations?done=declined"
    assert "No pending invitations" in linus.get("/orgs/invitations").text
    assert membership_rows(db) == {("ada", "admin", "active"), ("grace", "member", "active")}
    # Answering an invitation that does not exist is a 404.
    assert send(linus, "/orgs/acme/accept", "/orgs/invitations").status_code == 404
    assert send(linus, "/orgs/nobody/accept", "/orgs/invitations").status_code == 404


def test_invitation_mistakes_are_shown_on_the_form(app: FastAPI, db: Database) -> None:
    ada = client_for(app, "ada")
    create_org(ada)
    for username, message in (("nobody", "no user named"), ("ada", "already a member")):
        response = send(ada, "/orgs/acme/members/invite", "/orgs/acme/members", username=username)
        assert response.status_code == 400
        assert message in response.text
    too_long = send(ada, "/orgs/acme/members/invite", "/orgs/acme/members", username="x" * 9000)
    assert too_long.status_code == 400
    assert membership_rows(db) == {("ada", "admin", "active")}


def test_only_org_admins_manage_members(app: FastAPI, db: Database) -> None:
    ada = client_for(app, "ada")
    create_org(ada)
    invite_and_accept(app, ada, "grace")
    grace = client_for(app, "grace")
    assert grace.get("/orgs/acme/members").status_code == 403
    token = csrf(grace, "/orgs/acme")
    for path, data in (
        ("/orgs/acme/members/invite", {"username": "linus"}),
        ("/orgs/acme/members/remove", {"username": "ada"}),
        ("/orgs/acme/members/role", {"username": "grace", "role": "admin"}),
        ("/orgs/acme/papers", {"paper": "2401.00001", "action": "tag"}),
        ("/orgs/acme/edit", {"fullname": "Mine now"}),
    ):
        assert grace.post(path, data={"csrf": token, **data}).status_code == 403, path
    assert "Manage members" not in grace.get("/orgs/acme").text
    assert membership_rows(db) == {("ada", "admin", "active"), ("grace", "member", "active")}
    # Unknown organizations are a 404, for admins too.
    root = client_for(app, "root")
    assert root.get("/orgs/nobody/members").status_code == 404
    nobody = root.post(
        "/orgs/nobody/members/invite", data={"csrf": csrf(root, "/orgs"), "username": "ada"}
    )
    assert nobody.status_code == 404


def test_roles_removal_and_the_last_admin(app: FastAPI, db: Database) -> None:
    ada = client_for(app, "ada")
    create_org(ada)
    invite_and_accept(app, ada, "grace", "linus")
    leave = send(ada, "/orgs/acme/leave", "/orgs/acme")
    assert leave.status_code == 400 and "last admin" in leave.text
    demote = send(
        ada, "/orgs/acme/members/role", "/orgs/acme/members", username="ada", role="member"
    )
    assert demote.status_code == 400 and "last admin" in demote.text
    bad_role = send(
        ada, "/orgs/acme/members/role", "/orgs/acme/members", username="grace", role="owner"
    )
    assert bad_role.status_code == 400 and "member or admin" in bad_role.text
    promote = send(
        ada, "/orgs/acme/members/role", "/orgs/acme/members", username="grace", role="admin"
    )
    assert promote.headers["location"] == "/orgs/acme/members?done=role"
    removed = send(ada, "/orgs/acme/members/remove", "/orgs/acme/members", username="linus")
    assert removed.headers["location"] == "/orgs/acme/members?done=removed"
    left = send(ada, "/orgs/acme/leave", "/orgs/acme")
    assert left.headers["location"] == "/orgs/acme?done=left"
    assert "You left the organization" in ada.get(left.headers["location"]).text
    assert membership_rows(db) == {("grace", "admin", "active")}
    assert send(ada, "/orgs/acme/leave", "/orgs/acme").status_code == 404


def test_edit_details(app: FastAPI, db: Database) -> None:
    ada = client_for(app, "ada")
    create_org(ada)
    bad = send(
        ada,
        "/orgs/acme/edit",
        "/orgs/acme/members",
        fullname="Acme",
        description="d",
        website="not a url",
    )
    assert bad.status_code == 400 and 'value="not a url"' in bad.text
    saved = send(
        ada, "/orgs/acme/edit", "/orgs/acme/members", fullname="Acme Labs", description="New."
    )
    assert saved.status_code == 303
    with db.reader() as session:
        org = session.execute(select(Organization)).scalar_one()
        assert (org.fullname, org.description, org.website) == ("Acme Labs", "New.", None)


def test_tag_and_untag_papers(app: FastAPI, db: Database) -> None:
    ada = client_for(app, "ada")
    create_org(ada)
    visitor = client_for(app)
    before = visitor.get("/orgs/acme")
    assert "No papers yet" in before.text
    for paper in ("https://arxiv.org/abs/2401.00001v1", "hep-th/9901001"):
        tagged = send(ada, "/orgs/acme/papers", "/orgs/acme", paper=paper, action="tag")
        assert tagged.status_code == 303
        assert tagged.headers["location"] == "/orgs/acme?done=tagged"
    after = visitor.get("/orgs/acme", headers={"if-none-match": before.headers["etag"]})
    assert after.status_code == 200
    assert 'href="/papers/2401.00001"' in after.text
    assert 'href="/papers/hep-th/9901001"' in after.text
    assert 'href="/orgs/acme"' in visitor.get("/papers/2401.00001").text
    again = send(ada, "/orgs/acme/papers", "/orgs/acme", paper="2401.00001", action="tag")
    assert again.status_code == 400 and "already tagged" in again.text
    unknown = send(ada, "/orgs/acme/papers", "/orgs/acme", paper="2401.99999", action="tag")
    assert unknown.status_code == 404 and "no paper with id" in unknown.text
    assert 'value="2401.99999"' in unknown.text
    weird = send(ada, "/orgs/acme/papers", "/orgs/acme", paper="2401.00001", action="delete")
    assert weird.status_code == 400
    untagged = send(ada, "/orgs/acme/papers", "/orgs/acme", paper="2401.00001", action="untag")
    assert untagged.headers["location"] == "/orgs/acme?done=untagged"
    with db.reader() as session:
        tagged_ids = session.execute(
            select(Paper.public_id).where(Paper.organization_id.is_not(None))
        ).scalars()
        assert list(tagged_ids) == ["hep-th/9901001"]


def test_the_public_page_follows_member_changes(app: FastAPI) -> None:
    ada = client_for(app, "ada")
    create_org(ada)
    visitor = client_for(app)
    first = visitor.get("/orgs/acme")
    assert first.headers["cache-control"].startswith("public")
    assert (
        visitor.get("/orgs/acme", headers={"if-none-match": first.headers["etag"]}).status_code
        == 304
    )
    invite_and_accept(app, ada, "grace")
    second = visitor.get("/orgs/acme", headers={"if-none-match": first.headers["etag"]})
    assert second.status_code == 200 and 'href="/users/grace"' in second.text
    listing = visitor.get("/orgs")
    assert "2 members" in listing.text


def test_names_are_found_ignoring_case_and_bad_input_is_a_4xx(app: FastAPI) -> None:
    create_org(client_for(app, "ada"))
    visitor = client_for(app)
    moved = visitor.get("/orgs/ACME?sort=upvotes")
    assert moved.status_code == 301 and moved.headers["location"] == "/orgs/acme?sort=upvotes"
    assert visitor.get("/orgs/acme?sort=random").status_code == 400
    assert visitor.get("/orgs/acme?p=0").status_code == 400
    assert visitor.get("/orgs/acme?p=2").status_code == 404
    assert visitor.get("/orgs?p=5").status_code == 404
    assert visitor.get("/orgs/nobody").status_code == 404
