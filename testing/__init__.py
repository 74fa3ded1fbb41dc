"""Helpers shared by the tests and the benchmarks: fakes of outside systems and simulations.

Not part of the installed distribution (a top-level `testing` in site-packages would collide with
other projects'): it is imported from the repository root, where pytest and `python -m bench.X` run.
"""
