"""Learners' own data-provider keys (BYOK): encrypted at rest, checked, listed, removed, rotated."""
