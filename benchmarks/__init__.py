"""The overhead benchmark: our recorder against peers and the sys.monitoring floor.

Run it with ``python -m benchmarks`` from the repository root (``make bench``,
``make bench-quick``, ``make bench-smoke``); README.md beside this file explains the method.
"""
