"""The demo province: generate it from a seed and write it as a lomsong project.

:func:`generate_demo` lays out the frame (coastline, island, grid), then runs the stages --
terrain (:mod:`~lomsong.demo.terrain`), villages and households
(:mod:`~lomsong.demo.settlements`), towers (:mod:`~lomsong.demo.network`) -- each on its own
random stream spawned from the seed; :func:`write_demo` writes the four layers and a
``project.toml``.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS, Transformer

from lomsong.demo.frame import DEMO_CRS, ORIGIN_LONLAT, VARIANTS, Coast, Frame, Island
from lomsong.demo.network import make_towers, tower_sites
from lomsong.demo.settlements import (
    admin,
    household_points,
    households_per_village,
    village_centres,
    village_polygons,
)
from lomsong.demo.terrain import make_rivers, make_terrain
from lomsong.grid import Grid

__all__ = ["DemoProvince", "generate_demo", "write_demo"]

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# result
# ---------------------------------------------------------------------------------------------
@dataclass
class DemoProvince:
    """The demo province's four input layers, in the project CRS (EPSG:32649).

    Attributes
    ----------
    villages
        ``village_id, name, commune, district, households, kind`` and Polygon/MultiPolygon
        geometry; ``kind`` is one of town, plain, coastal, foothill, mountain, island.
    towers
        One row per radiating unit: ``tower_id, site_id, operator, tech, freq_mhz, height_m,
        eirp_dbm, azimuth_deg`` (NaN = omni), ``beamwidth_deg, tilt_deg`` and Point geometry.
    households
        Points with an integer ``households`` weight and the ``village_id`` they belong to.
    terrain
        float32 elevation (m above sea level); sea cells are exactly 0.
    seed
        The seed the province was generated from.
    crs
        EPSG:32649 (UTM zone 49N).
    """

    villages: gpd.GeoDataFrame
    towers: gpd.GeoDataFrame
    households: gpd.GeoDataFrame
    terrain: Grid
    seed: int
    crs: CRS


# ---------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------
def generate_demo(
    *, seed: int = 2023, reduced: bool = False, variant: str | None = None
) -> DemoProvince:
    """Generate the demo province deterministically from ``seed``.

    Parameters
    ----------
    seed
        Seed of every random draw: the same seed gives identical layers, another seed another
        province of the same kind.
    reduced
        A small, fast variant for tests (16 × 12 km of land at 90 m, an island 9 km offshore,
        ~30 villages, ~10 towers) instead of the full one (36 × 40 km of land at 30 m, an island
        23.5 km offshore, ≥ 150 villages, ≥ 40 towers, 56,000-64,000 households).
    variant
        "full", "reduced" or "province" (≈ 5,150 km² of land, for benchmarks); overrides
        ``reduced``.

    Returns
    -------
    DemoProvince
        Villages, towers, households and terrain in EPSG:32649.

    Notes
    -----
    The full province takes a few seconds and ~1 GB of transient memory (float64 fields of
    ~3 million cells); the reduced one well under a second.
    """
    t0 = time.perf_counter()
    name = variant or ("reduced" if reduced else "full")
    if name not in VARIANTS:
        raise ValueError(f"variant {name!r} is not one of {', '.join(VARIANTS)}")
    p = VARIANTS[name]
    # one independent stream per stage, so that tuning one stage leaves the others unchanged
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)]

    x, y = Transformer.from_crs(4326, DEMO_CRS, always_xy=True).transform(*ORIGIN_LONLAT)
    x0, y0 = math.floor(x / 1_000.0) * 1_000.0, math.floor(y / 1_000.0) * 1_000.0
    coast = Coast(rngs[0], p)
    island = Island(rngs[0], p, coast)
    nx = math.ceil((island.cu + 1.4 * island.r0 + 2_000.0) / p.res)
    ny = round(p.height / p.res)
    frame = Frame(p, x0, y0, nx, ny, coast, island)

    rivers = make_rivers(rngs[1], frame)
    elev, fields = make_terrain(rngs[2], frame, rivers)
    terrain = Grid(elev, frame.transform, DEMO_CRS)

    vil = village_centres(rngs[3], frame, elev, fields, rivers)
    vil = admin(rngs[4], frame, vil)
    vil["households"] = households_per_village(rngs[5], p, vil["kind"].to_numpy())
    order = np.lexsort((-vil["v"].to_numpy(), vil["commune"].to_numpy(),
                        vil["district"].to_numpy()))  # fmt: skip
    vil = vil.iloc[order].reset_index(drop=True)
    vil["village_id"] = [f"V{i + 1:03d}" for i in range(len(vil))]
    villages = gpd.GeoDataFrame(vil, geometry=village_polygons(frame, vil), crs=DEMO_CRS)

    households = household_points(rngs[6], frame, villages, elev, fields)
    sites = tower_sites(rngs[7], frame, elev, vil, rivers)
    towers = make_towers(rngs[7], frame, sites)

    villages = villages[
        ["village_id", "name", "commune", "district", "households", "kind", "geometry"]
    ]
    logger.info(
        "demo province (seed %d%s): %d × %d cells, %d villages, %d households, %d towers, %.1f s",
        seed, "" if name == "full" else f", {name}", ny, nx, len(villages),
        int(villages["households"].sum()), len(towers), time.perf_counter() - t0,
    )  # fmt: skip
    return DemoProvince(villages, towers, households, terrain, seed, DEMO_CRS)


def _project_toml(seed: int, reduced: bool) -> str:
    what = f"seed {seed}, reduced" if reduced else f"seed {seed}"
    return f"""\
# lomsong demo province — generated by lomsong.demo ({what})
[inputs]
villages = "villages.gpkg"
towers = "towers.csv"
terrain = ["terrain.tif"]
households = "households.gpkg"
candidates = "auto"

[model]
name = "itm"
environment = "suburban"
rx_height_m = 1.5
max_radius_km = {15 if reduced else 30}

[siting]
sites = {5 if reduced else 10}
method = "greedy"

[output]
dir = "../rerun"
lang = "vi"
"""


def write_demo(directory: str | PathLike[str], *, seed: int = 2023, reduced: bool = False) -> Path:
    """Generate the demo province and write it as a lomsong project.

    Writes ``villages.gpkg`` (layer "villages"), ``households.gpkg`` (layer "households"),
    ``towers.csv`` (WGS84 ``lon``/``lat`` with 6 decimals, empty ``azimuth_deg`` for omni),
    ``terrain.tif`` and ``project.toml`` into ``directory`` (created if needed).

    Returns
    -------
    Path
        The path of ``project.toml``.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    demo = generate_demo(seed=seed, reduced=reduced)

    demo.villages.to_file(out / "villages.gpkg", layer="villages", driver="GPKG")
    demo.households.to_file(out / "households.gpkg", layer="households", driver="GPKG")

    towers = demo.towers
    ll = towers.geometry.to_crs(4326)
    table = pd.DataFrame(towers.drop(columns="geometry"))
    table["lon"] = [f"{v:.6f}" for v in ll.x]
    table["lat"] = [f"{v:.6f}" for v in ll.y]
    table["freq_mhz"] = table["freq_mhz"].round().astype(int)
    table.to_csv(out / "towers.csv", index=False, na_rep="")

    demo.terrain.to_file(out / "terrain.tif")
    path = out / "project.toml"
    path.write_text(_project_toml(seed, reduced), encoding="utf-8")
    return path
