"""The operations as typed functions: what `fiml-bot`'s commands do once their options are parsed.

Each service takes settings and plain values, returns a result dataclass (rendered by `fiml_bot.cli`)
and raises the project's FimlError subclasses; what must be shown before a later step may fail comes
out through a callback, never a print or a prompt. They use ops/, release/ and storage/, never the
CLI, typer or bootstrap (the import-linter contracts in pyproject.toml hold them to it).
"""
