"""Every shipped flagfile parses against the distill binary's flags (no typos, no stale names)."""
import glob
import os

import pytest
from absl import flags

from conftest import REPO


@pytest.mark.parametrize("flagfile", sorted(glob.glob(os.path.join(REPO, "flags", "*.flags"))),
                         ids=os.path.basename)
def test_flagfile_parses(flagfile):
    import tagger.distill.__main__ as distill  # noqa: F401  (declares the flags)
    parsed = flags.FLAGS
    try:
        parsed(["distill", f"--flagfile={flagfile}"])
        assert parsed.model_dir and parsed.train_data
        assert parsed.recipe in ("tsai2019", "xtremedistil", "labels_only")
        assert bool(parsed.teacher_dir) != bool(parsed.teacher_init)
    finally:
        parsed.unparse_flags()
