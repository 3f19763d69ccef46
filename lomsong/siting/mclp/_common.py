r"""Input checks and helpers shared by the covering models.

Every model takes the same input (see :mod:`lomsong.siting.mclp`): ``cover`` is brought to a
canonical boolean CSR array (:func:`_as_cover`, without a copy when it already is one),
``weights`` must be finite and ≥ 0, ``k``, ``costs`` (> 0) and ``budget`` are checked alike, and
``spent + cost <= budget`` is tested with one relative slack (``_BUDGET_RTOL``) everywhere.
:func:`_covered_weight` is the objective all models report, the maximal covering value
:math:`f(S) = \sum_j w_j \, [\exists i \in S: a_{ij} = 1]` of a site set :math:`S`, recomputed
on the full matrix with ``math.fsum``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp

from lomsong.errors import InputError

#: Relative slack when testing ``spent + cost <= budget`` so that costs such as 0.1 summing to a
#: budget of 1.0 are not rejected by floating-point rounding.
_BUDGET_RTOL = 1e-9


# -- input checks ---------------------------------------------------------------------------
def _as_cover(cover: Any, n_demand: int | None = None) -> sp.csr_array:
    """A boolean CSR array with sorted indices, no explicit zeros and no duplicates."""
    fast = _canonical_csr(cover)
    if fast is not None:
        if n_demand is not None and fast.shape[1] != n_demand:
            raise InputError(
                "<cover>",
                f"has {fast.shape[1]} demand columns but weights has {n_demand} entries",
            )
        return fast
    try:
        coo = sp.coo_array(cover)
    except (TypeError, ValueError) as exc:
        raise InputError("<cover>", f"not a sparse or dense 2-D matrix: {exc}") from exc
    if coo.ndim != 2:
        raise InputError("<cover>", f"must be 2-D, got {coo.ndim}-D")
    nz = coo.data != 0
    csr = sp.csr_array(
        (np.ones(int(nz.sum()), dtype=bool), (coo.row[nz], coo.col[nz])), shape=coo.shape
    )
    csr.sum_duplicates()  # bool addition is logical or
    csr.sort_indices()
    if n_demand is not None and csr.shape[1] != n_demand:
        raise InputError(
            "<cover>",
            f"has {csr.shape[1]} demand columns but weights has {n_demand} entries",
        )
    return csr


def _canonical_csr(cover: Any) -> sp.csr_array | None:
    """``cover`` itself as a boolean CSR array when it already is canonical CSR, else ``None``.

    The general path of :func:`_as_cover` goes through COO and back, which on a 20,000 × 200,000
    matrix with 40 M entries costs 1–3 s and ~1 GB of temporaries, far more than the greedy
    itself (~0.1 s). A CSR input with sorted indices, no duplicates and no explicit zeros (what
    :mod:`lomsong.siting.matrix` and ``scipy.sparse`` constructors normally produce) is wrapped
    without copying its index arrays; they are only read, never written.
    """
    if not (sp.issparse(cover) and cover.format == "csr" and cover.ndim == 2):
        return None
    if not cover.has_canonical_format:  # sorted indices and no duplicates (checked, then cached)
        return None
    data = cover.data
    if data.dtype == bool:
        if not data.all():
            return None
    elif not (data != 0).all():
        return None
    else:
        data = np.ones(len(data), dtype=bool)
    out = sp.csr_array((data, cover.indices, cover.indptr), shape=cover.shape, copy=False)
    out.has_canonical_format = True
    return out


def _as_weights(weights: Any) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1:
        raise InputError("<weights>", f"must be 1-D, got shape {w.shape}")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            "<weights>",
            f"{int(bad.sum())} weights are negative or not finite (first at index {i}: {w[i]})",
        )
    return w


def _as_costs(costs: Any, n: int) -> np.ndarray:
    c = np.asarray(costs, dtype=np.float64)
    if c.shape != (n,):
        raise InputError("<costs>", f"must have shape ({n},) (one per candidate), got {c.shape}")
    bad = ~np.isfinite(c) | (c <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            "<costs>",
            f"{int(bad.sum())} costs are not finite and > 0 (first at index {i}: {c[i]})",
        )
    return c


def _check_k(k: Any, n: int, *, allow_none: bool) -> int:
    if k is None:
        if allow_none:
            return n
        raise InputError("<k>", "the number of sites k is required")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
        raise InputError("<k>", f"must be a non-negative integer, got {k!r}")
    return int(k)


def _check_budget(costs: Any, budget: Any, n: int) -> tuple[np.ndarray | None, float | None]:
    if (costs is None) != (budget is None):
        raise InputError("<budget>", "costs and budget must be given together")
    if costs is None:
        return None, None
    b = float(budget)
    if not math.isfinite(b) or b < 0:
        raise InputError("<budget>", f"must be finite and >= 0, got {budget!r}")
    return _as_costs(costs, n), b


def _fits(spent: float, cost: float, budget: float) -> bool:
    return spent + cost <= budget * (1.0 + _BUDGET_RTOL)


# -- objective ------------------------------------------------------------------------------
def _covered_weight(A: sp.csr_array, w: np.ndarray, chosen: np.ndarray) -> float:
    if len(chosen) == 0:
        return 0.0
    hit = np.zeros(A.shape[1], dtype=bool)
    hit[A[chosen].indices] = True
    return math.fsum(w[hit])
