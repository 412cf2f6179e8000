"""paperfeed: a self-hosted Daily Papers."""

__version__ = "0.1.0"
