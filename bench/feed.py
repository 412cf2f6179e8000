"""Does a page cost the same on a small archive as on a huge one?

This benchmark builds synthetic paper archives of several sizes, each in a fresh SQLite
database, and measures in-process (FastAPI's TestClient, no network) how long five public
pages take to render for an anonymous visitor:

- the day page `/papers/date/YYYY-MM-DD` for random days of the archive,
- the paper page `/papers/{id}` for random papers,
- the category page `/papers/category/{cat}` for random categories (its redirect to the
  category's latest day, followed, is timed with that day's page, as a browser gets it),
- the category's day page `/papers/category/{cat}/date/YYYY-MM-DD` for random days, and
- the author page `/authors/{name}` for planted authors.

Every archive has the same shape whatever its size: a constant number of papers per feed
day (200 by default, so 10,000 papers span 50 days and 1,000,000 span 5,000 days). Each
paper has a ~10-word title, a ~150-word abstract of Zipf-distributed words (some with
LaTeX), 1-8 authors, 1-2 versions, skewed upvotes and an arXiv-like id. Its arXiv
categories (1-4, Zipf-distributed) are stored as the app stores them, in `papers` and as
`paper_categories` rows with the first primary; every day deals out the same category
lists, so a category has the same number of papers per day at every size. Authors are
drawn from a Zipf-distributed pool of names, so a random author's paper count grows with
the archive; the author pages measured are those of 12 planted authors with 40 papers
each, spread evenly over the archive at every size. The schema is created by the Alembic
migrations and rows are bulk-inserted with SQLAlchemy Core, so 1M papers build in a few
minutes.

The clock is pinned just after the archives' last feed day (all archives end on the same
day). After a few warm-up requests, N requests per page kind and size are timed, the sizes
taking turns request by request so that background load on the machine affects every
size alike. Each request is a plain anonymous GET (no cookies, no If-None-Match) that
must answer 200 with the expected content: cards on day pages, the arXiv id on a paper
page, the latest day's address at the end of a category page's redirect, the name and
"40 papers" on an author page. Categories are drawn from those with at least 3 papers a
day, so no day of theirs is empty. The LaTeX render cache is cleared before every
request (use `--keep-latex-cache` to keep it), so a small archive does not win merely
because all of its titles and abstracts fit in that cache.

The output is a table of median and p99 latency per page kind and size, then for each
metric the ratio of the largest size to the smallest (the baseline, measured in the same
run). The target is a ratio of at most 1.5: a page's cost must not grow with the archive.
Beside the wall-clock times are the CPU times of this process for the same requests (the
app runs in it): on a loaded machine a wall-clock p99 is mostly the few requests another
process preempted, which the CPU p99 does not count, so it tells work from waiting.

Run it from the project root:

    .venv/bin/python -m bench.feed                  # 10,000 and 1,000,000 papers
    .venv/bin/python -m bench.feed --smoke          # tiny sizes, well under a minute (CI)
    .venv/bin/python -m bench.feed --sizes 10000,2600000 --requests 500
    .venv/bin/python -m bench.feed --dir /tmp/pf-bench --keep    # keep the databases
    .venv/bin/python -m bench.feed --dir /tmp/pf-bench --reuse   # re-measure, no rebuild

Databases go to a temporary directory (removed afterwards) unless `--dir` is given;
`--reuse` still rebuilds an archive made with other settings or by an older generator
(one without category rows or planted authors). The exit status is 1 if any request did
not answer 200 with the expected content.
"""

from __future__ import annotations

import argparse
import collections
import gc
import math
import random
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, insert, select, update

from paperfeed import clock, latex
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.models import (
    Counter,
    Organization,
    Paper,
    PaperAuthor,
    PaperCategory,
    PaperVersion,
    SiteMeta,
    User,
)
from paperfeed.papers.feeds import local_midnight
from paperfeed.papers.ids import title_key
from paperfeed.papers.store import PAPER_CHANGE, category_rows
from paperfeed.web.app import create_app

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

DEFAULT_SIZES = (10_000, 1_000_000)
SMOKE_SIZES = (2_000, 20_000)
LAST_DAY = date(2025, 6, 30)  # the archive ends here; the clock is pinned just after it
TARGET_RATIO = 1.5
BATCH_PAPERS = 10_000  # papers per executemany batch
TRANSACTION_PAPERS = 200_000  # papers per transaction
BUILD_CACHE_KIB = 1_048_576  # SQLite page cache while building (1 GiB)
META_KEY = "bench_archive"

# --- vocabulary -----------------------------------------------------------------------------


def words(text: str) -> list[str]:
    return text.split()


FUNCTION_WORDS = words(
    "the of and to a in we for is that on with this by are as an be from our which can "
    "these it at show not or than such its both their has have while two into more between "
    "each also when how over only one new"
)

CONTENT_WORDS = words(
    "model models learning method methods data results performance approach network networks "
    "training language task tasks neural based propose large framework problem algorithm "
    "using deep proposed information time paper existing state graph analysis work "
    "experiments demonstrate representation structure different dataset datasets system "
    "efficient quantum image images field reinforcement policy optimization generative "
    "diffusion transformer attention inference estimation prediction benchmark evaluation "
    "robust robustness adversarial spectral bayesian stochastic gradient convergence bound "
    "bounds theory theoretical empirical scalable sparse dense latent embedding embeddings "
    "retrieval reasoning agents agent multimodal vision video speech audio segmentation "
    "detection classification regression clustering sampling distribution distributions "
    "uncertainty causal federated privacy fairness alignment instruction tuning "
    "pretraining finetuning zero shot few contrastive supervised unsupervised semi "
    "self memory compute hardware accelerator compiler kernel linear nonlinear convex "
    "manifold topology lattice spin phase transition dark matter galaxy cosmological "
    "gravitational wave black hole neutrino quark plasma superconducting topological "
    "material materials molecular protein genome cell dynamics equation equations "
    "differential operator solver simulation numerical finite element physics informed "
    "control robot robotic navigation planning trajectory localization mapping sensor "
    "signal channel wireless communication coding decoding error correction security "
    "attack defense verification formal program synthesis code software testing"
)

TITLE_GLUE = ("for", "of", "with", "via", "and", "in", "from", "towards", "on", "beyond")

SYLLABLES = words(
    "ar bo ci de en fa gi ho in ju ka lo mi no or pa qu ri sa ti un ve wa xi yo ze "
    "tion ment ly ic al ous ra ne to la ma ro si"
)

FORMULAS = (
    r"$O(n \log n)$",
    r"$\epsilon$",
    r"$\mathcal{O}(1/\sqrt{T})$",
    r"$k$",
    r"$\alpha = 0.5$",
    r"$\ell_1$",
    r"$x \in \mathbb{R}^d$",
    r"$\sum_{i=1}^{n} x_i^2$",
    r"$p < 0.05$",
    r"$\beta$",
)

FIRST_NAMES = words(
    "Wei Jing Yang Li Hao Xin Yu Min Jun Hui Ahmed Fatima Omar Aisha Ali Maria Jose Juan "
    "Ana Carlos Lucia Pedro Sofia John Mary James Sarah David Emily Michael Laura Robert "
    "Anna Thomas Julia Daniel Elena Alexander Olga Ivan Natalia Hiroshi Yuki Kenji Akiko "
    "Priya Rahul Anil Deepa Arjun Kavya Lars Ingrid Sven Astrid Pierre Claire Luca Giulia "
    "Marco Chiara"
)

LAST_NAMES = words(
    "Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He Lin Luo Gao "
    "Kim Lee Park Choi Jung Kang Cho Yoon Jang Lim Smith Johnson Williams Brown Jones "
    "Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson Anderson Taylor "
    "Thomas Moore Jackson Martin Thompson White Harris Clark Lewis Robinson Walker Young "
    "Allen King Wright Scott Hill Green Adams Baker Nelson Carter Mitchell Roberts Turner "
    "Phillips Campbell Parker Evans Edwards Collins Stewart Morris Murphy Cook Rogers "
    "Muller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Rossi "
    "Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Suzuki Tanaka "
    "Watanabe Ito Yamamoto Nakamura Kobayashi Kato Sato Takahashi Singh Kumar Sharma Gupta "
    "Patel Reddy Das Iyer Nair Rao Dubois Bernard Moreau Laurent Simon Michel Lefebvre "
    "Leroy Roux Fournier Ivanov Petrov Smirnov Kuznetsov Popov Novak Kowalski Nowak "
    "Wisniewski Jensen Nielsen Hansen Andersen Larsen Johansson Karlsson Nilsson Eriksson"
)

CATEGORIES = words(
    "cs.LG cs.CV cs.CL cs.AI stat.ML cs.RO math.OC quant-ph hep-th cond-mat.mtrl-sci "
    "astro-ph.GA eess.SP cs.CR cs.DS math.PR physics.optics q-bio.NC econ.EM cs.IR cs.NE "
    "cs.DC cs.SE cs.HC math.NA eess.IV astro-ph.CO gr-qc hep-ph nucl-th cs.SD"
)

AUTHOR_COUNT_WEIGHTS = (8, 14, 18, 18, 15, 11, 9, 7)  # for 1..8 authors

# Authors with the same papers at every size: PLANTED_PAPERS each, spread evenly over the
# archive (surnames outside LAST_NAMES, so no random author shares their name).
PLANTED_AUTHORS = (
    "Aurelia Quenneville",
    "Bastian Oyelaran",
    "Calla Brzezinski",
    "Darius Okonkwo",
    "Edda Halvorsen",
    "Farid Nakashima",
    "Greta Valdivia",
    "Hamid Szabo",
    "Isolde Achterberg",
    "Jovan Ruiz-Tagle",
    "Kirsi Mbeki",
    "Leif Castellanos",
)
PLANTED_PAPERS = 40
LICENSES = (
    "http://creativecommons.org/licenses/by/4.0/",
    "http://arxiv.org/licenses/nonexclusive-distrib/1.0/",
    "http://creativecommons.org/licenses/by-nc-sa/4.0/",
)


def zipf_cum_weights(n: int, exponent: float = 1.07) -> list[float]:
    return list(accumulate(1.0 / (rank + 1) ** exponent for rank in range(n)))


def day_categories(seed: int, count: int) -> list[list[str]]:
    """The category lists of one feed day's `count` papers (primary first), the same every
    day and at every size: so a category has as many papers on a day in a small archive
    as in a huge one, and its pages can be compared across sizes. Days shuffle who gets
    which list. Zipf-distributed (cs.LG most, cs.SD least), 1-4 categories a paper."""
    rng = random.Random(seed * 7_368_787 + 11)
    cum = zipf_cum_weights(len(CATEGORIES), 1.0)
    return [
        list(dict.fromkeys(rng.choices(CATEGORIES, cum_weights=cum, k=rng.randint(1, 4))))
        for _ in range(count)
    ]


def planted_schedule(days: int) -> dict[int, list[str]]:
    """Which planted authors have a paper on which day (by index from the first day).

    Each planted author gets PLANTED_PAPERS papers at the same fractions of the archive's
    span whatever its size, so an author page lists the same number of papers everywhere.
    """
    schedule: dict[int, list[str]] = {}
    for j, name in enumerate(PLANTED_AUTHORS):
        phase = (j + 0.5) / len(PLANTED_AUTHORS)
        for k in range(PLANTED_PAPERS):
            schedule.setdefault(int((k + phase) * days / PLANTED_PAPERS), []).append(name)
    return schedule


def planted_fits(days: int, per_day: int) -> bool:
    """Whether every day has room for the planted papers scheduled on it."""
    return max(map(len, planted_schedule(days).values())) <= per_day


@dataclass
class BuildResult:
    size: int
    days: int
    seconds: float
    reused: bool
    db_bytes: int

    @property
    def rate(self) -> float:
        return self.size / self.seconds if self.seconds > 0 else math.inf


@dataclass
class Timings:
    ms: dict[str, list[float]] = field(default_factory=dict)  # wall clock, by page kind
    cpu_ms: dict[str, list[float]] = field(default_factory=dict)  # this process's CPU time
    failures: list[str] = field(default_factory=list)


class ArchiveGenerator:
    """Deterministic synthetic papers (same seed, same archive)."""

    WORD_POOL = 1 << 18  # abstracts are slices of one long Zipf-distributed word stream
    TITLE_POOL = 1 << 16

    def __init__(self, seed: int, tz: ZoneInfo, organizations: int, users: int) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.tz = tz
        self.organizations = organizations
        self.users = users
        rng = self.rng
        invented = sorted(
            {"".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))) for _ in range(6000)}
        )
        rng.shuffle(invented)
        vocab = FUNCTION_WORDS + CONTENT_WORDS + invented
        self.words = self._stream(vocab, self.WORD_POOL, sentences=True)
        title_vocab = CONTENT_WORDS + invented[:2000]
        stream = self._stream(title_vocab, self.TITLE_POOL, sentences=False)
        self.title_words = [w if len(w) < 4 else w.capitalize() for w in stream]
        self.system_names = [w.capitalize() for w in invented[:3000]]
        self.authors = [f"{f} {la}" for f in FIRST_NAMES for la in LAST_NAMES]
        self.author_cum = zipf_cum_weights(len(self.authors), 0.6)
        self.category_lists: list[list[str]] = []
        self.month_serial: dict[str, int] = {}

    def _stream(self, vocab: Sequence[str], n: int, sentences: bool) -> list[str]:
        rng = self.rng
        tokens = rng.choices(vocab, cum_weights=zipf_cum_weights(len(vocab)), k=n)
        if not sentences:
            return tokens
        capital = True
        for i, word in enumerate(tokens):
            if capital:
                word = word.capitalize()
                capital = False
            roll = rng.random()
            if roll < 1 / 18:
                word += "."
                capital = True
            elif roll < 1 / 18 + 1 / 14:
                word += ","
            tokens[i] = word
        return tokens

    def title(self) -> str:
        rng = self.rng
        n = rng.randint(6, 13)
        start = rng.randrange(self.TITLE_POOL - n)
        words = self.title_words[start : start + n]
        for _ in range(n // 4):
            words.insert(rng.randrange(1, len(words)), rng.choice(TITLE_GLUE))
        if rng.random() < 0.3:
            words.insert(0, rng.choice(self.system_names) + ":")
        if rng.random() < 0.04:
            words.insert(rng.randrange(1, len(words)), rng.choice(FORMULAS))
        return " ".join(words)

    def abstract(self) -> str:
        rng = self.rng
        n = rng.randint(110, 190)
        start = rng.randrange(self.WORD_POOL - n)
        words = self.words[start : start + n]
        if rng.random() < 0.12:
            words.insert(rng.randrange(1, 40), rng.choice(FORMULAS))
        text = " ".join(words).rstrip(",.")
        return text[0].upper() + text[1:] + "."

    def arxiv_id(self, day: date) -> str:
        month = f"{day.year % 100:02d}{day.month:02d}"
        serial = self.month_serial.get(month, 0) + 1
        self.month_serial[month] = serial
        return f"{month}.{serial:05d}"

    def day(
        self,
        day: date,
        first_id: int,
        count: int,
        now: datetime,
        planted: Sequence[str] = (),
    ) -> tuple[list[dict[str, Any]], ...]:
        """The rows of one feed day's papers, spread over that local day: papers, authors,
        versions and categories. Each of the `planted` authors gets one of the papers."""
        rng = self.rng
        start = local_midnight(day, self.tz)
        span = (local_midnight(day + timedelta(days=1), self.tz) - start).total_seconds()
        offsets = sorted(rng.random() * span for _ in range(count))
        if len(self.category_lists) < count:
            self.category_lists = day_categories(self.seed, count)
        category_lists = self.category_lists[:count]
        rng.shuffle(category_lists)
        planted_at = dict(zip(rng.sample(range(count), len(planted)), planted, strict=True))
        papers: list[dict[str, Any]] = []
        authors: list[dict[str, Any]] = []
        versions: list[dict[str, Any]] = []
        categories_rows: list[dict[str, Any]] = []
        for i, offset in enumerate(offsets):
            paper_id = first_id + i
            feed_at = start + timedelta(seconds=round(offset, 3))
            title = self.title()
            arxiv_id = self.arxiv_id(day)
            names = rng.choices(
                self.authors,
                cum_weights=self.author_cum,
                k=rng.choices(range(1, 9), weights=AUTHOR_COUNT_WEIGHTS)[0],
            )
            planted_name = planted_at.get(i)
            if planted_name is not None:
                names[rng.randrange(len(names))] = planted_name
            authors.extend(
                {
                    "paper_id": paper_id,
                    "position": position,
                    "name": name,
                    "affiliation": None,
                    "user_id": None,
                    "hidden": False,
                }
                for position, name in enumerate(names)
            )
            submitted = feed_at - timedelta(seconds=rng.randint(3_600, 4 * 86_400))
            stamps = [submitted]
            if rng.random() < 0.3:
                stamps.append(min(feed_at + timedelta(days=rng.randint(1, 90)), now))
            versions.extend(
                {
                    "paper_id": paper_id,
                    "version": number,
                    "submitted_at": at,
                    "size": f"{rng.randint(80, 9000)}kb",
                }
                for number, at in enumerate(stamps, start=1)
            )
            categories = category_lists[i]
            categories_rows.extend(
                {"paper_id": paper_id, **row} for row in category_rows(categories, feed_at)
            )
            upvotes = min(int(rng.paretovariate(1.1)) - 1, 5_000)
            # A planted author's papers all stay visible: their count is what is compared.
            hidden = rng.random() < 0.001 and planted_name is None
            roll = rng.random()
            papers.append(
                {
                    "id": paper_id,
                    "public_id": arxiv_id,
                    "arxiv_id": arxiv_id,
                    "title_key": title_key(title),
                    "title": title,
                    "abstract": self.abstract(),
                    "author_count": len(names),
                    "primary_category": categories[0],
                    "categories": " ".join(categories),
                    "doi": f"10.{rng.randint(1000, 9999)}/{arxiv_id}" if roll < 0.1 else None,
                    "journal_ref": None,
                    "arxiv_comments": (
                        f"{rng.randint(4, 60)} pages, {rng.randint(1, 20)} figures"
                        if roll < 0.55
                        else None
                    ),
                    "report_no": None,
                    "license": rng.choice(LICENSES) if roll < 0.7 else None,
                    "github_url": (
                        f"https://github.com/{names[0].split()[-1].lower()}/{arxiv_id}"
                        if roll < 0.15
                        else None
                    ),
                    "project_url": None,
                    "published_at": stamps[0],
                    "updated_at": stamps[-1],
                    "latest_version": len(stamps),
                    "feed_at": feed_at,
                    "submitted_by_id": (rng.randint(1, self.users) if rng.random() < 0.1 else None),
                    "organization_id": (
                        rng.randint(1, self.organizations) if rng.random() < 0.08 else None
                    ),
                    "upvote_baseline": upvotes,
                    "upvotes": upvotes,
                    "comment_count": 0,
                    "hidden_at": feed_at + timedelta(hours=6) if hidden else None,
                    "hidden_reason": "spam" if hidden else None,
                    "source": "import",
                    "change_seq": paper_id,
                    "created_at": feed_at,
                    "modified_at": feed_at,
                }
            )
        return papers, authors, versions, categories_rows


# --- building -------------------------------------------------------------------------------


def database_path(directory: Path, size: int) -> Path:
    return directory / f"feed-{size}.sqlite3"


def archive_signature(size: int, per_day: int, seed: int) -> str:
    return (
        f"size={size} per_day={per_day} seed={seed} last_day={LAST_DAY.isoformat()} "
        f"categories=per-day planted={len(PLANTED_AUTHORS)}x{PLANTED_PAPERS}"
    )


def remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def existing_archive(path: Path, signature: str) -> bool:
    if not path.exists():
        return False
    db = Database(f"sqlite:///{path}")
    try:
        with db.reader() as session:
            value = session.execute(
                select(SiteMeta.value).where(SiteMeta.key == META_KEY)
            ).scalar_one_or_none()
        return value == signature
    except Exception:
        return False
    finally:
        db.dispose()


def build_archive(
    path: Path, size: int, per_day: int, seed: int, tz: ZoneInfo, log: Callable[[str], None]
) -> BuildResult:
    """Create a fresh database at `path` holding `size` papers, `per_day` per feed day."""
    remove_database(path)
    days = size // per_day
    first_day = LAST_DAY - timedelta(days=days - 1)
    built_at = pinned_now(tz)
    organizations, users = 40, 200
    db = Database(f"sqlite:///{path}")
    try:
        db.upgrade()
        generator = ArchiveGenerator(seed, tz, organizations, users)
        started = time.perf_counter()
        with db.engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            # Build-time only: the measured app opens its own connections with its own pragmas.
            raw.execute(f"PRAGMA cache_size=-{BUILD_CACHE_KIB}")
            raw.execute("PRAGMA synchronous=OFF")
            with conn.begin():
                insert_people(conn, organizations, users, built_at)
            transaction = conn.begin()
            pending: tuple[list[dict[str, Any]], ...] = ([], [], [], [])
            schedule = planted_schedule(days)
            next_id, since_commit = 1, 0
            for index in range(days):
                count = (index + 1) * size // days - index * size // days
                rows = generator.day(
                    first_day + timedelta(days=index),
                    next_id,
                    count,
                    built_at,
                    schedule.get(index, ()),
                )
                for bucket, new in zip(pending, rows, strict=True):
                    bucket.extend(new)
                next_id += count
                since_commit += count
                if len(pending[0]) >= BATCH_PAPERS or index == days - 1:
                    flush(conn, pending)
                if since_commit >= TRANSACTION_PAPERS or index == days - 1:
                    transaction.commit()
                    since_commit = 0
                    done = next_id - 1
                    rate = done / (time.perf_counter() - started)
                    log(f"    {done:>11,} / {size:,} papers ({rate:,.0f}/s)")
                    if index < days - 1:
                        transaction = conn.begin()
            with conn.begin():
                last_seq = conn.execute(select(func.max(Paper.change_seq))).scalar_one()
                conn.execute(
                    update(Counter)
                    .where(Counter.name == PAPER_CHANGE)
                    .values(value=last_seq, updated_at=built_at)
                )
                conn.execute(
                    insert(SiteMeta.__table__),
                    [{"key": META_KEY, "value": archive_signature(size, per_day, seed)}],
                )
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        seconds = time.perf_counter() - started
    finally:
        db.dispose()
    return BuildResult(size, days, seconds, False, path.stat().st_size)


def insert_people(conn: Connection, organizations: int, users: int, at: datetime) -> None:
    conn.execute(
        insert(User.__table__),
        [
            {
                "id": i,
                "username": f"reader{i:04d}",
                "email": f"reader{i:04d}@example.org",
                "email_verified_at": at,
                "password_hash": "!",
                "fullname": f"Reader {i}",
                "avatar_url": None,
                "role": "user",
                "upvotes_public": True,
                "banned_at": None,
                "ban_reason": None,
                "created_at": at,
            }
            for i in range(1, users + 1)
        ],
    )
    conn.execute(
        insert(Organization.__table__),
        [
            {
                "id": i,
                "name": f"lab-{i:02d}",
                "fullname": f"Research Lab {i}",
                "description": "",
                "avatar_url": None,
                "website": None,
                "created_by_id": None,
                "created_at": at,
            }
            for i in range(1, organizations + 1)
        ],
    )


def flush(conn: Connection, pending: tuple[list[dict[str, Any]], ...]) -> None:
    papers, authors, versions, categories = pending
    for table, rows in (
        (Paper.__table__, papers),
        (PaperAuthor.__table__, authors),
        (PaperVersion.__table__, versions),
        (PaperCategory.__table__, categories),
    ):
        if rows:
            conn.execute(insert(table), rows)
            rows.clear()


# --- measuring ------------------------------------------------------------------------------


def pinned_now(tz: ZoneInfo) -> datetime:
    """Just after the archive's last feed day."""
    return local_midnight(LAST_DAY + timedelta(days=1), tz) + timedelta(hours=1)


KINDS = ("day", "paper", "category", "category day", "author")  # page kinds, in table order
KIND_LABELS = {
    "day": "day page",
    "paper": "paper page",
    "category": "category page",
    "category day": "category day",
    "author": "author page",
}
MIN_CATEGORY_PER_DAY = 3  # categories measured have this many papers a day (never none shown)


@dataclass(frozen=True)
class Probe:
    """One request to time and what its answer must hold."""

    url: str
    expect: tuple[str, ...]
    final: str | None = None  # follow redirects, which must end at this path


def sample_requests(
    db: Database, size: int, per_day: int, seed: int, n: int, rng: random.Random
) -> dict[str, list[Probe]]:
    """`n` probes for each page kind (KINDS)."""
    days = size // per_day
    first_day = LAST_DAY - timedelta(days=days - 1)
    card = '<li class="card">'

    def random_day() -> str:
        return (first_day + timedelta(days=rng.randrange(days))).isoformat()

    with db.reader() as session:
        max_id = session.execute(select(func.max(Paper.id))).scalar_one()
        public_ids: list[str] = []
        while len(public_ids) < n:
            wanted = [rng.randint(1, max_id) for _ in range(n - len(public_ids))]
            found = dict(
                session.execute(
                    select(Paper.id, Paper.public_id).where(
                        Paper.id.in_(wanted), Paper.hidden_at.is_(None)
                    )
                ).all()
            )
            public_ids.extend(found[i] for i in wanted if i in found)
    daily = collections.Counter(c for codes in day_categories(seed, per_day) for c in codes)
    least = min(MIN_CATEGORY_PER_DAY, max(daily.values()))
    topics = sorted(code for code, count in daily.items() if count >= least)
    categories = [rng.choice(topics) for _ in range(n)]
    authors = [rng.choice(PLANTED_AUTHORS) for _ in range(n)]
    return {
        "day": [Probe(f"/papers/date/{random_day()}", (card,)) for _ in range(n)],
        "paper": [Probe(f"/papers/{pid}", (f"arXiv:{pid}",)) for pid in public_ids[:n]],
        "category": [
            Probe(f"/papers/category/{c}", (card,), f"/papers/category/{c}/date/{LAST_DAY}")
            for c in categories
        ],
        "category day": [
            Probe(f"/papers/category/{c}/date/{random_day()}", (card,)) for c in categories
        ],
        "author": [
            Probe(
                f"/authors/{quote(name)}",
                (f"<h1>{name}</h1>", f'<p class="count">{PLANTED_PAPERS} papers</p>'),
            )
            for name in authors
        ],
    }


def make_client(app: FastAPI) -> TestClient:
    """An in-process client that sends no cookies and follows no redirects."""
    with warnings.catch_warnings():
        # Newer Starlette suggests another HTTP client package; irrelevant to what is timed.
        warnings.filterwarnings("ignore", message="Using `httpx` with")
        from fastapi.testclient import TestClient

    return TestClient(app, follow_redirects=False)


def timed_get(
    client: TestClient, probe: Probe, clear_latex: bool, failures: list[str]
) -> tuple[float, float]:
    """Milliseconds to answer the probe (with the redirects it follows, as a browser would):
    wall clock, and the CPU time of this process (the app runs in it), which other
    processes' load does not inflate."""
    if clear_latex:
        latex.render.cache_clear()
    started, cpu = time.perf_counter(), time.process_time()
    response = client.get(probe.url, follow_redirects=probe.final is not None)
    elapsed = (time.perf_counter() - started) * 1000
    cpu_elapsed = (time.process_time() - cpu) * 1000
    url = probe.url
    if response.status_code != 200:
        failures.append(f"GET {url}: HTTP {response.status_code}")
    elif probe.final is not None and response.url.path != probe.final:
        failures.append(f"GET {url}: ended at {response.url.path}, not {probe.final}")
    else:
        missing = [text for text in probe.expect if text not in response.text]
        if missing:
            failures.append(f"GET {url}: 200 but {missing[0]!r} is missing from the page")
    return elapsed, cpu_elapsed


@dataclass
class Target:
    """One archive under test: its app client and the requests to send it."""

    size: int
    client: TestClient
    probes: dict[str, list[Probe]]
    timings: Timings = field(default_factory=Timings)


def measure(
    archives: Sequence[tuple[int, Path]],
    per_day: int,
    requests: int,
    warmup: int,
    seed: int,
    clear_latex: bool,
) -> dict[int, Timings]:
    """Time every page kind on every archive, taking turns request by request.

    Taking turns (rather than one archive after the other) exposes every size to the same
    background load, so the ratios stay meaningful on a busy machine.
    """
    targets: list[Target] = []
    with ExitStack() as stack:
        stack.callback(clock.set_now, None)
        for size, path in archives:
            url = f"sqlite:///{path}"
            settings = Settings(data_dir=path.parent, database_url=url)
            clock.set_now(pinned_now(settings.tz))
            db = Database(url)
            stack.callback(db.dispose)
            rng = random.Random(seed * 7919 + size)
            probes = sample_requests(db, size, per_day, seed, warmup + requests, rng)
            client = stack.enter_context(make_client(create_app(settings, db)))
            targets.append(Target(size, client, probes))
        for target in targets:
            for kind in KINDS:
                target.timings.ms[kind], target.timings.cpu_ms[kind] = [], []
                for probe in target.probes[kind][:warmup]:
                    timed_get(target.client, probe, clear_latex, target.timings.failures)
        gc.collect()
        for i in range(warmup, warmup + requests):
            turn = i % len(targets)
            for target in targets[turn:] + targets[:turn]:
                t = target.timings
                for kind in KINDS:
                    probe = target.probes[kind][i]
                    wall, cpu = timed_get(target.client, probe, clear_latex, t.failures)
                    t.ms[kind].append(wall)
                    t.cpu_ms[kind].append(cpu)
        for target in targets:
            if target.client.cookies:
                cookies = sorted(target.client.cookies.keys())
                target.timings.failures.append(f"the site set cookies: {cookies}")
    return {target.size: target.timings for target in targets}


def p50(values: Sequence[float]) -> float:
    return statistics.median(values)


def p99(values: Sequence[float]) -> float:
    """Nearest-rank 99th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


# --- command line ---------------------------------------------------------------------------


def parse_sizes(text: str) -> list[int]:
    sizes: list[int] = []
    for part in text.split(","):
        part = part.strip().lower().replace("_", "")
        scale = 1
        if part.endswith("k"):
            part, scale = part[:-1], 1_000
        elif part.endswith("m"):
            part, scale = part[:-1], 1_000_000
        try:
            value = round(float(part) * scale)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part!r} is not a number of papers") from None
        if value <= 0:
            raise argparse.ArgumentTypeError("sizes must be positive")
        sizes.append(value)
    if len(set(sizes)) < 2:
        raise argparse.ArgumentTypeError("give at least two different sizes, e.g. 10000,1000000")
    return sorted(set(sizes))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/feed.py",
        description=(
            "Build synthetic archives of several sizes and measure the latency of day, paper, "
            "category and author pages on each; a page's cost should not grow with the archive "
            f"(largest/smallest ratio <= {TARGET_RATIO})."
        ),
    )
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=list(DEFAULT_SIZES),
        help="comma-separated archive sizes in papers, 10k and 1m suffixes work "
        "(default: 10000,1000000)",
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=200,
        help="timed requests per page kind and size (default: %(default)s)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=20,
        help="untimed warm-up requests per page kind and size (default: %(default)s)",
    )
    parser.add_argument(
        "--per-day", type=int, default=200, help="papers per feed day (default: %(default)s)"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=1,
        help="random seed for data and samples (default: %(default)s)",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="directory for the databases, kept afterwards "
        "(default: a temporary directory, removed at the end)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases (implied by --dir)")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --dir, measure an existing complete archive instead of rebuilding it",
    )
    parser.add_argument(
        "--keep-latex-cache",
        action="store_true",
        help="keep the LaTeX render cache between requests (favours small archives)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"tiny sizes ({SMOKE_SIZES[0]:,} and {SMOKE_SIZES[1]:,}) and few requests, for CI",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.sizes = list(SMOKE_SIZES)
        args.requests = min(args.requests, 25)
        args.warmup = min(args.warmup, 5)
    if args.requests < 1 or args.warmup < 0:
        parser.error("--requests must be at least 1 and --warmup at least 0")
    if not 1 <= args.per_day <= 3_000:
        parser.error("--per-day must be between 1 and 3000 (arXiv-like ids have 5 digits)")
    if args.sizes[0] < args.per_day:
        parser.error(f"every size must hold at least one day ({args.per_day} papers)")
    if not planted_fits(args.sizes[0] // args.per_day, args.per_day):
        parser.error(
            f"the smallest size has too few papers a day for {len(PLANTED_AUTHORS)} authors "
            f"with {PLANTED_PAPERS} papers each: give it more days or more --per-day"
        )
    if args.sizes[-1] // args.per_day > 36_000:
        parser.error("the largest archive would span more than a century of feed days")
    if args.reuse and args.dir is None:
        parser.error("--reuse needs --dir")
    return args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def report(
    sizes: Sequence[int], builds: dict[int, BuildResult], timings: dict[int, Timings]
) -> None:
    print()
    header = (
        f"{'page':<14} | {'size':>11} | {'p50':>9} | {'p99':>9} | {'cpu p50':>9} | {'cpu p99':>9}"
    )
    print(header)
    print("-" * len(header))
    for kind in KINDS:
        for size in sizes:
            ms, cpu = timings[size].ms[kind], timings[size].cpu_ms[kind]
            print(
                f"{KIND_LABELS[kind]:<14} | {size:>11,} | {p50(ms):>6.2f} ms | {p99(ms):>6.2f} ms"
                f" | {p50(cpu):>6.2f} ms | {p99(cpu):>6.2f} ms"
            )
    print()
    print(f"{'size':>11} | {'days':>6} | {'build':>9} | {'papers/s':>9} | {'db size':>9}")
    for size in sizes:
        b = builds[size]
        built = "reused" if b.reused else f"{b.seconds:7.1f} s"
        rate = "-" if b.reused else f"{b.rate:,.0f}"
        print(
            f"{size:>11,} | {b.days:>6,} | {built:>9} | {rate:>9} | {b.db_bytes / 2**20:>6,.0f} MB"
        )
    print()
    small, large = timings[sizes[0]], timings[sizes[-1]]
    stats: list[tuple[str, Callable[[Sequence[float]], float], str]] = [
        ("p50", p50, "ms"),
        ("p99", p99, "ms"),
        ("cpu p99", p99, "cpu_ms"),
    ]
    for kind in KINDS:
        for stat_name, stat, attr in stats:
            base = stat(getattr(small, attr)[kind])
            top = stat(getattr(large, attr)[kind])
            ratio = top / base if base > 0 else math.inf
            verdict = "ok" if ratio <= TARGET_RATIO else "TOO SLOW"
            name = f"{KIND_LABELS[kind]} {stat_name}"
            print(
                f"{name:<22} ratio {sizes[-1]:,}/{sizes[0]:,}: {ratio:5.2f}x "
                f"({top:.2f} ms vs {base:.2f} ms)  {verdict} (target <= {TARGET_RATIO})"
            )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    tz = Settings(data_dir=Path(tempfile.gettempdir())).tz
    directory: Path = args.dir or Path(tempfile.mkdtemp(prefix="paperfeed-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    remove = args.dir is None and not args.keep
    builds: dict[int, BuildResult] = {}
    timings: dict[int, Timings] = {}
    try:
        for size in args.sizes:
            path = database_path(directory, size)
            signature = archive_signature(size, args.per_day, args.seed)
            if args.reuse and existing_archive(path, signature):
                log(f"{size:,} papers: reusing {path}")
                days = size // args.per_day
                builds[size] = BuildResult(size, days, 0.0, True, path.stat().st_size)
            else:
                log(f"{size:,} papers: building {path}")
                builds[size] = build_archive(path, size, args.per_day, args.seed, tz, log)
                b = builds[size]
                log(f"    built in {b.seconds:.1f} s ({b.rate:,.0f} papers/s)")
        gc.collect()
        log(
            f"measuring: {args.warmup} warm-up + {args.requests} timed requests per page kind "
            "and size, sizes taking turns"
        )
        timings = measure(
            [(size, database_path(directory, size)) for size in args.sizes],
            args.per_day,
            args.requests,
            args.warmup,
            args.seed,
            not args.keep_latex_cache,
        )
    finally:
        if remove:
            shutil.rmtree(directory, ignore_errors=True)
        else:
            log(f"databases kept in {directory}")
    report(args.sizes, builds, timings)
    failures = [f for size in args.sizes for f in timings[size].failures]
    if failures:
        print(f"\n{len(failures)} failed requests, for example:", file=sys.stderr)
        for failure in failures[:10]:
            print(f"  {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
