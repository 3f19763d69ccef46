"""The maximal covering optimisation core: one module per model, on a coverage matrix alone.

The models work on a sparse *coverage matrix* and need no geometry:

``cover``
    scipy.sparse matrix (or anything :func:`scipy.sparse.coo_array` accepts), shape
    ``(n_candidates, n_demand)``; a non-zero entry ``a_ij`` means candidate site *i* would serve
    demand point *j*.
``weights``
    float array ``(n_demand,)``, households at each demand point (finite, ≥ 0).

:mod:`~lomsong.siting.mclp.greedy` (accelerated greedy MCLP, optionally with a budget),
:mod:`~lomsong.siting.mclp.connected` (the greedy when every site needs backhaul: relay sites
are chosen as part of the plan),
:mod:`~lomsong.siting.mclp.milp` (:func:`exact`: the MCLP as a MILP with HiGHS),
:mod:`~lomsong.siting.mclp.lagrangian` (an upper bound by Lagrangian relaxation),
:mod:`~lomsong.siting.mclp.set_cover` (fewest sites reaching a target share) and
:mod:`~lomsong.siting.mclp.reduce` (demand reduction); result types in
:mod:`~lomsong.siting.mclp.results`.
"""

from lomsong.siting.mclp.connected import connected_greedy
from lomsong.siting.mclp.greedy import greedy
from lomsong.siting.mclp.lagrangian import lagrangian_bound
from lomsong.siting.mclp.milp import exact
from lomsong.siting.mclp.reduce import reduce_demand
from lomsong.siting.mclp.results import GreedyResult, Solution
from lomsong.siting.mclp.set_cover import set_cover

__all__ = [
    "GreedyResult",
    "Solution",
    "greedy",
    "connected_greedy",
    "exact",
    "lagrangian_bound",
    "set_cover",
    "reduce_demand",
]
