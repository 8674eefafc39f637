"""Benchmarks of the hub against bare baselines measured in the same run (`python -m bench`).

Not tests: they assert nothing about timing. See docs/performance.md for what each one measures.
"""
