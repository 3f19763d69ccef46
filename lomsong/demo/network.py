"""Mobile network of the demo province: tower sites and their radiating units.

Omni and 3-sector sites of Viettel, VinaPhone and MobiFone (2G 900 MHz, 3G 2100 MHz,
4G 1800 MHz) on the plain, along the coast, at valley mouths and in the foothills -- none on
the island and none deep in the mountains, so that the upper valleys (15-25 km of ridges away
from any tower) and the island are dead zones, as in the real province.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd

from lomsong.demo.frame import DEMO_CRS, Frame, sample_at
from lomsong.demo.terrain import River

_OPERATORS = (("Viettel", 0.45), ("VinaPhone", 0.30), ("MobiFone", 0.25))
_TECH = {
    # tech: (freq MHz, EIRP range dBm per radiating unit)
    "2G": (900, (55.0, 60.0)),
    "3G": (2100, (56.0, 60.0)),
    "4G": (1800, (58.0, 62.0)),
}


def tower_sites(
    rng: np.random.Generator,
    frame: Frame,
    elev: np.ndarray,
    vil: pd.DataFrame,
    rivers: list[River],
) -> pd.DataFrame:
    """Site positions (u, v) and kind: towns and big plain hamlets, the coast, valley mouths
    and a few foothills -- never on the island, never deep in the mountains."""
    p = frame.p
    isl = frame.island
    sites: list[tuple[float, float, str]] = []

    def ok(u: float, v: float, spacing: float) -> bool:
        if not (0.0 < v < p.height and 0.0 < u < frame.width):
            return False
        d = float(frame.d_coast(u, v))
        if d < 600.0 or d > p.tower_max_d:
            return False
        if math.hypot(u - isl.cu, v - isl.cv) < p.island_exclusion:
            return False
        if sample_at(frame, elev, np.array([u]), np.array([v]))[0] <= 0.0:
            return False
        return all(math.hypot(u - a, v - b) >= spacing for a, b, _ in sites)

    # plain: next to the largest towns and hamlets, on low ground
    dense = vil[vil["kind"].isin(["town", "plain", "coastal"])].sort_values(
        "households", ascending=False
    )
    for r in dense.itertuples():
        if sum(k == "plain" for *_, k in sites) >= p.n_plain_sites:
            break
        ang, rad = rng.uniform(0, 2 * np.pi), rng.uniform(100.0, 400.0)
        u, v = r.u + rad * math.cos(ang), r.v + rad * math.sin(ang)
        z = sample_at(frame, elev, np.array([u]), np.array([v]))[0]
        if z < 60.0 and ok(u, v, p.site_spacing):
            sites.append((u, v, "plain"))

    # coast: every few km, 1-2 km inland (fishing hamlets, the coastal road)
    for vc in np.arange(0.4 * p.coast_site_spacing, p.height, p.coast_site_spacing):
        vc += rng.uniform(-0.15, 0.15) * p.coast_site_spacing
        u = float(frame.coast(vc)) - rng.uniform(900.0, 1_800.0)
        z = sample_at(frame, elev, np.array([u]), np.array([vc]))[0]
        if z < 40.0 and ok(u, vc, 0.6 * p.site_spacing):
            sites.append((u, vc, "coast"))

    # valley mouths: on the floor where each main river leaves the hills
    for r in (r for r in rivers if r.main):
        d = frame.d_coast(r.u, r.v)
        target = p.mtn_start + rng.uniform(0.3, 0.8) * (p.tower_max_d - p.mtn_start)
        j = int(np.argmin(np.abs(d - target)))
        u, v = r.u[j], r.v[j] + rng.choice([-1.0, 1.0]) * 150.0
        if ok(u, v, 0.5 * p.site_spacing):
            sites.append((u, v, "valley"))

    # foothills: the highest of a few low hills in reach of the plain
    for _ in range(p.n_foothill_sites):
        cand = np.c_[rng.uniform(0, frame.width, 400), rng.uniform(0, p.height, 400)]
        d = frame.d_coast(cand[:, 0], cand[:, 1])
        z = sample_at(frame, elev, cand[:, 0], cand[:, 1])
        sel = (d > p.mtn_start - 1_000.0) & (d < p.tower_max_d) & (z > 0) & (z < 350.0)
        for j in np.flatnonzero(sel)[np.argsort(-z[sel])]:
            if ok(cand[j, 0], cand[j, 1], p.site_spacing):
                sites.append((float(cand[j, 0]), float(cand[j, 1]), "foothill"))
                break
    return pd.DataFrame(sites, columns=["u", "v", "kind"])


def make_towers(rng: np.random.Generator, frame: Frame, sites: pd.DataFrame) -> gpd.GeoDataFrame:
    """Radio configuration of each site: omni (2G/3G) or three sectors (4G/3G)."""
    p = frame.p
    ops, op_w = zip(*_OPERATORS, strict=True)
    sectored = np.where(
        sites["kind"].to_numpy() == "plain", rng.random(len(sites)) < 0.6,
        rng.random(len(sites)) < 0.3,
    )  # fmt: skip
    # enough radiating units: sectorise the remaining omni sites in order
    for i in range(len(sites)):
        if len(sites) + 2 * int(sectored.sum()) >= p.min_towers:
            break
        sectored[i] = True
    rows = []
    for i, s in enumerate(sites.itertuples()):
        site_id = f"T{i + 1:03d}"
        op = str(rng.choice(ops, p=np.asarray(op_w)))
        if sectored[i]:
            tech = "4G" if rng.random() < 0.65 else "3G"
            height = rng.uniform(20.0, 40.0)
            rot = rng.uniform(0.0, 120.0)
            freq, (lo, hi) = _TECH[tech]
            eirp = round(rng.uniform(lo, hi), 1)
            for j, label in enumerate("ABC"):
                rows.append(
                    (f"{site_id}-{label}", site_id, op, tech, freq, round(height, 1), eirp,
                     round((rot + 120.0 * j) % 360.0, 1), 65.0, round(rng.uniform(2.0, 6.0), 1),
                     s.u, s.v)
                )  # fmt: skip
        else:
            tech = "2G" if rng.random() < 0.7 else "3G"
            freq, (lo, hi) = _TECH[tech]
            rows.append(
                (site_id, site_id, op, tech, freq, round(rng.uniform(25.0, 45.0), 1),
                 round(rng.uniform(lo, hi), 1), np.nan, 360.0, 0.0, s.u, s.v)
            )  # fmt: skip
    df = pd.DataFrame(
        rows,
        columns=[
            "tower_id", "site_id", "operator", "tech", "freq_mhz", "height_m", "eirp_dbm",
            "azimuth_deg", "beamwidth_deg", "tilt_deg", "u", "v",
        ],
    )  # fmt: skip
    df["freq_mhz"] = df["freq_mhz"].astype(float)
    geom = gpd.points_from_xy(df.pop("u") + frame.x0, df.pop("v") + frame.y0)
    return gpd.GeoDataFrame(df, geometry=geom, crs=DEMO_CRS)
