"""A stand-in for the Hugging Face Hub's listing API, over real HTTP on loopback.

`GET /api/models`, `/api/datasets` and `/api/spaces` answer like the Hub: a JSON array of
repositories whose tags include every `filter` value (`arxiv:2401.00001`), sorted by
`sort` (descending, as the Hub does), at most `limit` (capped at `page_size`) a page,
the next page in a `Link: <…>; rel="next"` header (the Hub's cursor pagination, which
`huggingface_hub.utils.paginate` follows). Without `expand` an item carries the Hub's
default fields for its kind; with `expand` only `_id`, `id` and the properties asked.

Faults: `rate_limit(n, reset)` answers the next n requests 429 with the Hub's `RateLimit`
and `RateLimit-Policy` headers (remaining 0, reset in `reset` seconds) and `Retry-After`;
`fail(n, status)` answers the next n with a 5xx; `down = True` answers everything 503;
`delay` holds every answer back that many seconds.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

from tests.servers import HttpServer, Request, Response

KINDS = {"models": "model", "datasets": "dataset", "spaces": "space"}
JSON = {"Content-Type": "application/json; charset=utf-8"}
SORT_KEYS = {"likes", "downloads", "lastModified", "createdAt", "trendingScore"}
DEFAULT_FIELDS = {
    "model": [
        "id",
        "likes",
        "trendingScore",
        "private",
        "downloads",
        "tags",
        "pipeline_tag",
        "library_name",
        "createdAt",
        "modelId",
    ],
    "dataset": [
        "id",
        "author",
        "disabled",
        "gated",
        "lastModified",
        "likes",
        "trendingScore",
        "private",
        "sha",
        "downloads",
        "tags",
        "createdAt",
        "key",
    ],
    "space": ["id", "likes", "trendingScore", "private", "sdk", "tags", "createdAt"],
}


def _oid(key: str) -> str:
    return hashlib.sha1(key.encode()).hexdigest()[:24]


def repo_json(
    kind: str,
    repo_id: str,
    likes: int,
    downloads: int = 0,
    arxiv: tuple[str, ...] = (),
    extra: str | None = None,
    last_modified: str = "2026-11-20T10:15:00.000Z",
) -> dict[str, Any]:
    """Every field the Hub may send for one repository of `kind` (model/dataset/space)."""
    author = repo_id.split("/")[0] if "/" in repo_id else None
    tags = [f"arxiv:{a}" for a in arxiv]
    item: dict[str, Any] = {
        "_id": _oid(f"{kind}:{repo_id}"),
        "id": repo_id,
        "author": author,
        "likes": likes,
        "trendingScore": likes // 10,
        "private": False,
        "disabled": False,
        "gated": False,
        "sha": hashlib.sha1(repo_id.encode()).hexdigest(),
        "createdAt": "2025-06-01T08:00:00.000Z",
        "lastModified": last_modified,
    }
    if kind == "model":
        item.update(
            downloads=downloads,
            pipeline_tag=extra or "text-generation",
            library_name="transformers",
            modelId=repo_id,
            tags=["transformers", "safetensors", *tags, "license:mit"],
        )
    elif kind == "dataset":
        item.update(downloads=downloads, key="", tags=["size_categories:1K<n<10K", *tags])
    else:
        item.update(sdk=extra or "gradio", tags=[extra or "gradio", *tags, "region:us"])
    return item


class FakeHub:
    """The Hub's `/api/{models,datasets,spaces}` listing (see the module's docstring)."""

    def __init__(self, page_size: int = 1000) -> None:
        self.page_size = page_size
        self.repos: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in KINDS.values()}
        self.faults: deque[Response] = deque()
        self.down = False
        self.delay = 0.0  # seconds before each answer (a Hub too slow to wait for)
        self.http = HttpServer(self)

    def add(
        self,
        kind: str,
        repo_id: str,
        likes: int,
        downloads: int = 0,
        arxiv: tuple[str, ...] | str = (),
        extra: str | None = None,
        **fields: Any,
    ) -> None:
        ids = (arxiv,) if isinstance(arxiv, str) else arxiv
        item = repo_json(kind, repo_id, likes, downloads, ids, extra)
        item.update(fields)
        self.repos[kind][repo_id] = item

    def rate_limit(self, n: int, reset: int = 120) -> None:
        body = json.dumps({"error": "You have exceeded our hourly quotas for action: api."})
        headers = {
            **JSON,
            "RateLimit": f'"api";r=0;t={reset}',
            "RateLimit-Policy": '"fixed window";"api";q=500;w=300',
            "Retry-After": str(reset),
        }
        for _ in range(n):
            self.faults.append(Response(429, body.encode(), headers))

    def fail(self, n: int, status: int = 503) -> None:
        for _ in range(n):
            self.faults.append(Response(status, b"<html>Service Unavailable</html>"))

    @property
    def url(self) -> str:
        return self.http.url

    @property
    def requests(self) -> list[Request]:
        return self.http.requests

    def listings(self) -> list[Request]:
        return [r for r in self.requests if r.path.startswith("/api/")]

    def start(self) -> FakeHub:
        self.http.start()
        return self

    def stop(self) -> None:
        self.http.stop()

    def __call__(self, request: Request) -> Response:
        if self.faults:
            return self.faults.popleft()
        if self.delay:
            return Response(200, b"[]", dict(JSON), delay=self.delay)
        if self.down:
            return Response(503, b"<html>Service Unavailable</html>")
        kind = KINDS.get(request.path.removeprefix("/api/"))
        if kind is None:
            return Response(404, json.dumps({"error": "Not Found"}).encode(), JSON)
        wanted = request.query.get("filter", [])
        items = [r for r in self.repos[kind].values() if all(f in r["tags"] for f in wanted)]
        sort = request.param("sort")
        if sort is not None:
            if sort not in SORT_KEYS:
                body = {"error": f'Invalid sort parameter "{sort}"'}
                return Response(400, json.dumps(body).encode(), JSON)
            items.sort(key=lambda r: (r.get(sort) or 0, r["id"]), reverse=True)
        try:
            limit = min(int(request.param("limit") or self.page_size), self.page_size)
            start = int(request.param("cursor") or 0)
        except ValueError:
            return Response(400, json.dumps({"error": "Invalid limit"}).encode(), JSON)
        page = items[start : start + limit]
        expand = request.query.get("expand")
        fields = ["_id", "id", *expand] if expand else ["_id", *DEFAULT_FIELDS[kind]]
        body = [{k: r[k] for k in fields if k in r} for r in page]
        headers = dict(JSON)
        if start + limit < len(items):
            query = {k: v for k, v in request.query.items() if k != "cursor"}
            following = urlencode([*((k, x) for k, v in query.items() for x in v)])
            headers["Link"] = (
                f'<{self.url}{request.path}?{following}&cursor={start + limit}>; rel="next"'
            )
        return Response(200, json.dumps(body).encode(), headers)


@contextmanager
def running_hub(page_size: int = 1000) -> Iterator[FakeHub]:
    """A started stand-in Hub, stopped afterwards (test modules make it their fixture)."""
    server = FakeHub(page_size).start()
    try:
        yield server
    finally:
        server.stop()
