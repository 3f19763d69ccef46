"""Explain every dead zone: why is this village dark, and what would it take?

For each village with uncovered households, :func:`explain_villages` takes one *probe point*
(the uncovered household nearest to the household-weighted centre of the village's uncovered
households: a point the raster calls dark, in the middle of the dark part) and predicts every
existing tower within ``max_radius_km`` there with the raster engine's own loss on the straight
profile (:func:`lomsong.coverage.predict.path_loss_points`)::

    P = EIRP + G_antenna(bearing, elevation) − L_distance(d) − L_edge

where ``L_edge = J(v) − J(0)`` is the knife-edge loss of the dominant obstacle beyond grazing
(:mod:`.profiles`). The strongest tower is the village's *best tower*; the shortfall is
``S = threshold − P`` (dB; the margin is ``−S``).

Reason categories
-----------------
The shortfall is split into what each cause costs, and the dominant cause names the reason.
Checked in this order:

``no_tower``
    No tower within ``max_radius_km`` gives a prediction. The nearest tower (at any distance)
    is still reported as ``best_tower``/``distance_km`` with no power or margin.
``sea``
    The straight path to the best (or, without one, the nearest) tower runs over water — ground
    elevation ≤ 0 m on at least :data:`SEA_SHARE` (half) of its samples — and neither terrain nor
    the antenna pattern is the dominant cause (below). An island 30 km offshore with no tower of
    its own is ``sea`` whether the mainland tower is inside the radius (too weak) or outside it.
``terrain``
    The dominant obstacle's *relief* loss — its knife-edge loss with the earth's bulge taken out,
    i.e. the loss the hill itself adds — is at least :data:`TERRAIN_SHARE` (half) of the
    shortfall and at least the sector loss. The earth's bulge is not terrain: a flat path beyond
    the radio horizon is ``distance`` (or ``sea``). Reported (for any reason, whenever the
    relief rises into the line of sight): the obstacle's position, ground height (m above sea
    level), its height above the straight line of sight and the first Fresnel zone radius
    there (it takes ``obstruction_above_los_m + fresnel_radius_m`` metres of the zone, counted
    from the zone's lower edge; all of it once ``obstruction_above_los_m ≥ fresnel_radius_m``).
``sector``
    The antenna pattern's attenuation toward the village (−gain, dB) is at least
    :data:`SECTOR_SHARE` (half) of the shortfall and larger than the relief loss, and the
    village lies outside the sector's main lobe (off-axis angle > beamwidth / 2, the −3 dB
    edge): "inside range but behind the antenna".
``distance``
    Everything else: line of sight (or only a small obstruction) and simply too far.

These thresholds reproduce a planner's reading on the hand-built cases of
``tests/test_explain.py`` (a lone ridge, flat ground beyond range, a village behind a sector,
an island offshore, a village beyond every tower's radius). When two causes are both large
(a 15 dB ridge on a 20 dB shortfall behind a sector), the larger one wins.

What it would take
------------------
``mast_height_needed_m``
    The lowest whole-metre antenna height at the best tower, up to :data:`MAX_MAST_M`, at which
    the engine predicts the threshold at the probe point (the pattern's elevation angle is
    recomputed at each height). NaN with ``mast_reachable = False`` when no height up to
    100 m reaches it, or when there is no tower in range.
``covered_by_site``
    Rank of the first ranked candidate site that covers at least :data:`COVER_SHARE` (half) of
    the village's uncovered households (:func:`covered_by_site`, on the ranking's coverage
    matrix or on :func:`predict_cover`). Filled by the siting step, after ranking.

Validity: the single knife-edge engine (see :mod:`.profiles`), so the reason and the mast
height inherit its limits (a second ridge behind the first is ignored; deep valleys are
optimistic by up to ~10 dB).
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
from pyproj import Transformer

from lomsong.coverage import antennas, models
from lomsong.coverage.deadzones import DeadZones
from lomsong.coverage.predict import Coverage, path_loss_points
from lomsong.coverage.profiles import EFFECTIVE_EARTH_RADIUS_M
from lomsong.defaults import MAX_RADIUS_KM, RX_HEIGHT_M, THRESHOLD_DBM
from lomsong.grid import Grid

__all__ = [
    "REASONS",
    "TERRAIN_SHARE",
    "SECTOR_SHARE",
    "SEA_SHARE",
    "MAX_MAST_M",
    "COVER_SHARE",
    "CONTRACT_COLUMNS",
    "HELPER_COLUMNS",
    "EXPLAIN_COLUMNS",
    "Profile",
    "terrain_profile",
    "tower_power",
    "explain_villages",
    "covered_by_site",
    "predict_cover",
    "dark_sentence",
    "village_profile",
    "profile_plot_png",
]

logger = logging.getLogger(__name__)

#: The reason categories, in the order they are tested (see the module docstring).
REASONS = ("no_tower", "sea", "terrain", "sector", "distance")

#: Share of the shortfall the obstacle's relief loss must explain for ``terrain``.
TERRAIN_SHARE = 0.5
#: Share of the shortfall the antenna pattern's attenuation must explain for ``sector``.
SECTOR_SHARE = 0.5
#: Share of the path's samples at elevation ≤ 0 m that makes it a sea path.
SEA_SHARE = 0.5
#: Tallest mast searched for ``mast_height_needed_m`` (m above ground): taller masts are rare
#: and costly (guyed lattice towers); beyond it the answer is "not reachable".
MAX_MAST_M = 100.0
#: Share of a village's uncovered households a ranked site must cover to "cover the village".
COVER_SHARE = 0.5
#: Step of the coarse mast-height scan before bisection (m).
_MAST_SCAN_M = 10.0

#: The columns of issue 8 that :func:`explain_villages` adds (for villages.csv and popups).
CONTRACT_COLUMNS = [
    "best_tower", "distance_km", "bearing_deg", "power_dbm", "margin_db", "dark_reason",
    "obstruction_lon", "obstruction_lat", "obstruction_height_m", "mast_height_needed_m",
    "covered_by_site",
]  # fmt: skip
#: Further columns it adds, read by :func:`dark_sentence` and :func:`village_profile` (kept in
#: the GeoPackage; ``centre_x, centre_y`` are the probe point in the project CRS, m).
HELPER_COLUMNS = [
    "obstruction_distance_km", "obstruction_bearing_deg", "obstruction_above_los_m",
    "fresnel_radius_m", "terrain_loss_db", "sector_loss_db", "off_axis_deg", "water_share",
    "mast_reachable", "centre_x", "centre_y",
]  # fmt: skip
EXPLAIN_COLUMNS = CONTRACT_COLUMNS + HELPER_COLUMNS

_C = models.SPEED_OF_LIGHT_M_S


# -- terrain profile ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Profile:
    """The straight terrain profile from a transmitter to a receiver, as the engine sees it.

    Samples every cell size along the path (bilinear elevation), index 0 at the transmitter and
    −1 at the receiver, exactly those :func:`lomsong.coverage.profiles.point_loss` walks.

    Attributes
    ----------
    d_m, x, y, z_m
        Distance from the transmitter (m), position (project CRS, m) and ground elevation (m).
    bulge_m
        Earth bulge ``d1 d2 / (2 k a)`` (m) at each sample, k = 4/3.
    h_tx_abs_m, h_rx_abs_m
        Antenna heights above sea level (ground + mast / receiver height).
    f_mhz
        Frequency (MHz).
    obstacle
        Index of the dominant obstacle (greatest elevation angle from the transmitter, earth
        curvature included), or −1 on a path too short to have one.
    above_los_m
        Height of the obstacle (bulge included) above the straight line of sight (m; > 0 blocks).
    fresnel_radius_m
        First Fresnel zone radius at the obstacle (m).
    edge_db
        The engine's diffraction loss beyond grazing, J(v) − J(0) (dB, ≥ 0).
    relief_db
        The same with the earth bulge removed: the loss the relief itself adds (dB, ≥ 0).
    water_share
        Share of interior samples with ground elevation ≤ 0 m (sea), NaN without samples.
    """

    d_m: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z_m: np.ndarray
    bulge_m: np.ndarray
    h_tx_abs_m: float
    h_rx_abs_m: float
    f_mhz: float
    obstacle: int
    above_los_m: float
    fresnel_radius_m: float
    edge_db: float
    relief_db: float
    water_share: float

    @property
    def length_m(self) -> float:
        return float(self.d_m[-1])

    @property
    def los_m(self) -> np.ndarray:
        """Height of the straight line of sight above sea level at each sample (m)."""
        f = self.d_m / max(self.length_m, 1e-9)
        return self.h_tx_abs_m + (self.h_rx_abs_m - self.h_tx_abs_m) * f

    @property
    def fresnel_m(self) -> np.ndarray:
        """First Fresnel zone radius at each sample (m)."""
        lam = _C / (self.f_mhz * 1e6)
        d = max(self.length_m, 1e-9)
        return np.sqrt(np.maximum(lam * self.d_m * (d - self.d_m) / d, 0.0))


def _bilinear(Z: np.ndarray, r: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Vectorised twin of ``profiles._bilinear`` (same edge handling, NaN outside)."""
    h, w = Z.shape
    out = np.full(r.shape, np.nan)
    ok = (r >= -0.5) & (c >= -0.5) & (r <= h - 0.5) & (c <= w - 0.5)
    rr = np.clip(r[ok], 0.0, h - 1.0)
    cc = np.clip(c[ok], 0.0, w - 1.0)
    i = np.minimum(rr.astype(np.int64), h - 2) if h > 1 else np.zeros(rr.shape, np.int64)
    j = np.minimum(cc.astype(np.int64), w - 2) if w > 1 else np.zeros(cc.shape, np.int64)
    fr = rr - i if h > 1 else np.zeros(rr.shape)
    fc = cc - j if w > 1 else np.zeros(cc.shape)
    i2 = i + 1 if h > 1 else i
    j2 = j + 1 if w > 1 else j

    def at(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return Z[a, b].astype(np.float64)

    out[ok] = (at(i, j) * (1 - fr) * (1 - fc) + at(i2, j) * fr * (1 - fc)
               + at(i, j2) * (1 - fr) * fc + at(i2, j2) * fr * fc)  # fmt: skip
    return out


def _edge_db(h: float, d1: float, d2: float, f_mhz: float) -> float:
    """J(v) − J(0) for an edge ``h`` m above the line of sight, 0 when below (engine rule)."""
    if h <= 0.0 or d1 <= 0.0 or d2 <= 0.0:
        return 0.0
    v = models.fresnel_parameter(h, d1, d2, f_mhz)
    return float(models.knife_edge_loss(v) - models.knife_edge_loss(0.0))


def terrain_profile(
    terrain: Grid,
    tx_xy: tuple[float, float],
    rx_xy: tuple[float, float],
    *,
    h_tx_m: float,
    f_mhz: float,
    rx_height_m: float = RX_HEIGHT_M,
) -> Profile:
    """The profile the engine walks from ``tx_xy`` to ``rx_xy``, with its dominant obstacle.

    Parameters
    ----------
    terrain
        Elevation Grid (m), metric CRS.
    tx_xy, rx_xy
        Transmitter and receiver positions (project CRS, m).
    h_tx_m, rx_height_m
        Antenna heights above ground (m).
    f_mhz
        Frequency (MHz), for the Fresnel zone and the knife-edge parameter.

    Returns
    -------
    Profile
        ``edge_db`` equals the diffraction term of
        :func:`~lomsong.coverage.predict.path_loss_points` on the same path.
    """
    t = terrain.transform
    res = terrain.res
    tx, ty = float(tx_xy[0]), float(tx_xy[1])
    dx, dy = float(rx_xy[0]) - tx, float(rx_xy[1]) - ty
    D = math.hypot(dx, dy)
    steps = max(1, math.ceil(D / res))
    f = np.arange(steps + 1) / steps
    ct = (tx - t.c) / res - 0.5
    rt = (t.f - ty) / res - 0.5
    z = _bilinear(terrain.data, rt - dy / res * f, ct + dx / res * f)
    z_tx = 0.0 if not np.isfinite(z[0]) else float(z[0])
    z = z.copy()
    z[0] = z_tx
    d = D * f
    ae = EFFECTIVE_EARTH_RADIUS_M
    bulge = d * (D - d) / (2.0 * ae)
    h_tx_abs = z_tx + h_tx_m
    z_rx = float(z[-1]) if np.isfinite(z[-1]) else 0.0
    h_rx_abs = z_rx + rx_height_m
    interior = z[1:-1]
    finite = interior[np.isfinite(interior)]
    water = float(np.mean(finite <= 0.0)) if finite.size else math.nan
    ob, above, r1, edge, relief = -1, math.nan, math.nan, 0.0, 0.0
    if steps >= 2 and np.isfinite(interior).all():
        # the engine's obstacle: greatest elevation angle seen from the transmitter
        di = d[1:-1]
        slope = (interior - h_tx_abs) / di - di / (2.0 * ae)
        ob = int(np.argmax(slope)) + 1
        d1, dd = float(d[ob]), max(D, res / 2)
        d2 = dd - d1
        los = h_tx_abs + (h_rx_abs - h_tx_abs) * d1 / dd
        above = float(z[ob] + d1 * d2 / (2.0 * ae) - los)
        lam = _C / (f_mhz * 1e6)
        r1 = math.sqrt(max(lam * d1 * d2 / dd, 0.0))
        edge = _edge_db(above, d1, d2, f_mhz)
        relief = _edge_db(float(z[ob] - los), d1, d2, f_mhz)
    return Profile(
        d_m=d, x=tx + dx * f, y=ty + dy * f, z_m=z, bulge_m=bulge, h_tx_abs_m=h_tx_abs,
        h_rx_abs_m=h_rx_abs, f_mhz=float(f_mhz), obstacle=ob, above_los_m=above,
        fresnel_radius_m=r1, edge_db=edge, relief_db=relief, water_share=water,
    )  # fmt: skip


# -- tower power at points ----------------------------------------------------------------------
def _antenna_gain(
    tower: Mapping, terrain: Grid, xs: np.ndarray, ys: np.ndarray, h_tx_m: float, rx_h: float
) -> np.ndarray:
    """Pattern gain (dB ≤ 0) toward the points, with the elevation rule of ``_sector_gain``."""
    az = float(tower.get("azimuth_deg", np.nan))
    if math.isnan(az):
        return np.zeros(len(xs))
    tx, ty = tower["geometry"].x, tower["geometry"].y
    dx, dy = xs - tx, ys - ty
    dist = np.maximum(np.hypot(dx, dy), terrain.res / 2)
    z = terrain.sample(xs, ys)
    z_tx = float(terrain.sample(np.array([tx]), np.array([ty]))[0])
    z_tx = 0.0 if not math.isfinite(z_tx) else z_tx
    dz = z + rx_h - (z_tx + h_tx_m)
    return np.asarray(
        antennas.antenna_gain_db(
            antennas.bearing_deg(dx, dy),
            antennas.elevation_deg(dz, dist),
            azimuth_deg=az,
            beamwidth_deg=float(tower["beamwidth_deg"]),
            tilt_deg=float(tower["tilt_deg"]),
        ),  # fmt: skip
        dtype=float,
    ).reshape(len(xs))


def tower_power(
    tower: Mapping,
    terrain: Grid,
    xs: Any,
    ys: Any,
    *,
    h_tx_m: float | None = None,
    model: str = "hata",
    environment: str = "suburban",
    rx_height_m: float = RX_HEIGHT_M,
    max_radius_km: float = MAX_RADIUS_KM,
) -> tuple[np.ndarray, np.ndarray]:
    """Received power (dBm) of one tower at points, and its antenna gain toward them (dB).

    ``P = eirp_dbm + antenna gain − path_loss_points(...)``: the raster engine's model on the
    straight profile to each point. ``h_tx_m`` overrides the tower's ``height_m`` (mast
    search). NaN beyond ``max_radius_km`` or where the profile leaves the grid.
    """
    xs = np.atleast_1d(np.asarray(xs, dtype=float))
    ys = np.atleast_1d(np.asarray(ys, dtype=float))
    h = float(tower["height_m"]) if h_tx_m is None else float(h_tx_m)
    g = tower["geometry"]
    loss = path_loss_points(
        terrain, (g.x, g.y), xs, ys, f_mhz=float(tower["freq_mhz"]), h_tx_m=h, model=model,
        environment=environment, rx_height_m=rx_height_m, max_radius_km=max_radius_km,
    )  # fmt: skip
    gain = _antenna_gain(tower, terrain, xs, ys, h, rx_height_m)
    return float(tower["eirp_dbm"]) + gain - loss, gain


# -- explain ------------------------------------------------------------------------------------
def _probe_points(gaps: DeadZones, village_ids: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Per village: the uncovered household nearest the weighted centre of the uncovered ones."""
    unc = gaps.uncovered
    out: dict[str, tuple[float, float]] = {}
    if not len(unc):
        return out
    x = unc.geometry.x.to_numpy()
    y = unc.geometry.y.to_numpy()
    w = unc["households"].to_numpy(dtype=float)
    vid = unc["village_id"].astype(str).to_numpy()
    wanted = set(village_ids)
    order = np.argsort(vid, kind="stable")
    vid_s = vid[order]
    starts = np.flatnonzero(np.r_[True, vid_s[1:] != vid_s[:-1]])
    ends = np.r_[starts[1:], len(vid_s)]
    for s, e in zip(starts, ends, strict=True):
        v = vid_s[s]
        if v not in wanted:
            continue
        idx = order[s:e]
        ww = w[idx] if w[idx].sum() > 0 else np.ones(len(idx))
        cx, cy = np.average(x[idx], weights=ww), np.average(y[idx], weights=ww)
        k = idx[int(np.argmin(np.hypot(x[idx] - cx, y[idx] - cy)))]
        out[v] = (float(x[k]), float(y[k]))
    return out


def _off_axis(tower: Mapping, bearing: float) -> float:
    az = float(tower.get("azimuth_deg", np.nan))
    if math.isnan(az):
        return math.nan
    return abs((bearing - az + 180.0) % 360.0 - 180.0)


def _classify(
    *, shortfall: float, relief_db: float, sector_db: float, off_axis: float, beamwidth: float,
    water: float,
) -> str:  # fmt: skip
    """The reason rules of the module docstring, for a village with a tower in range."""
    s = max(shortfall, 0.0)
    if relief_db > 0.0 and relief_db >= TERRAIN_SHARE * s and relief_db >= sector_db:
        return "terrain"
    outside_lobe = math.isfinite(off_axis) and off_axis > beamwidth / 2.0
    if sector_db > 0.0 and sector_db >= SECTOR_SHARE * s and sector_db > relief_db and outside_lobe:
        return "sector"
    if math.isfinite(water) and water >= SEA_SHARE:
        return "sea"
    return "distance"


def _mast_needed(
    tower: Mapping,
    terrain: Grid,
    x: float,
    y: float,
    threshold: float,
    opts: dict,
    max_mast_m: float,
) -> float:
    """Lowest whole-metre height (≥ the current one) reaching ``threshold``; NaN if none.

    Scans every :data:`_MAST_SCAN_M` metres, then bisects the bracket that first reaches the
    threshold: about a dozen profiles instead of one per metre. Power grows with height on
    the engine's model (Hata's base-height gain, a lower knife edge); only a sector's vertical
    pattern can bend that, by a fraction of a dB over a few metres.
    """

    def reaches(h: float) -> bool:
        p, _ = tower_power(tower, terrain, [x], [y], h_tx_m=h, **opts)
        return bool(np.isfinite(p[0]) and p[0] >= threshold)

    h0 = float(tower["height_m"])
    if reaches(h0):
        return h0
    lo = float(math.floor(h0))
    scan = list(np.arange(lo + _MAST_SCAN_M, max_mast_m, _MAST_SCAN_M)) + [float(max_mast_m)]
    for hi in scan:
        if reaches(float(hi)):
            while hi - lo > 1.0:
                mid = float(math.floor((lo + hi) / 2.0))
                if reaches(mid):
                    hi = mid
                else:
                    lo = mid
            return float(hi)
        lo = float(hi)
    return math.nan


def _empty_columns(n: int) -> dict[str, Any]:
    cols: dict[str, Any] = {c: np.full(n, np.nan) for c in EXPLAIN_COLUMNS}
    cols["best_tower"] = pd.array([None] * n, dtype="string")
    cols["dark_reason"] = pd.array([None] * n, dtype="string")
    cols["covered_by_site"] = pd.array([None] * n, dtype="Int64")
    cols["mast_reachable"] = pd.array([None] * n, dtype="boolean")
    return cols


def explain_villages(
    signal: Coverage,
    gaps: DeadZones,
    terrain: Grid,
    *,
    max_mast_m: float = MAX_MAST_M,
) -> gpd.GeoDataFrame:
    """Why each village with uncovered households is dark, and what would light it.

    Parameters
    ----------
    signal
        The :class:`~lomsong.coverage.predict.Coverage` the dead zones came from (its towers,
        in serving-index order).
    gaps
        The :class:`~lomsong.coverage.deadzones.DeadZones`; its ``params`` (model,
        environment, rx_height_m, max_radius_km) and ``threshold_dbm`` are used, so the
        explanation is predicted exactly like the coverage.
    terrain
        Elevation Grid (m) of the prediction.
    max_mast_m
        Tallest mast searched (m above ground).

    Returns
    -------
    GeoDataFrame
        A copy of ``gaps.villages`` (same rows and order) with :data:`EXPLAIN_COLUMNS` added;
        villages without uncovered households have empty values (NA / NaN).
        ``covered_by_site`` is left empty: the siting step fills it (:func:`covered_by_site`).

    Notes
    -----
    Cost: one straight profile per (tower, village) pair within the radius, plus about a dozen
    per village for the mast search (a 10 m scan, then bisection): 2 s for the demo's 44
    villages and 40 towers on two cores.
    """
    # the dead zones' own parameters, so the explanation is predicted like the coverage
    p = {"model": signal.model, "rx_height_m": signal.rx_height_m, **signal.params,
         **gaps.params}  # fmt: skip
    opts = {
        "model": p["model"],
        "environment": p.get("environment", "suburban"),
        "rx_height_m": float(p["rx_height_m"]),
        "max_radius_km": float(p.get("max_radius_km", MAX_RADIUS_KM)),
    }
    threshold = float(getattr(gaps, "threshold_dbm", THRESHOLD_DBM))
    radius_m = opts["max_radius_km"] * 1000.0
    villages = gaps.villages.copy()
    n = len(villages)
    cols = _empty_columns(n)
    vids = villages["village_id"].astype(str).to_numpy()
    dark = villages["households_uncovered"].to_numpy() > 0
    probes = _probe_points(gaps, list(vids[dark]))
    rows = [i for i in range(n) if vids[i] in probes]
    towers = signal.towers.reset_index(drop=True)
    records = towers.to_dict("records")
    if rows:
        px = np.array([probes[vids[i]][0] for i in rows])
        py = np.array([probes[vids[i]][1] for i in rows])
        tx = towers.geometry.x.to_numpy() if len(towers) else np.zeros(0)
        ty = towers.geometry.y.to_numpy() if len(towers) else np.zeros(0)
        dist = np.hypot(px[None, :] - tx[:, None], py[None, :] - ty[:, None])  # towers × villages
        power = np.full(dist.shape, np.nan)
        for k, tower in enumerate(records):
            near = np.flatnonzero(dist[k] <= radius_m)
            if len(near):
                power[k, near], _ = tower_power(tower, terrain, px[near], py[near], **opts)
        to_ll = Transformer.from_crs(terrain.crs, "EPSG:4326", always_xy=True)
        for j, i in enumerate(rows):
            _explain_one(cols, i, px[j], py[j], dist[:, j], power[:, j], records, terrain,
                         threshold, opts, max_mast_m, to_ll)  # fmt: skip
    for name in EXPLAIN_COLUMNS:
        villages[name] = cols[name]
    logger.info(
        "explained %d villages: %s", len(rows),
        pd.Series(cols["dark_reason"]).value_counts().to_dict(),
    )  # fmt: skip
    return villages


def _explain_one(
    cols: dict, i: int, x: float, y: float, dist: np.ndarray, power: np.ndarray,
    records: list[dict], terrain: Grid, threshold: float, opts: dict, max_mast_m: float,
    to_ll: Transformer,
) -> None:  # fmt: skip
    cols["centre_x"][i], cols["centre_y"][i] = x, y
    if not records:
        cols["dark_reason"][i] = "no_tower"
        cols["mast_reachable"][i] = False
        return
    reach = np.isfinite(power)
    k = int(np.nanargmax(power)) if reach.any() else int(np.argmin(dist))
    tower = records[k]
    g = tower["geometry"]
    bearing = float(antennas.bearing_deg(x - g.x, y - g.y))
    cols["best_tower"][i] = str(tower["tower_id"])
    cols["distance_km"][i] = dist[k] / 1000.0
    cols["bearing_deg"][i] = bearing
    prof = terrain_profile(
        terrain,
        (g.x, g.y),
        (x, y),
        h_tx_m=float(tower["height_m"]),
        f_mhz=float(tower["freq_mhz"]),
        rx_height_m=opts["rx_height_m"],
    )
    cols["water_share"][i] = prof.water_share
    if not reach.any():
        # nothing predicts here; an over-water path to the nearest tower is still "sea"
        sea = math.isfinite(prof.water_share) and prof.water_share >= SEA_SHARE
        cols["dark_reason"][i] = "sea" if sea else "no_tower"
        cols["mast_reachable"][i] = False
        return
    p = float(power[k])
    _, gain = tower_power(tower, terrain, [x], [y], **opts)
    sector_db = 0.0 - float(gain[0])  # 0.0, not -0.0, for omnis
    off = _off_axis(tower, bearing)
    cols["power_dbm"][i] = p
    cols["margin_db"][i] = p - threshold
    cols["terrain_loss_db"][i] = prof.relief_db
    cols["sector_loss_db"][i] = sector_db
    cols["off_axis_deg"][i] = off
    cols["dark_reason"][i] = _classify(
        shortfall=threshold - p, relief_db=prof.relief_db, sector_db=sector_db, off_axis=off,
        beamwidth=float(tower.get("beamwidth_deg", antennas.DEFAULT_BEAMWIDTH_DEG)),
        water=prof.water_share,
    )  # fmt: skip
    if prof.obstacle > 0 and prof.above_los_m > 0 and prof.relief_db > 0:
        # the relief itself rises into the line of sight (the earth bulge alone is "distance")
        ox, oy = float(prof.x[prof.obstacle]), float(prof.y[prof.obstacle])
        lon, lat = to_ll.transform(ox, oy)
        cols["obstruction_lon"][i], cols["obstruction_lat"][i] = lon, lat
        cols["obstruction_height_m"][i] = float(prof.z_m[prof.obstacle])
        cols["obstruction_distance_km"][i] = math.hypot(ox - x, oy - y) / 1000.0
        cols["obstruction_bearing_deg"][i] = float(antennas.bearing_deg(ox - x, oy - y))
        cols["obstruction_above_los_m"][i] = prof.above_los_m
        cols["fresnel_radius_m"][i] = prof.fresnel_radius_m
    mast = _mast_needed(tower, terrain, x, y, threshold, opts, max_mast_m)
    cols["mast_height_needed_m"][i] = mast
    cols["mast_reachable"][i] = bool(math.isfinite(mast))


# -- covered_by_site ----------------------------------------------------------------------------
def covered_by_site(
    village_ids: Sequence[str] | np.ndarray,
    demand_village_ids: Sequence[str] | np.ndarray,
    demand_weights: Sequence[float] | np.ndarray,
    cover_ranked: Any,
    *,
    ranks: Sequence[int] | np.ndarray | None = None,
    min_share: float = COVER_SHARE,
) -> pd.arrays.IntegerArray:
    """Rank of the first ranked site that covers each village (NA when none does).

    A site covers a village when it reaches at least ``min_share`` of the village's uncovered
    households (by weight) on its own — whatever the sites ranked before it cover.

    Parameters
    ----------
    village_ids
        The villages to answer for (e.g. the villages table's ``village_id``).
    demand_village_ids, demand_weights
        Village and households of each demand point (uncovered household), column order of
        ``cover_ranked``.
    cover_ranked
        Bool matrix (dense or scipy.sparse), ``(n_ranked, n_demand)``: row r is the ranked site
        ``ranks[r]`` (default r + 1). From ``rank_sites``: ``matrix.cover[chosen]``.
    ranks
        Rank of each row (default 1, 2, …).
    min_share
        Share of the village's uncovered households that counts as covering it (0–1].

    Returns
    -------
    pandas IntegerArray (Int64)
        One rank per ``village_ids`` entry; NA for villages no ranked site covers (and for
        villages without uncovered households).
    """
    vids = np.asarray(village_ids).astype(str)
    dv = np.asarray(demand_village_ids).astype(str)
    w = np.asarray(demand_weights, dtype=float)
    cover = sp.csr_array(cover_ranked, dtype=float) if not sp.issparse(cover_ranked) else (
        sp.csr_array(cover_ranked).astype(float))  # fmt: skip
    n_sites = cover.shape[0]
    rk = np.arange(1, n_sites + 1) if ranks is None else np.asarray(ranks, dtype=np.int64)
    out = pd.array([None] * len(vids), dtype="Int64")
    if n_sites == 0 or len(dv) == 0:
        return out
    codes, uniq = pd.factorize(dv)
    # village indicator (demand × villages), weighted: covered households per site and village
    ind = sp.csr_array((w, (np.arange(len(dv)), codes)), shape=(len(dv), len(uniq)))
    per = (cover @ ind).toarray()  # sites × villages
    total = np.bincount(codes, weights=w, minlength=len(uniq))
    ok = per >= min_share * total[None, :] - 1e-9
    ok &= total[None, :] > 0
    first = np.where(ok.any(axis=0), ok.argmax(axis=0), -1)
    pos = pd.Index(uniq).get_indexer(vids)
    for a, b in enumerate(pos):
        if b >= 0 and first[b] >= 0:
            out[a] = int(rk[first[b]])
    return out


def predict_cover(
    sites: gpd.GeoDataFrame,
    demand_x: Any,
    demand_y: Any,
    terrain: Grid,
    *,
    threshold_dbm: float = THRESHOLD_DBM,
    model: str = "hata",
    environment: str = "suburban",
    rx_height_m: float = RX_HEIGHT_M,
    max_radius_km: float = MAX_RADIUS_KM,
) -> np.ndarray:
    """Bool ``(n_sites, n_demand)``: does each site (omni, its ``height_m``, ``freq_mhz``,
    ``eirp_dbm``) reach ``threshold_dbm`` at each demand point? For :func:`covered_by_site`
    when the ranking's coverage matrix is not at hand (ranked sites in rank order)."""
    xs = np.asarray(demand_x, dtype=float)
    ys = np.asarray(demand_y, dtype=float)
    out = np.zeros((len(sites), len(xs)), dtype=bool)
    for r, site in enumerate(sites.to_dict("records")):
        omni = {**site, "azimuth_deg": np.nan}
        p, _ = tower_power(omni, terrain, xs, ys, model=model, environment=environment,
                           rx_height_m=rx_height_m, max_radius_km=max_radius_km)  # fmt: skip
        out[r] = np.nan_to_num(p, nan=-np.inf) >= threshold_dbm
    return out


# -- sentences ----------------------------------------------------------------------------------
_COMPASS = {
    "en": ("north", "north-east", "east", "south-east", "south", "south-west", "west",
           "north-west"),
    "vi": ("bắc", "đông bắc", "đông", "đông nam", "nam", "tây nam", "tây", "tây bắc"),
}  # fmt: skip


def _get(row: Any, key: str) -> Any:
    v = row.get(key) if hasattr(row, "get") else getattr(row, key, None)
    if v is None or v is pd.NA:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def _num(value: float, lang: str, digits: int = 0) -> str:
    s = f"{value:,.{digits}f}"
    if lang == "vi":  # Vietnamese writes 12.345,6
        s = s.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return s


def _km(value: float, lang: str) -> str:
    return _num(value, lang, 1 if value < 10 else 0)


def _direction(bearing: float, lang: str) -> str:
    return _COMPASS[lang][int(((bearing % 360.0) + 22.5) // 45.0) % 8]


_SEA = {"en": " across the sea", "vi": " qua biển"}

_TEXT = {
    "en": {
        "terrain": "{name} is {d} km{sea} from tower {t} and a {h} m ridge {od} km to its {dir} "
                   "blocks the path; the signal falls {s} dB short.",
        "terrain_nopos": "{name} is {d} km from tower {t} and the terrain blocks the path; the "
                         "signal falls {s} dB short.",
        "distance": "{name} is {d} km from tower {t}, its strongest, with no hill in the "
        "way: it is simply too far and the signal falls {s} dB short.",
        "sector": "{name} is {d} km from tower {t}, within range but {off}° off the axis of "
                  "its sector antenna; the signal falls {s} dB short.",
        "sea": "{name} is {d} km across the sea from tower {t}; the signal falls {s} dB short.",
        "sea_far": "{name} is {d} km across the sea from the nearest tower ({t}), beyond its "
                   "{r} km range.",
        "no_tower": "{name} has no tower within {r} km; the nearest, {t}, is {d} km away.",
        "no_tower_none": "{name} has no tower at all within the project.",
        "edge": "{name} is {d} km from tower {t} and at the edge of coverage ({s} dB above the "
                "threshold at its centre).",
        "mast": "Raising tower {t}'s antenna to {m} m would reach the threshold.",
        "mast_no": "No mast up to {m} m at tower {t} would be enough.",
        "site": "Proposed site no. {k} would cover it.",
        "site_no": "None of the proposed sites covers it.",
    },
    "vi": {
        "terrain": "{name} cách trạm {t} {d} km{sea} và một dãy núi cao {h} m, cách làng {od} km "
                   "về phía {dir}, chắn đường truyền; tín hiệu thiếu {s} dB so với ngưỡng.",
        "terrain_nopos": "{name} cách trạm {t} {d} km và bị địa hình che chắn; tín hiệu thiếu "
                         "{s} dB so với ngưỡng.",
        "distance": "{name} cách trạm {t} {d} km, không bị núi che chắn nhưng quá xa: "
        "tín hiệu thiếu {s} dB so với ngưỡng.",
        "sector": "{name} cách trạm {t} {d} km, trong tầm phủ nhưng lệch {off}° so với hướng "
                  "anten của trạm; tín hiệu thiếu {s} dB so với ngưỡng.",
        "sea": "{name} cách trạm {t} {d} km qua biển; tín hiệu thiếu {s} dB so với ngưỡng.",
        "sea_far": "{name} cách trạm gần nhất ({t}) {d} km qua biển, ngoài tầm phủ {r} km.",
        "no_tower": "{name} không có trạm nào trong bán kính {r} km; trạm gần nhất ({t}) cách "
                    "{d} km.",
        "no_tower_none": "{name} không có trạm nào trong khu vực.",
        "edge": "{name} cách trạm {t} {d} km, ở rìa vùng phủ sóng (tại tâm làng tín hiệu cao "
                "hơn ngưỡng {s} dB).",
        "mast": "Nâng anten trạm {t} lên {m} m sẽ đạt ngưỡng.",
        "mast_no": "Dù nâng anten trạm {t} lên {m} m cũng không đủ.",
        "site": "Vị trí đề xuất số {k} sẽ phủ sóng được làng này.",
        "site_no": "Chưa có vị trí đề xuất nào phủ sóng được làng này.",
    },
}  # fmt: skip


def dark_sentence(
    row: Any, lang: str = "vi", *, max_radius_km: float = MAX_RADIUS_KM,
    max_mast_m: float = MAX_MAST_M,
) -> str:  # fmt: skip
    """One or two sentences saying why a village is dark and what would light it.

    Parameters
    ----------
    row
        A row of :func:`explain_villages`' table (Series, dict or namedtuple).
    lang
        "vi" (Vietnamese, with diacritics and Vietnamese number separators) or "en".
    max_radius_km, max_mast_m
        The prediction radius and mast search limit used (for the wording only).

    Returns
    -------
    str
        "" for a village without an explanation (no uncovered households).
    """
    if lang not in _TEXT:
        raise ValueError(f"lang {lang!r} is not one of {', '.join(_TEXT)}")
    tx = _TEXT[lang]
    reason = _get(row, "dark_reason")
    if reason is None:
        return ""
    name = str(_get(row, "name") or _get(row, "village_id") or "")
    t = _get(row, "best_tower")
    d = _get(row, "distance_km")
    margin = _get(row, "margin_db")
    f = {
        "name": name, "t": t, "d": _km(d, lang) if d is not None else "?",
        "s": _num(abs(margin), lang) if margin is not None else "?",
        "r": _num(max_radius_km, lang), "m": _num(max_mast_m, lang),
    }  # fmt: skip
    if reason == "no_tower":
        first = tx["no_tower"] if t is not None else tx["no_tower_none"]
    elif reason == "sea" and margin is None:
        first = tx["sea_far"]
    elif margin is not None and margin >= 0:
        first = tx["edge"]
    elif reason == "terrain":
        h, od, ob = (_get(row, k) for k in ("obstruction_height_m", "obstruction_distance_km",
                                            "obstruction_bearing_deg"))  # fmt: skip
        if h is None or od is None or ob is None:
            first = tx["terrain_nopos"]
        else:
            water = _get(row, "water_share")
            over_sea = water is not None and water >= SEA_SHARE  # an island behind its own hill
            f.update(h=_num(h, lang), od=_km(od, lang), dir=_direction(ob, lang),
                     sea=_SEA[lang] if over_sea else "")  # fmt: skip
            first = tx["terrain"]
    elif reason == "sector":
        off = _get(row, "off_axis_deg")
        f["off"] = _num(off, lang) if off is not None else "?"
        first = tx["sector"]
    else:
        first = tx[reason]
    parts = [first.format(**f)]
    if t is not None and margin is not None and margin < 0:
        mast = _get(row, "mast_height_needed_m")
        if mast is not None:
            parts.append(tx["mast"].format(t=t, m=_num(mast, lang)))
        else:
            parts.append(tx["mast_no"].format(t=t, m=_num(max_mast_m, lang)))
    k = _get(row, "covered_by_site")
    if k is not None:
        parts.append(tx["site"].format(k=int(k)))
    elif "covered_by_site" in _keys(row):
        parts.append(tx["site_no"])
    return " ".join(parts)


def _keys(row: Any) -> Sequence[str]:
    if hasattr(row, "keys"):
        return list(row.keys())
    return list(getattr(row, "_fields", ()))


# -- profile plot -------------------------------------------------------------------------------
def village_profile(
    row: Any, terrain: Grid, towers: gpd.GeoDataFrame, *, rx_height_m: float = RX_HEIGHT_M
) -> Profile | None:
    """The profile from a row's ``best_tower`` to its probe point (``centre_x, centre_y``);
    None when the row has no tower."""
    t = _get(row, "best_tower")
    x, y = _get(row, "centre_x"), _get(row, "centre_y")
    if t is None or x is None or y is None:
        return None
    match = towers[towers["tower_id"].astype(str) == str(t)]
    if not len(match):
        return None
    tower = match.iloc[0]
    g = tower.geometry
    return terrain_profile(terrain, (g.x, g.y), (float(x), float(y)),
                           h_tx_m=float(tower["height_m"]), f_mhz=float(tower["freq_mhz"]),
                           rx_height_m=rx_height_m)  # fmt: skip


_PLOT_TEXT = {
    "en": {"ground": "terrain (earth curvature k = 4/3)", "los": "line of sight",
           "fresnel": "1st Fresnel zone", "x": "distance from tower (km)", "y": "height (m)",
           "tower": "tower", "village": "village", "obstacle": "obstruction {h} m"},
    "vi": {"ground": "địa hình (độ cong trái đất k = 4/3)", "los": "tầm nhìn thẳng",
           "fresnel": "miền Fresnel thứ nhất", "x": "khoảng cách từ trạm (km)",
           "y": "độ cao (m)", "tower": "trạm", "village": "làng", "obstacle": "vật cản {h} m"},
}  # fmt: skip


def profile_plot_png(
    profile: Profile,
    *,
    lang: str = "vi",
    title: str | None = None,
    width_px: int = 480,
    height_px: int = 240,
    dpi: int = 96,
) -> bytes:
    """A small PNG of the tower → village terrain profile (matplotlib, Agg).

    Drawn on the effective earth (ground + bulge, k = 4/3): the terrain, the straight line of
    sight from the tower's antenna to the receiver, the first Fresnel zone around it, and the
    dominant obstruction when it rises above the line of sight. For map popups
    (``<img src="data:image/png;base64,...">``) and the report.

    Returns
    -------
    bytes
        PNG data (a few tens of kB at the default size).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    txt = _PLOT_TEXT.get(lang, _PLOT_TEXT["en"])
    fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    km = profile.d_m / 1000.0
    ground = np.nan_to_num(profile.z_m, nan=0.0) + profile.bulge_m
    los = profile.los_m
    fz = profile.fresnel_m
    base = min(float(np.nanmin(ground)), 0.0) - 10.0
    ax.fill_between(km, base, ground, color="#b59b6d", alpha=0.8, lw=0, label=txt["ground"])
    sea = np.nan_to_num(profile.z_m, nan=1.0) <= 0
    if sea.any():
        ax.fill_between(km, base, ground, where=sea, color="#6fa8dc", lw=0)
    ax.fill_between(km, los - fz, los + fz, color="#f6b26b", alpha=0.35, lw=0,
                    label=txt["fresnel"])  # fmt: skip
    ax.plot(km, los, color="#cc0000", lw=1.2, label=txt["los"])
    ax.plot([km[0], km[0]], [ground[0], profile.h_tx_abs_m], color="black", lw=2)
    ax.plot([km[0]], [profile.h_tx_abs_m], marker="^", color="black", ms=7)
    ax.plot([km[-1]], [profile.h_rx_abs_m], marker="s", color="#3d85c6", ms=6)
    ax.annotate(txt["tower"], (km[0], profile.h_tx_abs_m), textcoords="offset points",
                xytext=(4, 4), fontsize=7)  # fmt: skip
    ax.annotate(txt["village"], (km[-1], profile.h_rx_abs_m), textcoords="offset points",
                xytext=(-30, 6), fontsize=7)  # fmt: skip
    if profile.obstacle > 0 and profile.above_los_m > 0 and profile.relief_db > 0:
        k = profile.obstacle
        right = km[k] > 0.6 * km[-1]  # label on the side with room
        ax.plot([km[k]], [ground[k]], marker="v", color="#990000", ms=7)
        ax.annotate(
            txt["obstacle"].format(h=_num(float(profile.z_m[k]), lang)),
            (km[k], ground[k]),
            textcoords="offset points",
            xytext=(-6 if right else 6, 4),
            ha="right" if right else "left",
            fontsize=7,
            color="#990000",
        )
    top = max(float(np.nanmax(ground)), float(np.nanmax(los + fz)))
    ax.set_ylim(base, top + 0.15 * (top - base) + 5)
    ax.set_xlim(0, max(km[-1], 1e-3))
    ax.set_xlabel(txt["x"], fontsize=7)
    ax.set_ylabel(txt["y"], fontsize=7)
    ax.tick_params(labelsize=7)
    # legend under the axes: inside, it would hide the ridge tops the plot is about
    ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=3, frameon=False)
    if title:
        ax.set_title(title, fontsize=8)
    # fixed margins for the fixed size (tight_layout measured every text: a third of the time)
    fig.subplots_adjust(left=0.12, right=0.98, bottom=0.36, top=0.9 if title else 0.96)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
