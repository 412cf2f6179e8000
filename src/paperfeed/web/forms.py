"""What a request may send, checked before anything looks at it.

- `BodyLimit` (ASGI middleware) refuses bodies over `MAX_BODY` with 413, by `Content-Length`
  and while a chunked body streams in, so no route ever parses an oversized body.
- `NoNul` (ASGI middleware) refuses an address with a NUL character (`%00`) with 400;
  `TrailingSlash` moves `/orgs/` to `/orgs` with a relative address.
- `read_form` / `FormDep` parse a submitted form once per request (CSRF check and route share
  it), with at most `MAX_FIELDS` fields of at most `MAX_FIELD_BYTES` each, and no files.
- `Form.text` gives a field only if it is within its own length limit: 400 otherwise, before
  any regex or database sees it.
- `parse_int` is the one way to read an integer from a request (query, form, path): ASCII
  digits only, within bounds, or 400 with the reason. `str.isdigit()` accepts "²" and "①",
  which `int()` then refuses.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import SplitResult, quote, urlsplit

from fastapi import Depends, HTTPException, Request
from starlette.datastructures import FormData
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 1024 * 1024  # bytes, any request (forms and the JSON API)
MAX_FIELDS = 50
MAX_FIELD_BYTES = 64 * 1024  # one form field as sent (percent-encoded)
DEFAULT_MAX_LEN = 1000  # characters, when a field names no limit of its own
_MAX_DIGITS = 18  # anything longer is out of every range we accept

TOO_LARGE = f"The request is too large: at most {MAX_BODY // 1024} kB."
NUL_IN_ADDRESS = "Bad request: the address holds a NUL character (%00); remove it."


class BodyLimit:
    """Answer 413 to bodies over `max_bytes` (declared or streamed)."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (
            not declared.isdigit() or len(declared) > _MAX_DIGITS or int(declared) > self.max_bytes
        ):
            await _too_large(scope)(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # Raised inside the app, so the app's error handler answers it.
                    raise HTTPException(413, TOO_LARGE)
            return message

        await self.app(scope, limited, send)


def _too_large(scope: Scope) -> ASGIApp:
    return _refusal(scope, TOO_LARGE, 413, {"Connection": "close"})


def _refusal(scope: Scope, message: str, status: int, headers: dict[str, str]) -> ASGIApp:
    headers = {**headers, "Cache-Control": "no-store"}
    if str(scope.get("path", "")).startswith("/api/"):
        return JSONResponse({"error": message}, status, headers=headers)
    return PlainTextResponse(message, status, headers=headers)


class TrailingSlash:
    """`/orgs/` moves to `/orgs` (308, with a relative address). Starlette's own slash
    redirect writes an absolute address from the request's Host header, which must never
    make a link; it is turned off in web/app.py."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if len(path) > 1 and path.endswith("/") and not path.startswith("/static/"):
            raw = scope.get("raw_path") or quote(path).encode()  # as sent, still encoded
            query = scope.get("query_string", b"").decode("latin-1")
            # One leading slash: "//evil.example/" must not become a protocol-relative address.
            target = "/" + raw.decode("latin-1").strip("/") + (f"?{query}" if query else "")
            await RedirectResponse(target, 308)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class NoNul:
    """Answer 400 to an address with a NUL character (`%00`) in its path or query: no
    name, id or word holds one, and PostgreSQL text cannot, so no route need check."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b"")
        ):
            await _refusal(scope, NUL_IN_ADDRESS, 400, {})(scope, receive, send)
            return
        await self.app(scope, receive, send)


class Form:
    """A parsed form whose fields come out only through length-checked accessors."""

    def __init__(self, data: FormData) -> None:
        self._data = data

    def text(self, name: str, max_len: int = DEFAULT_MAX_LEN, default: str = "") -> str:
        """The field's text, or 400 if it is longer than `max_len` characters or holds a NUL."""
        value = self._data.get(name)
        if value is None:
            return default
        if not isinstance(value, str):
            raise HTTPException(400, f"Bad request: {name} must be text, not a file.")
        if len(value) > max_len:
            raise HTTPException(400, f"Bad request: {name} is limited to {max_len:,} characters.")
        if "\x00" in value:  # no text here holds one, and PostgreSQL text cannot
            raise HTTPException(400, f"Bad request: {name} holds a NUL character; remove it.")
        return value

    def integer(self, name: str, lo: int, hi: int, default: int | None = None) -> int | None:
        """The field as an integer in [lo, hi]; `default` when it is absent or empty."""
        value = optional_int(self.text(name, max_len=_MAX_DIGITS + 2).strip(), name, lo, hi)
        return default if value is None else value

    def __contains__(self, name: object) -> bool:
        return name in self._data


async def read_form(request: Request) -> Form:
    """The request's form, parsed once with bounded fields (400 if a field is too big)."""
    form = getattr(request.state, "form", None)
    if form is None:
        data = await request.form(max_files=0, max_fields=MAX_FIELDS, max_part_size=MAX_FIELD_BYTES)
        form = request.state.form = Form(data)
    return form


FormDep = Annotated[Form, Depends(read_form)]


def parse_int(raw: str | None, name: str, lo: int, hi: int, what: str = "whole number") -> int:
    """`raw` as an integer in [lo, hi], or 400 saying what was expected.

    Only ASCII digits count: "²", "①" and "٣" are refused here rather than crashing `int()`
    or being read as numbers.
    """
    problem = f"Bad request: {name} must be a {what} from {lo} to {hi:,}."
    if not raw:
        raise HTTPException(400, f"Bad request: {name} is required.")
    if len(raw) > _MAX_DIGITS or not (raw.isascii() and raw.isdigit()):
        raise HTTPException(400, problem)
    value = int(raw)
    if not lo <= value <= hi:
        raise HTTPException(400, problem)
    return value


def optional_int(
    raw: str | None, name: str, lo: int, hi: int, what: str = "whole number"
) -> int | None:
    """`parse_int`, with None for an absent or empty value."""
    return None if not raw else parse_int(raw, name, lo, hi, what)


def safe_redirect_target(value: str | None, site_url: str) -> str | None:
    """Where to send the browser back to, as a local path, if `value` stays on this site.

    `value` (a `next=` field, a Referer) counts only when a URL parser finds it has the same
    scheme, host and port as `site_url`, or when it is a path starting with one "/" (not "//"
    and no backslash, which browsers read as a host). Prefix checks are not enough:
    `http://host:port.evil.example/` starts with `http://host:port`.
    """
    if not value or len(value) > 2000 or "\\" in value:
        return None
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in value):
        return None  # browsers drop tabs and newlines, which would change the target
    try:
        parts, site = urlsplit(value), urlsplit(site_url)
        origin = (parts.scheme.lower(), parts.hostname, _port(parts))
        if (parts.scheme or parts.netloc) and origin != (
            site.scheme.lower(),
            site.hostname,
            _port(site),
        ):
            return None
    except ValueError:  # a port that is not a number
        return None
    path = parts.path or "/"
    if not path.startswith("/") or path.startswith("//"):
        return None
    return (
        path
        + (f"?{parts.query}" if parts.query else "")
        + (f"#{parts.fragment}" if parts.fragment else "")
    )


def _port(parts: SplitResult) -> int | None:
    return parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())


def query_int(
    request: Request, name: str, lo: int, hi: int, default: int, what: str = "whole number"
) -> int:
    """A query parameter read with `parse_int`; `default` when it is absent or empty."""
    value = optional_int(request.query_params.get(name), name, lo, hi, what)
    return default if value is None else value


__all__ = [
    "MAX_BODY",
    "BodyLimit",
    "Form",
    "FormDep",
    "NoNul",
    "TrailingSlash",
    "optional_int",
    "parse_int",
    "query_int",
    "read_form",
    "safe_redirect_target",
]
