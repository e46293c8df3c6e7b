"""Corpora, label vocabularies, WordPiece windows and tf.data pipelines."""
