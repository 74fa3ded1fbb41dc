"""Helpers shared by the tests and the benchmarks: fakes of outside systems and simulations.

- `testing.fakebotapi`: a fake Telegram Bot API, in process or on loopback (see its README);
- `testing.simulation`: the continuity simulation (release train, driver, oracle);
- `testing.release`: blue and green bot processes behind a real HAProxy, and a webhook load;
- `testing.postgres`: throwaway PostgreSQL schemas; `testing.seeding`: many learners at once.

Not part of the installed distribution (a top-level `testing` in site-packages would collide with
other projects'): it imports from the repository root, where pytest and `python -m bench.<name>` run.
Test-only helpers (the tutor's `Learner` driver, the drill's fault plugin) stay under `tests/`.
"""
