"""What a web process runs beside its requests: the search index follower and the mail sender."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from paperfeed.outbox import Sender
from paperfeed.search.runtime import follow_while_serving


@asynccontextmanager
async def while_serving(app: Any) -> AsyncIterator[None]:
    """FastAPI lifespan: follow the database for the search index, deliver queued mail."""
    settings = app.state.settings
    sender = None
    if settings.mail_send_interval > 0:
        sender = Sender(app.state.db, settings, settings.mail_send_interval)
        sender.start()
    try:
        async with follow_while_serving(app):
            yield
    finally:
        if sender is not None:
            await asyncio.to_thread(sender.stop)
