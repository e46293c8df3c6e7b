"""The invented grammars and lexicons behind tools/make_sample.py (one language per module)."""
