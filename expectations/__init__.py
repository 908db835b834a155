"""The Great Expectations suites of panro's three quality gates, as code (GX 1.x).

- ``landing``: each raw batch, one load at a time (columns, load metadata, formats inside the JSON
  records, row volume against the trailing loads of the same source).
- ``transformed``: staging and intermediate (keys unique, one current version per application, BRN
  check digit, KSIC codes, references resolve).
- ``publish``: the marts (quotas and budgets never exceeded, every eligible scored application
  decided, verdicts consistent with their reasons, no published decision changed).

Each module builds ``Check`` objects (a suite and the batch it validates) for a run; ``panro.quality``
runs them with an ephemeral GX context, stores the outcomes in ``ops.validation_results`` and builds
the Data Docs. Thresholds are named constants at the top of each module. This folder is loaded by
``panro.quality.load_suites()`` (as the package ``panro_expectations``) from the project home.
"""

from ._base import HARD, WARNING, Check

__all__ = ["HARD", "WARNING", "Check"]
