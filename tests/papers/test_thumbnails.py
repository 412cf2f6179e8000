"""First-page thumbnails: pdfium renders real PDFs to small WebP and JPEG images; hostile
PDFs are unusable with a reason, rendered in a child process that may hang or die."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from PIL import Image as PILImage

from paperfeed.papers import thumbnails
from paperfeed.papers.thumbnails import (
    CARD_HEIGHT,
    CARD_WIDTH,
    PAGE_WIDTH,
    Renderer,
    RenderFailed,
    Unusable,
)
from tests.pdf_server import CORRUPT_PDF, make_pdf

A4 = (595.0, 842.0)


def decoded(data: bytes) -> PILImage.Image:
    image = PILImage.open(io.BytesIO(data))
    image.load()
    return image


def test_a_paper_renders_to_small_card_and_page_images_in_webp_and_jpeg() -> None:
    rendered = thumbnails.render(make_pdf(pages=3))
    assert rendered.pages == 3
    got = {(i.size, i.format): i for i in rendered.images}
    assert set(got) == {("card", "webp"), ("card", "jpeg"), ("page", "webp"), ("page", "jpeg")}
    for (size, fmt), image in got.items():
        picture = decoded(image.data)
        assert picture.format == fmt.upper()
        assert picture.size == (image.width, image.height)
        if size == "card":
            assert picture.size == (CARD_WIDTH, CARD_HEIGHT)
        else:
            assert picture.width == PAGE_WIDTH and abs(picture.height - PAGE_WIDTH * 792 / 612) < 1
    # A text-dense page: a card is a few kB, WebP smaller than JPEG.
    assert len(got["card", "webp"].data) < 10_000
    assert len(got["card", "webp"].data) < len(got["card", "jpeg"].data)
    # What is drawn is the page: dark text on white, and the title's ink at the top.
    card = decoded(got["card", "jpeg"].data).convert("L")
    assert card.getpixel((2, 2)) > 240  # the margin
    top = card.crop((20, 20, CARD_WIDTH - 20, 45))
    assert top.getextrema()[0] < 100  # the title
    assert rendered.digest == thumbnails.render(make_pdf(pages=3)).digest  # deterministic


def test_a4_is_cut_to_the_card_and_landscape_padded() -> None:
    tall = thumbnails.render(make_pdf(size=A4))
    wide = thumbnails.render(make_pdf(size=(792, 612)))
    for rendered in (tall, wide):
        card = next(i for i in rendered.images if i.size == "card")
        assert (card.width, card.height) == (CARD_WIDTH, CARD_HEIGHT)
    padded = decoded(next(i for i in wide.images if i.size == "card").data).convert("L")
    assert padded.crop((0, CARD_HEIGHT - 40, CARD_WIDTH, CARD_HEIGHT)).getextrema()[0] > 240


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"<html>Not a PDF</html>", "not a PDF"),
        (CORRUPT_PDF, "a malformed PDF"),
        (make_pdf()[:600], "a malformed PDF"),  # cut off
        (make_pdf(size=(10, 10)), "a first page of 10 x 10 points"),
        (make_pdf(size=(200, 3000)), "too narrow"),
    ],
    ids=["html", "corrupt", "truncated", "tiny-page", "sliver"],
)
def test_hostile_pdfs_are_unusable_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(Unusable, match=reason):
        thumbnails.render(data)


def test_the_renderer_child_gives_reasons_and_survives_timeouts_and_crashes() -> None:
    with Renderer(seconds=20) as renderer:
        assert renderer.render(make_pdf()).images
        with pytest.raises(Unusable, match="a malformed PDF"):
            renderer.render(CORRUPT_PDF)
        first = renderer._process
        assert first is not None and first.is_alive()  # one child for many PDFs
        first.kill()  # as pdfium crashing on a PDF would
        first.join(5)
        with pytest.raises(RenderFailed, match=r"crashed the renderer \(exit -9\)"):
            renderer.render(make_pdf())
        assert renderer.render(make_pdf()).images  # a new child
    with Renderer(seconds=0.001) as hasty:
        started = time.monotonic()
        with pytest.raises(RenderFailed, match=r"took over 0\.001 s to render"):
            hasty.render(make_pdf())
        assert hasty._process is None  # killed, not left running
        assert time.monotonic() - started < 10


def test_the_renderer_child_runs_under_its_memory_limit() -> None:
    limit = 1024 * 1024 * 1024
    with Renderer(memory=limit) as renderer:
        assert renderer.render(make_pdf()).images
        limits = Path(f"/proc/{renderer._process.pid}/limits").read_text()
    (line,) = [row for row in limits.splitlines() if row.startswith("Max address space")]
    assert line.split()[3:5] == [str(limit), str(limit)]  # soft and hard
