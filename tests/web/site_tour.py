"""Every kind of page the site serves, on the demo data with a member and an admin signed
in: the tour that the accessibility and performance checks walk in a real browser.

The site (demo papers, search index, two users, an organization, a comment) is built once
per test session; each test module serves its own copy with uvicorn on a loopback port.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from paperfeed import clock
from paperfeed.community import accounts, comments, organizations
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.demo import load_demo
from paperfeed.mail import build_message
from paperfeed.models import Paper
from paperfeed.outbox import KeepingMailer
from paperfeed.search.embeddings import import_embeddings
from paperfeed.search.index import DIM
from paperfeed.search.indexing import MODEL_NAME, run_index
from paperfeed.web.app import create_app
from tests.conftest import FIXED_NOW, built_once, make_settings
from tests.web.live import start_server

ROOT = Path(__file__).parents[2]
ARTIFACTS = ROOT / "test-artifacts"
DESKTOP = {"width": 1280, "height": 900}
MOBILE = {"width": 390, "height": 844}
PASSWORD = "a long enough password"
MEMBER = "reader"
ADMIN = "ada"
ORG = "quantum-lab"
LATEX_PAPER = "0704.0002"


@dataclass(frozen=True)
class Stop:
    """One page of the tour: who looks at it, and the status it must answer with."""

    name: str
    path: str
    who: str | None = None  # None: an anonymous visitor
    status: int = 200


TOUR = [
    Stop("day", "/"),
    Stop("day-signed-in", "/", MEMBER),
    Stop("week", "/papers/week/2026-W47"),
    Stop("month", "/papers/month/2026-11"),
    Stop("calendar", "/papers/calendar/2026-11"),
    Stop("trending", "/papers/trending"),
    Stop("paper", f"/papers/{LATEX_PAPER}"),
    Stop("paper-signed-in", f"/papers/{LATEX_PAPER}", MEMBER),
    Stop("search", "/papers?q=quantum+theory&from=2007-01-01&to=2007-12-31&sort=newest"),
    Stop("orgs", "/orgs"),
    Stop("org", f"/orgs/{ORG}"),
    Stop("org-new", "/orgs/new", MEMBER),
    Stop("org-members", f"/orgs/{ORG}/members", MEMBER),
    Stop("org-invitations", "/orgs/invitations", MEMBER),
    Stop("claim", f"/papers/{LATEX_PAPER}/claim", MEMBER),
    Stop("profile", f"/users/{MEMBER}"),
    Stop("login", "/login"),
    Stop("signup", "/signup"),
    Stop("reset", "/reset"),
    Stop("submit", "/papers/submit", MEMBER),
    Stop("account", "/account", MEMBER),
    Stop("digest", "/digest"),
    Stop("outbox", "/demo/outbox"),
    Stop("admin", "/admin", ADMIN),
    Stop("admin-reports", "/admin/reports", ADMIN),
    Stop("admin-claims", "/admin/claims", ADMIN),
    Stop("admin-papers", "/admin/papers", ADMIN),
    Stop("admin-users", "/admin/users", ADMIN),
    Stop("not-found", "/papers/9999.99999", status=404),
]


def build_site(tmp: Path, embeddings: Path) -> None:
    """The demo database with its search index, two users, an organization and a comment.

    The papers' vectors come from the session's embeddings file (tests/search/fixtures.py),
    so the corpus is not embedded a second time."""
    db = Database(f"sqlite:///{tmp / 'demo.sqlite3'}")
    db.upgrade()
    settings = site_settings(tmp)
    with clock.frozen(FIXED_NOW):
        load_demo(db, settings.tz)
        import_embeddings(db, embeddings, DIM, MODEL_NAME)
        run_index(db, settings)  # embeds only what the file lacked
        with db.transaction() as session:
            reader = accounts.create_user(
                session, MEMBER, "reader@example.org", PASSWORD, verified=True
            )
            accounts.create_user(
                session, ADMIN, "ada@example.org", PASSWORD, role="admin", verified=True
            )
            org = organizations.create(session, reader, ORG, "Quantum Lab", "Quantum papers.", "")
            session.flush()
            paper = session.execute(
                select(Paper).where(Paper.public_id == LATEX_PAPER)
            ).scalar_one()
            paper.organization_id = org.id  # the org page and the paper page show it
            comments.add_comment(session, reader, paper.id, "The *second* figure helps.")
        with KeepingMailer(db) as mailer:  # the outbox page shows a message with both parts
            mailer.send_message(
                build_message(
                    settings.mail_from,
                    "reader@example.org",
                    "Confirm your paperfeed digest",
                    "Open this link to confirm: http://127.0.0.1:8000/digest/confirm?token=x\n",
                    "<p>Open <a href='http://127.0.0.1:8000/digest/confirm?token=x'>this"
                    " link</a>.</p>",
                )
            )
    db.dispose()


def site_settings(folder: Path) -> Settings:
    settings = make_settings(folder, f"sqlite:///{folder / 'demo.sqlite3'}")
    settings.index_dir = folder / "index"
    return settings


@pytest.fixture(scope="module")
def tour_site(
    tmp_path_factory: pytest.TempPathFactory, sample_embeddings_file: Path
) -> Iterator[str]:
    """A fresh copy of the tour's site on a real port; yields its base URL.

    Building the site takes a while on a small machine, so it is built once per test run
    (shared by the xdist workers) and each module serves its own copy of the files.
    """
    template = built_once(
        tmp_path_factory, "tour-site", lambda folder: build_site(folder, sample_embeddings_file)
    )
    folder = tmp_path_factory.mktemp("tour")
    shutil.copytree(template, folder, dirs_exist_ok=True)
    settings = site_settings(folder)
    db = Database(settings.database_url)
    with clock.frozen(FIXED_NOW):
        live = start_server(create_app(settings, db))
        yield live.url
        live.stop()
    db.dispose()


@pytest.fixture(scope="module")
def chromium(browser):  # type: ignore[no-untyped-def]
    """The journeys' headless Chromium (`tests/web/browser.py`), under the tour's name; test
    modules import both fixtures."""
    return browser


def sign_in(page, base: str, username: str) -> None:  # type: ignore[no-untyped-def]
    """Log in through the login form, as a person would."""
    page.goto(f"{base}/login")
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login" not in url)
