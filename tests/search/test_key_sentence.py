"""The key sentence: the abstract's sentence that shares most words with the others and
with the paper's keywords; none for a short abstract; always a sentence of the abstract."""

from __future__ import annotations

import json
from importlib import resources

from paperfeed.search.key_sentence import key_sentence, sentences


def test_the_central_sentence_wins_over_the_framing_ones() -> None:
    abstract = (
        "Long documents are hard. We propose a routing scheme for sparse attention over "
        "long documents that picks attention blocks by content. Routed sparse attention "
        "matches dense attention on long documents at a fifth of the cost. We release code."
    )
    chosen = key_sentence(abstract)
    assert chosen == (
        "Routed sparse attention matches dense attention on long documents at a fifth of the cost."
    )
    # A keyword of the method's sentence alone makes it the key one.
    assert key_sentence(abstract, ["routing scheme"]) == (
        "We propose a routing scheme for sparse attention over long documents that picks "
        "attention blocks by content."
    )


def test_keywords_tip_the_choice() -> None:
    abstract = (
        "Graph networks learn on molecules and graph data. Protein folding is predicted "
        "from graph networks of residues. Molecules are screened for drugs with graph data."
    )
    assert key_sentence(abstract, ["protein folding"]) == (
        "Protein folding is predicted from graph networks of residues."
    )


def test_short_abstracts_have_none() -> None:
    assert key_sentence("One sentence only. And a second one here.") is None
    assert key_sentence("") is None


def test_on_the_sample_corpus_it_is_always_a_sentence_of_the_abstract() -> None:
    path = resources.files("paperfeed") / "data" / "sample_papers.jsonl"
    found = 0
    lines = path.read_text().splitlines()
    for line in lines:
        abstract = json.loads(line).get("abstract") or ""
        chosen = key_sentence(abstract)
        if chosen is not None:
            found += 1
            assert chosen in sentences(abstract)
            assert 6 <= len(chosen.split()) <= 60
    assert found > len(lines) * 0.8
