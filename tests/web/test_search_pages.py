import re

import pytest
from fastapi.testclient import TestClient


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
