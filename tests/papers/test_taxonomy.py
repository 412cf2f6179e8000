import json
from importlib import resources

import pytest

from paperfeed.papers import taxonomy
from paperfeed.papers.taxonomy import (
    archive_categories,
    archive_of,
    canonical,
    equivalents,
    is_archive,
    is_category,
    is_known,
    label,
    listing_archive,
    name,
)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("cs.CL", "Computation and Language"),
        ("cs.LG", "Machine Learning"),
        ("hep-th", "High Energy Physics - Theory"),
        ("cmp-lg", "Computation and Language"),
        ("solv-int", "Exactly Solvable and Integrable Systems"),
        ("adap-org", "Adaptation, Noise, and Self-Organizing Systems"),
        ("math.IT", "Information Theory"),
        ("math-ph", "Mathematical Physics"),
        ("q-fin.EC", "Economics"),
        ("stat.ML", "Machine Learning"),
        ("astro-ph", "Astrophysics"),
        ("cs", "Computer Science"),
        ("q-fin", "Quantitative Finance"),
        ("stat", "Statistics"),
        ("physics", "Physics"),
    ],
)
def test_names_categories_and_archives_by_arxivs_taxonomy(code: str, expected: str) -> None:
    assert name(code) == expected


def test_unknown_codes_have_no_name_and_are_shown_as_they_are() -> None:
    assert name("cs.XX") is None
    assert name("") is None
    assert label("cs.XX") == "cs.XX"
    assert label("cs.CL") == "Computation and Language (cs.CL)"


def test_archive_of_a_category() -> None:
    assert archive_of("cs.CL") == "cs"
    assert archive_of("math.IT") == "math"
    assert archive_of("cond-mat.str-el") == "cond-mat"
    assert archive_of("physics.acc-ph") == "physics"
    assert archive_of("hep-th") == "hep-th"
    assert archive_of("cmp-lg") == "cmp-lg"
    assert archive_of("cs.XX") is None


def test_tells_categories_from_archives() -> None:
    assert is_category("cs.CL") and not is_archive("cs.CL")
    assert is_archive("cs") and not is_category("cs")
    assert is_category("hep-th") and is_archive("hep-th")  # an archive with no subjects
    assert is_category("cmp-lg") and is_archive("cmp-lg")
    assert is_known("q-fin") and is_known("q-fin.CP")
    assert not is_known("cs.XX") and not is_known("CS.CL") and not is_known("")


@pytest.mark.parametrize(
    ("alias", "main"),
    [
        ("math.IT", "cs.IT"),
        ("math.MP", "math-ph"),
        ("stat.TH", "math.ST"),
        ("q-fin.EC", "econ.GN"),
        ("cs.SY", "eess.SY"),
        ("cs.NA", "math.NA"),
        ("cmp-lg", "cs.CL"),
        ("solv-int", "nlin.SI"),
        ("adap-org", "nlin.AO"),
        ("alg-geom", "math.AG"),
    ],
)
def test_aliases_fold_into_their_canonical_category(alias: str, main: str) -> None:
    assert canonical(alias) == main
    assert canonical(main) == main
    assert alias in equivalents(main)
    assert equivalents(alias)[0] == main


def test_a_category_without_aliases_is_its_own_only_equivalent() -> None:
    assert equivalents("cs.LG") == ["cs.LG"]
    assert equivalents("cs.CL") == ["cs.CL", "cmp-lg"]
    assert canonical("cs.XX") == "cs.XX"


def test_defunct_archives_are_listed_with_their_successor() -> None:
    assert listing_archive("cmp-lg") == "cs"
    assert listing_archive("solv-int") == "nlin"
    assert listing_archive("mtrl-th") == "cond-mat"
    assert listing_archive("math.IT") == "math"  # an alias stays in its own archive
    assert listing_archive("cs.IT") == "cs"
    assert listing_archive("hep-th") == "hep-th"
    assert listing_archive("cs.XX") == "cs"  # not in the taxonomy: the part before the dot
    cs = archive_categories("cs")
    assert {"cs.AI", "cs.CL", "cs.LG", "cmp-lg"} <= set(cs)
    assert "math.IT" not in cs
    assert "math.IT" in archive_categories("math")


def test_data_is_arxivs_whole_taxonomy_with_its_source() -> None:
    raw = json.loads((resources.files("paperfeed") / "data" / "arxiv_taxonomy.json").read_text())
    assert raw["source"].startswith("arxiv-base ")
    assert taxonomy.taxonomy().source == raw["source"]
    assert len(raw["categories"]) > 150
    assert len(raw["archives"]) > 30
    # Every category's archive exists, and every alias points at a real category.
    assert all(c["archive"] in raw["archives"] for c in raw["categories"].values())
    assert all(target in raw["categories"] for target in raw["aliases"].values())
    assert all(target in raw["categories"] for target in raw["subsumed"].values())
