"""Helpers shared by the tests and the benchmarks: fakes of outside systems and simulations.

- `testing.fakebotapi`: a fake Telegram Bot API, in process or on loopback (see its README);
- `testing.simulation`: the continuity simulation (release train, driver, oracle);
- `testing.release`: blue and green bot processes behind a real HAProxy, and a webhook load;
- `testing.postgres`: throwaway PostgreSQL schemas; `testing.seeding`: many learners at once;
- the suite's helpers: `testing.repo` (paths, git identity, git and file helpers), `testing.cli`
  (both CLIs in process), `testing.tutor_driver` (the tutor's `Learner` driver), `testing.webhook`,
  `testing.bot_process`, `testing.telegram_harness`, and what child processes load by name
  (`testing.budget_worker`, `testing.release.fault_plugin`).

Not part of the installed distribution (a top-level `testing` in site-packages would collide with
other projects'): it imports from the repository root, where pytest and `python -m bench.<name>` run.
A test module imports helpers from here, never from another test module.
"""
