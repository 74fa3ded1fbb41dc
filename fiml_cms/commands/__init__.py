"""One module per command: each takes plain arguments and returns a result value."""
