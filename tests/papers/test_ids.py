import pytest

from paperfeed.papers.ids import (
    ArxivId,
    is_local_id,
    local_id_for,
    normalize_title,
    parse_arxiv_id,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2401.01234", ArxivId("2401.01234")),
        ("2401.01234v3", ArxivId("2401.01234", 3)),
        ("0704.0001", ArxivId("0704.0001")),
        ("hep-th/9901001", ArxivId("hep-th/9901001")),
        ("math.GT/0309136v2", ArxivId("math.GT/0309136", 2)),
        ("arXiv:2401.01234", ArxivId("2401.01234")),
        ("https://arxiv.org/abs/2401.01234v2", ArxivId("2401.01234", 2)),
        ("https://arxiv.org/pdf/2401.01234.pdf", ArxivId("2401.01234")),
        ("http://arxiv.org/abs/hep-th/9901001", ArxivId("hep-th/9901001")),
        ("  2408.00716 ", ArxivId("2408.00716")),
    ],
)
def test_parses_arxiv_ids_in_every_form(text: str, expected: ArxivId) -> None:
    assert parse_arxiv_id(text) == expected


@pytest.mark.parametrize(
    "text", ["", "trending", "2401.123", "24011.01234", "hep-th/99", "pf-0123456789ab", "../etc"]
)
def test_rejects_things_that_are_not_arxiv_ids(text: str) -> None:
    assert parse_arxiv_id(text) is None


def test_local_ids_are_stable_and_ignore_punctuation_and_case() -> None:
    a = local_id_for("Attention Is All You Need")
    b = local_id_for("  attention is all you need. ")
    assert a == b
    assert is_local_id(a)
    assert local_id_for("Attention is all you want") != a
    assert parse_arxiv_id(a) is None


def test_normalized_titles_fold_unicode() -> None:
    assert normalize_title("Café  Models!") == normalize_title("cafe models")
