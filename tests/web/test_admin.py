"""Administration: the moderation module on both backends (hiding papers, roles, bans,
the log), and the admin pages and author claims through the web stack."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from paperfeed.community import accounts, moderation
from paperfeed.db import Database
from paperfeed.models import AuthorClaim, ModerationLog, Paper, PaperAuthor, User, WebSession
from paperfeed.papers import feeds
from paperfeed.papers.store import current_change_seq
from tests.conftest import FIXED_NOW
from tests.web.test_orgs import app, client_for, csrf, fast_hashes, send

__all__ = ["app", "fast_hashes"]  # fixtures shared with the organization tests


def users(db: Database) -> dict[str, User]:
    with db.reader() as session:
        return {u.username: u for u in session.execute(select(User)).scalars()}


def day_ids(app: FastAPI) -> list[str]:
    """The public ids on the feed of the test papers' day."""
    tz = app.state.settings.tz
    with app.state.db.reader() as session:
        day = feeds.day_period(FIXED_NOW.astimezone(tz).date())
        papers, total = feeds.papers_in_period(session, day, tz)
        assert total == len(papers)
        return sorted(p.public_id for p in papers)


def log_rows(db: Database) -> list[tuple[str, str, str, str | None]]:
    with db.reader() as session:
        return [
            (actor, action, target, reason)
            for actor, action, target, reason in session.execute(
                select(
                    User.username,
                    ModerationLog.action,
                    ModerationLog.target_id,
                    ModerationLog.reason,
                )
                .join(User, User.id == ModerationLog.actor_id)
                .order_by(ModerationLog.id)
            )
        ]


# --- the moderation module ------------------------------------------------------------------


def test_hiding_takes_a_paper_off_the_feeds_and_unhiding_puts_it_back(
    app: FastAPI, db: Database
) -> None:
    mod = users(db)["mod"]
    assert day_ids(app) == ["2401.00001", "hep-th/9901001"]
    with db.reader() as session:
        seq = current_change_seq(session)[0]
    with db.transaction() as session:
        paper = moderation.hide_paper(session, "arXiv:2401.00001v2", mod, "  spam  ")
        assert paper.public_id == "2401.00001"
    assert day_ids(app) == ["hep-th/9901001"]
    with db.reader() as session:
        paper = session.execute(select(Paper).where(Paper.public_id == "2401.00001")).scalar_one()
        assert (paper.hidden_at, paper.hidden_reason) == (FIXED_NOW, "spam")
        assert paper.change_seq > seq  # the search index and cached pages notice
        assert [p.public_id for p in moderation.hidden_papers(session)] == ["2401.00001"]
    with pytest.raises(moderation.ModerationError, match="already hidden"), db.transaction() as s:
        moderation.hide_paper(s, "2401.00001", mod, "again")
    with db.transaction() as session:
        moderation.unhide_paper(session, "2401.00001", mod)
    assert day_ids(app) == ["2401.00001", "hep-th/9901001"]
    with pytest.raises(moderation.ModerationError, match="not hidden"), db.transaction() as s:
        moderation.unhide_paper(s, "2401.00001", mod)
    assert log_rows(db) == [
        ("mod", "hide_paper", "2401.00001", "spam"),
        ("mod", "unhide_paper", "2401.00001", None),
    ]
    with db.reader() as session:
        last = session.execute(select(ModerationLog).order_by(ModerationLog.id.desc())).first()[0]
        assert last.detail == {"was": "spam"}


@pytest.mark.parametrize(
    ("paper", "reason", "error", "message"),
    [
        ("2401.00001", "", moderation.ModerationError, "Give a reason"),
        ("2401.00001", "x" * 501, moderation.ModerationError, "limited"),
        ("", "spam", moderation.ModerationError, "Enter a paper id"),
        ("2401.99999", "spam", moderation.NotFound, "no paper"),
    ],
)
def test_hiding_needs_a_paper_and_a_reason(  # type: ignore[no-untyped-def]
    app: FastAPI, db: Database, paper: str, reason: str, error: type, message: str
) -> None:
    with pytest.raises(error, match=message), db.transaction() as session:
        moderation.hide_paper(session, paper, users(db)["mod"], reason)
    assert day_ids(app) == ["2401.00001", "hep-th/9901001"]
    assert log_rows(db) == []


def test_roles_and_bans(app: FastAPI, db: Database) -> None:
    people = users(db)
    root = people["root"]
    with db.transaction() as session:
        accounts.start_session(session, people["grace"])
    with db.transaction() as session:
        moderation.set_role(session, "Ada", "moderator", root)
        moderation.ban(session, "grace", "abuse", root)
    with db.reader() as session:
        ada, grace = session.get(User, people["ada"].id), session.get(User, people["grace"].id)
        assert ada.role == "moderator"
        assert (grace.banned_at, grace.ban_reason) == (FIXED_NOW, "abuse")
        assert (
            session.execute(select(WebSession).where(WebSession.user_id == grace.id)).first()
            is None
        )
    for fn, args, message in [
        (moderation.set_role, ("root", "user"), "your own role"),
        (moderation.set_role, ("ada", "moderator"), "already a moderator"),
        (moderation.set_role, ("ada", "owner"), "Unknown role"),
        (moderation.ban, ("root", "x"), "yourself"),
        (moderation.ban, ("grace", "again"), "already banned"),
        (moderation.ban, ("linus", ""), "Give a reason"),
        (moderation.unban, ("linus",), "not banned"),
    ]:
        with pytest.raises(moderation.ModerationError, match=message), db.transaction() as s:
            fn(s, *args, root)
    with pytest.raises(moderation.NotFound), db.transaction() as session:
        moderation.ban(session, "nobody", "x", root)
    with db.transaction() as session:
        moderation.set_role(session, "linus", "admin", root)
    with pytest.raises(moderation.ModerationError, match="is an admin"), db.transaction() as s:
        moderation.ban(s, "linus", "x", root)
    with db.transaction() as session:
        moderation.unban(session, "grace", root)
    assert [action for _, action, _, _ in log_rows(db)] == ["set_role", "ban", "set_role", "unban"]
    with db.reader() as session:
        assert [u.username for u in moderation.search_users(session, "")] == [
            "ada",
            "linus",
            "mod",
            "root",
        ]
        assert [u.username for u in moderation.search_users(session, "O")] == ["mod", "root"]
        assert moderation.search_users(session, "%") != []  # wildcards are plain text
        assert moderation.search_users(session, "_") == []
        entries = moderation.recent_log(session, 2)
        assert [(e.actor, e.action) for e in entries] == [("root", "unban"), ("root", "set_role")]


# --- permissions ----------------------------------------------------------------------------

PAGES = ("/admin", "/admin/papers", "/admin/claims", "/admin/users")


@pytest.mark.parametrize(
    ("name", "allowed"),
    [
        ("ada", set()),
        ("mod", {"/admin", "/admin/papers"}),
        ("root", set(PAGES)),
    ],
)
def test_who_may_see_which_admin_page(app: FastAPI, name: str, allowed: set[str]) -> None:
    client = client_for(app, name)
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == (200 if path in allowed else 403), path
        if path in allowed:
            assert response.headers["cache-control"] == "private, no-store"


def test_visitors_are_sent_to_log_in(app: FastAPI) -> None:
    visitor = client_for(app)
    for path in (*PAGES, "/papers/2401.00001/claim"):
        response = visitor.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == f"/login?next={path}"
    assert visitor.post("/admin/papers/hide", data={"paper": "2401.00001"}).status_code == 403


def test_posts_need_the_role_and_the_token(app: FastAPI, db: Database) -> None:
    ada = client_for(app, "ada")
    token = csrf(ada, "/papers/2401.00001")
    for path, data in (
        ("/admin/papers/hide", {"paper": "2401.00001", "reason": "x"}),
        ("/admin/papers/unhide", {"paper": "2401.00001"}),
        ("/admin/users/grace/ban", {"reason": "x"}),
        ("/admin/users/ada/role", {"role": "admin"}),
        ("/admin/claims/1/approve", {}),
    ):
        assert ada.post(path, data={"csrf": token, **data}).status_code == 403, path
    mod = client_for(app, "mod")
    mod_token = csrf(mod, "/admin/papers")
    assert (
        mod.post("/admin/users/grace/ban", data={"csrf": mod_token, "reason": "x"}).status_code
        == 403
    )
    assert mod.post("/admin/claims/1/reject", data={"csrf": mod_token}).status_code == 403
    forged = mod.post(
        "/admin/papers/hide", data={"csrf": "forged", "paper": "2401.00001", "reason": "x"}
    )
    assert forged.status_code == 403
    assert (
        mod.post("/admin/papers/hide", data={"paper": "2401.00001", "reason": "x"}).status_code
        == 403
    )
    assert day_ids(app) == ["2401.00001", "hep-th/9901001"]
    assert users(db)["ada"].role == "user" and users(db)["grace"].banned_at is None
    assert log_rows(db) == []


# --- hiding papers through the site -----------------------------------------------------------


def test_hide_and_unhide_from_the_papers_page(app: FastAPI, db: Database) -> None:
    mod = client_for(app, "mod")
    hidden = send(
        mod, "/admin/papers/hide", "/admin/papers", paper="2401.00001", reason="Not research"
    )
    assert hidden.status_code == 303 and hidden.headers["location"] == "/admin/papers?done=hidden"
    page = mod.get(hidden.headers["location"]).text
    assert "The paper is hidden" in page and "Not research" in page and "Unhide" in page
    visitor = client_for(app)
    removed = visitor.get("/papers/2401.00001")
    assert removed.status_code == 404 and "removed by a moderator" in removed.text
    assert 'href="/papers/2401.00001"' not in visitor.get("/").text
    dashboard = mod.get("/admin").text
    assert "hide paper" in dashboard and "Not research" in dashboard
    assert 'href="/admin/reports"' in dashboard and 'href="/admin/claims"' not in dashboard
    shown = send(mod, "/admin/papers/unhide", "/admin/papers", paper="2401.00001")
    assert shown.headers["location"] == "/admin/papers?done=unhidden"
    assert visitor.get("/papers/2401.00001").status_code == 200
    assert log_rows(db) == [
        ("mod", "hide_paper", "2401.00001", "Not research"),
        ("mod", "unhide_paper", "2401.00001", None),
    ]


@pytest.mark.parametrize(
    ("path", "data", "status", "message"),
    [
        ("/admin/papers/hide", {"paper": "2401.00001", "reason": ""}, 400, "Give a reason"),
        ("/admin/papers/hide", {"paper": "2401.99999", "reason": "x"}, 404, "no paper"),
        ("/admin/papers/hide", {"paper": "", "reason": "x"}, 400, "Enter a paper id"),
        ("/admin/papers/hide", {"paper": "2401.00001", "reason": "x" * 5000}, 400, "limited"),
        ("/admin/papers/unhide", {"paper": "2401.00001"}, 400, "is not hidden"),
    ],
)
def test_bad_hide_forms_say_why(  # type: ignore[no-untyped-def]
    app: FastAPI, db: Database, path: str, data: dict[str, str], status: int, message: str
) -> None:
    mod = client_for(app, "mod")
    response = send(mod, path, "/admin/papers", **data)
    assert response.status_code == status
    assert message in response.text and "Traceback" not in response.text
    assert day_ids(app) == ["2401.00001", "hep-th/9901001"]


# --- users, roles and bans --------------------------------------------------------------------


def test_search_set_roles_ban_and_unban(app: FastAPI, db: Database) -> None:
    root = client_for(app, "root")
    grace = client_for(app, "grace")
    assert grace.get("/account").status_code == 200
    found = root.get("/admin/users?q=gra").text
    assert 'action="/admin/users/grace/ban"' in found and "ada@example.org" not in found
    staff = root.get("/admin/users").text
    assert "mod@example.org" in staff and "grace@example.org" not in staff
    promoted = send(root, "/admin/users/ada/role", "/admin/users", role="moderator")
    assert promoted.headers["location"] == "/admin/users?q=ada&done=role"
    assert users(db)["ada"].role == "moderator"
    banned = send(root, "/admin/users/grace/ban", "/admin/users", reason="Spamming")
    assert banned.headers["location"] == "/admin/users?q=grace&done=banned"
    assert "banned" in root.get(banned.headers["location"]).text
    # The ban ended grace's session: she is a visitor again.
    assert grace.get("/account").status_code == 303
    unbanned = send(root, "/admin/users/grace/unban", "/admin/users")
    assert unbanned.status_code == 303
    assert users(db)["grace"].banned_at is None
    assert [action for _, action, _, _ in log_rows(db)] == ["set_role", "ban", "unban"]
    dashboard = root.get("/admin").text
    assert "Spamming" in dashboard and 'href="/users/grace"' in dashboard


@pytest.mark.parametrize(
    ("path", "data", "status", "message"),
    [
        ("/admin/users/grace/ban", {"reason": ""}, 400, "Give a reason"),
        ("/admin/users/root/ban", {"reason": "x"}, 400, "yourself"),
        ("/admin/users/root/role", {"role": "user"}, 400, "your own role"),
        ("/admin/users/ada/role", {"role": "superuser"}, 400, "Unknown role"),
        ("/admin/users/ada/role", {}, 400, "Unknown role"),
        ("/admin/users/ada/unban", {}, 400, "not banned"),
        ("/admin/users/nobody/ban", {"reason": "x"}, 404, "no user named"),
    ],
)
def test_bad_user_forms_say_why(  # type: ignore[no-untyped-def]
    app: FastAPI, db: Database, path: str, data: dict[str, str], status: int, message: str
) -> None:
    root = client_for(app, "root")
    response = send(root, path, "/admin/users", **data)
    assert response.status_code == status
    assert message in response.text
    assert log_rows(db) == []


# --- author claims ----------------------------------------------------------------------------


def claim(client, paper: str, position: str):  # type: ignore[no-untyped-def]
    return send(client, f"/papers/{paper}/claim", f"/papers/{paper}/claim", position=position)


@pytest.mark.parametrize("paper", ["2401.00001", "hep-th/9901001"])
def test_claim_then_approve(app: FastAPI, db: Database, paper: str) -> None:
    ada = client_for(app, "ada")
    paper_page = ada.get(f"/papers/{paper}").text
    assert f'href="/papers/{paper}/claim"' in paper_page
    form = ada.get(f"/papers/{paper}/claim")
    assert form.status_code == 200
    assert "Which author are you?" in form.text and 'type="radio"' in form.text
    sent = claim(ada, paper, "0")
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/papers/{paper}/claim?sent=1"
    assert "waiting for an admin" in ada.get(sent.headers["location"]).text
    assert "waiting for review" in ada.get(f"/papers/{paper}/claim").text
    root = client_for(app, "root")
    queue = root.get("/admin/claims").text
    assert "Waiting for review (1)" in queue and 'href="/users/ada"' in queue
    assert 'href="/admin/claims"' in root.get("/admin").text
    with db.reader() as session:
        claim_id = session.execute(select(AuthorClaim.id)).scalar_one()
    approved = send(root, f"/admin/claims/{claim_id}/approve", "/admin/claims")
    assert approved.headers["location"] == "/admin/claims?done=approved"
    assert "Claim approved" in root.get(approved.headers["location"]).text
    profile = client_for(app).get("/users/ada").text
    assert f'href="/papers/{paper}"' in profile
    assert "verified author" in ada.get(f"/papers/{paper}/claim").text
    with db.reader() as session:
        verified = session.execute(
            select(PaperAuthor.user_id)
            .join(Paper, Paper.id == PaperAuthor.paper_id)
            .where(Paper.public_id == paper, PaperAuthor.position == 0)
        ).scalar_one()
        assert verified == users(db)["ada"].id
    assert log_rows(db) == [("root", "approve_claim", str(claim_id), None)]


def test_reject_with_a_reason_and_claim_rules_on_the_form(app: FastAPI, db: Database) -> None:
    ada, grace = client_for(app, "ada"), client_for(app, "grace")
    assert claim(ada, "2401.00001", "1").status_code == 303
    taken = grace.get("/papers/2401.00001/claim").text
    assert "(already claimed)" in taken and "disabled" in taken
    refused = claim(grace, "2401.00001", "1")
    assert refused.status_code == 400 and "Someone else" in refused.text
    twice = claim(ada, "2401.00001", "0")
    assert twice.status_code == 400
    root = client_for(app, "root")
    with db.reader() as session:
        claim_id = session.execute(select(AuthorClaim.id)).scalar_one()
    token = csrf(root, "/admin/claims")
    rejected = root.post(
        f"/admin/claims/{claim_id}/reject", data={"csrf": token, "reason": "Different person"}
    )
    assert rejected.headers["location"] == "/admin/claims?done=rejected"
    assert "rejected" in root.get("/admin/claims").text
    again = root.post(f"/admin/claims/{claim_id}/approve", data={"csrf": token})
    assert again.status_code == 400 and "already rejected" in again.text
    assert root.post("/admin/claims/999/approve", data={"csrf": token}).status_code == 404
    assert root.post("/admin/claims/abc/approve", data={"csrf": token}).status_code == 400
    assert log_rows(db) == [("root", "reject_claim", str(claim_id), "Different person")]
    assert "No claimed papers yet." in client_for(app).get("/users/ada").text


@pytest.mark.parametrize(
    ("paper", "position", "status", "message"),
    [
        ("2401.00001", "", 400, "Choose which author"),
        ("2401.00001", "abc", 400, "Choose which author"),
        ("2401.00001", "-1", 400, "Choose which author"),
        ("2401.00001", "9", 400, "listed authors"),
        ("2401.00001", "9" * 40, 400, "Choose which author"),
    ],
)
def test_bad_claims_say_why(  # type: ignore[no-untyped-def]
    app: FastAPI, db: Database, paper: str, position: str, status: int, message: str
) -> None:
    response = claim(client_for(app, "ada"), paper, position)
    assert response.status_code == status
    assert message in response.text
    with db.reader() as session:
        assert session.execute(select(AuthorClaim)).first() is None


def test_claims_on_unknown_or_hidden_papers_are_404(app: FastAPI, db: Database) -> None:
    ada = client_for(app, "ada")
    assert ada.get("/papers/2401.99999/claim").status_code == 404
    token = csrf(ada, "/papers/2401.00001/claim")
    assert (
        ada.post("/papers/2401.99999/claim", data={"csrf": token, "position": "0"}).status_code
        == 404
    )
    with db.transaction() as session:
        moderation.hide_paper(session, "2401.00001", users(db)["mod"], "spam")
    assert ada.get("/papers/2401.00001/claim").status_code == 404
    assert (
        ada.post("/papers/2401.00001/claim", data={"csrf": token, "position": "0"}).status_code
        == 404
    )
    forged = ada.post("/papers/hep-th/9901001/claim", data={"csrf": "x", "position": "0"})
    assert forged.status_code == 403
