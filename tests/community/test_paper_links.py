"""Code and project-page links set by people: who may, what is accepted, what it changes."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from paperfeed import clock
from paperfeed.community import accounts, claims
from paperfeed.community.paper_links import (
    LinkError,
    LinkForbidden,
    LinkNotFound,
    clean_code_url,
    clean_project_url,
    set_links,
)
from paperfeed.db import Database
from paperfeed.models import ModerationLog, Paper, PaperAuthor, PaperCodeLink, User
from paperfeed.papers.code_links import load_code, update_code_links
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import content_version, upsert_papers

PASSWORD = "long enough password"
FOUND = "https://github.com/found/in-abstract"


@pytest.fixture
def world(db: Database, fixed_clock) -> Database:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(
                    title="Linked paper",
                    abstract=f"Code at {FOUND}.",
                    arxiv_id="2411.00001",
                    authors=["Ada Lovelace", "Alan Turing"],
                    feed_at=fixed_clock,
                )
            ],
        )
        users = {}
        for name, role in (
            ("sub", "user"),
            ("author", "user"),
            ("other", "user"),
            ("mod", "moderator"),
            ("root", "admin"),
        ):
            users[name] = accounts.create_user(
                session, name, f"{name}@example.org", PASSWORD, role=role, verified=True
            )
        session.flush()
        paper = session.execute(select(Paper)).scalar_one()
        paper.submitted_by_id = users["sub"].id
        session.get(PaperAuthor, (paper.id, 1)).user_id = users["author"].id  # approved claim
    update_code_links(db)
    return db


def user(db: Database, name: str) -> User:
    with db.reader() as session:
        return session.execute(select(User).where(User.username == name)).scalar_one()


def change(db: Database, name: str, code: str | None, project: str | None = None):  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        return set_links(session, "2411.00001", user(db, name), code, project)


def shown(db: Database) -> tuple[str, str, str | None]:
    """The primary code link the page shows (url, source) and the project page."""
    with db.reader() as session:
        paper = session.execute(select(Paper)).scalar_one()
        code = load_code(session, [paper])[paper.id]
        return code.url, code.source, paper.project_url


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("https://github.com/Owner/Repo", "https://github.com/Owner/Repo"),
        ("  http://www.github.com/o/r.git/tree/main/src  ", "https://github.com/o/r"),
        ("https://gitlab.com/group/sub/project/-/issues", "https://gitlab.com/group/sub/project"),
        ("https://huggingface.co/datasets/o/set?x=1#y", "https://huggingface.co/datasets/o/set"),
        ("https://huggingface.co/spaces/o/demo", "https://huggingface.co/spaces/o/demo"),
        ("", None),
        ("   ", None),
    ],
)
def test_code_links_are_normalized(given: str, stored: str | None) -> None:
    assert clean_code_url(given) == stored


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("javascript:alert(1)//github.com/a/b", "must start with https://"),
        ("data:text/html,github.com/a/b", "must start with https://"),
        ("github.com/a/b", "must start with https://"),
        ("https://github.com/" + "a" * 490 + "/b", "limited to 500 characters"),
        ("https://github.com/a/b\x00", "control"),
        ("https://github.com/a/b c", "space"),
        ("https://gіthub.com/a/b", "non-ASCII"),  # a Cyrillic i
        ("https://github.com/owner", "must be a repository"),
        ("https://github.com/orgs/acme", "must be a repository"),
        ("https://huggingface.co/papers/2411.00001", "must be a repository"),
        ("https://example.org/code", "must be a repository"),
        ("https://github.com.evil.example/a/b", "must be a repository"),
        ("https://github.com:8443/a/b", "must be a repository"),
        ("https://me:secret@github.com/a/b", "user name or password"),
        ("https://github.com:x/a/b", "not a valid address"),
    ],
)
def test_bad_code_links_are_refused_with_the_reason(given: str, reason: str) -> None:
    with pytest.raises(LinkError, match=reason) as refused:
        clean_code_url(given)
    assert refused.value.status == 400


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("javascript:alert(1)", "must start with https://"),
        ("JaVaScRiPt:alert(1)", "must start with https://"),
        ("data:text/html;base64,PHNjcmlwdD4=", "must start with https://"),
        ("//evil.example/", "must start with https://"),
        ("https://localhost/", "names no web site"),
        ("https:///path", "names no web site"),
        ("https://x.example/" + "p" * 500, "limited to 500"),
        ("https://x.example/\x00", "control"),
        ("https://x.example/\u202egnp.exe", "non-ASCII"),
        ('https://x.example/"onmouseover="alert(1)', 'holds "'),
        ("https://x.example/<script>", "holds < >"),
        ("https://x.example/`x`", "holds `"),
        ("https://x.example/a\\b", "cannot hold unencoded"),
    ],
)
def test_bad_project_pages_are_refused_with_the_reason(given: str, reason: str) -> None:
    with pytest.raises(LinkError, match=reason):
        clean_project_url(given)


def test_project_pages_may_be_any_web_address() -> None:
    assert clean_project_url(" https://acme.example/paper?x=1#top ") == (
        "https://acme.example/paper?x=1#top"
    )
    assert clean_project_url("http://acme.example:8080/") == "http://acme.example:8080/"
    assert clean_project_url("https://github.com/acme") == "https://github.com/acme"
    assert clean_project_url("") is None
    # Parentheses are kept encoded: a Markdown export's link cannot be ended early.
    assert clean_project_url("https://x.example/a)[x](javascript:alert(1)") == (
        "https://x.example/a%29[x]%28javascript:alert%281%29"
    )


# --- who may ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "role"),
    [("sub", "submitter"), ("author", "author"), ("mod", "moderator"), ("root", "admin")],
)
def test_submitter_verified_author_and_staff_may_set_links(
    world: Database, name: str, role: str
) -> None:
    done = change(world, name, "https://github.com/set/by-people", "https://acme.example/")
    assert done.changed and done.github_url == "https://github.com/set/by-people"
    with world.reader() as session:
        entry = session.execute(select(ModerationLog)).scalar_one()
        assert (entry.action, entry.target_type, entry.target_id) == (
            "set_paper_links",
            "paper",
            "2411.00001",
        )
        assert entry.actor_id == user(world, name).id
        assert entry.detail == {
            "as": role,
            "code": "(none) → https://github.com/set/by-people",
            "project page": "(none) → https://acme.example/",
        }


def test_others_are_refused_with_the_reason(world: Database) -> None:
    with pytest.raises(LinkForbidden, match="submitter, its verified authors and moderators"):
        change(world, "other", "https://github.com/not/mine")
    # A pending (not approved) claim does not count.
    with world.transaction() as session:
        claims.submit(session, "2411.00001", user(world, "other"), 0)
    with pytest.raises(LinkForbidden) as refused:
        change(world, "other", "https://github.com/not/mine")
    assert refused.value.status == 403
    with world.reader() as session:
        assert session.execute(select(ModerationLog)).first() is None
        assert session.execute(select(Paper.github_url)).scalar_one() is None


def test_a_banned_submitter_may_not(world: Database) -> None:
    with world.transaction() as session:
        sub = session.execute(select(User).where(User.username == "sub")).scalar_one()
        accounts.ban(session, sub, "spam", actor=None)
    with pytest.raises(LinkForbidden):
        change(world, "sub", "https://github.com/a/b")


def test_hidden_or_unknown_papers_are_not_found(world: Database) -> None:
    with world.transaction() as session, pytest.raises(LinkNotFound):
        set_links(session, "2411.09999", user(world, "mod"), "https://github.com/a/b", None)
    with world.transaction() as session:
        session.execute(select(Paper)).scalar_one().hidden_at = clock.now()
    with world.transaction() as session, pytest.raises(LinkNotFound, match="removed"):
        set_links(session, "2411.00001", user(world, "mod"), "https://github.com/a/b", None)


# --- what it changes --------------------------------------------------------------------------


def test_the_set_link_wins_at_once_and_clearing_falls_back(world: Database) -> None:
    assert shown(world) == (FOUND, "abstract", None)
    with world.reader() as session:
        before, _ = content_version(session)
    change(world, "author", "https://github.com/Set/Repo/tree/main", "https://acme.example/")
    assert shown(world) == ("https://github.com/Set/Repo", "paper", "https://acme.example/")
    with world.reader() as session:
        after, _ = content_version(session)
        rows = session.execute(
            select(PaperCodeLink.url, PaperCodeLink.source, PaperCodeLink.is_primary).order_by(
                PaperCodeLink.position
            )
        ).all()
    assert after != before  # pages revalidate
    assert rows == [("https://github.com/Set/Repo", "paper", True), (FOUND, "abstract", False)]
    change(world, "mod", "", "")
    assert shown(world) == (FOUND, "abstract", None)
    with world.reader() as session:
        details = [
            e.detail for e in session.scalars(select(ModerationLog).order_by(ModerationLog.id))
        ]
    assert details[1] == {
        "as": "moderator",
        "code": "https://github.com/Set/Repo → (none)",
        "project page": "https://acme.example/ → (none)",
    }


def test_the_github_job_keeps_the_set_link(world: Database) -> None:
    change(world, "sub", "https://gitlab.com/set/project")
    update_code_links(world)
    assert shown(world)[:2] == ("https://gitlab.com/set/project", "paper")


def test_an_import_does_not_undo_a_link_set_by_people(world: Database) -> None:
    with world.transaction() as session:
        paper = session.execute(select(Paper)).scalar_one()
        record = PaperRecord(
            title=paper.title,
            abstract=paper.abstract,
            arxiv_id="2411.00001",
            github_url="https://github.com/from/the-import",
            project_url="https://import.example/",
        )
    with world.transaction() as session:  # before anyone set them, an import sets them
        upsert_papers(session, [record])
    assert shown(world)[2] == "https://import.example/"
    change(world, "sub", "https://github.com/set/by-people", "https://people.example/")
    with world.transaction() as session:  # the same import again: the people's links stay
        upsert_papers(session, [record])
    with world.reader() as session:
        kept = session.execute(select(Paper.github_url, Paper.project_url)).one()
    assert tuple(kept) == ("https://github.com/set/by-people", "https://people.example/")


def test_unchanged_links_write_nothing(world: Database) -> None:
    change(world, "sub", "https://github.com/a/b")
    with world.reader() as session:
        version, _ = content_version(session)
    again = change(world, "sub", "http://github.com/a/b.git", None)
    assert not again.changed
    with world.reader() as session:
        assert content_version(session)[0] == version
        assert len(session.execute(select(ModerationLog)).all()) == 1


def test_keep_leaves_one_link_as_it_is(world: Database) -> None:
    change(world, "sub", "https://github.com/a/b", "https://acme.example/")
    with world.transaction() as session:
        done = set_links(session, "2411.00001", user(world, "sub"), ..., "https://b.example/")
    assert (done.github_url, done.project_url) == ("https://github.com/a/b", "https://b.example/")
