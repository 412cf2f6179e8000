"""The calendar page: a month's grid where the days with papers link to their day pages."""

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from paperfeed.db import Database
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.papers.test_feeds import add
from tests.web.conftest import BROWSER_HEADERS


def day_links(html: str) -> dict[str, str]:
    """The grid's day links: {"2026-11-19": "27"} (the day and its paper count)."""
    grid = html.split('<table class="calendar">')[1].split("</table>")[0]
    link = r'<a href="/papers/date/(\d{4}-\d\d-\d\d)"[^>]*>.*?<span class="day-count"[^>]*>([\d,]+)'
    return dict(re.findall(link, grid, re.S))


def grid_days(html: str) -> list[str]:
    """Every day number the grid shows, linked or not, in order."""
    grid = html.split('<table class="calendar">')[1].split("</table>")[0]
    return re.findall(r'<span class="day-number"[^>]*>(\d+)</span>', grid)


def test_the_latest_calendar_is_the_month_of_the_latest_papers(client: TestClient) -> None:
    response = client.get("/papers/calendar")
    assert response.status_code == 302
    assert response.headers["location"] == "/papers/calendar/2026-11"


def test_days_with_papers_are_linked_and_empty_days_are_not(client: TestClient) -> None:
    html = client.get("/papers/calendar/2026-11").text
    assert "<h1>November 2026</h1>" in html
    # The demo's fourteen days end the day before FIXED_NOW (Friday, November 20th).
    links = day_links(html)
    assert sorted(links) == [f"2026-11-{d:02d}" for d in range(6, 20)]
    assert links["2026-11-19"] == "27" and links["2026-11-06"] == "26"
    assert sum(int(n) for n in links.values()) == 368  # the month page's total
    assert grid_days(html) == [str(d) for d in range(1, 31)]
    assert "368 papers on 14 days" in html
    # Today has no papers yet: marked, not linked.
    assert re.search(r'<span aria-current="date">.*?"day-number"[^>]*>20<', html)
    assert 'href="/papers/date/2026-11-20"' not in html


def test_month_links_go_to_the_nearest_months_with_papers(client: TestClient) -> None:
    html = client.get("/papers/calendar/2026-11").text
    earlier = re.search(r'rel="prev" href="(/papers/calendar/\d{4}-\d\d)"', html)
    assert earlier is not None
    assert 'rel="next"' not in html  # nothing after November 2026
    # The arXiv sample keeps its spring 2007 dates: the previous month with papers.
    before = client.get(earlier.group(1)).text
    assert re.search(r"<h1>(April|May) 2007</h1>", before)
    assert day_links(before)
    assert 'rel="next" href="/papers/calendar/' in before
    # A month between them has no papers: its grid shows, with no day linked.
    empty = client.get("/papers/calendar/2015-06")
    assert empty.status_code == 200
    assert day_links(empty.text) == {} and len(grid_days(empty.text)) == 30
    assert "0 papers" in empty.text
    assert 'rel="next" href="/papers/calendar/2026-11"' in empty.text


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "26-11", "nope", "9999-12", "²⁰²⁶-11"])
def test_a_bad_month_is_a_400(client: TestClient, month: str) -> None:
    response = client.get(f"/papers/calendar/{month}")
    assert response.status_code == 400
    assert "YYYY-MM" in response.text or "out of range" in response.text


def test_day_and_month_pages_link_to_their_calendar(client: TestClient) -> None:
    for path in ("/", "/papers/date/2026-11-03", "/papers/week/2026-W47", "/papers/month/2026-11"):
        html = client.get(path).text
        assert 'href="/papers/calendar/2026-11"' in html, path


def test_the_calendar_is_cached_like_the_feeds(client: TestClient) -> None:
    first = client.get("/papers/calendar/2026-11")
    assert first.headers["cache-control"].startswith("public")
    again = client.get("/papers/calendar/2026-11", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304


@pytest.fixture
def zone_client(db: Database, tmp_path: Path) -> Iterator[TestClient]:
    """A site whose feed days follow Tokyo, with one paper near a New York month's end."""
    add(db, "late evening in New York", datetime(2024, 8, 1, 3, 30, tzinfo=UTC))
    settings = make_settings(tmp_path, db.url).model_copy(update={"feed_timezone": "Asia/Tokyo"})
    with TestClient(create_app(settings, db), headers=BROWSER_HEADERS) as client:
        yield client


def test_the_grid_follows_the_feed_time_zone(zone_client: TestClient) -> None:
    # 03:30 UTC on August 1st: July 31st in New York, the morning of August 1st in Tokyo.
    assert day_links(zone_client.get("/papers/calendar/2024-08").text) == {"2024-08-01": "1"}
    assert day_links(zone_client.get("/papers/calendar/2024-07").text) == {}
    day = zone_client.get("/papers/date/2024-08-01").text
    assert "late evening in New York" in day  # the linked day page shows the paper
