"""Scheduled jobs: `paperfeed worker` runs them, `paperfeed status` reports on them."""
