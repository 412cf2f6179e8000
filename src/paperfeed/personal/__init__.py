"""Personal recommendations: the ranking behind the "For you" feed (docs/for-you.md)."""
