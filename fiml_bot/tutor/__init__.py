"""The conversation engine, the version policy and gamification: no I/O, no platform."""
