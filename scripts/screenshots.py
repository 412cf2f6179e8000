"""Take the README's screenshots: serve the demo site, photograph its main pages in Chromium.

Runs `paperfeed demo` on a free loopback port with a throwaway data folder, so the shots
show exactly what a new user sees, and writes small PNGs (a 1280x800 viewport, not the
full page; 390x844 for the phone) to docs/screenshots/, squeezed with pngquant when the
machine has it. The demo banner is dismissed first, as a visitor would after reading it.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@dataclass(frozen=True)
class Shot:
    file: str
    path: str  # "{paper}" stands for the top paper of the day
    viewport: dict[str, int]
    scheme: str = "light"


SHOTS = [
    Shot("feed.png", "/", DESKTOP),
    Shot("paper.png", "{paper}", DESKTOP),
    Shot("search.png", "/papers?q=language+models+for+code", DESKTOP),
    Shot("trending.png", "/papers/trending", DESKTOP),
    Shot("calendar.png", "/papers/calendar", DESKTOP),
    Shot("feed-mobile.png", "/", PHONE),
    Shot("search-mobile.png", "/papers?q=language+models+for+code", PHONE),
    Shot("paper-dark.png", "{paper}", DESKTOP, "dark"),
    Shot("trending-dark.png", "/papers/trending", DESKTOP, "dark"),
]
BANNER_DISMISSED = {"name": "pf_demo_banner", "value": "hidden"}  # routes/banner.py


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, server: subprocess.Popen, log: Path, seconds: float = 600) -> None:
    """The first run embeds the demo corpus, which takes a minute or two."""
    print(f"==> starting the demo site at {url} (loading and embedding the sample papers)")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"paperfeed demo exited with status {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    sys.exit(f"the demo site did not answer at {url} within {seconds:.0f}s:\n{log.read_text()}")


def squeeze(png: Path) -> None:
    """Quantize to 256 colours: a third of the size, no visible change for flat UI."""
    if shutil.which("pngquant") is None:
        print("  (pngquant not found: PNG left as Chromium wrote it)")
        return
    subprocess.run(
        ["pngquant", "--force", "--skip-if-larger", "--strip", "--output", str(png), str(png)],
        check=False,
    )


def photograph(base: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    print(f"==> photographing {len(SHOTS)} pages into {out.relative_to(ROOT)}/")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page()
        page.goto(base + "/")
        paper = page.locator("li.card h3 a").first.get_attribute("href")
        page.close()
        for shot in SHOTS:
            context = browser.new_context(viewport=shot.viewport, color_scheme=shot.scheme)
            context.add_cookies([{**BANNER_DISMISSED, "url": base}])
            page = context.new_page()
            page.goto(base + shot.path.format(paper=paper))
            page.wait_for_load_state("networkidle")
            target = out / shot.file
            page.screenshot(path=str(target))
            squeeze(target)
            print(f"  {target.relative_to(ROOT)}: {target.stat().st_size / 1000:.0f} kB")
            context.close()
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    paperfeed = Path(sys.executable).parent / "paperfeed"
    with tempfile.TemporaryDirectory(prefix="paperfeed-shots-") as data_dir:
        env = {**os.environ, "PAPERFEED_DATA_DIR": data_dir}
        env.pop("PAPERFEED_DATABASE_URL", None)  # always the throwaway demo database
        log = Path(data_dir) / "server.log"
        with log.open("w") as output:
            server = subprocess.Popen(
                [str(paperfeed), "demo", "--port", str(port)],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
            try:
                wait_until_up(base, server, log)
                photograph(base, args.out.resolve())
            finally:
                server.terminate()
                server.wait(timeout=30)


if __name__ == "__main__":
    main()
