"""Orbit's benchmarks: one module per bench, run as ``python -m bench.<name>``."""
