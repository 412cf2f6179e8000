"""Thumbnails: render time per paper, bytes per image, disk per 1M papers, and the job's
cost over the whole archive; against a baseline of a full page at 150 dpi as PNG.

    .venv/bin/python -m bench.thumbnails [--papers N] [--smoke]

The PDFs are made here (tests/pdf_server.py's `make_pdf`: a title, authors and two
columns of text, US Letter and A4, 1 to 30 pages; and, one in four, a scanned-looking
page of a raster figure saved by Pillow), so the run needs no network. Each is rendered in
this process by `papers.thumbnails.render` (what the job's child runs) and, for the
process overhead, through a `Renderer` child too. The baseline renders the same first page
at 150 dpi and stores it as PNG: what a naive "save the page as an image" would keep.
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paperfeed.papers.thumbnails import Renderer, render
from tests.pdf_server import make_pdf

MILLION = 1_000_000
ARCHIVE = 2_600_000
ARXIV_INTERVAL = 3.0  # seconds between requests, as arXiv asks
ROW_OVERHEAD = 60  # bytes of a paper_thumbnails row beside its image (keys, digest, sizes)
CHECK_ROW = 120  # bytes of the paper's paper_thumbnail_checks row


def scanned_pdf(seed: int) -> bytes:
    """A PDF whose page is one raster image: a title band, noise and a gradient figure."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    page = Image.new("RGB", (1275, 1650), "white")  # 8.5 x 11 in at 150 dpi
    draw = ImageDraw.Draw(page)
    draw.rectangle((150, 120, 1125, 170), fill=(30, 30, 30))
    for y in range(260, 1500, 22):
        x = 150
        while x < 1100:
            width = rng.randint(20, 90)
            draw.rectangle((x, y, x + width, y + 9), fill=(60, 60, 60))
            x += width + 12
    for i in range(400):
        shade = int(255 * i / 400)
        draw.line((300 + i, 700, 300 + i, 1000), fill=(shade, 80, 255 - shade))
    out = io.BytesIO()
    page.save(out, "PDF", resolution=150)
    return out.getvalue()


def corpus(n: int) -> list[bytes]:
    rng = random.Random(7)
    pdfs = []
    for i in range(n):
        if i % 4 == 3:
            pdfs.append(scanned_pdf(i))
        else:
            size = (612, 792) if i % 2 else (595, 842)
            pdfs.append(make_pdf(f"Paper number {i}", pages=rng.randint(1, 30), size=size))
    return pdfs


def baseline(data: bytes) -> tuple[float, int]:
    """A full first page at 150 dpi as PNG: seconds, bytes."""
    import pypdfium2 as pdfium

    started = time.perf_counter()
    pdf = pdfium.PdfDocument(data)
    image = pdf[0].render(scale=150 / 72).to_pil()
    out = io.BytesIO()
    image.save(out, "PNG", optimize=False)
    pdf.close()
    return time.perf_counter() - started, len(out.getvalue())


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def size(n: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=80)
    parser.add_argument("--smoke", action="store_true", help="a few papers, to check it runs")
    args = parser.parse_args()
    n = 8 if args.smoke else args.papers
    pdfs = corpus(n)
    render(pdfs[0])  # imports and pdfium's start-up are not a paper's cost

    seconds: list[float] = []
    sizes: dict[tuple[str, str], list[int]] = defaultdict(list)
    for data in pdfs:
        started = time.perf_counter()
        rendered = render(data)
        seconds.append(time.perf_counter() - started)
        for image in rendered.images:
            sizes[image.size, image.format].append(len(image.data))
    base_seconds, base_bytes = zip(*(baseline(d) for d in pdfs), strict=True)
    with Renderer() as child:
        child.render(pdfs[0])  # the child's start
        child_seconds = []
        for data in pdfs:
            started = time.perf_counter()
            child.render(data)
            child_seconds.append(time.perf_counter() - started)

    per_paper = sum(statistics.mean(v) + ROW_OVERHEAD for v in sizes.values()) + CHECK_ROW
    print(f"{n} PDFs ({sum(len(p) for p in pdfs) / n / 1000:.0f} kB on average)\n")
    print("| what | p50 ms | p95 ms | bytes (mean) | bytes (p95) | disk per 1M papers |")
    print("|---|---|---|---|---|---|")
    print(
        f"| render + 4 images, in process | {pct(seconds, 0.5) * 1000:.0f} | "
        f"{pct(seconds, 0.95) * 1000:.0f} | {per_paper:,.0f} per paper | | "
        f"{size(per_paper * MILLION)} |"
    )
    print(
        f"| the same through the child process | {pct(child_seconds, 0.5) * 1000:.0f} | "
        f"{pct(child_seconds, 0.95) * 1000:.0f} | | | |"
    )
    for (kind, fmt), values in sorted(sizes.items()):
        print(
            f"| {kind} {fmt} | | | {statistics.mean(values):,.0f} | "
            f"{pct([float(v) for v in values], 0.95):,.0f} | "
            f"{size(statistics.mean(values) * MILLION)} |"
        )
    print(
        f"| baseline: full page, 150 dpi PNG | {pct(list(base_seconds), 0.5) * 1000:.0f} | "
        f"{pct(list(base_seconds), 0.95) * 1000:.0f} | {statistics.mean(base_bytes):,.0f} | "
        f"{pct([float(b) for b in base_bytes], 0.95):,.0f} | "
        f"{size(statistics.mean(base_bytes) * MILLION)} |"
    )
    ratio = statistics.mean(base_bytes) / per_paper
    print(f"\nbaseline / thumbnails: {ratio:.0f}x the bytes per paper")
    render_p50 = pct(child_seconds, 0.5)
    days = ARCHIVE * ARXIV_INTERVAL / 86_400
    print(
        f"\nAt {ARCHIVE:,} papers: {ARCHIVE:,} PDF requests, {days:,.0f} days at one request "
        f"every {ARXIV_INTERVAL:g} s (rendering adds {ARCHIVE * render_p50 / 86_400:.1f} days "
        f"of one core), {size(per_paper * ARCHIVE)} stored"
    )


if __name__ == "__main__":
    main()
