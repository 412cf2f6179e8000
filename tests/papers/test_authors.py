"""Grouping the names on the papers into authors: variants merged, distinct people kept apart."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy import update

from paperfeed.db import Database
from paperfeed.models import Paper, PaperAuthor, User
from paperfeed.papers.authors import find_author, group_variants
from paperfeed.papers.names import Evidence, parse
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers


def _no_evidence(names: Sequence[str]) -> Mapping[str, Evidence]:
    return {}


def test_full_forms_lead_their_groups_and_distinct_first_names_stay_apart() -> None:
    asked: list[Sequence[str]] = []

    def evidence(names: Sequence[str]) -> Mapping[str, Evidence]:
        asked.append(names)
        field = {"Edward Berger": "q-bio.NC"}
        return {n: Evidence(categories=frozenset({field.get(n, "hep-ph")})) for n in names}

    groups = group_variants(
        ["E. L. Berger", "Edmond L. Berger", "Edward Berger"],
        {"E. L. Berger": 5, "Edmond L. Berger": 2, "Edward Berger": 1},
        evidence,
    )
    assert sorted(groups) == [("Edmond L. Berger", "E. L. Berger"), ("Edward Berger",)]
    assert len(asked) == 1  # one question for every name that needs evidence


def test_no_evidence_no_merge_for_initials() -> None:
    groups = group_variants(["E. L. Berger", "Edmond L. Berger"], {}, _no_evidence)
    assert sorted(groups) == [("E. L. Berger",), ("Edmond L. Berger",)]


def test_same_full_names_merge_without_asking_for_evidence() -> None:
    def evidence(names: Sequence[str]) -> Mapping[str, Evidence]:
        raise AssertionError("no evidence needed")

    groups = group_variants(["Berger, Edmond Louis", "Edmond Louis Berger"], {}, evidence)
    assert len(groups) == 1 and set(groups[0]) == {"Berger, Edmond Louis", "Edmond Louis Berger"}


def test_an_initial_that_two_people_could_have_stays_on_its_own() -> None:
    everyone = frozenset({"hep-ph"})
    groups = group_variants(
        ["E. Berger", "Edmond Berger", "Edward Berger"],
        {},
        lambda names: {n: Evidence(categories=everyone) for n in names},
    )
    assert sorted(groups) == [("E. Berger",), ("Edmond Berger",), ("Edward Berger",)]


def test_claims_confirm_and_separate() -> None:
    names = ["J. Wang", "Jun Wang", "Jing Wang"]
    evidence = {n: Evidence(categories=frozenset({"cs.CL"})) for n in names}
    # "J. Wang" could be either; Jing Wang's account claimed it.
    groups = group_variants(
        names, {}, lambda asked: evidence, {"J. Wang": frozenset({7}), "Jing Wang": frozenset({7})}
    )
    assert sorted(groups) == [("Jing Wang", "J. Wang"), ("Jun Wang",)]
    # Two accounts' claims keep even compatible names apart.
    groups = group_variants(
        ["Jun Wang", "Wang, Jun"],
        {},
        _no_evidence,
        {"Jun Wang": frozenset({1}), "Wang, Jun": frozenset({2})},
    )
    assert len(groups) == 2


def _seed(db: Database) -> None:
    def paper(arxiv_id: str, authors: list[str], categories: list[str]) -> PaperRecord:
        return PaperRecord(
            title=f"Paper {arxiv_id}",
            abstract="x",
            arxiv_id=arxiv_id,
            authors=authors,
            categories=categories,
        )

    with db.transaction() as session:
        upsert_papers(
            session,
            [
                paper("2401.00001", ["Edmond L. Berger", "Bo Li"], ["hep-ph"]),
                paper("2401.00002", ["E. L. Berger", "B. Li"], ["hep-ex"]),  # shares "Li"
                paper("2401.00003", ["Berger, E.L."], ["hep-ph"]),  # shares hep-ph
                paper("2401.00004", ["E. L. Berger", "Ann Other"], ["math.AG"]),
                paper("2401.00005", ["Edward Berger"], ["q-bio.NC"]),
                paper("2401.00006", ["Plato"], ["math.HO"]),
            ],
        )


def test_every_variant_finds_the_same_author(db: Database) -> None:
    _seed(db)
    with db.reader() as session:
        found = {
            n: find_author(session, n) for n in ("E. L. Berger", "Berger, E.L.", "edmond l. berger")
        }
        full = find_author(session, "Edmond  L. Berger")  # spaces collapsed
        edward = find_author(session, "Edward Berger")
        plato = find_author(session, "Plato")
        nobody = find_author(session, "Nobody Here")
    assert full is not None and full.name == "Edmond L. Berger"
    assert set(full.names) == {"Edmond L. Berger", "E. L. Berger", "Berger, E.L."}
    assert all(a == full for a in found.values())
    assert edward is not None and edward.names == ("Edward Berger",)
    assert plato is not None and plato.names == ("Plato",)
    assert nobody is None


def test_hidden_papers_and_rows_without_a_key(db: Database) -> None:
    _seed(db)
    with db.transaction() as session:
        session.execute(
            update(Paper).where(Paper.public_id == "2401.00005").values(hidden_at=Paper.created_at)
        )
        session.execute(update(PaperAuthor).where(PaperAuthor.name == "Plato").values(name_key=""))
    with db.reader() as session:
        assert find_author(session, "Edward Berger") is None  # only on a hidden paper
        plato = find_author(session, "Plato")  # found by its exact name
    assert plato is not None and plato.names == ("Plato",)


def test_two_accounts_claiming_variants_keep_them_apart(db: Database) -> None:
    _seed(db)
    with db.transaction() as session:
        now = datetime.now(UTC)
        first = User(username="edmond", email="e@example.org", password_hash="x", created_at=now)
        second = User(username="other", email="o@example.org", password_hash="x", created_at=now)
        session.add_all([first, second])
        session.flush()
        for name, user in (("Edmond L. Berger", first), ("Berger, E.L.", second)):
            session.execute(
                update(PaperAuthor).where(PaperAuthor.name == name).values(user_id=user.id)
            )
    with db.reader() as session:
        full = find_author(session, "Edmond L. Berger")
        comma = find_author(session, "Berger, E.L.")
    assert full is not None and comma is not None
    assert "Berger, E.L." not in full.names and comma.names == ("Berger, E.L.",)
    assert "E. L. Berger" in full.names


def test_grouping_the_many_names_of_a_common_key_parses_each_name_once() -> None:
    """Every author page and every search that names someone groups the names of a key:
    for "J. Wang" up to a hundred names, each pair compared. Parsing is the costly part, so
    each name is parsed once, whatever the number of pairs."""
    given = ["Jian", "Jun", "Jing", "Jie", "Jia", "Jin", "Juan", "Jiang", "Jiayi", "Junjie"]
    names = ["J. Wang", *(f"{g} Wang" for g in given)]
    names += [f"J. {chr(65 + i)}. Wang" for i in range(26)]
    names += [f"{g} {chr(65 + i)}. Wang" for g in given for i in range(16)]
    names = [f"{n}  " for n in names[:200]]  # names no other test has parsed
    same_field = frozenset({"hep-ph"})
    before = parse.cache_info()
    groups = group_variants(names, {}, lambda ns: {n: Evidence(categories=same_field) for n in ns})
    after = parse.cache_info()
    assert sum(len(g) for g in groups) == len(names)
    assert after.misses - before.misses <= len(names)
    assert after.hits - before.hits > len(names) ** 2 // 2  # every pair compared, none re-parsed
