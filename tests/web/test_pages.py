import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from paperfeed.db import Database
from paperfeed.papers.ids import local_id_for
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.papers.test_feeds import add
from tests.web.conftest import BROWSER_HEADERS


def card_titles(html: str) -> list[str]:
    return re.findall(
        r'<h3 class="card-title"[^>]*>.*?<a href="/papers/[^"]+">(.*?)</a>', html, re.S
    )


def card_votes(html: str) -> list[int]:
    return [
        int(n.replace(",", "")) for n in re.findall(r'<span class="count">([\d,]+)</span>', html)
    ]


def test_home_shows_the_latest_day_ordered_by_upvotes(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.text
    assert "Thursday, November 19, 2026" in html
    assert "27 papers" in html
    votes = card_votes(html)
    assert len(votes) == 27 and votes == sorted(votes, reverse=True)
    assert 'rel="prev" href="/papers/date/2026-11-18"' in html
    # The latest day has no later day to go to.
    assert 'rel="next"' not in html


def test_day_page_with_newest_first(client: TestClient) -> None:
    html = client.get("/papers/date/2026-11-18?sort=newest").text
    times = re.findall(r'<time class="feed-date" datetime="([^"]+)"', html)
    assert len(times) == 27 and times == sorted(times, reverse=True)
    assert 'rel="next" href="/papers/date/2026-11-19"' in html


def test_week_and_month_pages_paginate(client: TestClient) -> None:
    week = client.get("/papers/week/2026-W47")
    assert week.status_code == 200
    assert "Week 47, 2026" in week.text
    month = client.get("/papers/month/2026-11")
    assert "368 papers" in month.text
    assert len(card_titles(month.text)) == 50
    assert "Page 1 of 8" in month.text
    last = client.get("/papers/month/2026-11?p=8")
    assert len(card_titles(last.text)) == 18
    assert client.get("/papers/month/2026-11?p=9").status_code == 404
    # The arXiv sample keeps its real dates: April 2007 is the previous month with papers.
    assert 'rel="prev" href="/papers/month/2007-05"' in month.text or (
        'rel="prev" href="/papers/month/2007-04"' in month.text
    )


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/papers/date/2026-02-30", 400, "is not a valid date"),
        ("/papers/week/2026-W60", 400, "ISO week"),
        ("/papers/month/26-11", 400, "YYYY-MM"),
        ("/papers/month/9999-12", 400, "out of range"),
        ("/papers/date/2026-11-19?p=0", 400, "Bad request"),
        ("/papers/date/2026-11-19?p=abc", 400, "Bad request"),
        ("/papers/date/2026-11-19?sort=random", 400, "Bad request"),
        ("/papers/9999.99999", 404, "There is no paper"),
        ("/papers/hep-th/9901001", 404, "There is no paper"),
        ("/orgs/nobody", 404, "no organization"),
        ("/nowhere", 404, "Not found"),
    ],
)
def test_bad_input_gets_a_friendly_4xx_page(
    client: TestClient, path: str, status: int, message: str
) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert message in response.text
    assert "Traceback" not in response.text
    assert 'href="/"' in response.text  # a way back


def test_api_clients_get_json_errors(client: TestClient) -> None:
    response = client.get("/papers/date/nope", headers={"accept": "application/json"})
    assert response.status_code == 400
    assert "is not a valid date" in response.json()["error"]


def test_arxiv_paper_page(client: TestClient) -> None:
    response = client.get("/papers/0704.0001")
    assert response.status_code == 200
    html = response.text
    assert "Calculation of prompt diphoton production cross sections" in html
    assert "C. Balázs" in html and "C.-P. Yuan" in html
    assert 'href="https://arxiv.org/abs/0704.0001"' in html
    assert 'href="https://arxiv.org/pdf/0704.0001"' in html
    assert 'href="https://doi.org/10.1103/PhysRevD.76.013009"' in html
    assert "Phys.Rev.D76:013009,2007" in html
    assert re.search(r"v1</a>\s*<time", html) and re.search(r"v2</a>\s*<time", html)
    assert "hep-ph" in html


def test_latex_is_rendered_to_mathml(client: TestClient) -> None:
    # 0704.0002's abstract has inline math such as $(k,\ell)$.
    html = client.get("/papers/0704.0002").text
    assert "<math" in html
    assert "$" not in html.split('<p class="abstract-full">')[1].split("</p>")[0]


def test_local_paper_page_and_organization(client: TestClient) -> None:
    paper_id = local_id_for("The Art of Scaling Reinforcement Learning Compute for LLMs")
    html = client.get(f"/papers/{paper_id}").text
    assert "The Art of Scaling Reinforcement Learning Compute for LLMs" in html
    assert 'href="/orgs/facebook"' in html
    org = client.get("/orgs/facebook")
    assert org.status_code == 200
    assert "AI at Meta" in org.text
    assert "The Art of Scaling Reinforcement Learning Compute for LLMs" in org.text


def test_versioned_ids_redirect_to_the_paper(client: TestClient) -> None:
    response = client.get("/papers/0704.0001v2")
    assert response.status_code == 301
    assert response.headers["location"] == "/papers/0704.0001"


def test_trending_shows_scores_and_the_formula(client: TestClient) -> None:
    html = client.get("/papers/trending").text
    assert "How the score is computed" in html
    scores = [float(s) for s in re.findall(r"score (\d+\.\d)</span>", html)]
    assert len(scores) == 50
    assert scores == sorted(scores, reverse=True)
    assert "#1" in html


def test_the_star_term_is_shown_in_the_formula_only_when_it_is_on(
    sample_db: Database, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, sample_db.url)
    for weight, shown in ((0.0, False), (0.5, True)):
        app = create_app(settings.model_copy(update={"trending_star_weight": weight}), sample_db)
        with TestClient(app, headers=BROWSER_HEADERS) as each:
            html = each.get("/papers/trending").text
            rss = each.get("/papers/trending.rss").text
        assert ("+ 0.5 × stars" in html) is shown
        assert ("gained in the last 7 days" in html) is shown
        assert ("0.5 × GitHub stars gained in the last 7 days" in rss) is shown


def test_feed_pages_answer_conditional_requests(client: TestClient) -> None:
    first = client.get("/papers/date/2026-11-18")
    etag = first.headers["etag"]
    assert first.headers["cache-control"].startswith("public")
    assert "last-modified" in first.headers
    again = client.get("/papers/date/2026-11-18", headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""
    # If-None-Match compares weakly (RFC 9110 13.1.2): the tag with or without its W/.
    assert etag.startswith('W/"')
    strong = client.get("/papers/date/2026-11-18", headers={"if-none-match": etag[2:]})
    assert strong.status_code == 304
    by_date = client.get(
        "/papers/date/2026-11-18", headers={"if-modified-since": first.headers["last-modified"]}
    )
    assert by_date.status_code == 304
    other = client.get("/papers/date/2026-11-17", headers={"if-none-match": etag})
    assert other.status_code == 200


def test_signed_in_pages_are_never_publicly_cached(client: TestClient) -> None:
    client.cookies.set("pf_session", "abc")
    response = client.get("/")
    assert response.status_code == 200
    assert "etag" not in response.headers
    assert response.headers["cache-control"].startswith("private")


def test_an_empty_site_explains_how_to_add_papers(empty_client: TestClient) -> None:
    response = empty_client.get("/")
    assert response.status_code == 200
    assert "paperfeed import" in response.text


def test_every_page_has_a_landmark_and_a_title(client: TestClient) -> None:
    for path in [
        "/",
        "/papers/trending",
        "/papers/0704.0001",
        "/orgs/facebook",
        "/papers/week/2026-W46",
    ]:
        html = client.get(path).text
        assert '<main id="main"' in html
        assert re.search(r"<title>[^<]+</title>", html)
        assert '<html lang="en">' in html


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("/papers/date", "/papers/date/2026-11-19"),
        ("/papers/week", "/papers/week/2026-W47"),
        ("/papers/month", "/papers/month/2026-11"),
    ],
)
def test_bare_period_links_go_to_the_latest_papers(
    client: TestClient, path: str, target: str
) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["location"] == target


def test_a_page_past_the_end_counts_one_paper_in_the_singular(
    empty_client: TestClient, db: Database
) -> None:
    add(db, "the only one", datetime(2026, 11, 19, 15, 0, tzinfo=UTC))
    for path in ("/papers/date/2026-11-19?p=2", "/papers/trending?p=2"):
        response = empty_client.get(path)
        assert response.status_code == 404, path
        assert "past the end of this list (1 paper)." in response.text, path
