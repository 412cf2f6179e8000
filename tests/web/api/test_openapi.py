"""Schemathesis against the published OpenAPI schema: no 5xx on any API operation, and every
answer matches its documented status, content type and shape.

Reads run on the sample corpus with a real search index; writes run on a private world with
a valid API token (so they get past authentication and exercise the rules), against a local
arXiv stand-in. Examples are bounded so the whole module takes well under a minute per
backend.
"""

from __future__ import annotations

from datetime import UTC, datetime

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from paperfeed import clock
from paperfeed.web.app import create_app
from tests.web.api.conftest import World

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
SETTINGS = hypothesis.settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
SUBMITTABLE = "2408.00716"  # in the arXiv stand-in, from 2024-08-01
SUBMIT_DAY = datetime(2024, 8, 5, 15, 0, tzinfo=UTC)
WRITES = r"^/api/papers/(submit|\{paper_id\}/(upvote|comment|links))$"
LINKED = "2611.00001"  # the write world's paper that the token's user submitted


def load(app, paths: str):  # type: ignore[no-untyped-def]
    return schemathesis.openapi.from_asgi("/api/openapi.json", app).include(path_regex=paths)


@pytest.fixture
def read_schema(search_site):  # type: ignore[no-untyped-def]
    app = create_app(search_site.settings, search_site.db)
    return load(app, "^/api/").exclude(path_regex=WRITES)


@pytest.fixture
def write_schema(world: World, arxiv_api):  # type: ignore[no-untyped-def]
    arxiv_api.generate = True
    settings = world.settings.model_copy(
        update={"arxiv_api_url": arxiv_api.url, "arxiv_request_interval": 0.0}
    )
    return load(create_app(settings, world.db), WRITES)


@pytest.fixture
def token(world: World) -> str:
    return world.token


def runner(strategy, seen: set[int], headers: dict[str, str] | None):  # type: ignore[no-untyped-def]
    @given(case=strategy)
    @SETTINGS
    def run(case) -> None:  # type: ignore[no-untyped-def]
        response = case.call_and_validate(checks=CHECKS, headers=headers)
        seen.add(response.status_code)

    return run


def exercise(
    schema,  # type: ignore[no-untyped-def]
    paper_id: str,
    headers: dict[str, str] | None = None,
) -> tuple[list[str], dict[str, set[int]]]:
    """Run every operation's positive and negative examples (and positive ones aimed at a real
    paper); return the failures and the statuses each operation answered with.

    (A plain loop over the operations rather than `schemathesis.pytest.from_fixture`, whose
    node-id handling does not work with this pytest.)
    """
    failures: list[str] = []
    statuses: dict[str, set[int]] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations
    for operation in operations:
        seen = statuses.setdefault(operation.label, set())
        strategies = [
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        ]
        if "{paper_id}" in operation.path:
            strategies.append(
                operation.as_strategy(
                    GenerationMode.POSITIVE, path_parameters={"paper_id": paper_id}
                )
            )
        if operation.path.endswith("/links"):  # only its submitter may: aim at one of theirs
            strategies.append(
                operation.as_strategy(GenerationMode.POSITIVE, path_parameters={"paper_id": LINKED})
            )
        if operation.path.endswith("/submit"):
            strategies.append(
                operation.as_strategy(GenerationMode.POSITIVE, body={"id": SUBMITTABLE})
            )
        try:
            runner(st.one_of(strategies), seen, headers)()
        except Exception as exc:  # every operation runs; all failures are reported together
            failures.append(f"{operation.label}: {exc}")
    return failures, statuses


def test_reads_never_fail(read_schema) -> None:  # type: ignore[no-untyped-def]
    failures, statuses = exercise(read_schema, "0704.0001")
    assert failures == []
    assert all(max(codes) < 500 for codes in statuses.values()), statuses
    for label, codes in statuses.items():
        if "whoami" in label:
            assert codes == {401}  # no token here
        elif "/api/me/" in label:  # an account's own data: refused without a token
            assert 401 in codes and codes <= {400, 401}, (label, codes)
        elif label.startswith(("POST", "PATCH", "DELETE")) and "/api/collections" in label:
            assert 401 in codes and codes <= {400, 401}, (label, codes)  # writes, no token
        elif "/api/collections/" in label:  # made-up names name no collection
            assert 404 in codes and codes <= {400, 404}, (label, codes)
        else:
            assert 200 in codes and 400 in codes, (label, codes)


def test_writes_never_fail(write_schema, token: str, world: World) -> None:  # type: ignore[no-untyped-def]
    with clock.frozen(SUBMIT_DAY):
        failures, statuses = exercise(
            write_schema, "2611.00002", {"authorization": f"Bearer {token}"}
        )
    assert failures == []
    assert all(max(codes) < 500 for codes in statuses.values()), statuses
    for label, codes in statuses.items():
        assert codes & {200, 201} and codes & {400, 404}, (label, codes)


def test_the_schema_is_published(sample_api) -> None:  # type: ignore[no-untyped-def]
    schema = sample_api.get("/api/openapi.json").json()
    paths = set(schema["paths"])
    assert {
        "/api/daily_papers",
        "/api/papers",
        "/api/papers/search",
        "/api/papers/{paper_id}",
        "/api/papers/submit",
        "/api/papers/{paper_id}/upvote",
        "/api/papers/{paper_id}/comment",
        "/api/papers/{paper_id}/links",
        "/api/whoami-v2",
    } <= paths
    daily = schema["paths"]["/api/daily_papers"]["get"]
    params = {p["name"] for p in daily["parameters"]}
    assert params == {"p", "limit", "date", "week", "month", "submitter", "sort", "category"}
    assert "bearer" in str(schema["components"]["securitySchemes"]).lower()


def test_no_promise_of_422(sample_api) -> None:  # type: ignore[no-untyped-def]
    """Bad input is answered 400 with {"error"}; the schema must not document FastAPI's 422."""
    schema = sample_api.get("/api/openapi.json").json()
    for path, methods in schema["paths"].items():
        if path.startswith("/api/"):
            for operation in methods.values():
                assert "422" not in operation["responses"], path
                assert "4XX" in operation["responses"], path
