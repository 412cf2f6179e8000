"""Counts agree with their nouns: the helper, and a site with one of everything, whose pages
and commands must never say "1 papers"."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from paperfeed import clock
from paperfeed.community import accounts, comments, organizations
from paperfeed.db import Database
from paperfeed.models import Paper
from paperfeed.plurals import noun, plural
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.test_cli import run
from tests.web.conftest import BROWSER_HEADERS

PASSWORD = "long enough password"
ONE_PAPER = {
    "id": "2611.00001",
    "title": "One $k$-means paper",
    "abstract": "Clustering with one centroid.",
    "authors": ["Ada Lovelace"],
    "upvotes": 1,
    "published": "2026-11-20",
    "feed_date": "2026-11-20T12:00:00Z",
}
NOUNS = (
    "papers",
    "comments",
    "authors",
    "upvotes",
    "members",
    "organizations",
    "days",
    "tries",
    "pages",
    "embeddings",
    "ids",
    "vectors",
    "digests",
    "topics",
    "records",
    "runs",
    "reports",
    "characters",
    "seconds",
    "minutes",
    "deliveries",
)
# "1" (not part of a bigger number) then, past tags and an adjective, a plural noun; or
# "1 paper match" (the verb must agree too: "1 paper matches").
SLIP = re.compile(
    r"(?<![\d,.])1(?:\s|<[^>]*>)+(?:(?:new|open|failed)\s+)?"
    rf"(?:(?:{'|'.join(NOUNS)})\b|paper match\b)"
)


def slips(text: str) -> list[str]:
    return [match.group(0) for match in SLIP.finditer(text)]


def test_plural_and_noun() -> None:
    assert plural(1, "paper") == "1 paper"
    assert plural(0, "paper") == "0 papers"
    assert plural(1204, "paper") == "1,204 papers"
    assert plural(1, "try", "tries") == "1 try" and plural(3, "try", "tries") == "3 tries"
    assert plural(1, "paper matches", "papers match") == "1 paper matches"
    assert noun(1, "upvote") == "upvote" and noun(2, "upvote") == "upvotes"


def test_the_slip_finder_finds_slips() -> None:
    assert slips("1 papers match") and slips("<b>1</b> <span>upvotes</span>")
    assert slips("from the last 1 days") and slips("(1 tries)") and slips("1 paper match")
    assert not slips("1 paper · 11 papers · 1,001 papers · 21 days · 1 paper matches")


@pytest.fixture
def one_of_everything(db: Database, tmp_path: Path) -> Database:
    """One paper with one author, one upvote and one comment, in an organization of one."""
    source = tmp_path / "one.jsonl"
    source.write_text(json.dumps(ONE_PAPER) + "\n")
    env = {
        "PAPERFEED_DATA_DIR": str(tmp_path),
        "PAPERFEED_DATABASE_URL": db.url,
        "PAPERFEED_TRENDING_WINDOW_DAYS": "1",
    }
    outputs = [
        run(["import", str(source)], env).stdout,
        run(["index"], env).stdout,
        run(["search", "centroid"], env).stdout,
        run(["status"], env).stdout,
    ]
    assert "1 paper embedded" in outputs[1] and "1 paper matches" in outputs[2]
    assert "One k-means paper" in outputs[2]  # titles in a terminal are plain text
    for output in outputs:
        assert slips(output) == [], output
    with db.transaction() as session:
        ada = accounts.create_user(session, "ada", "ada@example.org", PASSWORD, verified=True)
        paper = session.query(Paper).one()
        comments.add_comment(session, ada, paper.id, "The only comment.")
        org = organizations.create(session, ada, "acme", "Acme Research")
        organizations.tag_paper(session, org, ada, paper.public_id)
    return db


def test_pages_with_one_of_everything_say_it_in_the_singular(
    one_of_everything: Database, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, one_of_everything.url).model_copy(
        update={"trending_window_days": 1, "submission_window_days": 1}
    )
    app = create_app(settings, one_of_everything)
    with (
        TestClient(app, follow_redirects=False, headers=BROWSER_HEADERS) as client,
        clock.frozen(clock.now()),
    ):
        pages = {
            path: client.get(path)
            for path in (
                "/papers/date/2026-11-20",
                "/papers/trending",
                "/papers/calendar/2026-11",
                "/papers/2611.00001",
                "/papers/2611.00001.md",
                "/orgs",
                "/orgs/acme",
                "/users/ada",
            )
        }
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
        assert token is not None
        client.post("/login", data={"csrf": token.group(1), "login": "ada", "password": PASSWORD})
        pages["/papers/submit"] = client.get("/papers/submit")
        pages["/ (signed in)"] = client.get("/papers/date/2026-11-20")
    for path, response in pages.items():
        assert response.status_code == 200, (path, response.status_code)
        assert slips(response.text) == [], path
    day = pages["/papers/date/2026-11-20"].text
    assert re.search(r"1\s*</span>\s*<span[^>]*>upvote;", day)  # the vote box says it too
    assert 'title="1 comment"' in day and "1 paper<" in day
    assert "the last 1 day " in pages["/papers/trending"].text
