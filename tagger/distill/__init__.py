"""Distillation: losses, recipes (tsai2019, xtremedistil, labels_only) and the `python -m tagger.distill` binary."""
