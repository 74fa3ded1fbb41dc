"""Operations on the progress store: snapshots and restore, the integrity doctor, migration rehearsal.

Each module returns values (manifests, findings, reports); `commands.py` renders them for the CLI.
"""
