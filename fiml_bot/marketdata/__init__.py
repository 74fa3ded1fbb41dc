"""Live market data for live_example and chart sections: the provider port, the quote cache with its
deadline, per-key rate limits, the texts and pictures shown, and learners' own provider keys."""
