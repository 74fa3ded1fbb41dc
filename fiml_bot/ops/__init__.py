"""Operations: metrics, alerts, feature flags and content canaries; snapshots and restore, the integrity
doctor, migration rehearsal (the pieces an operator runs the bot with).

Each module returns values (manifests, findings, reports); `commands.py` renders them for the CLI.
"""
