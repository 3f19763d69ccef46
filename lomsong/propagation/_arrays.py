"""Array conventions of the closed-form propagation formulas (models, clutter, variability).

Inputs broadcast as float64 arrays; a 0-d result comes back as a numpy float64 scalar (it
compares and formats like a float); NaN passes every check, since it marks "no value".
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def as_float(x: npt.ArrayLike) -> FloatArray:
    """``x`` as a float64 array (broadcasting inputs of the formulas)."""
    return np.asarray(x, dtype=np.float64)


def scalar_or_array(x: FloatArray) -> FloatArray:
    """A 0-d result as a numpy float64 scalar, any other as it is."""
    return x[()] if x.ndim == 0 else x


def check_positive(name: str, x: FloatArray, *, allow_zero: bool = False) -> None:
    """ValueError naming ``name`` when a value is ≤ 0 (< 0 with ``allow_zero``); NaN passes."""
    bad = (x < 0) if allow_zero else (x <= 0)
    if np.any(bad):
        sign = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be {sign}; got min {np.nanmin(x)!r}")
