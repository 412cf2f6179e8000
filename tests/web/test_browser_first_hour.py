"""A newcomer's first hour, in a real browser at desktop and phone width, against the real
`paperfeed demo` process: dismiss the demo banner, sign up, confirm from the outbox, upvote,
comment with LaTeX, subscribe a visitor to the digest and confirm that from the outbox too;
then the shell beside the demo (`paperfeed user create`, then logging in as that account,
`paperfeed search`, `paperfeed status`). Harness: tests/web/browser.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.web.browser import Journey, Viewport, browser, viewport
from tests.web.live import free_port

pytestmark = pytest.mark.browser
__all__ = ["browser", "viewport"]  # the harness's fixtures, used by the tests below

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Demo:
    url: str
    folder: Path
    printed: Path  # what the demo wrote to its terminal

    def env(self) -> dict[str, str]:
        """A shell beside the demo: the same data directory, nothing else configured."""
        env = {
            name: value for name, value in os.environ.items() if not name.startswith("PAPERFEED_")
        }
        return {**env, "PAPERFEED_DATA_DIR": str(self.folder)}

    def run(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "paperfeed.cli", *args],
            env={**self.env(), **extra},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """`paperfeed demo` as a newcomer starts it: no settings but where its data goes."""
    folder = tmp_path_factory.mktemp("first-hour")
    port = free_port()
    site = Demo(f"http://127.0.0.1:{port}", folder, folder / "terminal.txt")
    with site.printed.open("w") as terminal:
        server = subprocess.Popen(
            [sys.executable, "-m", "paperfeed.cli", "demo", "--port", str(port)],
            env=site.env(),
            stdout=terminal,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 300  # the first start embeds the sample corpus
        while True:
            assert server.poll() is None, site.printed.read_text()
            try:
                with urllib.request.urlopen(site.url + "/healthz", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, site.printed.read_text()
                time.sleep(0.3)
        yield site
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert "Traceback" not in site.printed.read_text()


def demo_password(demo: Demo, username: str) -> str:
    found = re.search(rf"^  {username} +password (\S+)", demo.printed.read_text(), re.MULTILINE)
    assert found is not None, demo.printed.read_text()
    return found.group(1)


def open_mail(page, demo: Demo, address: str, path: str) -> None:  # type: ignore[no-untyped-def]
    """From anywhere, the newest message to `address` in the outbox: follow its `path` link."""
    page.goto(demo.url + "/demo/outbox")
    message = page.locator("li.outbox-message").filter(has_text=f"To {address}").first
    message.locator(f'a[href*="{path}?"]').first.click()


def test_first_hour_sign_up_confirm_upvote_comment_and_digest(
    browser, demo: Demo, viewport: Viewport
) -> None:  # type: ignore[no-untyped-def]
    name = f"newcomer-{viewport.label}"
    email = f"{name}@example.org"
    with Journey(browser, "first-hour", viewport) as journey:
        page = journey.page
        page.goto(demo.url + "/")
        banner = page.get_by_role("region", name="About this demo")
        assert "This is a demo site" in banner.inner_text()
        journey.shot("demo-banner")
        banner.get_by_role("button", name="Dismiss").click()
        assert page.get_by_role("region", name="About this demo").count() == 0
        page.goto(demo.url + "/papers/trending")
        assert page.get_by_role("region", name="About this demo").count() == 0

        page.goto(demo.url + "/signup")
        page.get_by_label("Username").fill(name)
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign up").click()
        page.wait_for_url("**/account?welcome=1")
        assert "outbox" in page.get_by_role("status").first.inner_text()
        journey.fits()
        journey.shot("signed-up")

        open_mail(page, demo, email, "/verify")
        if page.get_by_role("button", name=re.compile("Confirm")).count():
            page.get_by_role("button", name=re.compile("Confirm")).click()
        page.goto(demo.url + "/account")
        assert "confirmed" in page.locator("main").inner_text()
        journey.shot("confirmed")

        page.goto(demo.url + "/")
        card = page.locator("li.card").first
        before = int(card.locator(".votes .count").inner_text().replace(",", ""))
        card.get_by_role("button", name="Upvote").click()
        card = page.locator("li.card").filter(has=page.locator(".votes.voted")).first
        assert int(card.locator(".votes .count").inner_text().replace(",", "")) == before + 1
        title = card.locator("h3 a").first
        title.click()
        page.wait_for_url("**/papers/**")

        box = page.get_by_label("Add a comment")
        box.fill(r"The bound holds for $k \ge 2$ and costs $\alpha^2$.")
        page.locator("#comments").get_by_role("button", name="Post comment").click()
        comment = page.locator("#comments article").filter(has_text="The bound holds").first
        assert comment.locator("math").count() == 2
        assert "$" not in comment.locator("p").first.inner_text()
        journey.fits()
        journey.shot("comment-with-latex")

        visitor = journey.person()
        reader = f"reader-{viewport.label}@example.org"
        visitor.goto(demo.url + "/digest")
        visitor.get_by_label("Email", exact=True).fill(reader)
        visitor.locator("main").get_by_role("button", name="Subscribe").click()
        assert visitor.locator("h1").inner_text() == "Check your email"
        assert "outbox" in visitor.locator("main").inner_text()
        open_mail(visitor, demo, reader, "/digest/confirm")
        visitor.get_by_role("button", name="Confirm subscription").click()
        assert visitor.locator("h1").inner_text() == "Subscription confirmed"
        journey.shot("digest-confirmed", visitor)


def test_the_shell_beside_the_demo_acts_on_its_data(
    browser, demo: Demo, viewport: Viewport
) -> None:  # type: ignore[no-untyped-def]
    boss = f"boss-{viewport.label}"
    created = demo.run(
        "user",
        "create",
        boss,
        "--email",
        f"{boss}@example.com",
        "--role",
        "admin",
        PAPERFEED_NEW_PASSWORD=PASSWORD,
    )
    assert f"Created {boss} (admin) in {demo.folder / 'paperfeed.sqlite3'}." in created.stdout
    found = demo.run("search", "speculative decoding", "--limit", "3").stdout
    assert re.search(r"^\d+ papers match", found, re.MULTILINE) and "Speculative" in found
    status = demo.run("status").stdout
    assert re.search(r"^papers: 568 ", status, re.MULTILINE)
    assert sorted(p.name for p in demo.folder.glob("*.sqlite3")) == ["paperfeed.sqlite3"]

    with Journey(browser, "shell-beside-demo", viewport) as journey:
        page = journey.page
        page.goto(demo.url + "/login")
        page.get_by_label("Username or email").fill(boss)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        account = page.get_by_role("navigation", name="Account")
        if viewport.label == "mobile":  # the phone's menu opens first
            page.locator("details.site-menu summary").click()
        account.get_by_role("link", name="Admin").click()
        page.wait_for_url("**/admin")
        assert page.locator("h1").is_visible()
        journey.shot("admin-from-the-header")

        member = journey.person()
        member.goto(demo.url + "/login")
        member.get_by_label("Username or email").fill("demo-member")
        member.get_by_label("Password").fill(demo_password(demo, "demo-member"))
        member.get_by_role("button", name="Log in").click()
        member.goto(demo.url + "/account")
        assert "demo-member" in member.locator("main").inner_text()
