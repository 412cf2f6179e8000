"""Accessibility in a real browser: axe-core on every kind of page in light and dark mode,
and the main actions done with the keyboard alone.

axe-core is installed from the npm registry by `scripts/setup --test` (pinned there) and
injected into each page after it loads. Serious and critical violations fail the test, and
so do the page-structure rules (headings, landmarks); every violation found is printed with
its rule, impact, elements and help page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.web.browser import browser
from tests.web.site_tour import (
    ARTIFACTS,
    DESKTOP,
    LATEX_PAPER,
    MEMBER,
    MOBILE,
    ROOT,
    TOUR,
    Stop,
    chromium,
    sign_in,
    tour_site,
)

__all__ = ["browser", "chromium", "tour_site"]  # fixtures

pytestmark = pytest.mark.browser
AXE = ROOT / ".cache" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
# Page structure: axe rates these moderate, but they are what screen reader users navigate by.
STRUCTURE = (
    "heading-order",
    "landmark-one-main",
    "landmark-unique",
    "region",
    "page-has-heading-one",
)
SCHEMES = ("light", "dark")


@pytest.fixture(scope="module")
def axe_source() -> str:
    assert AXE.is_file(), f"{AXE} is missing: run `bash scripts/setup --test` to install axe-core"
    return AXE.read_text()


@pytest.fixture(scope="module")
def tab_for(chromium, tour_site: str) -> Iterator[Callable[..., object]]:  # type: ignore[no-untyped-def]
    """One browser tab per (visitor, color scheme, screen), signed in once and reused."""
    contexts: dict[tuple[str | None, str, str], object] = {}

    def open_tab(who: str | None, scheme: str, screen: str = "desktop"):  # type: ignore[no-untyped-def]
        key = (who, scheme, screen)
        if key not in contexts:
            viewport = MOBILE if screen == "phone" else DESKTOP
            context = chromium.new_context(viewport=viewport, color_scheme=scheme)
            page = context.new_page()
            if who is not None:
                sign_in(page, tour_site, who)
            contexts[key] = page
        return contexts[key]

    yield open_tab
    for page in contexts.values():
        page.context.close()


def describe(violations: list[dict]) -> str:
    """One block per violation: rule, impact, help page, and each element with its problem."""
    lines = []
    for violation in violations:
        lines.append(
            f"- {violation['id']} ({violation['impact']}): {violation['help']}\n"
            f"  {violation['helpUrl']}"
        )
        for node in violation["nodes"][:8]:
            summary = " ".join(node.get("failureSummary", "").split())
            lines.append(f"    {' > '.join(map(str, node['target']))}: {summary[:300]}")
        if len(violation["nodes"]) > 8:
            lines.append(f"    … and {len(violation['nodes']) - 8} more elements")
    return "\n".join(lines)


def check(page, base: str, axe_source: str, stop: Stop, label: str) -> None:  # type: ignore[no-untyped-def]
    """Load the page, run axe on it, print every violation, fail on the blocking ones."""
    response = page.goto(base + stop.path)
    assert response is not None and response.status == stop.status, stop.path
    page.evaluate(axe_source)  # not a <script> tag: the page's CSP runs no inline script
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    violations = results["violations"]
    if violations:
        print(f"\n{stop.name} ({label}) {stop.path}\n{describe(violations)}")
    blocking = [v for v in violations if v["impact"] in BLOCKING or v["id"] in STRUCTURE]
    if blocking:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"a11y-{stop.name}-{label}.png"), full_page=True)
    assert not blocking, f"{stop.name} ({label}) {stop.path}:\n{describe(blocking)}"


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("stop", TOUR, ids=lambda stop: stop.name)
def test_no_serious_accessibility_violations(
    tab_for, tour_site: str, axe_source: str, stop: Stop, scheme: str
) -> None:  # type: ignore[no-untyped-def]
    page = tab_for(stop.who, scheme)
    page.goto(tour_site + "/healthz")
    assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches") is (scheme == "dark")
    check(page, tour_site, axe_source, stop, scheme)


PHONE_STOPS = [stop for stop in TOUR if stop.name in ("day-signed-in", "paper", "search", "login")]


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("stop", PHONE_STOPS, ids=lambda stop: stop.name)
def test_no_serious_accessibility_violations_on_a_phone(
    tab_for, tour_site: str, axe_source: str, stop: Stop, scheme: str
) -> None:  # type: ignore[no-untyped-def]
    """The narrow layout wraps the header and stacks the forms: its own contrast and targets."""
    page = tab_for(stop.who, scheme, "phone")
    check(page, tour_site, axe_source, stop, f"phone-{scheme}")


FOCUS_STYLE = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  return {
    tag: el.tagName.toLowerCase(),
    text: (el.getAttribute('aria-label') || el.textContent || el.value || '').trim().slice(0, 60),
    href: el.getAttribute('href'),
    id: el.id,
    outline: style.outlineStyle !== 'none' ? parseFloat(style.outlineWidth) : 0,
    shadow: style.boxShadow !== 'none',
    visible: box.width > 0 && box.height > 0 && box.bottom > 0 && box.top < innerHeight,
  };
}"""


def tab_until(page, wanted: Callable[[dict], bool], limit: int = 80) -> list[dict]:  # type: ignore[no-untyped-def]
    """Press Tab until the focused element is `wanted`; every stop on the way must show focus."""
    seen: list[dict] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUS_STYLE)
        seen.append(focused)
        assert focused["visible"], f"focus went to an element off screen: {focused}"
        assert focused["outline"] >= 2 or focused["shadow"], f"no visible focus: {focused}"
        if wanted(focused):
            return seen
    raise AssertionError(f"not reached in {limit} Tab presses; focus went to {seen}")


def test_keyboard_alone_searches_and_opens_a_paper(chromium, tour_site: str) -> None:  # type: ignore[no-untyped-def]
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(tour_site + "/")

    on_the_way = tab_until(page, lambda f: f["id"] == "site-q")
    assert on_the_way[0]["text"] == "Skip to content"
    page.keyboard.type("quantum theory")
    page.keyboard.press("Enter")
    page.wait_for_url("**/papers?q=quantum+theory")
    assert page.locator("li.card").count() > 0

    # The filter form: every field in order, then its Search button, with the keyboard.
    tab_until(page, lambda f: f["id"] == "q")
    tab_until(page, lambda f: f["tag"] == "input" and "from" in (f["id"] or ""), limit=5)
    page.keyboard.type("01012007")  # a date field takes the digits of its segments
    tab_until(page, lambda f: f["tag"] == "button" and f["text"] == "Search", limit=15)
    page.keyboard.press("Enter")
    page.wait_for_url("**from=2007-01-01**")

    # The first result's title opens the paper.
    first = page.locator("li.card h3 a").first.get_attribute("href")
    tab_until(page, lambda f: f["href"] == first, limit=60)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{first}")
    assert page.locator("h1").is_visible()
    context.close()


def test_keyboard_alone_upvotes_a_paper(chromium, tour_site: str) -> None:  # type: ignore[no-untyped-def]
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    sign_in(page, tour_site, MEMBER)
    page.goto(f"{tour_site}/papers/{LATEX_PAPER}")
    button = page.locator(".paper-head .vote-form button")
    before = int(button.locator(".count").inner_text().replace(",", ""))

    tab_until(page, lambda f: f["tag"] == "button" and f["text"].startswith("Upvote"))
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('.paper-head .vote-form button')"
        ".getAttribute('aria-pressed') === 'true'"
    )
    assert int(button.locator(".count").inner_text().replace(",", "")) == before + 1
    assert page.evaluate("document.activeElement.getAttribute('aria-pressed')") == "true"

    page.keyboard.press("Space")  # the same button takes the vote back
    page.wait_for_function(
        "() => document.querySelector('.paper-head .vote-form button')"
        ".getAttribute('aria-pressed') === 'false'"
    )
    assert int(button.locator(".count").inner_text().replace(",", "")) == before
    context.close()
