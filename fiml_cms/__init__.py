"""fiml-cms: versioned lesson content kept in git, and the library the bot reads it with."""

__version__ = "0.1.0"
