"""Write endpoints: submit, upvote and un-upvote, comment; token and cookie authentication."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from paperfeed import clock
from paperfeed.community import accounts
from paperfeed.models import Comment, Paper, Submission, Upvote, User
from tests.web.api.conftest import PASSWORD, World, user_named

DAY_AFTER = datetime(2024, 8, 5, 15, 0, tzinfo=UTC)  # arXiv 2408.00716 appeared 2024-08-01


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def count_votes(world: World, public_id: str) -> tuple[int, int]:
    with world.db.reader() as session:
        paper = session.execute(select(Paper).where(Paper.public_id == public_id)).scalar_one()
        rows = session.execute(
            select(func.count()).select_from(Upvote).where(Upvote.paper_id == paper.id)
        ).scalar_one()
        return paper.upvotes, rows


def test_upvote_and_unupvote_are_idempotent(api: TestClient, world: World) -> None:
    assert count_votes(world, "2611.00002") == (9, 0)
    for _ in range(3):
        response = api.post("/api/papers/2611.00002/upvote", headers=bearer(world.token))
        assert response.status_code == 200
        assert response.json() == {"upvoted": True, "upvotes": 10}
        assert response.headers["cache-control"] == "no-store"
    assert count_votes(world, "2611.00002") == (10, 1)
    other = api.post("/api/papers/2611.00002v1/upvote", headers=bearer(world.grace_token))
    assert other.json() == {"upvoted": True, "upvotes": 11}
    for _ in range(2):
        response = api.delete("/api/papers/2611.00002/upvote", headers=bearer(world.token))
        assert response.json() == {"upvoted": False, "upvotes": 10}
    assert count_votes(world, "2611.00002") == (10, 1)
    assert api.get("/api/papers/2611.00002").json()["upvotes"] == 10


def test_votes_on_missing_or_removed_papers(api: TestClient, world: World) -> None:
    for paper_id in ("2611.09999", "2611.00005"):
        response = api.post(f"/api/papers/{paper_id}/upvote", headers=bearer(world.token))
        assert response.status_code == 404 and response.json()["error"]


def test_comment_and_reply(api: TestClient, world: World) -> None:
    posted = api.post(
        "/api/papers/2611.00002/comment",
        json={"comment": "Does it *scale*? <script>x</script>"},
        headers=bearer(world.token),
    )
    assert posted.status_code == 201, posted.text
    body = posted.json()
    assert body["numComments"] == 1
    comment = body["comment"]
    assert comment["author"]["user"] == "ada" and comment["parentId"] is None
    assert "<em>scale</em>" in comment["html"] and "<script>" not in comment["html"]
    reply = api.post(
        "/api/papers/2611.00002/comment",
        json={"comment": "It does.", "parentId": comment["id"]},
        headers=bearer(world.grace_token),
    )
    assert reply.status_code == 201 and reply.json()["numComments"] == 2
    assert reply.json()["comment"]["parentId"] == comment["id"]
    threads = api.get("/api/papers/2611.00002?field=comments").json()["comments"]
    assert [t["id"] for t in threads] == [comment["id"]]
    assert [r["content"] for r in threads[0]["replies"]] == ["It does."]


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        ({"comment": "   "}, 400, "the comment is empty"),
        ({"comment": "x" * 5001}, 400, "limited to 5,000 characters"),
        ({}, 400, "comment: Field required"),
        ({"comment": "hi", "parentId": 999}, 404, "no comment 999 on this paper"),
        ({"comment": "hi", "parentId": 0}, 400, "parentId: Input should be greater than"),
    ],
)
def test_bad_comments(
    api: TestClient, world: World, payload: dict, status: int, message: str
) -> None:  # type: ignore[type-arg]
    response = api.post("/api/papers/2611.00001/comment", json=payload, headers=bearer(world.token))
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


def test_malformed_json_is_a_400(api: TestClient, world: World) -> None:
    response = api.post(
        "/api/papers/2611.00001/comment",
        content=b"{not json",
        headers={**bearer(world.token), "content-type": "application/json"},
    )
    assert response.status_code == 400 and "JSON" in response.json()["error"]


def test_comments_are_rate_limited(api: TestClient, world: World) -> None:
    for i in range(20):
        ok = api.post(
            "/api/papers/2611.00002/comment", json={"comment": f"n{i}"}, headers=bearer(world.token)
        )
        assert ok.status_code == 201
    over = api.post(
        "/api/papers/2611.00002/comment", json={"comment": "one more"}, headers=bearer(world.token)
    )
    assert over.status_code == 429 and int(over.headers["retry-after"]) > 0
    assert "Too many attempts" in over.json()["error"]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "Sign in first"),
        ("Bearer", "Send the token as “Authorization: Bearer <token>”."),
        ("Basic YWRhOnB3", "Send the token as “Authorization: Bearer <token>”."),
        ("Bearer hf_abcdef", "not a paperfeed API token"),
        ("Bearer pf_not-a-real-token", "This API token is not valid"),
    ],
)
def test_bad_credentials_get_401(api: TestClient, header: str | None, message: str) -> None:
    headers = {"authorization": header} if header is not None else {}
    for method, path in (
        ("POST", "/api/papers/2611.00001/upvote"),
        ("DELETE", "/api/papers/2611.00001/upvote"),
        ("POST", "/api/papers/2611.00001/comment"),
        ("POST", "/api/papers/submit"),
        ("GET", "/api/whoami-v2"),
    ):
        response = api.request(method, path, headers=headers, json={"comment": "x", "id": "1"})
        assert response.status_code == 401, (method, path)
        assert message in response.json()["error"]
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_reads_ignore_credentials(api: TestClient) -> None:
    """A client set up with some other site's token still reads."""
    response = api.get("/api/daily_papers", headers={"authorization": "Bearer hf_xyz"})
    assert response.status_code == 200 and len(response.json()) == 4


def test_banned_users_tokens_stop_working(api: TestClient, world: World) -> None:
    with world.db.transaction() as session:
        accounts.ban(session, session.get(User, user_named(world.db, "ada").id), "spam")
    response = api.post("/api/papers/2611.00002/upvote", headers=bearer(world.token))
    assert response.status_code == 401 and "banned" in response.json()["error"]


def signed_in(world: World, name: str) -> tuple[TestClient, str]:
    """A browser session: the cookie, and the CSRF token its pages carry."""
    client = world.client(accept="text/html")
    form = client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    client.post("/login", data={"csrf": csrf, "login": name, "password": PASSWORD})
    page = client.get("/account").text
    return client, re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def test_cookie_requests_need_the_csrf_header(world: World) -> None:
    client, csrf = signed_in(world, "grace")
    refused = client.post("/api/papers/2611.00002/upvote")
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["error"]
    wrong = client.post("/api/papers/2611.00002/upvote", headers={"x-csrf-token": "nope"})
    assert wrong.status_code == 403
    assert count_votes(world, "2611.00002") == (9, 0)
    ok = client.post("/api/papers/2611.00002/upvote", headers={"x-csrf-token": csrf})
    assert ok.status_code == 200 and ok.json()["upvotes"] == 10
    me = client.get("/api/whoami-v2")  # reading about oneself needs no CSRF token
    assert me.status_code == 200 and me.json()["name"] == "grace"
    assert me.json()["auth"]["type"] == "session"


def test_whoami(api: TestClient, world: World) -> None:
    me = api.get("/api/whoami-v2", headers=bearer(world.token)).json()
    assert me["name"] == "ada" and me["fullname"] == "Ada Lovelace"
    assert me["auth"] == {
        "type": "access_token",
        "accessToken": {"displayName": "laptop", "role": "write"},
    }


# --- submissions ----------------------------------------------------------------------------


@pytest.fixture
def submit_api(world: World, arxiv_api):  # type: ignore[no-untyped-def]
    world.settings = world.settings.model_copy(
        update={"arxiv_api_url": arxiv_api.url, "arxiv_request_interval": 0.0}
    )
    with clock.frozen(DAY_AFTER), world.client() as client:
        yield client


def test_submit_puts_the_paper_on_todays_feed(submit_api: TestClient, world: World) -> None:
    response = submit_api.post(
        "/api/papers/submit",
        json={"id": "https://arxiv.org/abs/2408.00716v1", "organization": "acme"},
        headers=bearer(world.token),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "accepted"
    paper = body["paper"]
    assert paper["id"] == "2408.00716" and paper["submittedOnDailyBy"]["user"] == "ada"
    assert paper["organization"]["name"] == "acme"
    assert paper["submittedOnDailyAt"] == "2024-08-05T15:00:00.000Z"
    day = submit_api.get("/api/daily_papers?date=2024-08-05").json()
    assert [e["paper"]["id"] for e in day] == ["2408.00716"]
    assert day[0]["submittedBy"]["user"] == "ada"
    again = submit_api.post(
        "/api/papers/submit", json={"id": "2408.00716"}, headers=bearer(world.grace_token)
    )
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert again.json()["paper"]["upvotes"] == 1
    with world.db.reader() as session:
        statuses = session.execute(select(Submission.status).order_by(Submission.id)).scalars()
        assert list(statuses) == ["accepted", "duplicate"]


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        ({"id": "not an id"}, 400, "That is not an arXiv id or link"),
        ({"id": "2408.00716", "organization": "acme-not"}, 400, "not a member"),
        ({"id": "2408.99999"}, 404, "arXiv has no paper 2408.99999"),
        ({"id": ""}, 400, "id: String should have at least 1 character"),
        ({"arxiv": "2408.00716"}, 400, "id: Field required"),
    ],
)
def test_bad_submissions(
    submit_api: TestClient, world: World, payload: dict, status: int, message: str
) -> None:  # type: ignore[type-arg]
    response = submit_api.post("/api/papers/submit", json=payload, headers=bearer(world.token))
    assert response.status_code == status, response.text
    assert message in response.json()["error"]
    with world.db.reader() as session:
        assert session.execute(select(func.count()).select_from(Submission)).scalar_one() == 0


def test_old_papers_are_refused(submit_api: TestClient, world: World) -> None:
    with clock.frozen(datetime(2024, 9, 1, tzinfo=UTC)):
        response = submit_api.post(
            "/api/papers/submit", json={"id": "2408.00716"}, headers=bearer(world.token)
        )
    assert response.status_code == 400 and "last 14 days" in response.json()["error"]


def test_arxiv_down_is_a_502(submit_api: TestClient, world: World, arxiv_api) -> None:  # type: ignore[no-untyped-def]
    from tests.servers import Response

    arxiv_api.faults.extend([Response(503, b"busy", {"Retry-After": "0"})] * 10)
    response = submit_api.post(
        "/api/papers/submit", json={"id": "2408.00716"}, headers=bearer(world.token)
    )
    assert response.status_code == 502 and "arXiv did not answer" in response.json()["error"]


def test_comment_counts_stay_true(api: TestClient, world: World) -> None:
    api.post("/api/papers/2611.00001/comment", json={"comment": "x"}, headers=bearer(world.token))
    with world.db.reader() as session:
        paper = session.execute(select(Paper).where(Paper.public_id == "2611.00001")).scalar_one()
        live = session.execute(
            select(func.count())
            .select_from(Comment)
            .where(
                Comment.paper_id == paper.id,
                Comment.deleted_at.is_(None),
                Comment.hidden_at.is_(None),
            )
        ).scalar_one()
    assert paper.comment_count == live == 3
