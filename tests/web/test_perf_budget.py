"""Performance budget in a real browser: bytes transferred per resource type and the
DOMContentLoaded time of every kind of page, each loaded with a cold cache.

Transferred bytes are the response bodies as sent on the wire, which Chromium reports per
request: gzipped for anonymous visitors and static files, plain for signed-in pages (see
paperfeed.web.compression). Each page is requested once before it is measured, so the
time is the page's and not the server's start-up. The table is printed and written to
test-artifacts/perf-budget.md.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import pytest

from tests.web.browser import browser
from tests.web.site_tour import (
    ADMIN,
    ARTIFACTS,
    DESKTOP,
    MEMBER,
    TOUR,
    Stop,
    chromium,
    sign_in,
    tour_site,
)

__all__ = ["browser", "chromium", "tour_site"]  # fixtures

pytestmark = pytest.mark.browser
KB = 1000
SCRIPT_BUDGET = 100 * KB  # compressed JavaScript per page
TOTAL_BUDGET = 100 * KB  # everything a page transfers, cold cache (signed in: uncompressed)
DCL_BUDGET_MS = 1500  # DOMContentLoaded on loopback; generous for a loaded 2-core machine
KINDS = ("document", "stylesheet", "script", "image", "other")


@pytest.fixture(scope="module")
def signed_in_states(chromium, tour_site: str) -> dict[str | None, object]:  # type: ignore[no-untyped-def]
    """Cookies of a signed-in member and admin, so each page can load in a cold context."""
    states: dict[str | None, object] = {None: None}
    for who in (MEMBER, ADMIN):
        context = chromium.new_context(viewport=DESKTOP)
        sign_in(context.new_page(), tour_site, who)
        states[who] = context.storage_state()
        context.close()
    return states


def measure(chromium, base: str, stop: Stop, state) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Load `stop` in a fresh context: bytes on the wire per resource type, and DCL in ms."""
    context = chromium.new_context(viewport=DESKTOP, storage_state=state)
    # The server's first answer to a page may load a model or fill a cache: that is start-up
    # cost, not the page's. The browser's cache stays cold: this request does not fill it.
    context.request.get(base + stop.path, fail_on_status_code=False)
    page = context.new_page()
    finished = []
    page.on("requestfinished", lambda request: finished.append(request))
    response = page.goto(base + stop.path, wait_until="load")
    assert response is not None and response.status == stop.status, stop.path
    page.wait_for_load_state("networkidle")
    sizes: dict[str, float] = defaultdict(float)
    for request in finished:
        kind = request.resource_type if request.resource_type in KINDS else "other"
        sizes[kind] += request.sizes()["responseBodySize"]
    sizes["total"] = sum(sizes[kind] for kind in KINDS)
    sizes["requests"] = len(finished)
    sizes["dcl_ms"] = page.evaluate(
        "() => { const n = performance.getEntriesByType('navigation')[0];"
        " return n.domContentLoadedEventEnd - n.startTime; }"
    )
    context.close()
    return sizes


def table(rows: dict[str, dict[str, float]]) -> str:
    head = "| page | requests | " + " | ".join(KINDS) + " | total | DOMContentLoaded |"
    lines = [head, "|---" * (len(KINDS) + 4) + "|"]
    for name, sizes in rows.items():
        cells = [f"{sizes[kind] / KB:.1f} kB" for kind in (*KINDS, "total")]
        lines.append(
            f"| {name} | {sizes['requests']:.0f} | "
            + " | ".join(cells)
            + f" | {sizes['dcl_ms']:.0f} ms |"
        )
    return "\n".join(lines)


@pytest.fixture(scope="module")
def measured(chromium, tour_site: str, signed_in_states) -> Iterator[dict[str, dict[str, float]]]:  # type: ignore[no-untyped-def]
    rows = {
        stop.name: measure(chromium, tour_site, stop, signed_in_states[stop.who]) for stop in TOUR
    }
    report = table(rows)
    print("\n" + report)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "perf-budget.md").write_text(
        "# Performance budget\n\nBytes on the wire per page, cold cache, "
        f"desktop viewport; budgets: JavaScript {SCRIPT_BUDGET // KB} kB, "
        f"total {TOTAL_BUDGET // KB} kB, DOMContentLoaded {DCL_BUDGET_MS} ms.\n\n{report}\n"
    )
    yield rows


@pytest.mark.parametrize("stop", TOUR, ids=lambda stop: stop.name)
def test_page_stays_within_budget(measured, stop: Stop) -> None:  # type: ignore[no-untyped-def]
    sizes = measured[stop.name]
    assert sizes["script"] <= SCRIPT_BUDGET, f"{stop.name}: {sizes['script'] / KB:.1f} kB of JS"
    assert sizes["total"] <= TOTAL_BUDGET, f"{stop.name}: {sizes['total'] / KB:.1f} kB in all"
    assert sizes["dcl_ms"] <= DCL_BUDGET_MS, f"{stop.name}: DOMContentLoaded {sizes['dcl_ms']} ms"
    assert sizes["document"] > 0 and sizes["stylesheet"] > 0  # the page and its CSS were counted
