"""Benchmarks: each stage runs in its own process; results are ratios against a baseline."""
