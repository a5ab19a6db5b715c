"""Reliability scenarios: `python -m chaos` (docs/RELIABILITY.md)."""
