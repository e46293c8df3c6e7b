"""The pieces of `tagger.report`: metric series, plots and markdown tables."""
