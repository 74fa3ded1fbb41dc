"""Blue and green pools of real bot processes behind HAProxy, and a load that delivers updates as
Telegram does: the release drill's tests and the scale benchmark run on them."""
