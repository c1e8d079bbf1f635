"""Reproducible benchmarks: `python -m benchmarks.<name> [--out FILE]`, each recorded in BENCHMARKS.md."""
