"""Benchmarks for the event pipeline (issue 3); see bench/README.md."""
