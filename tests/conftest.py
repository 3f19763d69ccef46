"""Shared fixtures: small hand-built worlds whose right answers are obvious."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from shapely.geometry import box

from lomsong.grid import Grid

CRS = "EPSG:32649"
X0, Y0 = 500_000.0, 1_700_000.0  # upper-left corner of the test grids (UTM 49N, Quảng Ngãi)
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


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


@pytest.fixture
def flat_grid() -> Grid:
    """30 × 30 km of flat ground at 10 m, 100 m cells."""
    return make_grid(np.full((300, 300), 10.0))


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA
