"""Author name parsing, the surname key and the variant rule, measured on a labelled set."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from paperfeed.papers.names import compatible, name_key, parse, same_author, surname_key

PAIRS = Path(__file__).parent / "data" / "name_pairs.csv"
RECALL_FLOOR = 0.8


def _rows() -> list[dict[str, str]]:
    with PAIRS.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _decide(row: dict[str, str]) -> bool:
    def split(value: str) -> list[str]:
        return [v for v in value.split(";") if v]

    return same_author(
        row["name_a"],
        row["name_b"],
        split(row["coauthors_a"]),
        split(row["coauthors_b"]),
        split(row["categories_a"]),
        split(row["categories_b"]),
    )


def test_labelled_pairs_precision_and_recall() -> None:
    rows = _rows()
    merge = [r for r in rows if r["label"] == "merge"]
    keep = [r for r in rows if r["label"] == "not"]
    assert len(rows) >= 60 and len(merge) + len(keep) == len(rows)
    wrongly_merged = [(r["name_a"], r["name_b"]) for r in keep if _decide(r)]
    found = sum(1 for r in merge if _decide(r))
    merged = found + len(wrongly_merged)
    precision = found / merged if merged else 1.0
    recall = found / len(merge)
    print(
        f"name pairs: {len(merge)} must-merge, {len(keep)} must-not-merge; "
        f"precision {precision:.3f}, recall {recall:.3f}"
    )
    assert wrongly_merged == []
    assert precision == 1.0
    assert recall >= RECALL_FLOOR


@pytest.mark.parametrize(
    ("name", "given", "surname"),
    [
        ("Edmond L. Berger", ("edmond", "l"), "berger"),
        ("Berger, E.L.", ("e", "l"), "berger"),
        ("Jan van der Berg", ("jan",), "van der berg"),
        ("Juan de la Cruz", ("juan",), "de la cruz"),
        ("José García-Pérez", ("jose",), "garcia-perez"),
        ("J.-P. Serre", ("j", "p"), "serre"),
        ("Martin Luther King Jr.", ("martin", "luther"), "king"),
        ("Plato", (), "plato"),
    ],
)
def test_parse(name: str, given: tuple[str, ...], surname: str) -> None:
    parsed = parse(name)
    assert (parsed.given, parsed.surname) == (given, surname)
    assert surname_key(name) == surname


def test_distinct_full_first_names_never_merge_whatever_the_evidence() -> None:
    assert not same_author(
        "Edmond Berger", "Edward Berger", ["J. Qiu"], ["J. Qiu"], ["hep-ph"], ["hep-ph"]
    )


def test_every_pair_the_rule_can_merge_shares_a_name_key() -> None:
    # The author page looks variants up by key: a mergeable pair with different keys
    # would never be found.
    for row in _rows():
        if compatible(parse(row["name_a"]), parse(row["name_b"])):
            assert name_key(row["name_a"]) == name_key(row["name_b"]), row
    assert name_key("Berger, E.L.") == name_key("Edmond L. Berger") == "berger|e"
    assert name_key("Plato") == "plato|"
