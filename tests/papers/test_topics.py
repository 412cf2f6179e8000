import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Select, event, select
from sqlalchemy.orm import ORMExecuteState

from paperfeed.db import Database
from paperfeed.models import Paper, PaperCategory
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from paperfeed.papers.topics import Topic, UnknownTopic, category_filter, find_topic

START, END = datetime(2026, 11, 19, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC)


def test_topics_are_categories_or_archives_under_one_canonical_code() -> None:
    assert find_topic("cs.CL") == Topic("cs.CL", is_archive=False)
    assert find_topic("cs") == Topic("cs", is_archive=True)
    assert find_topic("hep-th") == Topic("hep-th", is_archive=True)
    assert find_topic("cmp-lg") == Topic("cs.CL", is_archive=False)
    assert find_topic("math.IT") == Topic("cs.IT", is_archive=False)
    assert find_topic("cs.CL").label == "Computation and Language (cs.CL)"
    assert find_topic("cs").path == "/papers/category/cs"
    with pytest.raises(UnknownTopic):
        find_topic("xx.YY")
    with pytest.raises(UnknownTopic):
        find_topic("CS.CL")


@pytest.mark.parametrize("code", ["cs.LG", "cs"])
def test_a_topic_day_is_a_range_scan_of_its_index(db: Database, code: str) -> None:
    topic = find_topic(code)
    query = topic.paper_ids(PaperCategory.feed_at >= START, PaperCategory.feed_at < END)
    latest = (
        select(PaperCategory.feed_at)
        .where(topic.rows(), PaperCategory.feed_at < END)
        .order_by(PaperCategory.feed_at.desc())
        .limit(1)
    )
    index = (
        "ix_paper_categories_archive_feed_at"
        if topic.is_archive
        else ("ix_paper_categories_category_feed_at")
    )
    with db.engine.connect() as connection:
        for statement in (query, latest):
            assert_index_order(connection, statement, index)


def assert_index_order(connection: Connection, statement: Select[Any], index: str) -> None:
    """The statement reads `index` in its order: no sort, whatever the table's size."""
    sqlite = connection.dialect.name == "sqlite"
    if not sqlite:  # an empty table: make the planner show the plan it has with an index
        connection.exec_driver_sql("SET enable_seqscan = off")
    sql = str(statement.compile(connection, compile_kwargs={"literal_binds": True}))
    explain = "EXPLAIN QUERY PLAN" if sqlite else "EXPLAIN"
    plan = " ".join(str(row[-1]) for row in connection.exec_driver_sql(f"{explain} {sql}"))
    if sqlite:
        assert f"USING COVERING INDEX {index}" in plan, plan
        assert "TEMP B-TREE" not in plan, plan  # no sort: the index gives the order
    else:
        assert re.search(rf"Index (Only )?Scan (Backward )?using {index} ", plan), plan
        assert "Sort" not in plan, plan


@pytest.mark.parametrize(
    ("codes", "scans"),
    [(["cs.CL"], 2), (["math.NA"], 2), (["cs"], 1), (["cs.CL", "hep-th"], 3)],
)
def test_an_instant_is_the_first_row_of_one_index_range_per_code(
    db: Database, codes: list[str], scans: int
) -> None:
    """cs.CL is also cmp-lg: ordered over both codes at once, the database would sort
    every row of the category (a cost that grows with the archive), so each code is read
    on its own, in index order."""
    topic = category_filter(codes) if len(codes) > 1 else find_topic(codes[0])
    assert topic is not None
    statements: list[Select[Any]] = []

    def record(state: ORMExecuteState) -> None:
        assert isinstance(state.statement, Select)
        statements.append(state.statement)

    with db.reader() as session:
        event.listen(session, "do_orm_execute", record)
        for latest in (True, False):
            assert topic.instant(session, latest, PaperCategory.feed_at < END) is None
        connection = session.connection()
        assert len(statements) == 2 * scans
        for statement in statements:
            index = (
                "ix_paper_categories_archive_feed_at"
                if "paper_categories.archive =" in str(statement)
                else "ix_paper_categories_category_feed_at"
            )
            assert_index_order(connection, statement, index)


def test_an_instant_is_the_latest_or_earliest_over_every_code_of_the_topic(db: Database) -> None:
    def paper(arxiv_id: str, categories: list[str], day: int) -> PaperRecord:
        return PaperRecord(
            title=arxiv_id,
            abstract="a",
            arxiv_id=arxiv_id,
            categories=categories,
            feed_at=START + timedelta(days=day),
        )

    with db.transaction() as session:
        upsert_papers(
            session,
            [
                paper("cmp-lg/9404001", ["cmp-lg"], -30),  # the earliest: an alias of cs.CL
                paper("2411.00001", ["cs.LG", "cs.CL"], -2),
                paper("2411.00002", ["cs.CL"], 0),
                paper("2411.00003", ["cmp-lg"], 1),  # the latest, hidden below
                paper("2411.00004", ["hep-th"], 5),
            ],
        )
        hidden = session.execute(select(Paper).where(Paper.arxiv_id == "2411.00003")).scalar_one()
        hidden.hidden_at = START
    topic = find_topic("cs.CL")
    with db.reader() as session:
        assert topic.instant(session, True) == START
        assert topic.instant(session, False) == START - timedelta(days=30)
        assert topic.instant(session, True, PaperCategory.feed_at < START) == START - timedelta(
            days=2
        )
        assert topic.instant(session, False, PaperCategory.feed_at > START) is None
        both = category_filter(["cs.CL", "hep-th"])
        assert both is not None
        assert both.instant(session, True) == START + timedelta(days=5)
        assert both.instant(session, False, PaperCategory.feed_at > START) == START + timedelta(
            days=5
        )
