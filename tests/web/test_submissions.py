"""Submitting papers through the site, against a local arXiv API stand-in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from paperfeed import clock
from paperfeed.community import accounts
from paperfeed.db import Database
from paperfeed.models import (
    Organization,
    OrgMembership,
    Paper,
    PaperCategory,
    Submission,
    Upvote,
    User,
)
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.servers import Response
from tests.web.conftest import BROWSER_HEADERS

PASSWORD = "long enough password"
DAY_AFTER = datetime(2024, 8, 5, 15, 0, tzinfo=UTC)  # 2408.00716 appeared on 2024-08-01


@pytest.fixture
def app(db: Database, tmp_path: Path, arxiv_api):  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, db.url).model_copy(
        update={
            "arxiv_api_url": arxiv_api.url,
            "arxiv_request_interval": 0.0,
            "submission_daily_cap": 2,
        }
    )
    with db.transaction() as session:
        for name, role in (("ada", "user"), ("grace", "user"), ("root", "admin")):
            accounts.create_user(
                session, name, f"{name}@example.org", PASSWORD, role=role, verified=True
            )
    with clock.frozen(DAY_AFTER):
        yield create_app(settings, db)


def client_for(app, name: str) -> TestClient:  # type: ignore[no-untyped-def]
    client = TestClient(app, follow_redirects=False, headers=BROWSER_HEADERS)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"csrf": token, "login": name, "password": PASSWORD})
    return client


def post(client: TestClient, arxiv: str, org: str = ""):  # type: ignore[no-untyped-def]
    form = client.get("/papers/submit")
    assert form.status_code == 200
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    return client.post("/papers/submit", data={"csrf": token, "arxiv": arxiv, "org": org})


def test_submit_by_url_enters_todays_feed(app, db: Database) -> None:  # type: ignore[no-untyped-def]
    ada = client_for(app, "ada")
    response = post(ada, "https://arxiv.org/abs/2408.00716v1")
    assert response.status_code == 303
    assert response.headers["location"] == "/papers/2408.00716?submitted=accepted"
    page = ada.get("/papers/2408.00716").text
    assert "Submitted by" in page and ">ada</a>" in page
    with db.reader() as session:
        paper = session.execute(select(Paper).where(Paper.public_id == "2408.00716")).scalar_one()
        assert paper.feed_at == DAY_AFTER
        assert session.get(User, paper.submitted_by_id).username == "ada"
        assert session.execute(select(Submission.status)).scalars().all() == ["accepted"]
    day = ada.get("/papers/date/2024-08-05").text
    assert "/papers/2408.00716" in day


def test_a_duplicate_counts_as_an_upvote(app, db: Database) -> None:  # type: ignore[no-untyped-def]
    post(client_for(app, "ada"), "2408.00716")
    grace = client_for(app, "grace")
    response = post(grace, "arXiv:2408.00716")
    assert response.headers["location"].endswith("submitted=duplicate")
    assert "already on the feed" in grace.get(response.headers["location"]).text
    with db.reader() as session:
        assert session.execute(select(Paper.upvotes)).scalar_one() == 1
        voter = session.execute(
            select(User.username).join(Upvote, Upvote.user_id == User.id)
        ).scalar_one()
        assert voter == "grace"


def test_old_papers_are_refused_except_for_admins(app, db: Database) -> None:  # type: ignore[no-untyped-def]
    with clock.frozen(datetime(2024, 9, 1, tzinfo=UTC)):
        response = post(client_for(app, "ada"), "2408.00716")
        assert response.status_code == 400
        assert "last 14 days" in response.text and "August 1, 2024" in response.text
        assert post(client_for(app, "root"), "2408.00716").status_code == 303


def test_daily_cap(app, arxiv_api) -> None:  # type: ignore[no-untyped-def]
    arxiv_api.generate = True
    ada = client_for(app, "ada")
    with clock.frozen(datetime(2024, 8, 2, tzinfo=UTC)):
        assert post(ada, "2408.00001").status_code == 303
        assert post(ada, "2408.00002").status_code == 303
        third = post(ada, "2408.00003")
        assert third.status_code == 400 and "Try again tomorrow" in third.text


def test_organization_tags_need_membership(app, db: Database) -> None:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        org = Organization(name="acme", fullname="Acme Research", created_at=clock.now())
        session.add(org)
        session.flush()
        ada = session.execute(select(User).where(User.username == "ada")).scalar_one()
        session.add(
            OrgMembership(
                organization_id=org.id, user_id=ada.id, status="active", created_at=clock.now()
            )
        )
    grace = post(client_for(app, "grace"), "2408.00716", org="acme")
    assert grace.status_code == 400 and "not a member" in grace.text
    ada_client = client_for(app, "ada")
    assert "Acme Research" in ada_client.get("/papers/submit").text
    assert post(ada_client, "2408.00716", org="acme").status_code == 303
    with db.reader() as session:
        paper = session.execute(select(Paper).where(Paper.public_id == "2408.00716")).scalar_one()
        assert session.get(Organization, paper.organization_id).name == "acme"


@pytest.mark.parametrize(
    ("arxiv", "message"),
    [
        ("not an id", "not an arXiv id"),
        ("2408.99999", "arXiv has no paper"),
        ("2413.00001", "arXiv has no paper"),
    ],
)
def test_bad_ids_say_what_is_wrong(app, arxiv: str, message: str) -> None:  # type: ignore[no-untyped-def]
    response = post(client_for(app, "ada"), arxiv)
    assert response.status_code == 400
    assert message in response.text


def test_arxiv_being_down_is_a_503_with_advice(app, arxiv_api) -> None:  # type: ignore[no-untyped-def]
    client = client_for(app, "ada")
    for _ in range(10):
        arxiv_api.faults.append(Response(503, b"busy", {"Retry-After": "0"}))
    response = post(client, "2408.00716")
    assert response.status_code == 503
    assert "try again in a few minutes" in response.text


def test_visitors_must_log_in_to_submit(app) -> None:  # type: ignore[no-untyped-def]
    with TestClient(app, follow_redirects=False, headers=BROWSER_HEADERS) as client:
        response = client.get("/papers/submit")
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/papers/submit"


__all__ = ["Iterator"]


def test_submitting_a_paper_known_off_the_feed_puts_it_on_todays_category_pages(
    app, db: Database
) -> None:  # type: ignore[no-untyped-def]
    """A paper imported from a snapshot has no feed date; submitting it gives it one, and
    its category rows (which carry a copy of that date) must follow, or the category's
    day page would miss it."""
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(
                    arxiv_id="2408.00716",
                    title="Known from the snapshot",
                    abstract="x",
                    categories=["cs.CL", "cs.LG"],
                )
            ],
        )
    response = post(client_for(app, "ada"), "2408.00716")
    assert response.status_code == 303, response.text
    with db.reader() as session:
        dates = session.execute(select(PaperCategory.category, PaperCategory.feed_at)).all()
        assert dates and all(instant == DAY_AFTER for _, instant in dates), dates
    day = TestClient(app).get("/papers/category/cs.LG/date/2024-08-05")
    assert day.status_code == 200 and "/papers/2408.00716" in day.text
