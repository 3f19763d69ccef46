"""A cold start that does not compile or import what it does not use (issue 18).

The warm-up (``python -m lomsong.warmup``, run by ``make install``) runs, and compiles every
kernel once: a second signature (a literal argument, an int where a float is passed elsewhere,
a defaulted argument left out at one call site) would be a second compile of that kernel on
every fresh install. ``import lomsong`` imports no stage until one is used.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from lomsong.warmup import GROUPS, warm_up

#: Kernels that take ints and floats by design (ITM's min/max helpers, called on indices and on
#: heights): two small signatures each.
TWO_TYPES = {"lomsong.propagation._itm_core._mn", "lomsong.propagation._itm_core._mx"}

# In a fresh process with an empty numba cache: run every group, recording each compile
# (kernel, argument types); numba compiles a kernel once per signature it is typed with.
_CHILD = """
import json
from numba.core import event
from lomsong.warmup import warm_up
seen = []
class Compiles(event.Listener):
    def on_start(self, e):
        f = e.data["dispatcher"].py_func
        seen.append([f"{f.__module__}.{f.__qualname__}", str(e.data["args"])])
    def on_end(self, e):
        pass
event.register("numba:compile", Compiles())
warm_up(processes=1)
print(json.dumps(seen))
"""


@pytest.mark.slow
def test_every_kernel_the_warm_up_compiles_is_compiled_once(tmp_path) -> None:
    # the whole one-time compile (~1-3 min on 2 cores), into a cache of its own
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True,
                          check=False, timeout=1800, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    compiles: dict[str, list[str]] = {}
    for name, args in json.loads(done.stdout.strip().splitlines()[-1]):
        if name.startswith("lomsong."):  # (numba's own overloads: np.empty, min, …)
            compiles.setdefault(name, []).append(args)
    # the run's kernels are all there: the ITM raster, ITM point to point, the Hata rays,
    # backhaul, terrain
    for name in ("lomsong.propagation.itm_raster._itm_rays",
                 "lomsong.propagation._itm_cell.cells_loss",
                 "lomsong.propagation._itm_core._p2p_loss", "lomsong.propagation.paths._rays",
                 "lomsong.siting.backhaul._min_clearance_pairs",
                 "lomsong.layers.terrain._resample_rows"):  # fmt: skip
        assert name in compiles, f"{name} was not compiled by the warm-up"
    twice = {k: v for k, v in compiles.items() if len(v) > (2 if k in TWO_TYPES else 1)}
    assert not twice, f"kernels compiled more than once: {json.dumps(twice, indent=1)}"


def test_unknown_groups_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown warm-up group"):
        warm_up(groups=["nope"])
    assert list(GROUPS) == ["itm", "points"]  # the longest first


def test_importing_the_package_loads_no_stage_until_used() -> None:
    # `import lomsong` (and so every `import lomsong.<module>`) must not import every stage:
    # pandas, numba, dask… cost ~1 s of a cold start; the public names still resolve
    code = ("import sys, lomsong; heavy = [m for m in ('pandas', 'numba', 'dask', 'folium', "
            "'scipy', 'rasterio') if m in sys.modules]; assert not heavy, heavy; "
            "from lomsong import read_terrain, predict; import lomsong as ls; "
            "assert all(getattr(ls, n) is not None for n in ls.__all__); "
            "assert ls.read_terrain is read_terrain")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
