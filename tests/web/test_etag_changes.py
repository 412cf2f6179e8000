from fastapi.testclient import TestClient

from paperfeed.db import Database
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import current_change_seq, upsert_papers
from paperfeed.search.keywords import update_keywords


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


def test_new_keywords_change_the_validator_without_a_new_change_seq(
    empty_client: TestClient, db: Database, fixed_clock
) -> None:
    # Keywords are enrichment: the page must show them at once (a new ETag), but the
    # paper's change_seq stays, so the search index does not re-index it.
    record = PaperRecord(
        title="Speculative decoding for large language models",
        abstract="We accelerate autoregressive decoding of large language models with a "
        "small draft model whose tokens the large model verifies in parallel.",
        arxiv_id="2411.00042",
        feed_at=fixed_clock,
    )
    with db.transaction() as session:
        upsert_papers(session, [record])
    first = empty_client.get("/papers/2411.00042")
    assert 'class="paper-keywords"' not in first.text
    with db.reader() as session:
        before = current_change_seq(session)[0]
    assert update_keywords(db).computed == 1
    second = empty_client.get(
        "/papers/2411.00042", headers={"if-none-match": first.headers["etag"]}
    )
    assert second.status_code == 200
    assert second.headers["etag"] != first.headers["etag"]
    assert 'class="paper-keywords"' in second.text
    with db.reader() as session:
        assert current_change_seq(session)[0] == before
    third = empty_client.get(
        "/papers/2411.00042", headers={"if-none-match": second.headers["etag"]}
    )
    assert third.status_code == 304
