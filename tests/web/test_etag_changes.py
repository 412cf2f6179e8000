from fastapi.testclient import TestClient

from paperfeed.db import Database
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers


def test_a_new_paper_changes_the_validator(
    empty_client: TestClient, db: Database, fixed_clock
) -> None:
    with db.transaction() as session:
        upsert_papers(session, [PaperRecord(title="First", abstract="a", feed_at=fixed_clock)])
    first = empty_client.get("/")
    assert "First" in first.text
    with db.transaction() as session:
        upsert_papers(session, [PaperRecord(title="Second", abstract="b", feed_at=fixed_clock)])
    second = empty_client.get("/", headers={"if-none-match": first.headers["etag"]})
    assert second.status_code == 200
    assert "Second" in second.text
