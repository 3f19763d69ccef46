"""Speed and memory of the site-ranking core (``lomsong.siting.mclp``), cross-checked with spopt.

Two spatial instances are built from a seed (no data files):

- a province: 100 km × 100 km, household cells clustered in villages (Gaussian clusters of
  0.3–1.5 km), 1 + Poisson(3) households per cell, candidate sites uniform over the area; a
  candidate covers the cells within one radius, calibrated so that the coverage matrix has the
  requested density (≈ 1 %: a ≈ 5.7 km radius). Default 20,000 candidates × 200,000 cells,
  20 sites. Goals (issue 5): greedy ≤ 5 s; exact ≤ 60 s (the whole call) with its gap reported
  (0 when proven optimal), and its peak memory. At this size ``exact`` takes its Lagrangian
  path (bound by subgradient optimisation, MILP restricted to the promising candidates): the
  full MILP is far above ``lomsong.siting.mclp.milp._LAGRANGIAN_NNZ``.
- a smaller instance built the same way (default 500 × 5,000, 10 sites) on which spopt's
  ``MCLP`` (PuLP + CBC) runs side by side with lomsong's exact and greedy.

Each measured step runs in its own child process that loads the saved matrix, so the peak
resident memory (VmHWM, else ``ru_maxrss``) of a step is its own; the "after load" figure is
the floor (interpreter, libraries and the matrix). ``heap peak`` is tracemalloc's peak of
Python/numpy allocations during a second, traced greedy run (HiGHS's C++ memory is not seen by
tracemalloc).

Run: ``.venv/bin/python benchmarks/siting.py [--quick]`` (``--quick``: 4,000 × 40,000 and
200 × 2,000, exact limited to 20 s).
"""

from __future__ import annotations

import argparse
import logging
import math
import multiprocessing as mp
import resource
import sys
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

GREEDY_GOAL_S = 5.0
EXACT_GOAL_S = 60.0
SIDE_M = 100_000.0  # province side (m)


# -- instance -------------------------------------------------------------------------------
def build_instance(
    n_cand: int, n_dem: int, density: float, seed: int
) -> tuple[sp.csr_array, np.ndarray, float]:
    """Coverage matrix (candidates × household cells), households per cell, coverage radius (m).

    The radius starts at the value a uniform layout would need (π r² = density × area) and is
    rescaled three times on a sample of 400 candidates, since clustering and the border change
    how many cells a disc catches.
    """
    rng = np.random.default_rng(seed)
    n_vil = max(1, n_dem // 400)
    centres = rng.uniform(0.0, SIDE_M, (n_vil, 2))
    spread = rng.uniform(300.0, 1500.0, n_vil)
    village = rng.integers(0, n_vil, n_dem)
    cells = centres[village] + rng.normal(size=(n_dem, 2)) * spread[village, None]
    cells = np.clip(cells, 0.0, SIDE_M)
    households = (rng.poisson(3.0, n_dem) + 1).astype(np.float64)
    sites = rng.uniform(0.0, SIDE_M, (n_cand, 2))
    tree = cKDTree(cells)
    radius = SIDE_M * math.sqrt(density / math.pi)
    sample = sites[rng.choice(n_cand, min(n_cand, 400), replace=False)]
    for _ in range(3):
        got = tree.query_ball_point(sample, radius, return_length=True).mean() / n_dem
        radius *= math.sqrt(density / max(got, 1e-12))
    lengths = np.zeros(n_cand + 1, dtype=np.int64)
    parts = []
    for s in range(0, n_cand, 1000):  # chunks keep the Python index lists small
        found = tree.query_ball_point(sites[s : s + 1000], radius, return_sorted=True)
        lengths[s + 1 : s + 1 + len(found)] = [len(f) for f in found]
        parts.append(np.concatenate([np.asarray(f, dtype=np.int32) for f in found]))
    indptr = np.cumsum(lengths)
    indices = np.concatenate(parts)
    cover = sp.csr_array(
        (np.ones(len(indices), dtype=bool), indices, indptr), shape=(n_cand, n_dem)
    )
    return cover, households, radius


def save_instance(path: Path, cover: sp.csr_array, w: np.ndarray) -> None:
    np.savez(path, indptr=cover.indptr, indices=cover.indices, shape=cover.shape, w=w)


def load_instance(path: Path) -> tuple[sp.csr_array, np.ndarray]:
    z = np.load(path)
    n = z["indices"].shape[0]
    cover = sp.csr_array((np.ones(n, dtype=bool), z["indices"], z["indptr"]), shape=z["shape"])
    return cover, z["w"]


# -- steps, each run in a child process -----------------------------------------------------
def _rss_mb() -> float:
    """Peak resident memory of this process (MB). Linux's VmHWM belongs to the process image,
    whereas ru_maxrss survives fork + exec and would report the parent's peak in a child."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _step(kind: str, path: str, k: int, time_limit: float, out: Any) -> None:
    warnings.simplefilter("ignore", DeprecationWarning)  # PuLP 3.3's notices about PuLP 4.0
    from lomsong.siting import rank

    cover, w = load_instance(Path(path))
    base = _rss_mb()
    events: list[tuple[float, str]] = []
    t0 = time.perf_counter()

    class _Timeline(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            events.append((time.perf_counter() - t0, record.getMessage()))

    log = logging.getLogger("lomsong.siting.mclp")
    log.addHandler(_Timeline())
    log.setLevel(logging.DEBUG)
    res: dict[str, Any] = {"kind": kind, "rss_load_mb": base}
    if kind == "greedy":
        t = time.perf_counter()
        g = rank.greedy(cover, w, k)
        res.update(time_s=time.perf_counter() - t, objective=g.objective, chosen=g.chosen)
        res["rss_mb"] = _rss_mb()
        tracemalloc.start()
        rank.greedy(cover, w, k)
        res["heap_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    elif kind == "exact":
        t = time.perf_counter()
        s = rank.exact(cover, w, k, time_limit_s=time_limit)
        res.update(
            time_s=time.perf_counter() - t,
            objective=s.objective,
            status=s.status,
            gap=s.gap,
            bound=s.bound,
            highs_s=s.time_s,
            classes=s.n_cols,
            greedy_objective=s.greedy_objective,
            extra=s.extra,
            rss_mb=_rss_mb(),
        )
    elif kind == "spopt":
        import pulp
        from spopt.locate import MCLP

        t = time.perf_counter()
        cost = np.where(cover.toarray().T, 0.0, 1.0)  # spopt wants a dense client × site cost
        model = MCLP.from_cost_matrix(cost, w, service_radius=0.5, p_facilities=k)
        t_build = time.perf_counter() - t
        model.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit), results=False)
        chosen = [i for i, x in enumerate(model.fac_vars) if x.value() > 0.5]
        res.update(
            time_s=time.perf_counter() - t,
            build_s=t_build,
            objective=float(pulp.value(model.problem.objective)),
            status=pulp.LpStatus[model.problem.status],
            chosen=np.asarray(chosen),
            rss_mb=_rss_mb(),
        )
    res["timeline"] = events
    out.put(res)


def run_step(kind: str, path: Path, k: int, time_limit: float) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_step, args=(kind, str(path), k, time_limit, q))
    p.start()
    res = q.get()
    p.join()
    return res


# -- report ---------------------------------------------------------------------------------
def _row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(
        c.rjust(wd) if i else c.ljust(wd)
        for i, (c, wd) in enumerate(zip(cells, widths, strict=True))
    )


def print_table(rows: list[list[str]]) -> None:
    head = ["instance", "method", "time s", "objective", "share", "status", "gap", "RSS MB", "goal"]
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    print(_row(head, widths))
    print(_row(["-" * wd for wd in widths], widths))
    for r in rows:
        print(_row(r, widths))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, 20 s exact limit")
    ap.add_argument("--candidates", type=int, default=20_000)
    ap.add_argument("--demand", type=int, default=200_000)
    ap.add_argument("--sites", type=int, default=20)
    ap.add_argument("--density", type=float, default=0.01)
    ap.add_argument(
        "--time-limit", type=float, default=60.0, help="exact: limit of the whole call (s)"
    )
    ap.add_argument("--spopt-candidates", type=int, default=500)
    ap.add_argument("--spopt-demand", type=int, default=5_000)
    ap.add_argument("--spopt-sites", type=int, default=10)
    ap.add_argument("--no-exact", action="store_true", help="skip exact on the large instance")
    ap.add_argument("--no-spopt", action="store_true", help="skip the spopt comparison")
    ap.add_argument("--seed", type=int, default=20261125)
    a = ap.parse_args(argv)
    if a.quick:
        a.candidates, a.demand, a.time_limit = 4_000, 40_000, 20.0
        a.spopt_candidates, a.spopt_demand = 200, 2_000

    rows: list[list[str]] = []
    timelines: list[tuple[str, list[tuple[float, str]]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        # large instance
        t = time.perf_counter()
        cover, w, radius = build_instance(a.candidates, a.demand, a.density, a.seed)
        big = Path(tmp) / "big.npz"
        save_instance(big, cover, w)
        name = f"{a.candidates}x{a.demand}"
        total = float(w.sum())
        print(
            f"{name}: spatial (clustered cells, uniform sites), radius {radius:.0f} m, "
            f"nnz {cover.nnz:,}, density {cover.nnz / (cover.shape[0] * cover.shape[1]):.4%}, "
            f"{total:,.0f} households, k = {a.sites}; built in {time.perf_counter() - t:.1f} s"
        )
        del cover
        g = run_step("greedy", big, a.sites, a.time_limit)
        rows.append(
            [name, "lomsong greedy", f"{g['time_s']:.2f}", f"{g['objective']:,.0f}",
             f"{g['objective'] / total:.4f}", "-", "-", f"{g['rss_mb']:.0f}",
             "ok" if g["time_s"] <= GREEDY_GOAL_S else f"MISS (> {GREEDY_GOAL_S:g} s)"]
        )  # fmt: skip
        print(
            f"  greedy: RSS after load {g['rss_load_mb']:.0f} MB, peak {g['rss_mb']:.0f} MB; "
            f"traced numpy/Python heap peak {g['heap_mb']:.0f} MB"
        )
        if not a.no_exact:
            e = run_step("exact", big, a.sites, a.time_limit)
            ok = e["time_s"] <= EXACT_GOAL_S and math.isfinite(e["gap"])
            rows.append(
                [name, "lomsong exact", f"{e['time_s']:.2f}", f"{e['objective']:,.0f}",
                 f"{e['objective'] / total:.4f}", e["status"], f"{e['gap']:.4g}",
                 f"{e['rss_mb']:.0f}", "ok" if ok else f"MISS (> {EXACT_GOAL_S:g} s or no gap)"]
            )  # fmt: skip
            x = e["extra"]
            print(
                f"  exact: {x.get('method', '?')} path, solver {e['highs_s']:.1f} s of "
                f"{e['time_s']:.1f} s, {e['classes']:,} demand classes after reduction, "
                f"bound {e['bound']:,.0f}, gap {e['gap']:.4g}, "
                f"greedy/exact {e['greedy_objective'] / max(e['objective'], 1e-300):.4f}; "
                f"peak RSS {e['rss_mb']:.0f} MB (after load {e['rss_load_mb']:.0f} MB)"
            )
            if x.get("method") == "lagrangian":
                print(
                    f"  lagrangian: {x['nnz']:,} non-zeros, bound {x['lagrangian_bound']:,.0f} "
                    f"after {x['lagrangian_iterations']} iterations in {x['lagrangian_s']:.1f} s"
                )
                for r in x.get("restricted", []):
                    print(
                        f"  restricted MILP: {r['pool']} candidates "
                        f"({'all that can beat the incumbent' if r['pool_complete'] else 'top'}), "
                        f"{r['cols']:,} classes, {r['nnz']:,} non-zeros: {r['status']} "
                        f"in {r['time_s']:.2f} s"
                    )
            timelines.append((f"{name} exact", e["timeline"]))

        # small instance, side by side with spopt
        cover, w, radius = build_instance(a.spopt_candidates, a.spopt_demand, a.density, a.seed)
        small = Path(tmp) / "small.npz"
        save_instance(small, cover, w)
        name = f"{a.spopt_candidates}x{a.spopt_demand}"
        total = float(w.sum())
        print(
            f"{name}: same generator, radius {radius:.0f} m, nnz {cover.nnz:,}, "
            f"density {cover.nnz / (cover.shape[0] * cover.shape[1]):.4%}, k = {a.spopt_sites}"
        )
        res = {kind: run_step(kind, small, a.spopt_sites, a.time_limit)
               for kind in ("greedy", "exact") + (() if a.no_spopt else ("spopt",))}  # fmt: skip
        for kind, label in (("greedy", "lomsong greedy"), ("exact", "lomsong exact"),
                            ("spopt", "spopt MCLP (CBC)")):  # fmt: skip
            if kind not in res:
                continue
            r = res[kind]
            rows.append(
                [name, label, f"{r['time_s']:.2f}", f"{r['objective']:,.0f}",
                 f"{r['objective'] / total:.4f}", r.get("status", "-"),
                 f"{r['gap']:.3g}" if "gap" in r else "-", f"{r['rss_mb']:.0f}", ""]
            )  # fmt: skip
    print()
    print_table(rows)
    if "spopt" in res:
        ex, sp_ = res["exact"], res["spopt"]
        rel = abs(ex["objective"] - sp_["objective"]) / max(abs(sp_["objective"]), 1e-300)
        print(
            f"\nspopt / lomsong exact time: {sp_['time_s'] / ex['time_s']:.1f}x "
            f"(spopt model building {sp_['build_s']:.2f} s, "
            f"CBC {sp_['time_s'] - sp_['build_s']:.2f} s); "
            f"objectives {'EQUAL' if rel <= 1e-6 else 'DIFFER'} (rel. diff {rel:.2g}); "
            f"greedy/optimal {res['greedy']['objective'] / sp_['objective']:.4f}"
        )
    for label, events in timelines:
        print(f"\ntimeline of {label} (s since the call):")
        for ts, msg in events:
            print(f"  {ts:7.2f}  {msg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
