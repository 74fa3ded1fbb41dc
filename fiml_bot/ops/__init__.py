"""Operations: the progress store's snapshots and restore, the integrity doctor and migration
rehearsal; metrics, alerts, feature flags and content canaries (the pieces an operator runs the bot with).

Each module returns values (manifests, findings, reports, metrics); `commands.py` renders the store
operations for the CLI.
"""
