"""Settings, read once from `PAPERFEED_*` environment variables.

Every knob of the product is declared here, in one place, with its default. With no
configuration at all paperfeed keeps a SQLite file in the data directory.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SITE_URL = "http://127.0.0.1:8000"
DEFAULT_DATABASE_FILE = "paperfeed.sqlite3"


def default_data_dir() -> Path:
    """`$XDG_DATA_HOME/paperfeed`, the usual home for an app's own files."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "paperfeed"


class Settings(BaseSettings):
    """The whole configuration of a paperfeed site."""

    model_config = SettingsConfigDict(env_prefix="PAPERFEED_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    feed_timezone: str = "America/New_York"
    site_name: str = "paperfeed"
    # Where absolute links (feeds, exports, mail) point. Unset: the address `serve`/`demo`
    # was started with (`listen_url`), never a request's Host header, which anyone can forge.
    site_url: str = DEFAULT_SITE_URL
    # Set by `serve`/`demo` from --host/--port for their worker processes; not set by hand.
    listen_url: str | None = None
    secret_key: str | None = None
    page_size: int = 50
    trending_window_days: int = 14
    trending_gravity: float = 1.5
    # Weight of GitHub stars gained in the last week in the trending score (0: not used).
    trending_star_weight: float = Field(default=0.0, ge=0, le=100)
    cache_max_age: int = 60
    index_dir: Path | None = None
    embedding_model: str | None = None
    embedding_int8: bool = True
    ann_threshold: int = 50_000
    # Web processes sync this node's search index from the database every this many
    # seconds (only when the database changed; 0 turns it off). See search/follow.py.
    index_follow_seconds: float = Field(default=5.0, ge=0)
    # Accounts: a session ends this many days after log-in, however active (it also ends
    # after 30 idle days).
    session_lifetime_days: int = Field(default=90, ge=1)
    # Community submissions.
    submission_window_days: int = 14
    submission_daily_cap: int = 5
    # Mail (SMTP). TLS: none | starttls | implicit.
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_tls: Literal["none", "starttls", "implicit"] = "none"
    smtp_user: str | None = None
    smtp_password: str | None = None
    mail_from: str = "paperfeed <noreply@localhost>"
    # Where mail goes: smtp (the server below) or outbox (kept in the database and shown at
    # /demo/outbox; nothing leaves the machine; the default of `paperfeed demo`).
    mail_backend: Literal["smtp", "outbox"] = "smtp"
    # The outgoing mail queue (outbox.py): seconds between a sender's looks at the queue
    # (a message queued in the same process wakes it at once; 0 turns the web process's
    # sender off), tries per message, and the first retry's delay (doubled each time).
    mail_send_interval: float = Field(default=5.0, ge=0)
    mail_max_attempts: int = Field(default=6, ge=1)
    mail_retry_seconds: float = Field(default=60.0, ge=0)
    # Whom remote services (arXiv...) may write to about this site's requests: sent in the
    # User-Agent of every outgoing request. Unset: the address of `mail_from`.
    contact_email: str | None = None
    # arXiv.
    arxiv_api_url: str = "https://export.arxiv.org/api/query"
    arxiv_oai_url: str = "https://oaipmh.arxiv.org/oai"
    arxiv_request_interval: float = 3.0
    # Seconds a person submitting a paper waits for arXiv at most: the whole lookup, pacing
    # and retries included (a harvest keeps its own patience). Unreachable, the page says so.
    arxiv_timeout: float = Field(default=10.0, gt=0)
    # arXiv harvesting (OAI-PMH): format, set (None: all of arXiv), and which newly
    # announced papers enter the daily feed: submissions (none, like HF) | all | categories.
    arxiv_oai_format: Literal["arXivRaw", "arXiv"] = "arXivRaw"
    arxiv_oai_set: str | None = None
    harvest_feed: Literal["submissions", "all", "categories"] = "submissions"
    harvest_feed_categories: str = ""
    harvest_feed_max_age_days: int = 7
    # `paperfeed worker`: seconds between runs of each job (0 turns a job off), and how
    # long a job's lease lasts without renewal (a crashed worker's jobs wait this long).
    worker_harvest_interval: int = 6 * 3600
    worker_index_interval: int = 600
    worker_keywords_interval: int = 600
    worker_github_interval: int = 3600
    worker_hub_interval: int = 3600
    worker_thumbnails_interval: int = 3600
    worker_summaries_interval: int = 1800
    worker_digest_interval: int = 900
    worker_mail_interval: int = 30
    worker_lease_seconds: int = 300
    # Papers per transaction of the keywords job (search/keywords.py; docs/keywords.md).
    keywords_batch: int = Field(default=500, ge=1)
    # GitHub's REST API, for the stars of papers' repositories (ingest/github_repos.py): its
    # address, an optional token (sent as a Bearer token, never logged), seconds between
    # requests, how old stars may get before a refresh, and repositories asked per run.
    github_api_url: str = "https://api.github.com"
    github_token: str | None = None
    github_request_interval: float = Field(default=1.0, ge=0)
    github_refresh_hours: float = Field(default=24.0, gt=0)
    github_batch: int = Field(default=500, ge=1)
    # The Hugging Face Hub, for the models, datasets and Spaces citing arXiv papers
    # (ingest/hub_links.py): its address, seconds between listing requests, how old an
    # answer may get before a refresh, and papers asked per run (three listings each).
    hub_endpoint: str = "https://huggingface.co"
    hub_request_interval: float = Field(default=1.0, ge=0)
    hub_refresh_hours: float = Field(default=720.0, gt=0)
    hub_batch: int = Field(default=200, ge=1)
    # First-page thumbnails of the feed's arXiv papers (ingest/thumbnails.py): where PDFs are
    # fetched (`{url}/2401.00001v2`, paced by `arxiv_request_interval`), the largest PDF read
    # (bytes), papers rendered per run, and how many days back the feed is covered.
    arxiv_pdf_url: str = "https://arxiv.org/pdf"
    thumbnail_max_pdf_bytes: int = Field(default=50_000_000, ge=1)
    thumbnail_batch: int = Field(default=200, ge=1)
    thumbnail_window_days: int = Field(default=30, ge=1)
    # Machine-written summaries (ingest/summarize.py; docs/summaries.md): an OpenAI-compatible
    # chat-completions endpoint's base URL (`{url}/chat/completions` is asked; unset: off),
    # the model named on pages, a key (a Bearer token, never logged), caps per UTC day on
    # requests and tokens (prompt and answer), and papers asked per run.
    summary_api_url: str | None = None
    summary_model: str | None = None
    summary_key: str | None = Field(default=None, repr=False)
    summary_daily_requests: int = Field(default=1000, ge=0)
    summary_daily_tokens: int = Field(default=1_000_000, ge=0)
    summary_batch: int = Field(default=100, ge=1)
    summary_request_interval: float = Field(default=1.0, ge=0)
    summary_timeout: float = Field(default=60.0, gt=0)
    # Email digests.
    digest_send_hour: int = Field(default=6, ge=0, le=23)  # local hour (feed zone) they go out
    digest_retries: int = Field(default=3, ge=0)  # per message, for transient SMTP failures
    digest_retry_backoff: float = Field(default=2.0, ge=0)  # seconds, doubled each retry
    digest_bounce_limit: int = Field(default=3, ge=1)  # permanent failures in a row -> pause
    digest_claim_seconds: int = Field(default=600, ge=1)  # a crashed run's claims expire
    digest_max_attempts: int = Field(default=5, ge=1)  # runs that may retry one digest

    @model_validator(mode="after")
    def _effective_site_url(self) -> Settings:
        """An unset (or empty) site URL becomes the listening address, else the default."""
        if not self.site_url.strip():
            self.__pydantic_fields_set__.discard("site_url")
        if self.site_url_is_set:
            if not self.site_url.startswith(("http://", "https://")):
                raise ValueError("PAPERFEED_SITE_URL must start with http:// or https://")
        else:
            self.__dict__["site_url"] = self.listen_url or DEFAULT_SITE_URL
        self.__dict__["site_url"] = self.site_url.rstrip("/")
        return self

    @property
    def site_url_is_set(self) -> bool:
        """Whether PAPERFEED_SITE_URL (or the constructor) gave the site URL explicitly."""
        return "site_url" in self.model_fields_set

    @field_validator("feed_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r}: use an IANA name such as America/New_York"
            ) from exc
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.feed_timezone)

    def resolved_database_url(self) -> str:
        """The configured URL, or `paperfeed.sqlite3` in the data dir: the one database every
        command (the demo included) uses when nothing is configured."""
        if self.database_url:
            return normalize_database_url(self.database_url)
        return f"sqlite:///{self.data_dir / DEFAULT_DATABASE_FILE}"


def index_dir_for(settings: Settings, database_url: str) -> Path:
    """Each database gets its own derived search index directory."""
    if settings.index_dir is not None:
        return settings.index_dir
    import hashlib

    digest = hashlib.sha1(database_url.encode()).hexdigest()[:12]
    return settings.data_dir / "index" / digest


def normalize_database_url(url: str) -> str:
    """Accept `postgres://` and `postgresql://` and use psycopg 3 for both."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
