"""What a web process runs beside its requests: the search index follower and the mail sender.

At start it also reads whether the database is the demo's, for the banner every page shows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from paperfeed.db import Database, is_outage
from paperfeed.demo import is_demo_database
from paperfeed.outbox import Sender
from paperfeed.search.runtime import follow_while_serving

log = logging.getLogger(__name__)


@asynccontextmanager
async def while_serving(app: Any) -> AsyncIterator[None]:
    """FastAPI lifespan: follow the database for the search index, deliver queued mail."""
    settings = app.state.settings
    app.state.templates.env.globals["demo_site"] = await asyncio.to_thread(_is_demo, app.state.db)
    sender = None
    if settings.mail_send_interval > 0:
        sender = Sender(app.state.db, settings, settings.mail_send_interval)
        sender.start()
    try:
        async with follow_while_serving(app.state.search):
            yield
    finally:
        if sender is not None:
            await asyncio.to_thread(sender.stop)


def _is_demo(db: Database) -> bool:
    """Whether pages say this is a demo (read once: a database does not become one later)."""
    try:
        with db.reader() as session:
            return is_demo_database(session)
    except SQLAlchemyError as exc:
        # The site still starts: during an outage it serves 503s until the database is back,
        # and a broken database (no tables) shows on the pages that query it, not here.
        if not is_outage(exc):
            log.exception("could not tell whether this is the demo's database")
        return False
