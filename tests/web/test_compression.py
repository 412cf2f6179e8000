"""Gzip: anonymous pages, the API and static files are compressed; pages asked for with a
session or CSRF cookie, which may hold a token, are not (BREACH)."""

from __future__ import annotations

from fastapi.testclient import TestClient

GZIP = {"accept-encoding": "gzip"}


def test_anonymous_pages_are_gzipped_and_say_they_vary(client: TestClient) -> None:
    response = client.get("/", headers=GZIP)
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in response.headers["vary"].lower()
    assert int(response.headers["content-length"]) < len(response.content) / 3
    assert "</html>" in response.text


def test_clients_that_do_not_ask_for_gzip_get_plain_pages(client: TestClient) -> None:
    response = client.get("/", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in response.headers
    assert int(response.headers["content-length"]) == len(response.content)


def test_pages_for_a_session_or_csrf_cookie_are_never_compressed(client: TestClient) -> None:
    for cookie in ("pf_session=abc", "theme=dark; pf_csrf=abc"):
        response = client.get("/papers?q=quantum", headers={**GZIP, "cookie": cookie})
        assert response.status_code == 200
        assert "content-encoding" not in response.headers, cookie


def test_static_files_are_gzipped_whatever_the_cookies(client: TestClient) -> None:
    response = client.get("/static/style.css", headers={**GZIP, "cookie": "pf_session=abc"})
    assert response.headers["content-encoding"] == "gzip"
    assert ":root" in response.text


def test_a_gzipped_page_still_answers_conditional_requests(client: TestClient) -> None:
    first = client.get("/papers/trending", headers=GZIP)
    assert first.headers["content-encoding"] == "gzip"
    again = client.get("/papers/trending", headers={**GZIP, "if-none-match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


def test_the_api_is_gzipped(client: TestClient) -> None:
    response = client.get("/api/daily_papers", headers={**GZIP, "accept": "application/json"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert isinstance(response.json(), list)
