"""Several web nodes, one PostgreSQL: throughput, latency and correctness under mixed load.

A site is meant to run as several `paperfeed serve` processes ("nodes") behind a proxy,
sharing one PostgreSQL database. This benchmark builds such a site on this machine and
drives it over real HTTP on loopback:

1. Setup: a fresh PostgreSQL database (`paperfeed_load_<pid>`, dropped afterwards; an
   existing `--database` is replaced only if named `paperfeed_load...` or with `--drop`), the
   bundled sample corpus loaded as `paperfeed demo` does, and for each node slot its own
   search index built with `paperfeed index` (the embeddings are stored in the database
   by the first slot and only synced by the others, as on real nodes). Then user
   accounts, each with a web session (cookie + CSRF token, created in the database the
   way `/login` does: logging in 24 users over HTTP from one address would trip the
   login rate limit) and a personal API token.
2. For each configuration (`--nodes 1,2`: one node, then two), that many
   `paperfeed serve --port P --workers W` subprocesses on loopback ports; one warm-up
   request of every kind per node, then `--concurrency` client threads (httpx, one
   keep-alive connection per node and thread) send a fixed mix for `--seconds`, nodes
   taking turns request by request:

   - feed pages: `/`, a day, a week, a month, trending, anonymous; and a day page signed in
   - paper pages `/papers/{id}`
   - search `/search?q=` (followed through its redirect to `/papers?q=`), and the same
     with date, author and sort filters
   - the JSON API: `/api/daily_papers`, `/api/papers/{id}`, `/api/papers/search`
   - upvotes: the web form (`POST /papers/{id}/upvote` with the session cookie and CSRF
     token) and the API (`POST`/`DELETE /api/papers/{id}/upvote` with a bearer token),
     on a small set of hot papers so that votes of different users collide
   - `/healthz`: the baseline, the cost of the HTTP round trip alone on the same loaded
     nodes

   Each account is driven by one thread only, so the client knows the state each vote
   must leave; every vote answer is checked against it.
3. Report per configuration: requests/s, median and p99 latency overall and per kind,
   errors (any status outside 2xx/3xx, any exception, any vote answer that is not the
   state asked for; examples are printed), and where the CPU went: the nodes (their
   process trees), the PostgreSQL backends serving this database, this client and every
   other process on the machine (from /proc), with a one-line verdict on the bottleneck.
4. After the runs: `paperfeed.papers.counts.inconsistent()` must find no paper whose
   shown upvotes differ from its vote rows, and the database must hold exactly the votes
   the client left (per account and paper).

`--profile` samples the nodes with py-spy (if installed; `pip install --target DIR
py-spy` and put DIR/bin on PATH, or set PY_SPY) during the last configuration, counting
only the thread that holds the GIL (the Python work; on a saturated machine, sampling every
thread mostly finds threads woken from a wait that have no core yet), and prints where
that work goes. `--soak` runs one configuration at a steady `--rate` instead
of as fast as possible, samples each node's resident memory (VmRSS of the node and its
worker processes, from /proc) every `--sample-every` seconds and reports it at start,
middle and end.

    .venv/bin/python -m bench.load                        # 1 node then 2, 30 s each
    .venv/bin/python -m bench.load --seconds 10 --concurrency 4 --nodes 2 --workers 2
    .venv/bin/python -m bench.load --profile              # and where the nodes spend CPU
    nice .venv/bin/python -m bench.load --soak --seconds 600 --rate 20 --nodes 2
    .venv/bin/python -m bench.load --seconds 3 --nodes 1 --no-embed   # the smoke test

PostgreSQL: `--postgres` (or PAPERFEED_LOAD_POSTGRES_URL), default
`postgresql+psycopg://postgres@127.0.0.1:5432`. Exit status 1 on any error or
inconsistency.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select, text

from paperfeed.community.accounts import create_user, start_session
from paperfeed.community.api_tokens import create_token
from paperfeed.db import Database
from paperfeed.demo import load_demo
from paperfeed.models import Paper, PaperAuthor, SiteMeta, Upvote, User
from paperfeed.papers.counts import inconsistent

HOST = "127.0.0.1"
BENCH_DIR = Path(__file__).parent
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"
FEED_TIMEZONE = "America/New_York"
HOT_PAPERS = 12  # votes go to these few papers, so different users' votes collide
PASSWORD = "load-test-password"
MAX_EXAMPLES = 5
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- the site ------------------------------------------------------------------------------


@dataclass
class Account:
    """A user the client signs in as; `votes` is the state the client's votes must leave."""

    username: str
    cookie: str
    csrf: str
    token: str
    votes: dict[str, bool] = field(default_factory=dict)


@dataclass
class Targets:
    """What the workload asks for: real days, papers, authors and queries of the corpus."""

    days: list[date]
    papers: list[str]
    hot_papers: list[str]
    authors: list[str]
    queries: list[str]


OWN_DATABASE_PREFIX = "paperfeed_load"


def create_database(admin_url: str, name: str, drop_existing: bool) -> str | None:
    """Create the benchmark's database; None if `name` exists and may not be dropped.

    A database of that name is replaced only when it looks like a leftover of an earlier run
    (`paperfeed_load...`) or `--drop` says so: `--database` must never wipe real data.
    """
    admin = create_engine(f"{admin_url}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
            if exists and not (drop_existing or name.startswith(OWN_DATABASE_PREFIX)):
                return None
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return f"{admin_url}/{name}"


def drop_database(admin_url: str, name: str) -> None:
    admin = create_engine(f"{admin_url}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        )
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def paperfeed_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "paperfeed.cli", *args]


class Site:
    """The database, the data directory and the environment every node shares."""

    def __init__(self, url: str, data_dir: Path) -> None:
        self.url = url
        self.data_dir = data_dir
        self.secret_key = secrets.token_urlsafe(32)  # one key for all nodes, as in production

    def env(self, slot: int) -> dict[str, str]:
        """A node's environment: shared database and key, its own derived search index."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
        env.update(
            PAPERFEED_DATABASE_URL=self.url,
            PAPERFEED_DATA_DIR=str(self.data_dir),
            PAPERFEED_INDEX_DIR=str(self.data_dir / f"node{slot}" / "index"),
            PAPERFEED_SECRET_KEY=self.secret_key,
            PAPERFEED_FEED_TIMEZONE=FEED_TIMEZONE,
        )
        if "PAPERFEED_CLOCK" in os.environ:
            env["PAPERFEED_CLOCK"] = os.environ["PAPERFEED_CLOCK"]
        return env

    def load_corpus(self) -> None:
        from zoneinfo import ZoneInfo

        database = Database(self.url)
        database.upgrade()
        load_demo(database, ZoneInfo(FEED_TIMEZONE))
        database.dispose()

    def build_index(self, slot: int, embed: bool) -> None:
        """`paperfeed index` for one node slot (embeds once; later slots only sync)."""
        args = ["index"] if embed else ["index", "--no-embed"]
        result = subprocess.run(
            paperfeed_command(*args), env=self.env(slot), capture_output=True, text=True
        )
        if result.returncode != 0:
            raise SystemExit(f"paperfeed index failed:\n{result.stderr[-3000:]}")
        print(f"  node slot {slot}: {result.stdout.strip().splitlines()[-1]}")

    def create_accounts(self, count: int) -> list[Account]:
        database = Database(self.url)
        accounts = []
        with database.transaction() as session:
            for n in range(count):
                user = create_user(
                    session, f"load{n:03d}", f"load{n:03d}@example.org", PASSWORD, verified=True
                )
                web = start_session(session, user, "bench/load.py")
                token = create_token(session, user, "bench/load.py")
                accounts.append(Account(user.username, web.cookie, web.csrf_token, token.token))
        database.dispose()
        return accounts

    def targets(self) -> Targets:
        database = Database(self.url)
        with database.reader() as session:
            anchor = date.fromisoformat(
                session.execute(
                    select(SiteMeta.value).where(SiteMeta.key == "demo_anchor")
                ).scalar_one()
            )
            papers = list(
                session.execute(
                    select(Paper.public_id).where(Paper.feed_at.is_not(None)).order_by(Paper.id)
                ).scalars()
            )
            authors = list(
                session.execute(
                    select(PaperAuthor.name)
                    .group_by(PaperAuthor.name)
                    .having(func.count() > 1)
                    .order_by(PaperAuthor.name)
                    .limit(40)
                ).scalars()
            )
        database.dispose()
        judged = (BENCH_DIR / "judgments" / "queries.jsonl").read_text().splitlines()
        queries = [json.loads(line)["query"] for line in judged if line.strip()]
        days = [anchor - timedelta(days=n) for n in range(1, 15)]
        return Targets(days, papers, papers[:HOT_PAPERS], authors or ["Smith"], queries)


# --- nodes ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


class Node:
    """One `paperfeed serve` subprocess (and its uvicorn workers, with --workers > 1)."""

    def __init__(self, site: Site, slot: int, workers: int) -> None:
        self.slot = slot
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.log_path = site.data_dir / f"node{slot}-{self.port}.log"
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            paperfeed_command(  # the load corpus is the demo's: serve allows it when asked
                "serve",
                "--allow-demo",
                "--host",
                HOST,
                "--port",
                str(self.port),
                "--workers",
                str(workers),
            ),
            env=site.env(slot),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as one, by its id
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"node on port {self.port} exited:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"node on port {self.port} did not start:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Ctrl+C as uvicorn expects it (graceful), then the whole group if it lingers."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()

    def tree(self) -> list[int]:
        """The node's pid and all its descendants (uvicorn workers, multiprocessing helpers)."""
        children: dict[int, list[int]] = collections.defaultdict(list)
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                children[ppid].append(int(entry.name))
        found, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, []))
        return found

    def rss_mb(self) -> float:
        total_kb = 0
        for pid in self.tree():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total_kb += int(line.split()[1])
            except OSError:
                continue
        return total_kb / 1024


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (everything but idle and iowait)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(values) - values[3] - values[4]) / CLOCK_TICKS


class CpuMeter:
    """CPU seconds used by the nodes, this database's PostgreSQL backends and this client.

    Polled every half second, because a pooled connection's backend can exit mid-run (its
    CPU would be lost if only the start and the end were sampled).
    """

    def __init__(self, nodes: list[Node], admin_url: str, database: str) -> None:
        self.nodes = nodes
        self.database = database
        self.engine = create_engine(f"{admin_url}/postgres")
        self.start = self._sample()
        self.last = {part: dict(values) for part, values in self.start.items()}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _backend_pids(self) -> list[int]:
        with self.engine.connect() as connection:
            return list(
                connection.execute(
                    text("SELECT pid FROM pg_stat_activity WHERE datname = :name"),
                    {"name": self.database},
                ).scalars()
            )

    def _sample(self) -> dict[str, dict[int, float]]:
        return {
            "nodes": {pid: cpu_seconds(pid) for node in self.nodes for pid in node.tree()},
            "postgres": {pid: cpu_seconds(pid) for pid in self._backend_pids()},
            "client": {0: time.process_time()},
            "machine": {0: machine_busy_seconds()},
        }

    def _record(self) -> None:
        for part, values in self._sample().items():
            seen = self.last[part]
            for pid, value in values.items():
                seen[pid] = max(value, seen.get(pid, 0.0))

    def _poll(self) -> None:
        while not self.stopping.wait(0.5):
            self._record()

    def used(self) -> dict[str, float]:
        self.stopping.set()
        self.thread.join()
        self._record()
        self.engine.dispose()
        return {
            part: sum(v - self.start[part].get(pid, 0.0) for pid, v in self.last[part].items())
            for part in self.last
        }


# --- the workload --------------------------------------------------------------------------


@dataclass
class Request:
    kind: str
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    data: dict[str, str] | None = None
    follow: bool = False
    check: Callable[[httpx.Response], str | None] | None = None  # a reason it is wrong


class Workload:
    """The request mix; `next` draws one request for a thread that owns `accounts`."""

    def __init__(self, targets: Targets) -> None:
        self.t = targets
        self.mix: list[tuple[str, int, Callable[[random.Random, list[Account]], Request]]] = [
            ("healthz", 4, lambda r, a: Request("healthz", "GET", "/healthz")),
            ("home", 6, lambda r, a: Request("home", "GET", "/")),
            ("day", 8, self._day),
            ("week", 4, self._week),
            ("month", 3, self._month),
            ("trending", 4, lambda r, a: Request("trending", "GET", "/papers/trending")),
            ("day signed in", 5, self._day_signed_in),
            ("paper", 16, self._paper),
            ("search", 8, self._search),
            ("search filtered", 6, self._search_filtered),
            ("api daily", 6, self._api_daily),
            ("api paper", 6, self._api_paper),
            ("api search", 4, self._api_search),
            ("vote form", 6, self._vote_form),
            ("vote api", 4, self._vote_api),
        ]
        self.kinds = [kind for kind, _, _ in self.mix]
        self._weights = [weight for _, weight, _ in self.mix]

    def next(self, rnd: random.Random, accounts: list[Account]) -> Request:
        _, _, build = rnd.choices(self.mix, self._weights)[0]
        return build(rnd, accounts)

    def every_read(self, rnd: random.Random, accounts: list[Account]) -> Iterator[Request]:
        """One request of every kind but votes (which only their owning thread may send)."""
        for kind, _, build in self.mix:
            if not kind.startswith("vote"):
                yield build(rnd, accounts)

    def _day(self, rnd: random.Random, _: list[Account]) -> Request:
        sort = rnd.choice(["", "?sort=upvotes", "?sort=newest"])
        return Request("day", "GET", f"/papers/date/{rnd.choice(self.t.days).isoformat()}{sort}")

    def _week(self, rnd: random.Random, _: list[Account]) -> Request:
        year, week, _ = rnd.choice(self.t.days).isocalendar()
        return Request("week", "GET", f"/papers/week/{year}-W{week:02d}")

    def _month(self, rnd: random.Random, _: list[Account]) -> Request:
        return Request("month", "GET", f"/papers/month/{rnd.choice(self.t.days):%Y-%m}")

    def _day_signed_in(self, rnd: random.Random, accounts: list[Account]) -> Request:
        account = rnd.choice(accounts)
        path = f"/papers/date/{rnd.choice(self.t.days).isoformat()}"
        return Request("day signed in", "GET", path, {"Cookie": f"pf_session={account.cookie}"})

    def _paper(self, rnd: random.Random, _: list[Account]) -> Request:
        return Request("paper", "GET", f"/papers/{rnd.choice(self.t.papers)}")

    def _search(self, rnd: random.Random, _: list[Account]) -> Request:
        q = httpx.QueryParams({"q": rnd.choice(self.t.queries)})
        return Request("search", "GET", f"/search?{q}", follow=True)

    def _search_filtered(self, rnd: random.Random, _: list[Account]) -> Request:
        params = {"q": rnd.choice(self.t.queries)}
        choice = rnd.randrange(3)
        if choice == 0:
            params.update({"from": self.t.days[-1].isoformat(), "to": self.t.days[0].isoformat()})
        elif choice == 1:
            params.update({"q": "", "author": rnd.choice(self.t.authors)})
        params["sort"] = rnd.choice(["relevance", "upvotes", "newest"])
        if not params["q"] and params["sort"] == "relevance":
            params["sort"] = "newest"
        return Request("search filtered", "GET", f"/papers?{httpx.QueryParams(params)}")

    def _api_daily(self, rnd: random.Random, _: list[Account]) -> Request:
        params = rnd.choice(
            [
                {},
                {"date": rnd.choice(self.t.days).isoformat()},
                {"sort": "trending", "limit": "20"},
            ]
        )
        return Request(
            "api daily", "GET", f"/api/daily_papers?{httpx.QueryParams(params)}", check=_json_list
        )

    def _api_paper(self, rnd: random.Random, _: list[Account]) -> Request:
        return Request("api paper", "GET", f"/api/papers/{rnd.choice(self.t.papers)}")

    def _api_search(self, rnd: random.Random, _: list[Account]) -> Request:
        q = httpx.QueryParams({"q": rnd.choice(self.t.queries), "limit": "20"})
        return Request("api search", "GET", f"/api/papers/search?{q}", check=_json_list)

    def _vote_form(self, rnd: random.Random, accounts: list[Account]) -> Request:
        account, paper, wanted = self._toggle(rnd, accounts)
        return Request(
            "vote form",
            "POST",
            f"/papers/{paper}/upvote",
            {"Cookie": f"pf_session={account.cookie}", "Accept": "application/json"},
            data={"csrf": account.csrf, "vote": "1" if wanted else "0"},
            check=_vote_check(wanted),
        )

    def _vote_api(self, rnd: random.Random, accounts: list[Account]) -> Request:
        account, paper, wanted = self._toggle(rnd, accounts)
        return Request(
            "vote api",
            "POST" if wanted else "DELETE",
            f"/api/papers/{paper}/upvote",
            {"Authorization": f"Bearer {account.token}"},
            check=_vote_check(wanted),
        )

    def _toggle(self, rnd: random.Random, accounts: list[Account]) -> tuple[Account, str, bool]:
        """Flip one of this thread's accounts' votes; the account remembers the wanted state.

        Recorded before sending: a vote whose answer is lost still counts, and the final
        check then shows whether the server did what was asked.
        """
        account = rnd.choice(accounts)
        paper = rnd.choice(self.t.hot_papers)
        wanted = not account.votes.get(paper, False)
        account.votes[paper] = wanted
        return account, paper, wanted


def _json_list(response: httpx.Response) -> str | None:
    return None if isinstance(response.json(), list) else "answer is not a JSON list"


def _vote_check(wanted: bool) -> Callable[[httpx.Response], str | None]:
    def check(response: httpx.Response) -> str | None:
        state = response.json()
        if state.get("upvoted") is not wanted:
            return f"asked upvoted={wanted}, got {state}"
        return None

    return check


# --- running and measuring -----------------------------------------------------------------


@dataclass
class Sample:
    kind: str
    started: float
    seconds: float
    ok: bool


@dataclass
class RunResult:
    label: str
    seconds: float
    samples: list[Sample]
    errors: list[str]
    error_count: int
    cpu: dict[str, float]
    memory: dict[int, list[tuple[float, float]]] = field(default_factory=dict)
    target_rate: float | None = None
    profile: collections.Counter[str] = field(default_factory=collections.Counter)
    node_processes: int = 1


class Pacer:
    """Hands out send times: as soon as possible, or one every 1/rate seconds (soak)."""

    def __init__(self, rate: float | None, start: float) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.start = start
        self.issued = 0
        self.lock = threading.Lock()

    def wait_turn(self) -> None:
        if not self.interval:
            return
        with self.lock:
            at = self.start + self.issued * self.interval
            self.issued += 1
        delay = at - time.perf_counter()
        if delay > 0:
            time.sleep(delay)


def send(client: httpx.Client, request: Request) -> tuple[bool, str | None]:
    """(ok, why not) for one request: 2xx/3xx and, where given, the check passes."""
    try:
        response = client.request(
            request.method,
            request.path,
            headers=request.headers,
            data=request.data,
            follow_redirects=request.follow,
        )
    except httpx.HTTPError as exc:
        return False, f"{request.kind} {request.method} {request.path}: {exc!r}"
    if not 200 <= response.status_code < 400:
        body = response.text[:200].replace("\n", " ")
        return False, (
            f"{request.kind} {request.method} {request.path}: {response.status_code} {body}"
        )
    if request.check is not None and response.status_code == 200:
        try:
            problem = request.check(response)
        except ValueError as exc:
            problem = f"bad JSON: {exc}"
        if problem:
            return False, f"{request.kind} {request.method} {request.path}: {problem}"
    return True, None


def warm_up(
    nodes: list[Node], workload: Workload, accounts: list[Account], workers: int
) -> list[str]:
    problems: list[str] = []
    lock = threading.Lock()

    def one(node: Node, seed: int) -> None:
        rnd = random.Random(seed)
        with httpx.Client(base_url=node.url, timeout=120) as client:
            for request in workload.every_read(rnd, accounts):
                ok, why = send(client, request)
                if not ok:
                    with lock:
                        problems.append(why or "?")

    threads = [
        threading.Thread(target=one, args=(node, n)) for node in nodes for n in range(2 * workers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return problems


def run_configuration(
    label: str,
    nodes: list[Node],
    workload: Workload,
    accounts: list[Account],
    args: argparse.Namespace,
    database: str,
    profile: bool,
) -> RunResult:
    concurrency = args.concurrency
    owned = [accounts[i::concurrency] for i in range(concurrency)]
    turn = iter(range(10**12))
    turn_lock = threading.Lock()
    samples: list[Sample] = []
    errors: list[str] = []
    error_count = 0
    record_lock = threading.Lock()

    # Warm-up, not measured: every kind on every node, from as many connections at once as
    # there are worker processes, so each worker loads its templates, search index and
    # query embedder before the clock starts.
    for problem in warm_up(nodes, workload, owned[0], args.workers):
        errors.append(f"warm-up: {problem}")
        error_count += 1

    profilers = start_profilers(nodes, args.seconds, args.data_dir_path) if profile else []
    meter = CpuMeter(nodes, args.postgres, database)
    started = time.perf_counter()
    deadline = started + args.seconds
    pacer = Pacer(args.rate if args.soak else None, started)
    memory: dict[int, list[tuple[float, float]]] = {node.port: [] for node in nodes}
    stop_sampling = threading.Event()

    def sample_memory() -> None:
        while True:
            for node in nodes:
                memory[node.port].append((time.perf_counter() - started, node.rss_mb()))
            if stop_sampling.wait(args.sample_every):
                for node in nodes:
                    memory[node.port].append((time.perf_counter() - started, node.rss_mb()))
                return

    def worker(index: int) -> None:
        nonlocal error_count
        rnd = random.Random(1000 + index)
        clients = [httpx.Client(base_url=node.url, timeout=60) for node in nodes]
        try:
            while True:
                pacer.wait_turn()
                now = time.perf_counter()
                if now >= deadline:
                    return
                request = workload.next(rnd, owned[index])
                with turn_lock:
                    node_index = next(turn) % len(nodes)
                ok, why = send(clients[node_index], request)
                elapsed = time.perf_counter() - now
                with record_lock:
                    samples.append(Sample(request.kind, now - started, elapsed, ok))
                    if not ok:
                        error_count += 1
                        if len(errors) < MAX_EXAMPLES:
                            errors.append(why or "?")
        finally:
            for client in clients:
                client.close()

    sampler = threading.Thread(target=sample_memory, daemon=True)
    if args.soak:
        sampler.start()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    cpu = meter.used()
    stop_sampling.set()
    if args.soak:
        sampler.join()
    stacks = finish_profilers(profilers) if profilers else collections.Counter()
    return RunResult(
        label,
        elapsed,
        samples,
        errors,
        error_count,
        cpu,
        memory,
        args.rate if args.soak else None,
        stacks,
        len(nodes) * args.workers,
    )


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def print_result(result: RunResult, kinds: list[str]) -> None:
    ok_samples = [s for s in result.samples if s.ok]
    print(f"\n### {result.label}\n")
    rate_note = f" (target {result.target_rate:g}/s)" if result.target_rate else ""
    print(
        f"{len(result.samples):,} requests in {result.seconds:.1f} s: "
        f"**{len(result.samples) / result.seconds:.1f} requests/s**{rate_note}, "
        f"errors: {result.error_count}\n"
    )
    print("| kind | requests | req/s | p50 ms | p99 ms | errors |")
    print("|---|---:|---:|---:|---:|---:|")
    by_kind: dict[str, list[Sample]] = collections.defaultdict(list)
    for sample in result.samples:
        by_kind[sample.kind].append(sample)
    rows = [("**all**", result.samples)] + [(k, by_kind[k]) for k in kinds if by_kind[k]]
    for name, group in rows:
        times = [s.seconds * 1000 for s in group if s.ok] or [float("nan")]
        print(
            f"| {name} | {len(group):,} | {len(group) / result.seconds:.1f} | "
            f"{statistics.median(times):.1f} | {percentile(times, 0.99):.1f} | "
            f"{sum(not s.ok for s in group)} |"
        )
    cores = {part: used / result.seconds for part, used in result.cpu.items()}
    others = max(0.0, cores["machine"] - cores["nodes"] - cores["postgres"] - cores["client"])
    print(
        f"\nCPU in cores (of {os.cpu_count()}): nodes {cores['nodes']:.2f}, PostgreSQL "
        f"backends {cores['postgres']:.2f}, this client {cores['client']:.2f}, other "
        f"processes on the machine {others:.2f}; "
        f"{1000 * result.cpu['nodes'] / max(1, len(ok_samples)):.1f} ms of node CPU and "
        f"{1000 * result.cpu['postgres'] / max(1, len(ok_samples)):.1f} ms of PostgreSQL CPU "
        "per request."
    )
    print(f"Bottleneck: {bottleneck(cores, result.node_processes)}")
    print_profile(result.profile)
    if result.errors:
        print(f"\nError examples ({len(result.errors)} of {result.error_count}):")
        for line in result.errors:
            print(f"  - {line}")


def bottleneck(cores: dict[str, float], node_processes: int) -> str:
    """What limited the rate, read off where the CPU went (a rule of thumb, said as one)."""
    count = os.cpu_count() or 1
    others = max(0.0, cores["machine"] - cores["nodes"] - cores["postgres"] - cores["client"])
    if cores["machine"] >= 0.85 * count:
        return (
            f"the machine's CPUs ({cores['machine']:.2f} of {count} cores busy; the nodes "
            f"got {cores['nodes']:.2f}, other processes {others:.2f}): more node processes "
            "on this host cannot add throughput, only more cores can."
        )
    if cores["nodes"] >= 0.85 * node_processes:
        return (
            f"the node processes ({cores['nodes']:.2f} cores for {node_processes} Python "
            "processes, each held to one core by the GIL): add workers or nodes."
        )
    if cores["postgres"] > cores["nodes"]:
        return "PostgreSQL: its backends used more CPU than the nodes."
    return (
        "neither the CPUs nor the node processes were saturated: the client's concurrency "
        "(or waiting on locks and I/O) set the rate; raise --concurrency to push harder."
    )


def print_memory(result: RunResult) -> None:
    print(
        "\n| node (port) | RSS start MB | middle MB | end MB | max MB | second half MB/min "
        "| samples |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for port, series in result.memory.items():
        if not series:
            continue
        values = [mb for _, mb in series]
        (t_mid, mid), (t_end, end) = series[len(series) // 2], series[-1]
        slope = (end - mid) / max((t_end - t_mid) / 60, 1e-9)
        print(
            f"| {port} | {values[0]:.0f} | {mid:.0f} | {end:.0f} | {max(values):.0f} | "
            f"{slope:+.2f} | {len(values)} |"
        )


def print_comparison(results: list[RunResult]) -> None:
    if len(results) < 2:
        return
    base = results[0]
    base_rate = len(base.samples) / base.seconds
    print("\n### Baselines\n")
    for result in results:
        rate = len(result.samples) / result.seconds
        health = [s.seconds * 1000 for s in result.samples if s.kind == "healthz" and s.ok]
        every = [s.seconds * 1000 for s in result.samples if s.ok]
        print(
            f"- {result.label}: {rate / base_rate:.2f}x the throughput of {base.label}; "
            f"/healthz p50 {statistics.median(health or [float('nan')]):.1f} ms vs "
            f"all requests p50 {statistics.median(every or [float('nan')]):.1f} ms"
        )


# --- profiling -----------------------------------------------------------------------------


def py_spy() -> str | None:
    return os.environ.get("PY_SPY") or shutil.which("py-spy")


def start_profilers(nodes: list[Node], seconds: float, out_dir: Path) -> list[tuple[Any, Path]]:
    tool = py_spy()
    if tool is None:
        print("--profile: py-spy not found (set PY_SPY or put it on PATH); not profiling")
        return []
    started = []
    for node in nodes:
        out = out_dir / f"profile-{node.port}.txt"
        command = [
            tool,
            "record",
            "--pid",
            str(node.pid),
            "--subprocesses",
            "--gil",
            "--rate",
            "100",
        ]
        command += ["--duration", str(max(1, int(seconds))), "--format", "raw", "-o", str(out)]
        process = subprocess.Popen(
            [*command, "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        started.append((process, out))
    return started


def finish_profilers(profilers: list[tuple[Any, Path]]) -> collections.Counter[str]:
    stacks: collections.Counter[str] = collections.Counter()
    for process, out in profilers:
        process.wait(timeout=120)
        if not out.exists():
            print(f"py-spy wrote nothing: {process.stderr.read().decode()[-500:]}")
            continue
        for line in out.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                stacks[stack] += int(count)
    return stacks


# Where a sample's CPU goes: the frame nearest the leaf that matches one of these decides,
# so time in a library called from paperfeed code counts for the library, and time in
# paperfeed's own Python (or the stdlib it calls) for paperfeed.
CATEGORIES = [
    ("templates (Jinja)", re.compile(r"jinja2|markupsafe|\.html")),
    ("LaTeX to MathML", re.compile(r"paperfeed/latex|latex2mathml")),
    ("search (tantivy, usearch, ONNX)", re.compile(r"paperfeed/search/|onnxruntime|tantivy")),
    ("PostgreSQL driver (psycopg)", re.compile(r"psycopg")),
    ("SQLAlchemy (ORM and Core)", re.compile(r"sqlalchemy")),
    ("JSON and validation", re.compile(r"pydantic|/json/|fastapi/encoders")),
    ("gzip", re.compile(r"/python3\.\d+/gzip\.py|zlib")),
    ("paperfeed's own code", re.compile(r"paperfeed/(?!cli\.py)")),
    ("HTTP server and framework", re.compile(r"uvicorn|h11|httptools|starlette|fastapi|anyio")),
    ("asyncio loop", re.compile(r"asyncio")),
]


def categorize(stack: str) -> str:
    for frame in reversed(stack.split(";")):
        for name, pattern in CATEGORIES:
            if pattern.search(frame):
                return name
    return "other"


# Leaf frames that wait rather than work (should a sample land there while holding the
# GIL): sampling all threads instead, on a saturated machine a thread that was woken (an
# answer from PostgreSQL arrived) but waits for a core or the GIL counts as busy in the
# very frame that waited, and these frames took half the samples.
WAITING = re.compile(
    r"^(Connection\.wait|wait_conn|wait_c|Condition\.wait|Event\.wait|\w*Selector\.select) \("
)


def print_profile(stacks: collections.Counter[str]) -> None:
    total = sum(stacks.values())
    if not total:
        return
    waiting = sum(c for stack, c in stacks.items() if WAITING.match(stack.split(";")[-1]))
    working = {s: c for s, c in stacks.items() if not WAITING.match(s.split(";")[-1])}
    busy = max(1, total - waiting)
    print(
        f"\nWhere the nodes' Python work went (py-spy --gil: {total:,} samples of the thread "
        "holding the GIL; native code that releases it, such as libpq's network waits or "
        f"tantivy's search, is not counted; {100 * waiting / total:.0f}% of samples were in "
        "waiting frames and are left out):\n"
    )
    print("| share of work | category (innermost matching frame) |")
    print("|---:|---|")
    shares: collections.Counter[str] = collections.Counter()
    for stack, count in working.items():
        shares[categorize(stack)] += count
    for name, count in shares.most_common():
        print(f"| {100 * count / busy:.0f}% | {name} |")
    own: collections.Counter[str] = collections.Counter()
    for stack, count in working.items():
        frames = [f for f in stack.split(";") if "paperfeed/" in f and "paperfeed/cli.py" not in f]
        if frames:
            own[frames[-1].split(" (")[0] + " " + _where(frames[-1])] += count
        else:
            own["(no paperfeed code: the event loop, uvicorn, starlette)"] += count
    print("\nInnermost paperfeed function of each working sample (with what it calls):\n")
    for name, count in own.most_common(8):
        print(f"- {100 * count / busy:.0f}% {name}")


def _where(frame: str) -> str:
    inside = frame.split(" (", 1)[-1].rstrip(")")
    return "(" + inside.split("paperfeed/", 1)[-1].rsplit(":", 1)[0] + ")"


# --- verification --------------------------------------------------------------------------


def verify_votes(url: str, accounts: list[Account]) -> list[str]:
    """Problems found: drifted counts, or votes in the database the client did not leave."""
    problems = []
    database = Database(url)
    with database.reader() as session:
        for public_id, shown, true, shown_c, true_c in inconsistent(session):
            problems.append(
                f"{public_id}: shows {shown} upvotes, has {true}; {shown_c} comments, has {true_c}"
            )
        stored = set(
            session.execute(
                select(User.username, Paper.public_id)
                .join(Upvote, Upvote.user_id == User.id)
                .join(Paper, Paper.id == Upvote.paper_id)
                .where(User.username.like("load%"))
            ).all()
        )
    database.dispose()
    wanted = {(a.username, p) for a in accounts for p, on in a.votes.items() if on}
    for username, paper in sorted(wanted - stored):
        problems.append(f"{username} upvoted {paper} but the database has no such vote")
    for username, paper in sorted(stored - wanted):
        problems.append(f"{username} took back the vote on {paper} but the database kept it")
    return problems


# --- main ----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", default="1,2", help="configurations to run: node counts")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers per node")
    parser.add_argument("--seconds", type=float, default=30, help="measured time per config")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads")
    parser.add_argument("--users", type=int, default=24, help="accounts (at least concurrency)")
    parser.add_argument("--soak", action="store_true", help="steady rate; sample node memory")
    parser.add_argument("--rate", type=float, default=20, help="--soak: requests per second")
    parser.add_argument("--sample-every", type=float, default=5, help="--soak: seconds")
    parser.add_argument("--profile", action="store_true", help="py-spy the last configuration")
    parser.add_argument("--no-embed", action="store_true", help="keyword index only (faster)")
    parser.add_argument(
        "--postgres", default=os.environ.get("PAPERFEED_LOAD_POSTGRES_URL", DEFAULT_POSTGRES)
    )
    parser.add_argument(
        "--database",
        default=f"{OWN_DATABASE_PREFIX}_{os.getpid()}",
        help="created for the run and dropped after it (unless --keep); an existing one is "
        f"replaced only if its name starts with {OWN_DATABASE_PREFIX} or with --drop",
    )
    parser.add_argument(
        "--drop", action="store_true", help="allow replacing an existing --database"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database and data dir")
    args = parser.parse_args(argv)
    args.node_counts = [int(n) for n in str(args.nodes).split(",") if n.strip()]
    if not args.node_counts or min(args.node_counts) < 1:
        parser.error("--nodes takes node counts, e.g. 1,2")
    if args.soak:
        args.node_counts = args.node_counts[-1:]  # one configuration, the largest asked
    if args.concurrency < 1 or args.seconds <= 0 or args.rate <= 0 or args.workers < 1:
        parser.error("--concurrency, --workers, --seconds and --rate must be positive")
    args.users = max(args.users, args.concurrency)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data_dir = Path(tempfile.mkdtemp(prefix="pf-load-"))
    args.data_dir_path = data_dir
    started = time.perf_counter()
    url = create_database(args.postgres, args.database, args.drop)
    if url is None:
        shutil.rmtree(data_dir, ignore_errors=True)
        print(
            f"error: database {args.database} already exists and the benchmark drops its "
            f"database; pass --drop to replace it, or choose a name that does not exist",
            file=sys.stderr,
        )
        return 2
    print(f"Setting up database {args.database} and {data_dir} ...")
    site = Site(url, data_dir)
    nodes: list[Node] = []
    results: list[RunResult] = []
    problems: list[str] = []
    try:
        site.load_corpus()
        for slot in range(max(args.node_counts)):
            site.build_index(slot, embed=not args.no_embed)
        accounts = site.create_accounts(args.users)
        targets = site.targets()
        workload = Workload(targets)
        print(
            f"  {len(targets.papers)} papers, {len(accounts)} accounts, setup "
            f"{time.perf_counter() - started:.0f} s; {os.cpu_count()} cores, load average "
            f"{os.getloadavg()[0]:.1f}"
        )
        mode = f"steady {args.rate:g} requests/s" if args.soak else "as fast as answered"
        print(
            f"\n## paperfeed on PostgreSQL: {args.concurrency} client threads, {mode}, "
            f"{args.workers} worker(s) per node"
        )
        for index, count in enumerate(args.node_counts):
            nodes = [Node(site, slot, args.workers) for slot in range(count)]
            for node in nodes:
                node.wait_ready()
            label = f"{count} node{'s' if count > 1 else ''} x {args.workers} worker(s)"
            last = index == len(args.node_counts) - 1
            result = run_configuration(
                label, nodes, workload, accounts, args, args.database, args.profile and last
            )
            for node in nodes:
                node.stop()
            nodes = []
            results.append(result)
            print_result(result, workload.kinds)
            if args.soak:
                print_memory(result)
        print_comparison(results)
        problems = verify_votes(url, accounts)
        votes = sum(on for a in accounts for on in a.votes.values())
        print(
            f"\nConsistency: {len(problems)} problems "
            f"(counts.inconsistent() and the {votes} votes the client left)"
        )
        for problem in problems[:20]:
            print(f"  - {problem}")
    finally:
        for node in nodes:
            node.stop()
        if not args.keep:
            drop_database(args.postgres, args.database)
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            print(f"Kept database {args.database} and {data_dir}")
    errors = sum(r.error_count for r in results)
    print(f"\nTotal errors: {errors}; consistency problems: {len(problems)}")
    return 1 if errors or problems else 0


if __name__ == "__main__":
    sys.exit(main())
