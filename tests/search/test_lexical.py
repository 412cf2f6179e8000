from datetime import date
from pathlib import Path

import pytest
import tantivy

from paperfeed.papers.topics import category_filter
from paperfeed.search.lexical import (
    NAME_ANALYZER,
    TEXT_ANALYZER,
    Filters,
    LexicalDoc,
    LexicalIndex,
    category_terms,
    name_analyzer,
    text_analyzer,
)
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
    return index.search(parse_query(q), filters or Filters(), 10).pks


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
    hits = index.search(pasted, Filters(), 100)
    assert sorted(hits.pks) == [1, 2] and hits.every_word == [1, 2] and hits.every_word_total == 2

    topic = parse_query("sparse learning models")  # three words: all of them count
    assert index.without_common(topic.terms) == topic.terms
    hits = index.search(topic, Filters(), 100)
    assert hits.pks[0] == 1 and len(hits.pks) == 52  # any of the words
    assert hits.every_word == [1] and hits.every_word_total == 1
    one_rare = ["sparse", "learning", "models", "data", "learning"]  # one rarer word: too few
    assert index.without_common(one_rare) == one_rare

    monkeypatch.setattr(lexical, "COMMON_TERMS_MIN_DOCS", 10**9)  # a small archive
    assert index.without_common(pasted.content_terms) == pasted.content_terms
    hits = index.search(pasted, Filters(), 100)
    assert hits.pks[0] == 1 and len(hits.pks) == 52 and hits.every_word_total == 0


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


# --- the category filter ----------------------------------------------------------------------

# Each paper's category codes and the archives they are listed in, as the index sync writes
# them from `paper_categories` (the primary category first, then the cross-lists).
CATEGORIZED = [
    LexicalDoc(1, "Attention for parsing", [], "Attention parses.", None, None, 0, ["cs.CL", "cs"]),
    LexicalDoc(
        2,
        "Attention in graph learning",
        [],
        "Graphs.",
        None,
        None,
        0,
        ["cs.LG", "cs", "stat.ML", "stat"],
    ),
    # hep-ph, cross-listed in the defunct cmp-lg (an alias of cs.CL, listed under cs)
    LexicalDoc(3, "Attention to quarks", [], "Quarks.", None, None, 0, ["hep-ph", "cmp-lg", "cs"]),
    # math.IT is cs.IT, but it is listed under math
    LexicalDoc(4, "Coding theory", [], "Codes.", None, None, 0, ["math.IT", "math", "cs.IT", "cs"]),
    LexicalDoc(5, "Attention without a category", [], "None.", None, None, 0),
]


@pytest.fixture
def categorized(tmp_path: Path) -> LexicalIndex:
    lexical = LexicalIndex(tmp_path / "categories")
    lexical.upsert(CATEGORIZED)
    lexical.commit()
    return lexical


def in_categories(*codes: str) -> Filters:
    return Filters(categories=category_filter(codes))


def passing(index: LexicalIndex, filters: Filters) -> list[int]:
    pks, total = index.filter_only(filters, 100)
    assert total == len(pks)
    return sorted(pks)


def test_a_category_filter_matches_primary_and_cross_listed_papers(
    categorized: LexicalIndex,
) -> None:
    assert categorized.has_categories
    assert passing(categorized, in_categories("stat.ML")) == [2], "a cross-list counts"
    assert passing(categorized, in_categories("cs.LG")) == [2], "so does the primary"
    assert passing(categorized, in_categories("cs.CL")) == [1, 3], "and its alias cmp-lg"
    assert passing(categorized, in_categories("math.IT")) == [4], "an alias means cs.IT"
    assert passing(categorized, in_categories("astro-ph")) == []


def test_an_archive_means_every_paper_listed_in_it(categorized: LexicalIndex) -> None:
    assert passing(categorized, in_categories("cs")) == [1, 2, 3, 4]
    assert passing(categorized, in_categories("stat")) == [2]
    assert passing(categorized, in_categories("math")) == [4]
    archive = category_filter(["cs"])
    assert archive is not None and category_terms(archive) == ["cs"], "one term"


def test_several_categories_match_any_of_them(categorized: LexicalIndex) -> None:
    assert passing(categorized, in_categories("hep-ph", "math")) == [3, 4]
    assert passing(categorized, in_categories("stat.ML,hep-ph")) == [2, 3]


def test_the_category_filter_narrows_keyword_search_and_checks(categorized: LexicalIndex) -> None:
    assert sorted(ids(categorized, "attention")) == [1, 2, 3, 5]
    assert sorted(ids(categorized, "attention", in_categories("cs.CL"))) == [1, 3]
    assert ids(categorized, "attention", in_categories("math")) == []
    assert categorized.matching([1, 2, 3, 4, 5], in_categories("stat")) == {2}
    found, total = categorized.title_phrase(["attention", "to"], in_categories("hep-ph"), 4)
    assert found == [3] and total == 1


def test_an_index_without_the_categories_field_matches_nothing_for_a_category(
    tmp_path: Path,
) -> None:
    """An index of schema version 1 answers other queries and no category filter (asking
    tantivy for a field an index lacks panics), until a sync rebuilds it."""
    write_first_schema_index(tmp_path / "v1", [(7, "Attention")])

    index = LexicalIndex(tmp_path / "v1", create=False)
    assert not index.has_categories
    assert ids(index, "attention") == [7]
    assert ids(index, "attention", in_categories("cs")) == []
    assert passing(index, in_categories("cs")) == []


def write_first_schema_index(path: Path, docs: list[tuple[int, str]]) -> None:
    """A keyword index as schema version 1 wrote it (no `categories`), of (pk, title)."""
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("pk", stored=True, indexed=True, fast=True)
    builder.add_text_field("title", tokenizer_name=TEXT_ANALYZER)
    builder.add_text_field("authors", tokenizer_name=NAME_ANALYZER)
    builder.add_text_field("abstract", tokenizer_name=TEXT_ANALYZER)
    builder.add_integer_field("day", indexed=True, fast=True)
    builder.add_unsigned_field("org", indexed=True, fast=True)
    builder.add_integer_field("upvotes", fast=True)
    schema = builder.build()
    path.mkdir(parents=True)
    old = tantivy.Index(schema, path=str(path))
    old.register_tokenizer(TEXT_ANALYZER, text_analyzer())
    old.register_tokenizer(NAME_ANALYZER, name_analyzer())
    writer = old.writer(heap_size=15_000_000, num_threads=1)
    for pk, title in docs:
        writer.add_document(
            tantivy.Document.from_dict({"pk": pk, "title": title, "upvotes": 0}, schema)
        )
    writer.commit()
    writer.wait_merging_threads()


def test_a_word_near_an_indexed_one_is_a_typo_and_a_far_one_is_not(index: LexicalIndex) -> None:
    """ "atention" is a typo of "attention"; "exoplanet" is a topic the archive lacks."""
    assert index.misspelled(["atention"])
    assert not index.misspelled(["exoplanet"])
    assert not index.misspelled(["attention"])  # in the index
    assert index.search(parse_query("atention span"), Filters(), 10).misspelled
