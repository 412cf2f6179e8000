"""arXiv's PDF client: the bytes of a PDF, None for a 404, a cap on size and on time, and
arXiv's pace and retries, against a stand-in PDF server on loopback."""

from __future__ import annotations

import contextlib
import gzip
import itertools
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from paperfeed.config import Settings
from paperfeed.ingest.arxiv_pdf import ArxivPdfClient, PdfTooLarge, pdf_url
from paperfeed.ingest.http_client import RateLimiter, RemoteRefused, RemoteUnavailable
from tests.pdf_server import FakeArxivPdf, make_pdf
from tests.servers import HttpServer, Request, Response


@pytest.fixture
def arxiv_pdf() -> Iterator[FakeArxivPdf]:
    server = FakeArxivPdf().start()
    yield server
    server.stop()


def client_for(url: str, **options: object) -> ArxivPdfClient:
    defaults: dict[str, object] = {"backoff": 0.01, "max_retries": 1, "limiter": RateLimiter(0)}
    return ArxivPdfClient(url, 0.0, **(defaults | options))  # type: ignore[arg-type]


def test_the_pdf_of_a_version_and_none_when_arxiv_has_none(arxiv_pdf: FakeArxivPdf) -> None:
    pdf = make_pdf()
    arxiv_pdf.papers["2401.00001v2"] = pdf
    with client_for(arxiv_pdf.url) as client:
        assert client.pdf("2401.00001", 2) == pdf
        assert client.pdf("2401.99999", 1) is None
    assert [r.path for r in arxiv_pdf.requests] == ["/pdf/2401.00001v2", "/pdf/2401.99999v1"]
    assert arxiv_pdf.requests[0].headers["accept"] == "application/pdf"


def test_urls_keep_old_style_ids_and_settings_name_the_site(settings: Settings) -> None:
    assert pdf_url("https://arxiv.org/pdf/", "hep-th/9901001", 1) == (
        "https://arxiv.org/pdf/hep-th/9901001v1"
    )
    assert pdf_url("https://arxiv.org/pdf", "2401.00001") == "https://arxiv.org/pdf/2401.00001"
    assert settings.arxiv_pdf_url == "https://arxiv.org/pdf"
    with ArxivPdfClient.from_settings(settings) as client:
        assert client.request_interval == settings.arxiv_request_interval == 3.0
        assert client.max_bytes == settings.thumbnail_max_pdf_bytes
        assert "paperfeed/" in client._http.headers["user-agent"]
        assert settings.site_url in client._http.headers["user-agent"]


def test_a_pdf_over_the_limit_is_refused_by_its_length_or_cut_off(
    arxiv_pdf: FakeArxivPdf,
) -> None:
    arxiv_pdf.papers["2401.00002v1"] = b"%PDF-1.4\n" + b"0" * 200_000
    with (
        client_for(arxiv_pdf.url, max_bytes=100_000) as client,
        pytest.raises(PdfTooLarge, match="200,009 bytes, over the limit of 100,000"),
    ):
        client.pdf("2401.00002", 1)
    assert len(arxiv_pdf.requests) == 1  # not asked again: it will not get smaller

    # No Content-Length (chunked, or compressed): the body is counted as it arrives,
    # after decoding, so a small gzip bomb stops at the limit too.
    bomb = gzip.compress(b"%PDF-1.4\n" + b"\0" * 5_000_000)

    def gzipped(request: Request) -> Response:
        return Response(200, bomb, {"Content-Type": "application/pdf", "Content-Encoding": "gzip"})

    server = HttpServer(gzipped).start()
    try:
        with (
            client_for(server.url, max_bytes=100_000) as client,
            pytest.raises(PdfTooLarge, match="more than 100,000 bytes"),
        ):
            client.pdf("2401.00003", 1)
    finally:
        server.stop()
    assert len(bomb) < 100_000


def test_a_slow_server_times_out_and_is_retried_then_unavailable(
    arxiv_pdf: FakeArxivPdf,
) -> None:
    arxiv_pdf.papers["2401.00004v1"] = make_pdf()
    arxiv_pdf.slow["2401.00004v1"] = 2.0
    started = time.monotonic()
    with (
        client_for(arxiv_pdf.url, timeout=0.3) as client,
        pytest.raises(RemoteUnavailable, match="failed 2 times, last with no answer"),
    ):
        client.pdf("2401.00004", 1)
    assert time.monotonic() - started < 1.9
    assert len(arxiv_pdf.requests) == 2


def test_busy_arxiv_is_waited_for_and_a_refusal_is_not_retried(arxiv_pdf: FakeArxivPdf) -> None:
    pdf = make_pdf()
    arxiv_pdf.papers["2401.00005v1"] = pdf
    arxiv_pdf.faults.append(Response(503, b"busy", {"Retry-After": "0"}))
    with client_for(arxiv_pdf.url) as client:
        assert client.pdf("2401.00005", 1) == pdf
        arxiv_pdf.faults.append(Response(403, b"<h1>Access denied</h1>"))
        with pytest.raises(RemoteRefused) as refused:
            client.pdf("2401.00005", 1)
    assert refused.value.status == 403
    assert len(arxiv_pdf.requests) == 3


def test_requests_keep_arxivs_pace(arxiv_pdf: FakeArxivPdf) -> None:
    arxiv_pdf.papers["2401.00006v1"] = make_pdf()
    with ArxivPdfClient(arxiv_pdf.url, 0.25, limiter=RateLimiter(0.25)) as client:
        for _ in range(3):
            client.pdf("2401.00006", 1)
    starts = [r.at for r in arxiv_pdf.requests]
    assert all(b - a >= 0.24 for a, b in itertools.pairwise(starts))


class Trickle:
    """A server that sends a PDF's headers at once, then its body a little at a time:
    every read arrives within any timeout, the whole never does."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        with contextlib.suppress(OSError), connection:
            connection.recv(65536)
            connection.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/pdf\r\n"
                b"Content-Length: 1000000\r\n\r\n%PDF-1.4\n"
            )
            while not self.stopping.wait(0.05):
                connection.sendall(b"0" * 100)

    def stop(self) -> None:
        self.stopping.set()
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)
        self._socket.close()
        self._thread.join(5)


def test_a_download_that_never_ends_is_cut_off_by_its_time_cap() -> None:
    server = Trickle()
    started = time.monotonic()
    try:
        with (
            client_for(server.url, timeout=5.0, download_seconds=0.3) as client,
            pytest.raises(RemoteUnavailable, match="failed 2 times"),
        ):
            client.pdf("2401.00007", 1)
    finally:
        server.stop()
    assert time.monotonic() - started < 3  # two tries of 0.3 s, not 5 s reads forever
