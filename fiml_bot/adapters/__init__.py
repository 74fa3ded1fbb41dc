"""Platform adapters: they turn input into tutor events and tutor messages into output, nothing more."""
