"""Encoders (teachers), students and the multi-head tagger."""
