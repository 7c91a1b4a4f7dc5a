"""Benchmarks: the project's fast paths timed against the original's way (see run.py)."""
