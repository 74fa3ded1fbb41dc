"""fiml-bot: teaches the published lessons, tracks progress, XP, levels, badges and streaks."""

__version__ = "0.1.0"
