"""Benchmark scripts (not part of make test)."""
