import io
import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from paperfeed.ingest.jsonl import read_lines

NY = ZoneInfo("America/New_York")
PACKAGE_DATA = Path(__file__).parents[2] / "src" / "paperfeed" / "data"


def lines(*objects: object | bytes, fmt: str = "auto"):
    raw = b"".join((o if isinstance(o, bytes) else json.dumps(o).encode()) + b"\n" for o in objects)
    return list(read_lines(io.BytesIO(raw), fmt, NY))


def test_reads_our_format_with_every_field() -> None:
    [line] = lines(
        {
            "id": "2401.01234v2",
            "title": "A  Title\n with breaks",
            "abstract": "We study $x^2$.",
            "authors": ["Ada Lovelace", {"name": "Alan Turing"}],
            "published": "2024-01-03",
            "categories": "cs.LG stat.ML",
            "upvotes": 12,
            "organization": {"name": "acme", "fullname": "Acme Research"},
            "github": "https://github.com/acme/model",
            "project_page": "https://acme.example/model",
        }
    )
    record = line.record
    assert record is not None
    assert record.arxiv_id == "2401.01234"
    assert record.title == "A Title with breaks"
    assert record.authors == ["Ada Lovelace", "Alan Turing"]
    assert record.categories == ["cs.LG", "stat.ML"]
    assert record.upvotes == 12
    assert record.organization and record.organization.fullname == "Acme Research"
    # A bare date is noon in the feed's zone, safely inside that day.
    assert record.published_at == datetime(2024, 1, 3, 17, 0, tzinfo=UTC)
    assert record.feed_at == record.published_at


def test_reads_the_sample_corpus_shape() -> None:
    with (PACKAGE_DATA / "sample_papers.jsonl").open("rb") as stream:
        parsed = list(read_lines(stream, "auto", NY))
    assert len(parsed) == 368
    assert all(line.record is not None for line in parsed)
    with_counts = [
        line.record for line in parsed if line.record and line.record.upvotes is not None
    ]
    assert len(with_counts) == 118
    orgs = {
        line.record.organization.name for line in parsed if line.record and line.record.organization
    }
    assert orgs == {"Harvard", "ontocord", "furiosa-ai", "facebook"}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"title": "x", "abstract": "y"', "not valid JSON"),
        (b'"just a string"', "expected a JSON object"),
        (b'{"abstract": "y"}', "missing title"),
        (b'{"title": "  ", "abstract": "y"}', "title must be non-empty"),
        (b'{"title": "x"}', "missing abstract"),
        (b'{"title": "x", "abstract": "y", "id": "not-an-id"}', "is not an arXiv id"),
        (b'{"title": "x", "abstract": "y", "published": "17/05/2024"}', "is not an ISO date"),
        (b'{"title": "x", "abstract": "y", "upvotes": -3}', "upvotes must be"),
        (b'{"title": "x", "abstract": "y", "upvotes": true}', "upvotes must be"),
        (b'{"title": "x", "abstract": "y", "authors": "A, B", "github": "ftp://x"}', "github must"),
        (b'{"title": "x", "abstract": "y", "organization": {"name": "a b"}}', "organization name"),
        (b'{"title": "x", "abstract": "y", "categories": [1]}', "categories must"),
        (b'{"title": "caf\xe9", "abstract": "y"}', "not valid UTF-8"),
    ],
)
def test_bad_records_get_a_reason(raw: bytes, reason: str) -> None:
    [line] = lines(raw)
    assert line.record is None
    assert line.error is not None and reason in line.error


def test_line_numbers_count_blank_lines_and_a_bom_is_ignored() -> None:
    raw = b'\xef\xbb\xbf{"title": "a", "abstract": "b"}\n\n{oops}\n'
    parsed = list(read_lines(io.BytesIO(raw), "auto", NY))
    assert [(p.number, p.record is not None) for p in parsed] == [(1, True), (3, False)]


def test_reads_the_arxiv_snapshot_format() -> None:
    with (PACKAGE_DATA / "arxiv_snapshot_sample.jsonl").open("rb") as stream:
        parsed = [line.record for line in read_lines(stream, "auto", NY)]
    assert len(parsed) == 200 and all(parsed)
    first = parsed[0]
    assert first is not None
    assert first.arxiv_id == "0704.0001"
    assert first.title == (
        "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    )
    assert first.authors[:2] == ["C. Balázs", "E. L. Berger"]
    assert [v.version for v in first.versions] == [1, 2]
    assert first.published_at == datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC)
    assert first.categories == ["hep-ph"]
    assert first.doi == "10.1103/PhysRevD.76.013009"
    assert "\n" not in first.abstract
    assert sum("$" in r.abstract for r in parsed if r) > 20
