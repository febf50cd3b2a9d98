"""Benchmarks of Endpoint Monitor: `python -m bench` (see bench/__main__.py)."""
