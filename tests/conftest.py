"""Shared fixtures: small hand-built worlds whose right answers are obvious."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from affine import Affine
from shapely.geometry import box

from lomsong.grid import Grid

CRS = "EPSG:32649"
X0, Y0 = 500_000.0, 1_700_000.0  # upper-left corner of the test grids (UTM 49N, Quảng Ngãi)
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def require(condition: object, reason: str) -> None:
    """Skip the test when ``condition`` is false, saying why — but in CI (``CI=true``) fail.

    For what an install step provides (``../shared/data``, Chromium, the npm assets, the dev
    extras): on a developer's machine a missing piece skips, in CI it must not hide.
    """
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require_module(name: str, reason: str | None = None) -> ModuleType:
    """``pytest.importorskip`` that fails in CI (see :func:`require`)."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        require(False, reason or f"cannot import {name}: {exc}")
        raise  # unreachable: require skipped or failed


def make_grid(data: np.ndarray, res: float = 100.0) -> Grid:
    return Grid(np.asarray(data, dtype=np.float32), Affine(res, 0, X0, 0, -res, Y0), CRS)


def make_towers(xy, **columns) -> gpd.GeoDataFrame:
    n = len(xy)
    base = {
        "tower_id": [f"T{i + 1}" for i in range(n)],
        "site_id": [f"S{i + 1}" for i in range(n)],
        "operator": ["Viettel"] * n,
        "tech": ["2G"] * n,
        "freq_mhz": [900.0] * n,
        "height_m": [30.0] * n,
        "eirp_dbm": [55.0] * n,
        "azimuth_deg": [np.nan] * n,
        "beamwidth_deg": [65.0] * n,
        "tilt_deg": [0.0] * n,
    }
    base.update(columns)
    x, y = zip(*xy, strict=True)
    return gpd.GeoDataFrame(base, geometry=gpd.points_from_xy(x, y), crs=CRS)


def make_villages(boxes, households, names=None) -> gpd.GeoDataFrame:
    n = len(boxes)
    return gpd.GeoDataFrame(
        {
            "village_id": [f"V{i + 1}" for i in range(n)],
            "name": names or [f"Thôn {i + 1}" for i in range(n)],
            "commune": ["Ba Bích"] * n,
            "district": ["Ba Tơ"] * n,
            "households": households,
        },
        geometry=[box(*b) for b in boxes],
        crs=CRS,
    )


def _points_csv(points: gpd.GeoDataFrame, path: Path) -> None:
    """A tower/candidate table as users give it: WGS84 ``lon``/``lat`` columns, no geometry."""
    ll = points.geometry.to_crs("EPSG:4326")
    table = pd.DataFrame(points.drop(columns=points.geometry.name))
    table["lon"], table["lat"] = ll.x.round(7).to_numpy(), ll.y.round(7).to_numpy()
    table.to_csv(path, index=False, na_rep="")


def write_project(
    folder: Path,
    villages: gpd.GeoDataFrame,
    towers: gpd.GeoDataFrame,
    *,
    households: gpd.GeoDataFrame | None = None,
    candidates: gpd.GeoDataFrame | None = None,
    sites: int = 3,
    method: str = "greedy",
    max_radius_km: float = 10.0,
    location_probability: float | None = None,
) -> Path:
    """A tiny terrain-free project (Hata suburban) from hand-built layers; returns its TOML.

    ``candidates`` with zero rows is written as a header-only CSV; None means ``"auto"``.
    ``location_probability`` 0.5 judges at the median (one coverage radius, no weak class).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    villages.to_file(folder / "villages.gpkg", layer="villages", driver="GPKG")
    _points_csv(towers, folder / "towers.csv")
    lines = ["[inputs]", 'villages = "villages.gpkg"', 'towers = "towers.csv"']
    if households is not None:
        households.to_file(folder / "households.gpkg", layer="households", driver="GPKG")
        lines.append('households = "households.gpkg"')
    if candidates is not None:
        _points_csv(candidates, folder / "candidates.csv")
        lines.append('candidates = "candidates.csv"')
    lines += [
        "[model]", 'name = "hata"', 'environment = "suburban"', f"max_radius_km = {max_radius_km}",
        "[siting]", f"sites = {sites}", f'method = "{method}"',
        "[output]", 'lang = "en"',
    ]  # fmt: skip
    if location_probability is not None:
        lines += ["[coverage]", f"location_probability = {location_probability}"]
    (folder / "project.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder / "project.toml"


@pytest.fixture
def flat_grid() -> Grid:
    """30 × 30 km of flat ground at 10 m, 100 m cells."""
    return make_grid(np.full((300, 300), 10.0))


@pytest.fixture
def shared_data() -> Path:
    require(SHARED_DATA.exists(), f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA
