"""Benchmarks: each module prints a table with a baseline measured in the same run.

Run one from the repository root as a module, `.venv/bin/python -m bench.feed --smoke`, so
benchmarks import each other (`from bench import feed`) and paperfeed without path tricks.
"""
