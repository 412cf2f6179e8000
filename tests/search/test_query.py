import pytest

from paperfeed.search.query import MAX_QUERY_CHARS, parse_query


def test_words_phrases_and_exclusions() -> None:
    parsed = parse_query('diffusion "large language models" -survey -"image generation"')
    assert parsed.terms == ["diffusion"]
    assert parsed.phrases == [["large", "language", "models"]]
    assert parsed.excluded_terms == ["survey"]
    assert parsed.excluded_phrases == [["image", "generation"]]
    assert parsed.semantic_text == "large language models diffusion"


@pytest.mark.parametrize(
    "text",
    ["2401.01234", "arXiv:2401.01234v2", "https://arxiv.org/abs/2401.01234", " hep-th/9901001 "],
)
def test_arxiv_ids_and_urls_are_recognised(text: str) -> None:
    assert parse_query(text).arxiv_id is not None


@pytest.mark.parametrize(
    ("text", "empty", "stop"),
    [
        ("", True, False),
        ("   \t\n ", True, False),
        ("the of and", False, True),
        ('"', True, False),
        ("-", False, False),
        ("\x00\x07 attention", False, False),
        ("🙂 émoji façade", False, False),
    ],
)
def test_odd_input_never_raises(text: str, empty: bool, stop: bool) -> None:
    parsed = parse_query(text)
    assert parsed.is_empty == empty or text == "-"
    assert parsed.only_stop_words == stop


def test_unbalanced_quotes_become_plain_words() -> None:
    parsed = parse_query('graph "neural networks')
    assert parsed.phrases == []
    assert parsed.terms == ["graph", "neural", "networks"]


def test_very_long_queries_are_cut() -> None:
    parsed = parse_query("word " * 3000)
    assert parsed.truncated
    assert len(parsed.text) <= MAX_QUERY_CHARS
    assert parsed.terms == ["word"]
