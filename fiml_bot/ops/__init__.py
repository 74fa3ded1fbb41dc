"""Operations: metrics, alerts, feature flags and content canaries (the pieces an operator runs the bot with)."""
