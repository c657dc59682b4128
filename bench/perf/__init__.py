"""Benchmarks run by ``bench perf <name>``: one module per benchmark, each exposing
``add_arguments(parser)`` and ``run(args) -> dict`` (figures reported as ratios against a
peer measured in the same process)."""
