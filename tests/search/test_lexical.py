from datetime import date
from pathlib import Path

import pytest

from paperfeed.search.lexical import Filters, LexicalDoc, LexicalIndex
from paperfeed.search.query import parse_query

DOCS = [
    LexicalDoc(
        1,
        "Attention Is All You Need",
        ["Ashish Vaswani", "Noam Shazeer"],
        "We propose the Transformer, based solely on attention mechanisms.",
        date(2017, 6, 12),
        10,
        100,
    ),
    LexicalDoc(
        2,
        "Graph Neural Networks: a survey",
        ["Jie Zhou"],
        "Graph neural networks model relations between nodes.",
        date(2018, 12, 20),
        None,
        5,
    ),
    LexicalDoc(
        3,
        "Scaling laws for neural language models",
        ["Jared Kaplan"],
        "Language model loss scales as a power law with model size and attention compute.",
        date(2020, 1, 23),
        10,
        50,
    ),
    LexicalDoc(
        4,
        "Image generation with diffusion",
        ["Jonathan Ho"],
        "Diffusion models generate images by denoising.",
        date(2020, 6, 19),
        20,
        70,
    ),
]


@pytest.fixture
def index(tmp_path: Path) -> LexicalIndex:
    lexical = LexicalIndex(tmp_path / "lex")
    lexical.upsert(DOCS)
    lexical.commit()
    return lexical


def ids(index: LexicalIndex, q: str, filters: Filters | None = None) -> list[int]:
    found, _, _ = index.search(parse_query(q), filters or Filters(), 10)
    return found


def test_title_matches_outrank_abstract_matches(index: LexicalIndex) -> None:
    assert ids(index, "attention")[:2] == [1, 3]


def test_stemming_matches_other_word_forms(index: LexicalIndex) -> None:
    assert 4 in ids(index, "denoise generating")


def test_phrases_must_appear_and_exclusions_remove(index: LexicalIndex) -> None:
    assert ids(index, '"neural networks"') == [2]
    assert 2 not in ids(index, "neural -survey")
    assert ids(index, 'neural -"graph neural"') == [3]


def test_author_names_are_searchable(index: LexicalIndex) -> None:
    assert ids(index, "vaswani") == [1]


def test_filters_narrow_retrieval(index: LexicalIndex) -> None:
    assert ids(index, "models", Filters(date_from=date(2020, 1, 1))) == [4, 3] or set(
        ids(index, "models", Filters(date_from=date(2020, 1, 1)))
    ) == {3, 4}
    assert ids(index, "attention", Filters(organization_id=10)) == [1, 3]
    assert ids(index, "attention", Filters(date_to=date(2019, 1, 1))) == [1]
    assert ids(index, "model", Filters(author="Jared Kaplan")) == [3]
    assert ids(index, "model", Filters(author="Nobody Atall")) == []
    subset, total = index.filter_only(Filters(organization_id=10), 100)
    assert sorted(subset) == [1, 3] and total == 2
    assert index.matching([1, 2, 3, 4], Filters(date_to=date(2018, 12, 31))) == {1, 2}


def test_updates_replace_and_deletes_remove(index: LexicalIndex) -> None:
    index.upsert([LexicalDoc(2, "Hypergraph learning", [], "Nothing else.", None, None, 0)])
    index.delete([4])
    index.commit()
    assert ids(index, "graph") == []
    assert ids(index, "hypergraph") == [2]
    assert ids(index, "diffusion") == []
    assert index.num_docs() == 3


def test_long_queries_on_big_archives_match_on_their_rarer_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Words found in most papers of a big archive do not make every paper a candidate when
    someone pastes a long title; short topic queries keep all their words."""
    import paperfeed.search.lexical as lexical

    index = LexicalIndex(tmp_path / "big")
    filler = [
        LexicalDoc(pk, f"Learning models {pk}", [], "A learning model of data.", None, None, 0)
        for pk in range(10, 60)
    ]
    rare = [
        LexicalDoc(1, "Sparse circuits in learning models", [], "Sparse.", None, None, 0),
        LexicalDoc(2, "Sparse autoencoder circuits in vision", [], "Sparse.", None, None, 0),
    ]
    index.upsert(filler + rare)
    index.commit()
    pasted = parse_query("sparse circuits for learning models and data")  # stop words: for, and
    monkeypatch.setattr(lexical, "COMMON_TERMS_MIN_DOCS", 10)
    assert pasted.content_terms == ["sparse", "circuits", "learning", "models", "data"]
    assert index.without_common(pasted.content_terms) == ["sparse", "circuits"]
    pks, _, total = index.search(pasted, Filters(), 100)
    assert sorted(pks) == [1, 2] and total == 2

    topic = parse_query("sparse learning models")  # three words: all of them count
    assert index.without_common(topic.terms) == topic.terms
    pks, _, total = index.search(topic, Filters(), 100)
    assert pks[0] == 1 and total == 52
    one_rare = ["sparse", "learning", "models", "data", "learning"]  # one rarer word: too few
    assert index.without_common(one_rare) == one_rare

    monkeypatch.setattr(lexical, "COMMON_TERMS_MIN_DOCS", 10**9)  # a small archive
    assert index.without_common(pasted.content_terms) == pasted.content_terms
    pks, _, total = index.search(pasted, Filters(), 100)
    assert pks[0] == 1 and total == 52


def test_matching_gives_the_same_answer_by_lookups_and_by_term_set(
    index: LexicalIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    import paperfeed.search.lexical as lexical

    filters = Filters(organization_id=10)
    answers = []
    for limit in (0, 10**6):  # term_set_query, then one lookup per pk
        monkeypatch.setattr(lexical, "PK_LOOKUP_LIMIT", limit)
        answers.append(index.matching([1, 2, 3, 4, 99], filters))
    assert answers[0] == answers[1] == {1, 3}
