"""The one definition of "the same pages" used by the tests (README, "Same pages, any path").

Everything a viewer sees must be identical: ids, rows, positions, row titles and kinds,
titles, reasons and data categories. Floating-point columns (``score``) come from BLAS, whose
summation order depends on the batch shape, the kernel and the number of threads; they must
agree to ``SCORE_RTOL`` / ``SCORE_ATOL``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SCORE_RTOL = 1e-5
SCORE_ATOL = 1e-6


def assert_same_pages(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Raise AssertionError unless two page frames are the same pages (see module docstring)."""
    assert list(got.columns) == list(expected.columns), (list(got.columns), list(expected.columns))
    assert len(got) == len(expected), (len(got), len(expected))
    for col in expected.columns:
        a, b = got[col], expected[col]
        if pd.api.types.is_float_dtype(b.dtype):
            np.testing.assert_allclose(
                a.to_numpy(np.float64), b.to_numpy(np.float64),
                rtol=SCORE_RTOL, atol=SCORE_ATOL, err_msg=f"column {col!r}",
            )
        else:
            left, right = a.astype(object).to_numpy(), b.astype(object).to_numpy()
            diff = np.flatnonzero(left != right)
            assert diff.size == 0, (
                f"column {col!r} differs in {diff.size} of {len(b)} lines, first at line "
                f"{diff[0]}: {left[diff[0]]!r} != {right[diff[0]]!r}"
            )
