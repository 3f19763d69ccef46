"""Candidate tower sites: from a file, or generated on hilltops and a grid near dead zones."""

from __future__ import annotations

import logging
from os import PathLike
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio.features
import shapely
from scipy import ndimage
from scipy.spatial import cKDTree

from lomsong.defaults import (
    CANDIDATE_MAST_HEIGHT_M,
    CANDIDATE_MAX_DISTANCE_KM,
    CANDIDATE_SPACING_M,
    CANDIDATE_TECH,
    TECH_DEFAULTS,
)
from lomsong.errors import InputError, Problem
from lomsong.grid import Grid
from lomsong.layers._io import given, source_label, to_number
from lomsong.layers.crs import match_crs
from lomsong.layers.towers import read_towers
from lomsong.layers.water import sea_mask

__all__ = ["candidate_sites", "read_candidates"]

logger = logging.getLogger(__name__)

CANDIDATE_COLUMNS = ["site_id", "kind", "elevation_m", "height_m", "tech", "freq_mhz",
                     "bandwidth_mhz", "eirp_dbm", "cost"]  # fmt: skip


def candidate_sites(
    terrain: Grid,
    gaps: Any,
    *,
    area: gpd.GeoDataFrame | None = None,
    max_distance_km: float = CANDIDATE_MAX_DISTANCE_KM,
    spacing_m: float = CANDIDATE_SPACING_M,
    peak_window_m: float = 900.0,
    min_prominence_m: float = 40.0,
    height_m: float = CANDIDATE_MAST_HEIGHT_M,
    tech: str = CANDIDATE_TECH,
    max_sites: int = 600,
    sea: Grid | None = None,
) -> gpd.GeoDataFrame:
    """Generate candidate sites where a new tower could serve the dead zones.

    Two kinds of site:

    - ``hilltop``: local maxima of the terrain (highest cell within ``peak_window_m``) that
      rise at least ``min_prominence_m`` above the lowest cell within twice that window, and
      lie within ``max_distance_km`` of a dead zone — high ground sees far;
    - ``grid``: a square lattice of spacing ``spacing_m`` over the dead zones themselves (the
      zone's representative point for zones smaller than a lattice cell) — a mast in the
      hamlet always serves the hamlet.

    Never in the sea (``sea``, default :func:`lomsong.layers.water.sea_mask` of the terrain:
    the ≤ 0 m region connected to the grid's edge — a delta's low fields are land), never on a
    terrain void, and never outside the area (union of the villages).

    Parameters
    ----------
    terrain
        Elevation Grid (m) in the project CRS.
    gaps
        A :class:`lomsong.coverage.deadzones.DeadZones` (``zones`` and ``villages`` are used).
    area
        Polygons sites must fall in (default ``gaps.villages``); reprojected to the terrain's
        CRS when in another, like the dead zones.
    max_sites
        Most sites returned. Sites closer than ``max(2 × resolution, 300 m)`` to one already
        kept are dropped (hilltops before grid sites). When more remain, each kind keeps a share:
        half for the grid (``max_sites // 2``), the rest for the hilltops, the share one kind
        leaves unused going to the other. Hilltops are kept highest first; grid sites dead zone
        by dead zone in turn (one site over every zone, most households first, before any zone
        gets a second), so that hundreds of hilltops never crowd out the masts over the hamlets.

    Returns
    -------
    GeoDataFrame
        ``site_id, kind, elevation_m, height_m, tech, freq_mhz, bandwidth_mhz, eirp_dbm, cost``
        and Point (the radio parameters: ``tech``'s defaults),
        hilltops first by height, then grid sites in lattice order; at most ``max_sites``.
    """
    crs = terrain.crs
    # polygons in another CRS (an area in lon/lat) are rasterised on the terrain there
    zones = match_crs(gaps.zones, crs, "<dead zones>")
    area = match_crs(gaps.villages if area is None else area, crs, "<area>")
    if len(zones) == 0:
        return _frame([], [], [], terrain, height_m=height_m, tech=tech)
    Z = np.nan_to_num(terrain.data.astype(np.float32), nan=-1.0)
    sea_grid = sea_mask(terrain) if sea is None else sea
    land_mask = ~sea_grid.data & np.isfinite(terrain.data)
    res = terrain.res
    shape = terrain.shape
    zone_mask = rasterio.features.rasterize(
        ((g, 1) for g in zones.geometry), out_shape=shape, transform=terrain.transform,
        fill=0, dtype=np.uint8,
    )  # fmt: skip
    area_mask = rasterio.features.rasterize(
        ((g, 1) for g in area.geometry if g is not None and not g.is_empty), out_shape=shape,
        transform=terrain.transform, fill=0, dtype=np.uint8,
    )  # fmt: skip
    dist_m = ndimage.distance_transform_edt(zone_mask == 0) * res
    w = max(3, int(round(peak_window_m / res)) | 1)
    peak = (ndimage.maximum_filter(Z, size=w) == Z) & land_mask
    low = ndimage.minimum_filter(Z, size=2 * w + 1)
    near = dist_m <= max_distance_km * 1000.0
    ok = peak & (Z - low >= min_prominence_m) & near & (area_mask == 1)
    rows, cols = np.nonzero(ok)
    order = np.argsort(-Z[rows, cols], kind="stable")
    rows, cols = rows[order], cols[order]
    hx, hy = terrain.xy(rows, cols)

    gx, gy = _lattice(zones, spacing_m)
    gr, gc = terrain.rowcol(gx, gy)
    inside = terrain.inside(gr, gc)
    gx, gy, gr, gc = gx[inside], gy[inside], gr[inside], gc[inside]
    land = land_mask[gr, gc] & (area_mask[gr, gc] == 1)
    gx, gy = gx[land], gy[land]

    xs, ys, kinds = _select(hx, hy, gx, gy, zones, max_sites=max_sites,
                            min_spacing_m=max(2 * res, 300.0))  # fmt: skip
    out = _frame(xs, ys, kinds, terrain, height_m=height_m, tech=tech)
    logger.info("candidates: %d hilltop and %d grid sites", (out["kind"] == "hilltop").sum(),
                (out["kind"] == "grid").sum())  # fmt: skip
    assert out.crs == crs
    return out


def _select(
    hx: np.ndarray,
    hy: np.ndarray,
    gx: np.ndarray,
    gy: np.ndarray,
    zones: gpd.GeoDataFrame,
    *,
    max_sites: int,
    min_spacing_m: float,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Thin the hilltops (highest first) and grid sites, and keep at most ``max_sites`` with a
    share for each kind (see :func:`candidate_sites`)."""
    xs, ys = np.concatenate([hx, gx]), np.concatenate([hy, gy])
    keep = _thin(xs, ys, min_spacing_m=min_spacing_m)
    if keep.sum() <= max_sites:  # everything fits: hilltops win every close pair
        kinds = ["hilltop"] * len(hx) + ["grid"] * len(gx)
        return xs[keep], ys[keep], [kinds[i] for i in np.flatnonzero(keep)]
    hill = np.flatnonzero(keep[: len(hx)])  # hilltops are thinned among themselves only
    n_h = min(len(hill), max_sites - max_sites // 2)
    chosen_h = hill[:n_h]
    # grid sites away from the hilltops that are kept (not from those cut), thinned in turn
    near = _near(gx, gy, hx[chosen_h], hy[chosen_h], min_spacing_m)
    free = np.flatnonzero(~near)
    free = free[_thin(gx[free], gy[free], min_spacing_m=min_spacing_m)]
    n_g = min(len(free), max_sites - n_h)
    chosen_g = np.sort(free[_zone_turns(gx[free], gy[free], zones)][:n_g])
    spare = max_sites - n_h - n_g
    if spare > 0 and n_h < len(hill):  # the grid's unused share goes to the next hilltops
        rest = hill[n_h:]
        rest = rest[~_near(hx[rest], hy[rest], gx[chosen_g], gy[chosen_g], min_spacing_m)]
        chosen_h = np.concatenate([chosen_h, rest[:spare]])
    logger.info("candidates: %d hilltop and %d grid sites after spacing; keeping %d and %d "
                "(at most %d sites)", len(hill), len(free), len(chosen_h), len(chosen_g),
                max_sites)  # fmt: skip
    return (
        np.concatenate([hx[chosen_h], gx[chosen_g]]),
        np.concatenate([hy[chosen_h], gy[chosen_g]]),
        ["hilltop"] * len(chosen_h) + ["grid"] * len(chosen_g),
    )


def _near(x: np.ndarray, y: np.ndarray, ox: np.ndarray, oy: np.ndarray, r: float) -> np.ndarray:
    """Points (x, y) within ``r`` of any of the points (ox, oy)."""
    if len(x) == 0 or len(ox) == 0:
        return np.zeros(len(x), dtype=bool)
    tree = cKDTree(np.column_stack([ox, oy]))
    return tree.query_ball_point(np.column_stack([x, y]), r, return_length=True) > 0


def _zone_turns(x: np.ndarray, y: np.ndarray, zones: gpd.GeoDataFrame) -> np.ndarray:
    """Order of grid sites that takes the dead zones in turn: every zone's first site (zones
    with most households first), then every zone's second, …; lattice order within a zone."""
    n = len(x)
    zone = np.full(n, len(zones), dtype=np.int64)  # outside every zone: a group of its own
    if n and len(zones):
        pts, zs = shapely.STRtree(zones.geometry.to_numpy()).query(
            shapely.points(x, y), predicate="intersects"
        )
        np.minimum.at(zone, pts, zs)
    hh = np.zeros(len(zones) + 1)
    if "households" in zones.columns:
        hh[:-1] = pd.to_numeric(zones["households"], errors="coerce").fillna(0.0).to_numpy()
    by_zone = np.lexsort((np.arange(n), zone))
    turn = np.empty(n, dtype=np.int64)
    first = np.r_[True, zone[by_zone][1:] != zone[by_zone][:-1]] if n else np.zeros(0, bool)
    starts = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    turn[by_zone] = np.arange(n) - starts
    return np.lexsort((np.arange(n), zone, -hh[zone], turn))


def _lattice(zones: gpd.GeoDataFrame, spacing_m: float) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for geom in zones.geometry:
        minx, miny, maxx, maxy = geom.bounds
        gx, gy = np.meshgrid(
            np.arange(minx + spacing_m / 2, maxx, spacing_m),
            np.arange(miny + spacing_m / 2, maxy, spacing_m),
        )
        pts = shapely.points(gx.ravel(), gy.ravel())
        inside = shapely.contains(geom, pts) if len(pts) else np.zeros(0, dtype=bool)
        if not inside.any():
            p = geom.representative_point()
            xs.append(np.array([p.x]))
            ys.append(np.array([p.y]))
        else:
            xs.append(gx.ravel()[inside])
            ys.append(gy.ravel()[inside])
    return np.concatenate(xs), np.concatenate(ys)


def _thin(xs: np.ndarray, ys: np.ndarray, *, min_spacing_m: float) -> np.ndarray:
    """Keep points in order, dropping any within ``min_spacing_m`` of one already kept."""
    keep = np.ones(len(xs), dtype=bool)
    if len(xs) < 2:
        return keep
    tree = cKDTree(np.column_stack([xs, ys]))
    for i, j in sorted(tree.query_pairs(min_spacing_m)):
        if keep[i] and keep[j]:
            keep[j] = False
    return keep


def _frame(xs, ys, kinds, terrain: Grid, *, height_m: float, tech: str) -> gpd.GeoDataFrame:
    radio = TECH_DEFAULTS[tech]
    n = len(xs)
    elev = terrain.sample(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)) if n else []
    return gpd.GeoDataFrame(
        {
            "site_id": [f"C{i + 1:04d}" for i in range(n)],
            "kind": list(kinds),
            "elevation_m": np.asarray(elev, dtype=float),
            "height_m": np.full(n, height_m),
            "tech": [tech] * n,
            "freq_mhz": np.full(n, radio["freq_mhz"]),
            "bandwidth_mhz": np.full(n, radio["bandwidth_mhz"]),
            "eirp_dbm": np.full(n, radio["eirp_dbm"]),
            "cost": np.ones(n),
        },
        geometry=gpd.points_from_xy(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)),
        crs=terrain.crs,
    )


def read_candidates(
    source: str | PathLike[str] | gpd.GeoDataFrame,
    *,
    columns: dict[str, str] | None = None,
    area: gpd.GeoDataFrame | None = None,
    crs: Any = None,
) -> gpd.GeoDataFrame:
    """Candidate sites from a file (the towers reader's formats; ``site_id`` or ``tower_id``).

    Missing radio parameters take the candidate technology's defaults; ``cost`` defaults to 1.
    A file with a header and no row is no candidate: nothing is ranked.
    """
    cols = dict(columns or {})
    frame = read_towers(source, columns=cols, area=area, crs=crs, max_radius_km=0.0,
                        allow_empty=True)  # fmt: skip
    if len(frame) == 0:
        logger.warning("%s: no candidate site: no site can be proposed", source_label(source))
    # a candidate is a site: its id is the file's site_id when the file names sites but not
    # towers (the reader then made tower ids up), else the file's tower_id
    given = frame.attrs.get("given_ids", [])
    if "site_id" in given and "tower_id" not in given and len(frame):
        dup = frame["site_id"][frame["site_id"].duplicated()].unique()
        if len(dup):
            raise InputError(source_label(source),
                             f"site_id {', '.join(map(str, dup[:5]))} appear(s) twice: one row a "
                             "candidate site")  # fmt: skip
        frame = frame.drop(columns=["tower_id"])
    else:
        frame = frame.drop(columns=["site_id"]).rename(columns={"tower_id": "site_id"})
    if "cost" in frame.columns:
        frame["cost"] = _costs(frame, source_label(source), cols.get("cost", "cost"))
    else:
        frame["cost"] = 1.0
    frame["kind"] = "file"
    frame["elevation_m"] = np.nan
    rest = [c for c in frame.columns if c not in CANDIDATE_COLUMNS + ["geometry"]]
    return frame[CANDIDATE_COLUMNS + rest + ["geometry"]]


def _costs(frame: gpd.GeoDataFrame, label: str, column: str) -> np.ndarray:
    """Each candidate's cost, a finite number > 0 (a free site would break the budget and its
    gain-per-cost choice); every bad row is named at once, with the file's column name."""
    raw = frame["cost"]
    cost = to_number(raw)
    bad = ~np.isfinite(cost) | (cost <= 0)
    if not bad.any():
        return cost
    rows = _file_rows(frame)
    problems = []
    for i in np.flatnonzero(bad):
        shown = str(raw.iloc[i]).strip() if given(raw.iloc[[i]])[0] else "(empty)"
        problems.append(Problem(rows[i], f"{column} = {shown}: the cost must be a number > 0"))
    raise InputError(label, problems=problems)


def _file_rows(frame: gpd.GeoDataFrame) -> list[int | str]:
    """The 1-based data row of each row :func:`read_towers` returned: it keeps the file's order
    and lists every row it leaves out in ``attrs["rejects"]``. OpenCelliD cells are grouped
    into sites, which have no row: their ids are given instead."""
    if "cells" in frame.attrs or "rejects" not in frame.attrs:
        return [str(v) for v in frame["site_id"]]
    rejected = {int(r["row"]) for r in frame.attrs["rejects"]}
    rows: list[int | str] = []
    r = 0
    for _ in range(len(frame)):
        r += 1
        while r in rejected:
            r += 1
        rows.append(r)
    return rows
