"""arXiv's PDFs, for one thing: the first page of a feed paper, to make its thumbnail.

`GET {PAPERFEED_ARXIV_PDF_URL}/2401.00001v2` through the polite client, on arXiv's pace
(`PAPERFEED_ARXIV_REQUEST_INTERVAL`, one request every 3 s, shared with every other
client of the host). Only papers that enter the feed are asked for (ingest/thumbnails.py):
arXiv's policy forbids bulk-fetching the archive's PDFs this way.

The body is never trusted: a `Content-Length` over `max_bytes` is refused before the
body is read, a body that grows past it is cut off at that point (sizes are counted after
any content coding, so a compressed bomb stops there too), and the whole download must
end within `download_seconds`, not only each read within the timeout. What arXiv answers:
- 200: the PDF's bytes (whether they are a PDF is the renderer's question);
- 404, 410: no PDF (withdrawn, or never had one): `pdf` returns None;
- 429, 5xx, timeouts: retried with backoff (`Retry-After` honoured), then
  `RemoteUnavailable`; other refusals (403...) are `RemoteRefused`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Self, Unpack
from urllib.parse import quote

import httpx

from paperfeed.config import Settings
from paperfeed.ingest.http_client import ClientOptions, PoliteClient, user_agent

GONE = frozenset({404, 410})
ERROR_BODY = 64_000  # bytes of an error answer read at most


class PdfTooLarge(Exception):
    """The PDF is larger than the client reads; asking again will not change that."""

    def __init__(self, size: int | None, limit: int) -> None:
        said = f"{size:,} bytes" if size is not None else f"more than {limit:,} bytes"
        super().__init__(f"the PDF is {said}, over the limit of {limit:,}")
        self.size, self.limit = size, limit


def pdf_url(base_url: str, arxiv_id: str, version: int | None = None) -> str:
    """`{base}/2401.00001v2` (old-style ids keep their slash: `{base}/hep-th/9901001v1`)."""
    suffix = f"v{version}" if version else ""
    return f"{base_url.rstrip('/')}/{quote(arxiv_id, safe='/.')}{suffix}"


class ArxivPdfClient(PoliteClient):
    """A polite client of arXiv's PDF server (`PAPERFEED_ARXIV_PDF_URL`)."""

    def __init__(
        self,
        base_url: str,
        request_interval: float = 3.0,
        *,
        max_bytes: int = 50_000_000,
        download_seconds: float = 120.0,
        **options: Unpack[ClientOptions],
    ) -> None:
        defaults: ClientOptions = {"timeout": 30.0, "max_retries": 2, "backoff": 5.0}
        super().__init__(
            "arXiv's PDF server",
            base_url,
            request_interval,
            headers={"Accept": "application/pdf"},
            **(defaults | options),
        )
        self.base_url: str = base_url.rstrip("/")
        self.max_bytes = max_bytes
        self.download_seconds = download_seconds

    @classmethod
    def from_settings(cls, settings: Settings, **options: Unpack[ClientOptions]) -> Self:
        options.setdefault("user_agent", user_agent(settings))
        return cls(
            settings.arxiv_pdf_url,
            settings.arxiv_request_interval,
            max_bytes=settings.thumbnail_max_pdf_bytes,
            **options,
        )

    def pdf(self, arxiv_id: str, version: int | None = None) -> bytes | None:
        """The PDF of `arxiv_id` (at `version`), or None if arXiv has none.

        Raises `PdfTooLarge`, `RemoteRefused` (403...) or `RemoteUnavailable`."""
        return self.get(
            pdf_url(self.base_url, arxiv_id, version), read=self._read, answers=self._answers
        )

    @staticmethod
    def _answers(response: httpx.Response) -> bool:
        return response.status_code == 200 or response.status_code in GONE

    @staticmethod
    def _read(response: httpx.Response) -> bytes | None:
        return None if response.status_code in GONE else response.content

    def _fetch(
        self,
        url: str,
        params: Mapping[str, str] | None,
        timeout: float,
        deadline: float | None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """The answer, its body capped in size and in time (`download_seconds`, or the
        caller's deadline if sooner) as it streams in."""
        until = self._clock() + self.download_seconds
        if deadline is not None:
            until = min(until, deadline)
        with self._http.stream(
            "GET", url, params=params, headers=headers, timeout=timeout
        ) as response:
            ok = response.status_code == 200
            limit = self.max_bytes if ok else ERROR_BODY
            length = response.headers.get("content-length", "")
            if ok and length.isascii() and length.isdigit() and int(length) > limit:
                raise PdfTooLarge(int(length), limit)
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limit:
                    if ok:
                        raise PdfTooLarge(None, limit)
                    break  # an error page: its start says enough
                if self._clock() > until:
                    raise httpx.ReadTimeout(
                        f"the download took over {self.download_seconds:g} s",
                        request=response.request,
                    )
                chunks.append(chunk)
            headers = {
                k: v
                for k, v in response.headers.items()
                if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
            }
            return httpx.Response(
                response.status_code,
                headers=headers,
                content=b"".join(chunks),
                request=response.request,
            )
