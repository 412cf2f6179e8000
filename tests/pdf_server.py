"""A stand-in for arXiv's PDF server over real HTTP on loopback, and real PDFs to serve.

`make_pdf` writes a paper-like PDF by hand (PDF 1.4: a title, an author line and two
columns of body text in the standard Helvetica and Times fonts, with an xref table), so
pdfium renders what a real first page looks like without any PDF tool installed.

`FakeArxivPdf` answers `GET /pdf/{id}v{n}` like arxiv.org: `application/pdf` for the papers
it has, 404 with arXiv's HTML for the rest; `slow` ids wait before answering, `faults`
answer the next requests first (a 503 with Retry-After, say).
"""

from __future__ import annotations

import random
from collections import deque

from tests.servers import HttpServer, Request, Response

TEXT = (
    "we propose a method for learning representations of language with transformers "
    "trained on large corpora and evaluate it on benchmarks showing consistent gains over "
    "strong baselines across tasks while using fewer parameters and less compute than prior "
    "work our analysis reveals which components matter most"
)
WORDS = TEXT.split()


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _page_content(title: str, seed: int, width: float, height: float) -> bytes:
    rng = random.Random(seed)
    ops = ["BT", "/F2 17 Tf", f"72 {height - 90:.0f} Td", f"({_escape(title)}) Tj", "ET"]
    ops += ["BT", "/F1 11 Tf", f"{width / 2 - 90:.0f} {height - 120:.0f} Td"]
    ops += ["(A. Author, B. Writer and C. Scholar) Tj", "ET"]
    column = (width - 72 * 2 - 18) / 2
    for left in (72.0, 72 + column + 18):
        y = height - 170.0
        ops += ["BT", "/F2 9.5 Tf", "11.5 TL", f"{left:.0f} {y:.0f} Td"]
        while y > 80:
            line = " ".join(rng.choice(WORDS) for _ in range(int(column / 34)))
            ops.append(f"({_escape(line)}) '")
            y -= 11.5
        ops.append("ET")
    ops += ["0.2 0.3 0.7 rg", f"72 {height - 150:.0f} {width - 144:.0f} 2 re f"]
    return "\n".join(ops).encode("latin-1")


def make_pdf(
    title: str = "Attention Is Not All You Need",
    pages: int = 2,
    size: tuple[float, float] = (612, 792),
) -> bytes:
    """A real, valid PDF of `pages` pages (US Letter by default) with text on each."""
    width, height = size
    objects: list[bytes] = []
    page_ids = [5 + 2 * i for i in range(pages)]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{pid} 0 R" for pid in page_ids)
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Times-Roman >>")
    for i in range(pages):
        content = _page_content(title if i == 0 else f"{i + 1}", i, width, height)
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width:g} {height:g}] "
            f"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> "
            f"/Contents {page_ids[i] + 1} 0 R >>".encode()
        )
        objects.append(
            f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream"
        )
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    ).encode()
    return bytes(out)


CORRUPT_PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R\n" + b"\x00garbage" * 200
NOT_FOUND_HTML = (
    b"<!DOCTYPE html><html><head><title>Article identifier not recognized</title></head>"
    b"<body><h1>Article identifier not recognized</h1></body></html>"
)
PDF_HEADERS = {"Content-Type": "application/pdf"}


class FakeArxivPdf:
    """arXiv's PDF server: `papers` maps `2401.00001v1` to the bytes served at
    `/pdf/2401.00001v1`; `slow` maps ids to seconds waited before the answer."""

    def __init__(self) -> None:
        self.papers: dict[str, bytes] = {}
        self.slow: dict[str, float] = {}
        self.faults: deque[Response] = deque()
        self.http = HttpServer(self)

    @property
    def url(self) -> str:
        return f"{self.http.url}/pdf"

    @property
    def requests(self) -> list[Request]:
        return self.http.requests

    def start(self) -> FakeArxivPdf:
        self.http.start()
        return self

    def stop(self) -> None:
        self.http.stop()

    def __call__(self, request: Request) -> Response:
        if self.faults:
            return self.faults.popleft()
        key = request.path.removeprefix("/pdf/")
        if key not in self.papers:
            return Response(404, NOT_FOUND_HTML, {"Content-Type": "text/html; charset=utf-8"})
        return Response(200, self.papers[key], PDF_HEADERS, delay=self.slow.get(key, 0.0))
