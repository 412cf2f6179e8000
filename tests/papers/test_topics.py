import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from paperfeed.db import Database
from paperfeed.models import PaperCategory
from paperfeed.papers.topics import Topic, UnknownTopic, find_topic

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
    sqlite = db.engine.dialect.name == "sqlite"
    with db.engine.connect() as connection:
        if not sqlite:  # an empty table: make the planner show the plan it has with an index
            connection.exec_driver_sql("SET enable_seqscan = off")
        for statement in (query, latest):
            sql = str(statement.compile(connection, compile_kwargs={"literal_binds": True}))
            explain = "EXPLAIN QUERY PLAN" if sqlite else "EXPLAIN"
            plan = " ".join(str(row[-1]) for row in connection.exec_driver_sql(f"{explain} {sql}"))
            if sqlite:
                assert f"USING COVERING INDEX {index}" in plan, plan
                assert "TEMP B-TREE" not in plan, plan  # no sort: the index gives the order
            else:
                assert re.search(rf"Index (Only )?Scan (Backward )?using {index} ", plan), plan
                assert "Sort" not in plan, plan
