"""Benchmarks of mockreg against the reference registry and the machine's limits (see run.py)."""
