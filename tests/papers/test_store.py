from datetime import UTC, datetime

from sqlalchemy import func, select

from paperfeed.db import Database
from paperfeed.models import Organization, Paper, PaperAlias, PaperCategory, Upvote, User
from paperfeed.papers.counts import inconsistent, recount
from paperfeed.papers.ids import local_id_for
from paperfeed.papers.records import OrganizationRef, PaperRecord, Version
from paperfeed.papers.store import current_change_seq, upsert_papers

T0 = datetime(2024, 1, 2, 10, 0, tzinfo=UTC)


def arxiv_record(**overrides: object) -> PaperRecord:
    record = PaperRecord(
        title="Scaling Laws for Everything",
        abstract="We find that $L \\propto N^{-0.07}$.",
        arxiv_id="2401.00001",
        authors=["Ada Lovelace", "Alan Turing"],
        versions=[Version(1, T0)],
        categories=["cs.LG", "stat.ML"],
    )
    for key, value in overrides.items():
        setattr(record, key, value)
    return record


def upsert(db: Database, *records: PaperRecord):
    with db.transaction() as session:
        return upsert_papers(session, list(records))


def test_importing_twice_changes_nothing(db: Database) -> None:
    first = upsert(db, arxiv_record(), PaperRecord(title="Local paper", abstract="x", upvotes=5))
    assert (first.added, first.updated, first.unchanged) == (2, 0, 0)
    with db.reader() as session:
        seq_before = current_change_seq(session)[0]
        modified_before = session.execute(select(Paper.modified_at)).scalars().all()
    second = upsert(db, arxiv_record(), PaperRecord(title="Local paper", abstract="x", upvotes=5))
    assert (second.added, second.updated, second.unchanged) == (0, 0, 2)
    with db.reader() as session:
        assert current_change_seq(session)[0] == seq_before
        assert session.execute(select(Paper.modified_at)).scalars().all() == modified_before


def test_a_change_bumps_the_change_sequence_of_that_paper_only(db: Database) -> None:
    upsert(db, arxiv_record(), arxiv_record(arxiv_id="2401.00002", title="Other"))
    with db.reader() as session:
        before = dict(session.execute(select(Paper.public_id, Paper.change_seq)).all())
    stats = upsert(db, arxiv_record(abstract="A new abstract."))
    assert stats.updated == 1
    with db.reader() as session:
        after = dict(session.execute(select(Paper.public_id, Paper.change_seq)).all())
    assert after["2401.00002"] == before["2401.00002"]
    assert after["2401.00001"] > max(before.values())


def test_new_versions_keep_history(db: Database) -> None:
    upsert(db, arxiv_record())
    later = datetime(2024, 3, 1, tzinfo=UTC)
    upsert(db, arxiv_record(versions=[Version(2, later)]))
    with db.reader() as session:
        paper = session.execute(select(Paper)).scalar_one()
        assert [v.version for v in paper.versions] == [1, 2]
        assert paper.published_at == T0
        assert paper.updated_at == later
        assert paper.latest_version == 2


def test_arxiv_record_merges_into_local_paper_of_same_title(db: Database) -> None:
    local = PaperRecord(
        title="Scaling laws for everything!",
        abstract="short",
        upvotes=7,
        organization=OrganizationRef("acme", "Acme"),
    )
    upsert(db, local)
    stats = upsert(db, arxiv_record())
    assert (stats.added, stats.updated) == (0, 1)
    with db.reader() as session:
        paper = session.execute(select(Paper)).scalar_one()
        assert paper.public_id == "2401.00001"
        assert paper.upvotes == 7  # the imported baseline survives the merge
        assert [a.name for a in paper.authors] == ["Ada Lovelace", "Alan Turing"]
        alias = session.execute(select(PaperAlias)).scalar_one()
        assert alias.alias == local_id_for(local.title)
        assert alias.paper_id == paper.id
    # Re-importing the local record now finds the merged paper instead of adding a twin.
    again = upsert(db, local)
    assert again.added == 0


def test_distinct_arxiv_papers_with_the_same_title_stay_distinct(db: Database) -> None:
    upsert(db, arxiv_record(), arxiv_record(arxiv_id="2401.09999"))
    with db.reader() as session:
        assert session.execute(select(func.count()).select_from(Paper)).scalar_one() == 2


def test_new_baseline_keeps_votes_cast_here(db: Database) -> None:
    upsert(db, arxiv_record(upvotes=10))
    with db.transaction() as session:
        paper = session.execute(select(Paper)).scalar_one()
        user = User(username="u", email="u@x.org", password_hash="x", created_at=T0)
        session.add(user)
        session.flush()
        session.add(Upvote(user_id=user.id, paper_id=paper.id, created_at=T0))
        paper.upvotes += 1
    upsert(db, arxiv_record(upvotes=20))
    with db.reader() as session:
        paper = session.execute(select(Paper)).scalar_one()
        assert (paper.upvote_baseline, paper.upvotes) == (20, 21)
        assert inconsistent(session) == []


def test_recount_repairs_drifted_counts(db: Database) -> None:
    upsert(db, arxiv_record(upvotes=3))
    with db.transaction() as session:
        session.execute(select(Paper)).scalar_one().upvotes = 99
    with db.transaction() as session:
        assert inconsistent(session) == [("2401.00001", 99, 3, 0, 0)]
        assert recount(session) == 1
    with db.reader() as session:
        assert inconsistent(session) == []
        assert session.execute(select(Paper.upvotes)).scalar_one() == 3


def test_organizations_are_created_once(db: Database) -> None:
    org = OrganizationRef("acme", "Acme Research")
    upsert(
        db,
        PaperRecord(title="One", abstract="a", organization=org),
        PaperRecord(title="Two", abstract="b", organization=org),
    )
    upsert(db, PaperRecord(title="Three", abstract="c", organization=org))
    with db.reader() as session:
        orgs = session.execute(select(Organization)).scalars().all()
        assert [(o.name, o.fullname) for o in orgs] == [("acme", "Acme Research")]


# --- categories as rows ----------------------------------------------------------------


def category_rows(db: Database, public_id: str = "2401.00001") -> list[tuple]:
    with db.reader() as session:
        return [
            tuple(row)
            for row in session.execute(
                select(
                    PaperCategory.category,
                    PaperCategory.is_primary,
                    PaperCategory.archive,
                    PaperCategory.feed_at,
                )
                .join(Paper)
                .where(Paper.public_id == public_id)
                .order_by(PaperCategory.position)
            )
        ]


def test_categories_are_written_as_rows_with_the_first_primary(db: Database) -> None:
    day = datetime(2024, 1, 3, 14, tzinfo=UTC)
    upsert(db, arxiv_record(categories=["cs.CL", "cs.LG", "cmp-lg", "math.IT"], feed_at=day))
    assert category_rows(db) == [
        ("cs.CL", True, "cs", day),
        ("cs.LG", False, "cs", day),
        ("cmp-lg", False, "cs", day),  # the defunct archive is listed with cs.CL
        ("math.IT", False, "math", day),
    ]
    with db.reader() as session:
        paper = session.execute(select(Paper)).scalar_one()
        assert (paper.primary_category, paper.categories) == ("cs.CL", "cs.CL cs.LG cmp-lg math.IT")


def test_a_new_version_with_other_categories_replaces_the_rows(db: Database) -> None:
    upsert(db, arxiv_record(categories=["cs.LG", "stat.ML", "cs.AI"]))
    stats = upsert(
        db, arxiv_record(categories=["stat.ML", "cs.CL", "cs.LG"], versions=[Version(1, T0)])
    )
    assert stats.updated == 1
    assert [(c, primary) for c, primary, _, _ in category_rows(db)] == [
        ("stat.ML", True),
        ("cs.CL", False),
        ("cs.LG", False),
    ]
    assert upsert(db, arxiv_record(categories=["stat.ML", "cs.CL", "cs.LG"])).unchanged == 1


def test_a_new_feed_date_reaches_the_category_rows(db: Database) -> None:
    upsert(db, arxiv_record())
    assert {feed_at for *_, feed_at in category_rows(db)} == {None}
    day = datetime(2024, 1, 5, 14, tzinfo=UTC)
    assert upsert(db, arxiv_record(feed_at=day)).updated == 1
    assert {feed_at for *_, feed_at in category_rows(db)} == {day}


def test_papers_without_categories_get_no_rows_and_keep_the_ones_they_have(
    db: Database,
) -> None:
    upsert(db, PaperRecord(title="An HF listing", abstract="x", upvotes=3))
    assert category_rows(db, local_id_for("An HF listing")) == []
    upsert(db, arxiv_record())
    upsert(db, arxiv_record(categories=[], abstract="Changed, categories unknown."))
    assert [c for c, *_ in category_rows(db)] == ["cs.LG", "stat.ML"]


def test_duplicate_categories_in_a_record_make_one_row(db: Database) -> None:
    upsert(db, arxiv_record(categories=["cs.LG", "cs.LG", "stat.ML"]))
    assert [c for c, *_ in category_rows(db)] == ["cs.LG", "stat.ML"]


def test_deleting_a_paper_deletes_its_category_rows(db: Database) -> None:
    upsert(db, arxiv_record())
    with db.transaction() as session:
        session.delete(session.execute(select(Paper)).scalar_one())
    with db.reader() as session:
        assert session.execute(select(func.count()).select_from(PaperCategory)).scalar_one() == 0


def test_a_token_too_long_to_be_a_category_gets_no_row_and_the_paper_imports(
    db: Database,
) -> None:
    stray = "not-a-category-but-a-very-long-stray-word"
    assert upsert(db, arxiv_record(categories=["cs.CL", stray, "cs.LG"])).added == 1
    assert [(c, primary) for c, primary, _, _ in category_rows(db)] == [
        ("cs.CL", True),
        ("cs.LG", False),
    ]
