"""Email digests: subscriptions (double opt-in), composing, and sending with a ledger."""
