"""The floor: a no-op C callback for sys.monitoring, built by the benchmark for each interpreter."""
