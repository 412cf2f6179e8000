"""Where markup cannot go (the browser tab, the page's description, feed titles), a title's
LaTeX is plain text; on the page it is MathML."""

from __future__ import annotations

import html
import re
from pathlib import Path

from fastapi.testclient import TestClient

from paperfeed import clock
from paperfeed.db import Database
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from paperfeed.web.app import create_app
from tests.conftest import make_settings
from tests.web.conftest import BROWSER_HEADERS


def head_text(page: str, pattern: str) -> str:
    found = re.search(pattern, page, re.S)
    assert found is not None, pattern
    return html.unescape(found.group(1))


def test_the_tab_title_is_plain_text_and_the_heading_is_mathml(client: TestClient) -> None:
    page = client.get("/papers/0704.0005").text  # "From dyadic $\Lambda_{\alpha}$ to ..."
    assert head_text(page, r"<title>(.*?)</title>").startswith("From dyadic Λ_α to Λ_α ·")
    description = head_text(page, r'<meta name="description" content="([^"]*)"')
    assert "$" not in description
    heading = page[page.index('<h1 id="paper-title">') :].split("</h1>", 1)[0]
    assert heading.count("<math") == 2


def test_a_known_macro_in_a_title_is_blackboard_bold(client: TestClient) -> None:
    page = client.get("/papers/0704.0011").text  # "... modular forms over $\Q(\sqrt{5})$ ..."
    assert "over ℚ(√5) via the" in head_text(page, r"<title>(.*?)</title>")
    heading = page[page.index('<h1 id="paper-title">') :].split("</h1>", 1)[0]
    assert "<mi>ℚ</mi>" in heading and "\\Q" not in heading


def test_markup_in_a_formula_stays_text_in_the_tab_title(db: Database, tmp_path: Path) -> None:
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(
                    title=r"Beware $\text{</title><script>window.pwned=1</script>}$ here",
                    abstract=r"And $\text{<img src=x onerror=alert(1)>}$ too.",
                    arxiv_id="2411.00009",
                    feed_at=clock.now(),
                )
            ],
        )
    app = create_app(make_settings(tmp_path, db.url), db)
    with TestClient(app, headers=BROWSER_HEADERS) as client:
        page = client.get("/papers/2411.00009").text
    head = page.split("</head>", 1)[0]
    assert "<script>window" not in head
    assert "&lt;/title&gt;&lt;script&gt;" in head
    assert "<img" not in head
