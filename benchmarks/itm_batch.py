"""Throughput of the ITM point-to-point batch API on 1,000-point terrain profiles.

Compares ``lomsong.propagation.itm.p2p_tls_batch`` (numba, all threads and one thread) and the
scalar ``p2p_tls`` with:

- the NTIA/ITS C++ reference v1.4: the anchor figure for this machine class (~130,000 calls/s,
  7.7 µs per 1,000-point path), and a measurement when ``--ntia-src`` points to a checkout of
  github.com/NTIA/itm (the script builds it with g++ -O2 and a small timing driver in a
  temporary folder, runs it on the same profiles and checks the losses agree);
- itmlogic (pure-Python port of ITM 1.2.2, PyPI ``itmlogic``) on a subset of the profiles.

Run: ``.venv/bin/python benchmarks/itm_batch.py [--paths 20000] [--ntia-src /tmp/ntia_itm]``.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

from lomsong.propagation import itm

REFERENCE_ANCHOR_CALLS_PER_S = 130_000.0  # NTIA C++ reference, 1,000-point profile
REFERENCE_ANCHOR_US = 7.7

# fixed radio parameters of every benchmark path (terminal heights vary per path)
PARAMS = {
    "climate": 5,
    "n0": 301.0,
    "f_mhz": 900.0,
    "pol": 1,
    "epsilon": 15.0,
    "sigma": 0.005,
    "mdvar": 12,
    "time": 50.0,
    "location": 50.0,
    "situation": 50.0,
}

# Timing driver for the C++ reference: reads n, width, the profile matrix and the two height
# vectors (float64), calls ITM_P2P_TLS on every path `repeat` times, prints the time per call
# and writes the losses. Parameters other than the heights are those of PARAMS.
_DRIVER = r"""
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>
extern "C" int ITM_P2P_TLS(double, double, const double*, int, double, double, int, double,
                           double, int, double, double, double, double*, long*);
int main(int argc, char** argv) {
    FILE* f = std::fopen(argv[1], "rb");
    long long n, w;
    if (std::fread(&n, 8, 1, f) != 1 || std::fread(&w, 8, 1, f) != 1) return 2;
    std::vector<double> pfl(n * w), htx(n), hrx(n), loss(n);
    if (std::fread(pfl.data(), 8, n * w, f) != (size_t)(n * w)) return 2;
    if (std::fread(htx.data(), 8, n, f) != (size_t)n) return 2;
    if (std::fread(hrx.data(), 8, n, f) != (size_t)n) return 2;
    std::fclose(f);
    int repeat = std::atoi(argv[3]);
    long warn;
    auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < repeat; r++)
        for (long long k = 0; k < n; k++)
            ITM_P2P_TLS(htx[k], hrx[k], &pfl[k * w], 5, 301.0, 900.0, 1, 15.0, 0.005, 12,
                        50.0, 50.0, 50.0, &loss[k], &warn);
    auto t1 = std::chrono::steady_clock::now();
    double s = std::chrono::duration<double>(t1 - t0).count();
    std::printf("%.6f\n", s / (double)(n * repeat));
    FILE* o = std::fopen(argv[2], "wb");
    std::fwrite(loss.data(), 8, n, o);
    std::fclose(o);
    return 0;
}
"""


def make_profiles(n_paths: int, n_points: int, seed: int) -> np.ndarray:
    """Synthetic hilly 1,000-point profiles (30 m spacing, ~30 km): rows in PFL format."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0.0, 1.0, n_points)
    out = np.empty((n_paths, n_points + 2))
    out[:, 0] = n_points - 1
    out[:, 1] = 30.0
    k = np.arange(1, 25)
    for i in range(n_paths):
        amp = rng.normal(size=k.size) / k**1.1
        ph = rng.uniform(0, 2 * np.pi, k.size)
        z = (amp[:, None] * np.sin(np.pi * k[:, None] * x[None, :] + ph[:, None])).sum(0)
        out[i, 2:] = rng.uniform(0, 300) + rng.uniform(20, 200) * (z - z.min())
    return out


def time_call(fn, repeat: int) -> float:  # noqa: ANN001 - any zero-argument callable
    """Best wall time of ``repeat`` runs, s."""
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def run_reference(src: Path, pfls: np.ndarray, htx: np.ndarray, hrx: np.ndarray) -> tuple:
    """Build the NTIA reference + driver in a temporary folder; returns (s/call, losses)."""
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        inc = tmpd / "include"
        shutil.copytree(src / "include", inc)
        itm_h = inc / "itm.h"
        itm_h.write_text(itm_h.read_text().replace("__declspec(dllexport)", ""))
        sources = []
        for cpp in sorted((src / "src").glob("*.cpp")):
            dst = tmpd / cpp.name
            dst.write_text(cpp.read_text().replace("..\\include\\", "include/"))
            sources.append(str(dst))
        (tmpd / "driver.cpp").write_text(_DRIVER)
        exe = tmpd / "itm_bench"
        subprocess.run(
            ["g++", "-O2", "-o", str(exe), str(tmpd / "driver.cpp"), *sources],
            check=True,
            capture_output=True,
        )
        data = tmpd / "in.bin"
        with data.open("wb") as fh:
            np.array(pfls.shape, dtype=np.int64).tofile(fh)
            np.ascontiguousarray(pfls).tofile(fh)
            htx.tofile(fh)
            hrx.tofile(fh)
        out = tmpd / "out.bin"
        res = subprocess.run(
            [str(exe), str(data), str(out), "3"], check=True, capture_output=True, text=True
        )
        return float(res.stdout.strip()), np.fromfile(out, dtype=np.float64)


def itmlogic_loss(pfl: np.ndarray, h_tx: float, h_rx: float) -> float:
    """One itmlogic point-to-point call with the PARAMS radio parameters."""
    from itmlogic.preparatory_subroutines.qlrpfl import qlrpfl
    from itmlogic.statistics.avar import avar

    f = PARAMS["f_mhz"]
    prop = {
        "eps": PARAMS["epsilon"], "sgm": PARAMS["sigma"], "ipol": PARAMS["pol"], "fmhz": f,
        "hg": [h_tx, h_rx], "klim": PARAMS["climate"], "ens0": PARAMS["n0"], "lvar": 5,
        "gma": 157e-9, "kwx": 0, "klimx": 0, "mdvarx": PARAMS["mdvar"], "wn": f / 47.7,
    }  # fmt: skip
    pl = pfl.tolist()
    pl[0] = int(pl[0])
    prop["pfl"] = pl
    n = int(pfl[0])
    p10 = int(0.1 * n)
    zsys = float(np.mean(pfl[2 + p10 : n - p10 + 3]))  # mean height, as the reference does
    prop["ens"] = prop["ens0"] * math.exp(-zsys / 9460.0)
    prop["gme"] = prop["gma"] * (1 - 0.04665 * math.exp(prop["ens"] / 179.3))
    zq = complex(prop["eps"], 376.62 * prop["sgm"] / prop["wn"])
    prop["zgnd"] = np.sqrt(zq - 1)
    if prop["ipol"]:
        prop["zgnd"] = prop["zgnd"] / zq
    prop = qlrpfl(prop)
    fs = 8.685890 * math.log(2 * prop["wn"] * prop["dist"])
    a, prop = avar(0.0, 0.0, 0.0, prop)  # median time / location / situation
    return fs + a


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--paths", type=int, default=20_000, help="profiles in the batch")
    ap.add_argument("--points", type=int, default=1_000, help="points per profile")
    ap.add_argument("--itmlogic-paths", type=int, default=200, help="profiles for itmlogic")
    ap.add_argument("--scalar-paths", type=int, default=2_000, help="profiles for p2p_tls loop")
    ap.add_argument("--repeat", type=int, default=3, help="timing repeats (best is kept)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ntia-src", type=Path, default=None, help="checkout of NTIA/itm to build")
    args = ap.parse_args(argv)

    pfls = make_profiles(args.paths, args.points, args.seed)
    rng = np.random.default_rng(args.seed + 1)
    htx = np.round(rng.uniform(10, 60, args.paths), 1)
    hrx = np.round(rng.uniform(1.5, 10, args.paths), 1)
    rows: list[tuple[str, int, float]] = []  # (label, paths, seconds)

    def batch() -> itm.BatchResult:
        return itm.p2p_tls_batch(pfls, h_tx_m=htx, h_rx_m=hrx, **PARAMS)

    batch()  # compile / load the numba cache outside the timing
    threads = numba.get_num_threads()
    rows.append(
        (f"lomsong p2p_tls_batch ({threads} threads)", args.paths, time_call(batch, args.repeat))
    )
    numba.set_num_threads(1)
    rows.append(("lomsong p2p_tls_batch (1 thread)", args.paths, time_call(batch, args.repeat)))
    numba.set_num_threads(threads)
    mine = batch()

    ns = min(args.scalar_paths, args.paths)

    def scalar() -> None:
        for k in range(ns):
            itm.p2p_tls(pfls[k], h_tx_m=htx[k], h_rx_m=hrx[k], **PARAMS)

    rows.append(("lomsong p2p_tls (Python loop)", ns, time_call(scalar, args.repeat)))

    ref_note = ""
    if args.ntia_src is not None:
        s_per_call, ref_loss = run_reference(args.ntia_src, pfls, htx, hrx)
        rows.append(("NTIA C++ v1.4, g++ -O2 (measured)", args.paths, s_per_call * args.paths))
        diff = np.nanmax(np.abs(ref_loss - mine.loss_db))
        ref_note = f"max |lomsong - NTIA C++| over {args.paths} paths: {diff:.2e} dB"

    try:
        import itmlogic  # noqa: F401
    except ImportError:
        logic_note = "itmlogic not installed"
    else:
        nl = min(args.itmlogic_paths, args.paths)
        t0 = time.perf_counter()
        logic = np.array([itmlogic_loss(pfls[k], htx[k], hrx[k]) for k in range(nl)])
        rows.append(("itmlogic 1.2 (pure Python, ITM 1.2.2)", nl, time.perf_counter() - t0))
        d = np.abs(logic - mine.loss_db[:nl])
        logic_note = f"itmlogic vs lomsong (ITM 1.2.2 vs 1.4): median |diff| {np.median(d):.2f} dB"

    print(f"ITM point-to-point, {args.points}-point profiles, {os.cpu_count()} CPUs")
    print(
        f"{'implementation':44s} {'paths':>7s} {'paths/s':>11s} {'µs/path':>9s} {'vs anchor':>9s}"
    )
    print(
        f"{'NTIA C++ reference (anchor figure)':44s} {'':>7s} "
        f"{REFERENCE_ANCHOR_CALLS_PER_S:11,.0f} {REFERENCE_ANCHOR_US:9.2f} {1.0:8.2f}x"
    )
    for label, n, secs in rows:
        us = secs / n * 1e6
        print(f"{label:44s} {n:7d} {n / secs:11,.0f} {us:9.2f} {REFERENCE_ANCHOR_US / us:8.2f}x")
    if ref_note:
        print(ref_note)
    print(logic_note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
