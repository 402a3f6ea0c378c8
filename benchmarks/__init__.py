"""Benchmark harness: perf_analyzer runners, end-to-end comparisons, reports."""
