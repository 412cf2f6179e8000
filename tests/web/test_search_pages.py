import re

import pytest
from fastapi.testclient import TestClient

from tests.search.test_engine import papers_in_topics


def result_ids(html: str) -> list[str]:
    return re.findall(r'<h3 class="card-title"[^>]*><a href="/papers/([^"]+)">', html)


def test_search_page_shows_count_highlights_and_filters(search_client: TestClient) -> None:
    response = search_client.get("/papers?q=diphoton")
    assert response.status_code == 200
    html = response.text
    assert result_ids(html)[0] == "0704.0001"
    assert re.search(r"\d+ papers? match", html)
    assert "<mark>diphoton</mark>" in html.lower() or "<mark>Diphoton</mark>" in html
    for label in ("Published on arXiv from", "Organization", "Author", "Sort by"):
        assert label in html


def test_search_alias_and_arxiv_id_redirects(search_client: TestClient) -> None:
    alias = search_client.get("/search?q=graphs")
    assert alias.status_code == 301 and alias.headers["location"] == "/papers?q=graphs"
    direct = search_client.get("/papers?q=arXiv:0704.0002")
    assert direct.status_code == 302 and direct.headers["location"] == "/papers/0704.0002"


def test_filters_and_paging_in_the_url(search_client: TestClient) -> None:
    first = search_client.get("/papers?q=theory&from=2007-01-01&to=2007-12-31&p=1")
    ids = result_ids(first.text)
    assert len(ids) == 20 and all(i.startswith("0704.") for i in ids)
    assert 'rel="next"' in first.text
    second = search_client.get("/papers?q=theory&from=2007-01-01&to=2007-12-31&p=2")
    assert not set(result_ids(second.text)) & set(ids)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("q=graphs&from=2007-13-01", "is not a date"),
        ("q=graphs&from=2008-01-01&to=2007-01-01", "after the “to” date"),
        ("q=graphs&org=nobody", "no organization named"),
        ("q=graphs&sort=random", "Unknown sort"),
        ("q=graphs&p=0", "page number"),
        ("q=graphs&p=x", "whole number"),
    ],
)
def test_bad_filters_get_a_400_with_the_form(
    search_client: TestClient, query: str, message: str
) -> None:
    response = search_client.get(f"/papers?{query}")
    assert response.status_code == 400
    assert message in response.text
    assert '<form class="search-form"' in response.text


@pytest.mark.parametrize("q", ["", "the of and", "x" * 10_000, "%00%EF%BF%BD", '"unbalanced'])
def test_bad_queries_never_give_an_error_page(search_client: TestClient, q: str) -> None:
    response = search_client.get("/papers", params={"q": q})
    assert response.status_code == 200
    assert "Traceback" not in response.text


def test_paper_page_lists_similar_papers(search_client: TestClient) -> None:
    html = search_client.get("/papers/0704.0001").text
    section = html.split('id="similar-h"')[1]
    links = re.findall(r'<a href="/papers/([^"]+)">', section)
    assert len(links) == 6 and "0704.0001" not in links


def test_without_an_index_the_page_explains(client: TestClient) -> None:
    html = client.get("/papers/0704.0001").text
    assert "paperfeed index" in html
    search = client.get("/papers?q=graphs")
    assert search.status_code == 200 and "paperfeed index" in search.text


def test_an_author_alone_lists_the_authors_papers(search_client: TestClient) -> None:
    response = search_client.get("/papers?author=Ileana+Streinu")
    assert response.status_code == 200
    assert result_ids(response.text) == ["0704.0002"]
    assert "1 paper matches" in response.text
    assert "Type a few words" not in response.text


def test_a_category_alone_lists_its_papers_and_pages_keep_the_filter(
    search_client: TestClient, search_site
) -> None:  # type: ignore[no-untyped-def]
    expected = set(papers_in_topics(search_site, "math"))
    first = search_client.get("/papers?q=&category=math")
    assert first.status_code == 200
    html = first.text
    assert f"{len(expected)} papers match" in html and "Type a few words" not in html
    assert 'name="category" type="text" value="math"' in html
    assert 'Filters and sort<span class="muted">: in math</span>' in html
    pager = re.search(r'rel="next" href="([^"]+)"', html)
    assert pager and "category=math" in pager[1].replace("&amp;", "&")
    second = search_client.get(pager[1].replace("&amp;", "&"))
    seen = result_ids(html) + result_ids(second.text)
    assert len(seen) == len(set(seen)) and set(seen) <= expected
    feed = re.search(r'href="(/papers\.rss\?[^"]+)"', html)
    assert feed and "category=math" in feed[1]


def test_a_category_filter_with_words_keeps_the_filter_in_the_form(
    search_client: TestClient, search_site
) -> None:  # type: ignore[no-untyped-def]
    both = set(papers_in_topics(search_site, "hep-ph", "hep-th"))
    response = search_client.get("/papers?q=quarks&category=hep-ph&category=hep-th&sort=newest")
    assert response.status_code == 200
    ids = result_ids(response.text)
    assert ids and set(ids) <= both
    assert 'value="hep-ph, hep-th"' in response.text
    assert "in hep-ph or hep-th · newest" in response.text
    alias = search_client.get("/papers?q=codes&category=math.IT")
    assert 'value="cs.IT"' in alias.text, "an alias is shown as what it means"


def test_an_unknown_category_gets_a_400_with_the_form(search_client: TestClient) -> None:
    response = search_client.get("/papers?q=graphs&category=cs.XX")
    assert response.status_code == 400
    assert "Unknown category “cs.XX”" in response.text
    assert '<form class="search-form"' in response.text
    assert 'name="category" type="text" value="cs.XX"' in response.text


def test_too_many_papers_of_a_category_link_to_its_page(
    search_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import paperfeed.search.engine as engine

    monkeypatch.setattr(engine, "EXACT_SUBSET_LIMIT", 10)
    html = search_client.get("/papers?q=&category=math").text
    assert "Too many papers in math match" in html
    assert '<a href="/papers/category/math">Mathematics (math)</a>' in html
