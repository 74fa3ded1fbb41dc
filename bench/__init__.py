"""Benchmarks (not tests): run each as a module from the repository root, `python -m bench.validate`,
so that `bench.benchlib`, `bench.gitgen` and the shared `testing` helpers import without path tricks."""
