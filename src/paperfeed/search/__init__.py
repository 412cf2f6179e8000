"""Search: embeddings, lexical and vector indexes, hybrid ranking."""
