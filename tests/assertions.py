"""Shared equality helpers and every named tolerance of the suite (xarray-spatial's
``general_checks.py`` pattern): a tolerance is written once, with the reason for its size.
"""

from __future__ import annotations

import numpy as np

#: Pruned vs unpruned composite: the ITM batch kernel's vector and scalar lanes round differently
#: (~1e-12 dB); 1e-4 dB leaves room for float32 storage of powers.
LANE_ROUNDING_DB = 1e-4
#: A composite rebuilt from cache entries: they hold centi-dB (0.005 dB rounding) plus float32.
CACHE_ROUNDING_DB = 0.0051
#: Two servers whose powers differ by less than this may swap at a rounded near-tie.
NEAR_TIE_DB = 0.011
#: The NTIA ITM reference prints its expected losses to 0.01 dB.
ITM_REFERENCE_DB = 0.01
#: Textbook examples of the closed-form models are printed to 0.05 dB.
TEXTBOOK_DB = 0.05
#: Values hand-computed for a test (in a comment beside it) are written to 0.01 dB.
HAND_COMPUTED_DB = 0.01
#: Antenna patterns: the half-power points of a sector pattern.
HALF_POWER_DB = 0.01
#: Arithmetic that should be exact but for float rounding.
EXACT = 1e-9
#: ITU-R SG3 "Clutter and BEL workbook" (P.2109 reference values) prints losses to 0.001 dB.
SG3_WORKBOOK_DB = 0.001
#: NTIA/ITS P.2108 reference test data prints clutter losses to 0.1 dB.
NTIA_P2108_DB = 0.05
#: Standard normal quantiles and probabilities as printed in tables, to 4 decimals.
NORMAL_TABLE = 5e-5


def assert_same_coverage(a, b, *, atol: float = LANE_ROUNDING_DB, near_tie=None) -> None:
    """Two :class:`~lomsong.coverage.types.Coverage` results are the same map.

    Powers equal within ``atol`` (NaN where both have no server); servers identical, except —
    when ``near_tie(a, b, row, col)`` is given — at cells where it returns True (rounded powers
    may break a near-tie the other way; the callable checks the two servers' powers there).
    """
    np.testing.assert_allclose(a.power.data, b.power.data, rtol=0, atol=atol, equal_nan=True)
    differ = np.nonzero(a.serving.data != b.serving.data)
    if near_tie is None:
        np.testing.assert_array_equal(a.serving.data, b.serving.data)
        return
    for r, c in zip(*differ, strict=True):
        assert near_tie(a, b, int(r), int(c)), f"cell ({r}, {c}): servers differ beyond a tie"
