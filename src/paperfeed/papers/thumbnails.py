"""First-page thumbnails of the feed's arXiv papers: rendering, what is due, storing.

The worker's `thumbnails` job (ingest/thumbnails.py, which fetches the PDFs) takes the arXiv
papers that entered the feed in the last `PAPERFEED_THUMBNAIL_WINDOW_DAYS`, newest first,
that have no result yet (or a newer arXiv version than the one rendered, or an error a
day old). Each result is stored in one transaction with its check row (`touch_enrichment`
when there are images, so pages revalidate without a re-index). Never the whole archive:
arXiv's policy forbids bulk-fetching PDFs.

PDFs are hostile input. Rendering happens in a child process (`Renderer`) with a memory
limit and a time limit: a PDF that hangs pdfium or crashes it kills the child, not the
worker, and the paper is skipped with the reason. Before rendering, the bytes must start
like a PDF, have pages, and a first page of a sane size.

Images: a card size (`CARD_WIDTH` x `CARD_HEIGHT`, the top of the page, a fixed box so
cards never shift) and a page size (`PAGE_WIDTH` wide), each in WebP and in JPEG for the
clients that take no WebP. They live in the database (`paper_thumbnails`), so every web
node serves them and no node fetches a PDF.
"""

from __future__ import annotations

import hashlib
import io
import logging
import multiprocessing
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session

from paperfeed import clock
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.models import Paper, PaperThumbnail, PaperThumbnailCheck
from paperfeed.papers.store import touch_enrichment

log = logging.getLogger(__name__)

CARD_WIDTH, CARD_HEIGHT = 200, 259  # a US Letter page's proportions (8.5 x 11)
PAGE_WIDTH = 600
VERSION_LENGTH = 12  # hex digits of the digest in `?v=`
SIZES = ("card", "page")
FORMATS = {"webp": "image/webp", "jpeg": "image/jpeg"}
EXTENSIONS = {"webp": "webp", "jpg": "jpeg"}  # in URLs -> stored format
QUALITY = {("card", "webp"): 45, ("card", "jpeg"): 55, ("page", "webp"): 40, ("page", "jpeg"): 50}
MAX_PAGES = 10_000
MIN_SIDE, MAX_SIDE = 72.0, 14_400.0  # points: one inch, and PDF's own limit (200 inches)
MAX_ASPECT = 4.0  # a page at most four times as tall as wide, or as wide as tall
RENDER_SECONDS = 20.0  # for one PDF in the child, from bytes to every image
CHILD_MEMORY = 1536 * 1024 * 1024  # bytes of address space the child may take
RETRY_AFTER = timedelta(days=1)  # an error (arXiv did not answer) is tried again then
MAX_ATTEMPTS = 3  # errors in a row before the paper is skipped


class Unusable(Exception):
    """This PDF gives no thumbnail; the message says why (stored as the reason)."""


class RenderFailed(Unusable):
    """The renderer crashed or ran out of time: maybe the PDF, maybe a machine under load,
    so the paper is tried again later (as an error) before it is skipped."""


@dataclass(frozen=True)
class Image:
    size: str  # card | page
    format: str  # webp | jpeg
    data: bytes
    width: int
    height: int

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.data).hexdigest()[:32]


@dataclass(frozen=True)
class Rendered:
    images: list[Image]
    pages: int
    seconds: float  # in the renderer, opening the PDF to the last image encoded

    @property
    def digest(self) -> str:
        """Names the set of images (it goes in their URLs, which may then be cached forever)."""
        return hashlib.sha256("".join(i.digest for i in self.images).encode()).hexdigest()[:32]


# --- rendering ---------------------------------------------------------------------------


def _encode(image: Any, size: str, fmt: str) -> Image:
    out = io.BytesIO()
    quality = QUALITY[(size, fmt)]
    if fmt == "webp":
        # method 6 (the slowest, smallest) costs 8 ms on a card and 50 ms on a page: cards only
        image.save(out, "WEBP", quality=quality, method=6 if size == "card" else 4)
    else:
        image.save(out, "JPEG", quality=quality, optimize=True, progressive=size == "page")
    return Image(size, fmt, out.getvalue(), image.width, image.height)


def render(data: bytes, formats: Sequence[str] = ("webp", "jpeg")) -> Rendered:
    """Page 1 of the PDF `data` as card and page images; `Unusable` with the reason.

    Runs in the caller's process: the job calls it through a `Renderer`, in a child."""
    import pypdfium2 as pdfium
    from PIL import Image as PILImage

    started = time.perf_counter()
    if b"%PDF-" not in data[:1024]:
        raise Unusable("not a PDF (no %PDF- header)")
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise Unusable(f"a malformed PDF ({exc})") from None
    try:
        pages = len(pdf)
        if pages < 1:
            raise Unusable("a PDF without pages")
        if pages > MAX_PAGES:
            raise Unusable(f"a PDF of {pages:,} pages (at most {MAX_PAGES:,})")
        page = pdf[0]
        width, height = page.get_size()
        if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
            raise Unusable(f"a first page of {width:.0f} x {height:.0f} points")
        if max(width / height, height / width) > MAX_ASPECT:
            raise Unusable(f"a first page of {width:.0f} x {height:.0f} points (too narrow)")
        bitmap = page.render(scale=PAGE_WIDTH / width, fill_color=(255, 255, 255, 255))
        full = bitmap.to_pil().convert("RGB")
    except pdfium.PdfiumError as exc:
        raise Unusable(f"a malformed PDF ({exc})") from None
    finally:
        pdf.close()
    card_height = round(full.height * CARD_WIDTH / full.width)
    card = full.resize((CARD_WIDTH, card_height), PILImage.Resampling.LANCZOS)
    if card_height != CARD_HEIGHT:  # A4 is cut at the bottom, a landscape page padded
        box = PILImage.new("RGB", (CARD_WIDTH, CARD_HEIGHT), "white")
        box.paste(card.crop((0, 0, CARD_WIDTH, min(card_height, CARD_HEIGHT))), (0, 0))
        card = box
    page_image = full.crop((0, 0, full.width, min(full.height, PAGE_WIDTH * 2)))
    images = [
        _encode(img, size, fmt)
        for size, img in (("card", card), ("page", page_image))
        for fmt in formats
    ]
    return Rendered(images, pages, time.perf_counter() - started)


def _child(connection: Connection, memory: int) -> None:
    """The renderer's child: PDFs in, `Rendered` or a reason out, until the pipe closes."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    except (ImportError, ValueError, OSError):  # not on this platform: the time limit stays
        pass
    while True:
        try:
            data = connection.recv_bytes()
        except EOFError:
            return
        try:
            result: object = render(data)
        except Unusable as exc:
            result = str(exc)
        except MemoryError:
            result = "a PDF that needs more memory than a thumbnail may take"
        except Exception as exc:  # pdfium's or Pillow's surprise: this PDF, not the job
            result = f"a PDF the renderer failed on ({exc.__class__.__name__}: {exc})"
        connection.send(result)


class Renderer:
    """Renders PDFs in a child process, started on first use and again after it is killed.

    `render` returns what `render()` would, within `seconds`; a PDF that takes longer, or
    kills the child (pdfium crashes on some inputs), raises `RenderFailed` and the next
    call starts a fresh child. The child is spawned, not forked: the worker has threads.
    """

    def __init__(self, seconds: float = RENDER_SECONDS, memory: int = CHILD_MEMORY) -> None:
        self.seconds, self.memory = seconds, memory
        self._context = multiprocessing.get_context("spawn")
        self._process: Any = None
        self._pipe: Connection | None = None

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> Connection:
        parent, child = self._context.Pipe()
        self._process = self._context.Process(
            target=_child, args=(child, self.memory), daemon=True, name="thumbnail-renderer"
        )
        self._process.start()
        child.close()
        self._pipe = parent
        return parent

    def render(self, data: bytes) -> Rendered:
        pipe = self._pipe or self._start()
        try:
            pipe.send_bytes(data)
            ready = pipe.poll(self.seconds)
            result = pipe.recv() if ready else None
        except (EOFError, OSError, BrokenPipeError):
            code = self._stop()
            raise RenderFailed(f"a PDF that crashed the renderer (exit {code})") from None
        if not ready:
            self._stop()
            raise RenderFailed(f"a PDF that took over {self.seconds:g} s to render")
        if isinstance(result, str):
            raise Unusable(result)
        assert isinstance(result, Rendered)
        return result

    def _stop(self) -> int | None:
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None
        if self._process is None:
            return None
        if self._process.is_alive():
            self._process.kill()
        self._process.join(5)
        code: int | None = self._process.exitcode
        self._process = None
        return code

    def close(self) -> None:
        self._stop()


# --- what is due, and storing results ---------------------------------------------------


def _due(now: datetime, window_days: int) -> Any:
    """Feed papers of the window with an arXiv id whose thumbnail is due."""
    check = PaperThumbnailCheck
    return and_(
        Paper.arxiv_id.is_not(None),
        Paper.hidden_at.is_(None),
        Paper.feed_at >= now - timedelta(days=window_days),
        Paper.feed_at <= now,
        or_(
            check.paper_id.is_(None),
            check.version < Paper.latest_version,
            and_(
                check.status == "error",
                check.attempts < MAX_ATTEMPTS,
                check.checked_at <= now - RETRY_AFTER,
            ),
        ),
    )


def _due_query(columns: Sequence[Any], now: datetime, window_days: int) -> Any:
    return (
        select(*columns)
        .select_from(Paper)
        .outerjoin(PaperThumbnailCheck, PaperThumbnailCheck.paper_id == Paper.id)
        .where(_due(now, window_days))
    )


def due_papers(db: Database, settings: Settings, limit: int | None = None) -> list[Any]:
    """(id, arxiv_id, latest_version) of the papers to fetch now, newest in the feed first."""
    query = _due_query(
        (Paper.id, Paper.arxiv_id, Paper.latest_version),
        clock.now(),
        settings.thumbnail_window_days,
    ).order_by(Paper.feed_at.desc(), Paper.id.desc())
    if limit is not None:
        query = query.limit(limit)
    with db.reader() as session:
        return list(session.execute(query).all())


def due_count(db: Database, settings: Settings) -> int:
    query = _due_query((func.count(),), clock.now(), settings.thumbnail_window_days)
    with db.reader() as session:
        return session.scalar(query) or 0


def store_result(
    db: Database,
    paper_id: int,
    version: int,
    status: str,
    reason: str | None = None,
    rendered: Rendered | None = None,
    pdf_bytes: int | None = None,
) -> None:
    """One paper's result, in its own transaction."""
    now = clock.now()
    with db.transaction() as session:
        if session.get(Paper, paper_id) is None:  # deleted meanwhile
            return
        row = session.get(PaperThumbnailCheck, paper_id)
        if rendered is None and row is not None and row.status == "rendered":
            # A newer version gave nothing: keep showing the older one's images.
            row.version, row.checked_at = version, now
            row.reason = f"version {version}: {reason}"[:1000]
            return
        attempts = row.attempts + 1 if row is not None and row.status == "error" else 1
        if status == "error" and attempts >= MAX_ATTEMPTS:
            status, reason = "skipped", f"{reason} ({attempts} times)"
        _replace_images(session, paper_id, rendered, now)
        session.merge(
            PaperThumbnailCheck(
                paper_id=paper_id,
                status=status,
                reason=reason[:1000] if reason else None,
                version=version,
                digest=rendered.digest if rendered else None,
                pdf_bytes=pdf_bytes,
                render_ms=round(rendered.seconds * 1000) if rendered else None,
                attempts=attempts,
                checked_at=now,
            )
        )
        if rendered is not None:
            touch_enrichment(session)  # cards show it: revalidate pages, no re-index


def _replace_images(
    session: Session, paper_id: int, rendered: Rendered | None, now: datetime
) -> None:
    session.execute(delete(PaperThumbnail).where(PaperThumbnail.paper_id == paper_id))
    if rendered is None:
        return
    session.add_all(
        PaperThumbnail(
            paper_id=paper_id,
            size=image.size,
            format=image.format,
            data=image.data,
            digest=image.digest,
            width=image.width,
            height=image.height,
            created_at=now,
        )
        for image in rendered.images
    )


def status_counts(session: Session) -> dict[str, int]:
    """Checked papers by status (for `paperfeed status`)."""
    rows = session.execute(
        select(PaperThumbnailCheck.status, func.count()).group_by(PaperThumbnailCheck.status)
    )
    return {status: count for status, count in rows}


# --- what pages and the API show ---------------------------------------------------------


@dataclass(frozen=True)
class Thumbnail:
    """A paper's stored thumbnail, as pages link it: the URLs carry the set's digest."""

    public_id: str
    digest: str

    def path(self, size: str = "card", ext: str = "webp") -> str:
        return f"/papers/{self.public_id}/thumbnail/{size}.{ext}?v={version_of(self.digest)}"


def version_of(digest: str) -> str:
    """What a thumbnail's URL carries as `?v=`: enough of the images' digest to name them."""
    return digest[:VERSION_LENGTH]


def load_thumbnails(session: Session, papers: Sequence[Paper]) -> dict[int, Thumbnail]:
    """Every paper of `papers` that has a thumbnail -> it: one query, no image bytes."""
    by_id = {p.id: p.public_id for p in papers}
    if not by_id:
        return {}
    rows = session.execute(
        select(PaperThumbnailCheck.paper_id, PaperThumbnailCheck.digest).where(
            PaperThumbnailCheck.paper_id.in_(list(by_id)),
            PaperThumbnailCheck.status == "rendered",
            PaperThumbnailCheck.digest.is_not(None),
        )
    )
    return {pid: Thumbnail(by_id[pid], digest or "") for pid, digest in rows}
