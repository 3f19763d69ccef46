"""Explain every dead zone: why is this village dark, and what would it take?

For each village with uncovered households, :func:`explain_villages` takes one *probe point*
(the uncovered household nearest to the household-weighted centre of the village's uncovered
households: a point the raster calls dark, in the middle of the dark part) and predicts every
existing tower within ``max_radius_km`` there with the raster engine's own loss on the straight
profile (:func:`lomsong.coverage.engine.service_levels_points`)::

    P = EIRP + G_antenna(bearing, elevation) − L_model(profile)

The tower with the best margin over the rule is the village's *best tower*; the shortfall is
``S = −margin`` (dB), the margin being the rule's at that point
(:meth:`lomsong.coverage.rule.CoverageRule.margin_db`): ``P − threshold(tech)`` under the
closed-form models (the fade margin), and under ITM the median level's margin less ITM's own
location deviation there — P is predicted at the median and at the run's location quantile, as
the grid is (:func:`lomsong.coverage.engine.service_levels_points`).

Reason categories
-----------------
The shortfall is split into what each cause costs, and the dominant cause names the reason.
Checked in this order:

``no_tower``
    No tower within ``max_radius_km`` gives a prediction. The nearest tower (at any distance)
    is still reported as ``best_tower``/``distance_km`` with no power or margin.
``sea``
    The straight path to the best (or, without one, the nearest) tower runs over the sea — the
    run's sea mask on at least :data:`SEA_SHARE` (half) of its samples — and neither terrain nor
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
    the engine's prediction at the probe point is reliable by the rule (the pattern's elevation
    angle and, under ITM, the level at the location quantile are recomputed at each height).
    NaN with ``mast_reachable = False`` when no height up to 100 m reaches it, or when there
    is no tower in range.
``covered_by_site``
    Rank of the first ranked candidate site that covers at least :data:`COVER_SHARE` (half) of
    the village's uncovered households (:func:`lomsong.siting.matrix.covered_by_site`, on the
    ranking's coverage matrix). Filled by the siting step, after ranking.

The model of the run
--------------------
Power, margin and mast height are always the run's own model at the probe point
(:func:`lomsong.coverage.engine.service_levels_points`: ITM point to point under ITM, the
closed-form model plus one knife edge otherwise), judged by the run's coverage rule
(:class:`lomsong.coverage.rule.CoverageRule`, per technology, indoor loss and clutter
included; under ITM with ITM's own location variability, as the dead zones) with the run's
calibration. The *relief* loss follows the model too: under ITM it is ITM's own
reference attenuation on the real profile minus that on a smooth profile between the same
terminals, the obstacle is ITM's transmitter horizon and ``propagation_mode`` is ITM's mode
(1 line of sight, 2 diffraction, 3 troposcatter); under the closed-form models it is the
knife edge of the dominant obstacle (:mod:`lomsong.propagation.paths`), whose limits it
inherits (a second ridge behind the first is ignored). "Sea" is the run's sea mask
(:func:`lomsong.layers.water.sea_mask`).
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import Transformer

from lomsong.coverage.deadzones import DeadZones
from lomsong.coverage.engine import PointLevels, service_levels_points
from lomsong.coverage.rule import CoverageRule
from lomsong.coverage.types import Coverage
from lomsong.defaults import ENVIRONMENT, ITM_DEFAULTS, MAX_RADIUS_KM, RX_HEIGHT_M
from lomsong.grid import Grid
from lomsong.layers.water import sea_mask
from lomsong.propagation import antennas, itm
from lomsong.propagation.paths import Profile, terrain_profile
from lomsong.text import PLOT, SENTENCES, compass, for_lang, format_int, format_km

__all__ = [
    "REASONS",
    "TERRAIN_SHARE",
    "SECTOR_SHARE",
    "SEA_SHARE",
    "MAX_MAST_M",
    "CONTRACT_COLUMNS",
    "HELPER_COLUMNS",
    "EXPLAIN_COLUMNS",
    "Profile",
    "terrain_profile",
    "explain_villages",
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
    "mast_reachable", "centre_x", "centre_y", "propagation_mode",
]  # fmt: skip
EXPLAIN_COLUMNS = CONTRACT_COLUMNS + HELPER_COLUMNS


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


def _point_levels(
    tower: Mapping, terrain: Grid, x: Any, y: Any, rule: CoverageRule, opts: dict,
    h_tx_m: float | None = None, paths_memo: dict | None = None,
) -> PointLevels:  # fmt: skip
    """A tower's levels at points as the rule judges them: at the median and (ITM) at the
    run's location quantile, the rule's clutter at the receiver subtracted from both
    (``paths_memo``: see :func:`~lomsong.coverage.engine.service_levels_points`)."""
    levels = service_levels_points(
        tower, terrain, x, y, h_tx_m=h_tx_m, location_probability=rule.location_probability,
        paths_memo=paths_memo, **opts,
    )  # fmt: skip
    return levels.minus(rule.clutter_at(str(tower.get("tech", "")), x, y))


def _mast_needed(
    tower: Mapping,
    terrain: Grid,
    x: float,
    y: float,
    rule: CoverageRule,
    opts: dict,
    max_mast_m: float,
) -> float:
    """Lowest whole-metre height (≥ the current one) at which the tower covers the point by
    the rule (:meth:`CoverageRule.covers`, under ITM with the level at the location quantile
    predicted at each height); NaN if none.

    Scans every :data:`_MAST_SCAN_M` metres, then bisects the bracket that first reaches the
    rule: about a dozen profiles (two each under ITM) instead of one per metre. The margin
    grows with height on the engine's model (Hata's base-height gain, a lower knife edge, a
    shallower ITM diffraction); only a sector's vertical pattern can bend that, by a fraction
    of a dB over a few metres.
    """
    tech = str(tower.get("tech", ""))

    def reaches(h: float) -> bool:
        lv = _point_levels(tower, terrain, [x], [y], rule, opts, h_tx_m=h)
        return bool(rule.covers(lv.level, tech, at_quantile=lv.at_quantile)[0])

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
    sea: Grid | None = None,
) -> gpd.GeoDataFrame:
    """Why each village with uncovered households is dark, and what would light it.

    Parameters
    ----------
    signal
        The :class:`~lomsong.coverage.types.Coverage` the dead zones came from (its towers, in
        serving-index order, and its calibration).
    gaps
        The :class:`~lomsong.coverage.deadzones.DeadZones`: its ``params`` (model,
        environment, rx_height_m, max_radius_km), its calibration and its coverage ``rule``
        are used, so the explanation is predicted and judged exactly like the coverage.
    terrain
        Elevation Grid (m) of the prediction.
    max_mast_m
        Tallest mast searched (m above ground).
    sea
        Bool grid of the sea (default :func:`lomsong.layers.water.sea_mask` of the terrain).

    Returns
    -------
    GeoDataFrame
        A copy of ``gaps.villages`` (same rows and order) with :data:`EXPLAIN_COLUMNS` added;
        villages without uncovered households have empty values (NA / NaN). Every dead
        village has a reason: its households are points (:func:`dead_zones` gives a village
        without any one at its representative point, carrying its census count), so it has
        uncovered points to probe. ``covered_by_site`` is left empty: the siting
        step fills it (:func:`lomsong.siting.matrix.covered_by_site`).

    Notes
    -----
    Cost: one straight profile per (tower, village) pair within the radius, plus about a dozen
    per village for the mast search (a 10 m scan, then bisection), each evaluated twice under
    ITM (the median and the location quantile), plus with ITM two more point-to-point
    evaluations of the best tower's profile (the relief).
    """
    # the dead zones' own parameters, so the explanation is predicted like the coverage
    p = {"model": signal.model, "rx_height_m": signal.rx_height_m, **signal.params,
         **gaps.params}  # fmt: skip
    opts = {
        "model": p["model"],
        "environment": p.get("environment", ENVIRONMENT),
        "rx_height_m": float(p["rx_height_m"]),
        "max_radius_km": float(p.get("max_radius_km", MAX_RADIUS_KM)),
        "calibration": gaps.calibration if gaps.calibration is not None else signal.calibration,
    }
    rule = gaps.rule
    sea = sea_mask(terrain) if sea is None else sea
    radius_m = opts["max_radius_km"] * 1000.0
    villages = gaps.villages.copy()
    n = len(villages)
    cols = _empty_columns(n)
    vids = villages["village_id"].astype(str).to_numpy()
    dark = (villages["households_uncovered"].to_numpy() > 0) | villages["dead"].to_numpy(bool)
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
        margin = np.full(dist.shape, np.nan)
        gain = np.zeros(dist.shape)
        memo: dict = {}  # a site's sectors on one carrier share their paths to the villages
        for k, tower in enumerate(records):
            near = np.flatnonzero(dist[k] <= radius_m)
            tech = str(tower.get("tech", ""))
            if len(near) and rule.counts(tech):
                # the median and (ITM) the location quantile: the rule's criterion of the grid
                lv = _point_levels(tower, terrain, px[near], py[near], rule, opts,
                                   paths_memo=memo)  # fmt: skip
                power[k, near] = lv.level
                gain[k, near] = lv.gain
                margin[k, near] = rule.margin_db(lv.level, tech, at_quantile=lv.at_quantile)
        to_ll = Transformer.from_crs(terrain.crs, "EPSG:4326", always_xy=True)
        for j, i in enumerate(rows):
            _explain_one(cols, i, px[j], py[j], dist[:, j], power[:, j], margin[:, j],
                         gain[:, j], records, terrain, sea, rule, opts, max_mast_m,
                         to_ll)  # fmt: skip
    for name in EXPLAIN_COLUMNS:
        villages[name] = cols[name]
    logger.info(
        "explained %d villages: %s", len(rows),
        pd.Series(cols["dark_reason"]).value_counts().to_dict(),
    )  # fmt: skip
    return villages


def _itm_relief(prof: Profile, tower: Mapping, rx_height_m: float) -> tuple[float, int, int]:
    """(relief loss dB, obstacle sample, ITM mode) of a profile under ITM itself.

    The relief loss is ITM's reference attenuation (``A_ref``: diffraction, the two-ray line
    of sight and troposcatter over the real profile, relative to free space) minus the same on
    a smooth profile, straight between the two terminals' ground — what the terrain's
    irregularity adds beyond distance and the earth's curvature. The obstacle is the sample at
    ITM's transmitter horizon (−1 when the horizon is the receiver itself). The mode is ITM's
    (1 line of sight, 2 diffraction, 3 troposcatter). Returns NaN relief when ITM refuses the path.
    """
    z = np.nan_to_num(np.asarray(prof.z_m, dtype=float), nan=0.0)
    steps = len(z) - 1
    spacing = prof.length_m / max(steps, 1)
    params = {k: ITM_DEFAULTS[k] for k in ("climate", "n0", "pol", "epsilon", "sigma", "mdvar",
                                            "time", "location", "situation")}  # fmt: skip
    h_tx, f = float(tower["height_m"]), float(tower["freq_mhz"])
    # the reference: the same path over smooth ground, straight between the terminals' ground
    smooth = np.linspace(z[0], z[-1], len(z))
    try:
        real = itm.p2p_tls(np.r_[steps, spacing, z], h_tx_m=h_tx, h_rx_m=rx_height_m,
                           f_mhz=f, **params)  # fmt: skip
        flat = itm.p2p_tls(np.r_[steps, spacing, smooth], h_tx_m=h_tx, h_rx_m=rx_height_m,
                           f_mhz=f, **params)  # fmt: skip
    except (itm.ITMError, ValueError):
        return math.nan, -1, 0
    relief = max(real.intermediate.A_ref_db - flat.intermediate.A_ref_db, 0.0)
    # ITM's transmitter horizon: an interior sample is the obstacle (its mode may still say
    # "line of sight" when both horizons fall on one ridge: the ridge's loss is in A_ref)
    obstacle = int(round(real.intermediate.d_hzn_m[0] / spacing)) if steps >= 2 else -1
    if not 0 < obstacle < steps:
        obstacle = -1
    return float(relief), obstacle, int(real.mode)


def _explain_one(
    cols: dict, i: int, x: float, y: float, dist: np.ndarray, power: np.ndarray,
    margin: np.ndarray, gain: np.ndarray, records: list[dict], terrain: Grid, sea: Grid,
    rule: CoverageRule, opts: dict, max_mast_m: float, to_ll: Transformer,
) -> None:  # fmt: skip
    cols["centre_x"][i], cols["centre_y"][i] = x, y
    if not records:
        cols["dark_reason"][i] = "no_tower"
        cols["mast_reachable"][i] = False
        return
    reach = np.isfinite(margin)
    # the best tower is the one closest to the rule (its own technology's threshold)
    k = int(np.nanargmax(margin)) if reach.any() else int(np.argmin(dist))
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
        sea=sea,
    )
    cols["water_share"][i] = prof.water_share
    if not reach.any():
        # nothing predicts here; an over-water path to the nearest tower is still "sea"
        over_sea = math.isfinite(prof.water_share) and prof.water_share >= SEA_SHARE
        cols["dark_reason"][i] = "sea" if over_sea else "no_tower"
        cols["mast_reachable"][i] = False
        return
    p = float(power[k])
    sector_db = 0.0 - float(gain[k])  # 0.0, not -0.0, for omnis
    off = _off_axis(tower, bearing)
    # the relief loss and the obstacle of the model the run used
    relief_db, obstacle = prof.relief_db, prof.obstacle
    if opts["model"] == "itm":
        itm_relief, itm_obstacle, mode = _itm_relief(prof, tower, opts["rx_height_m"])
        cols["propagation_mode"][i] = mode
        if math.isfinite(itm_relief):
            relief_db, obstacle = itm_relief, itm_obstacle
    cols["power_dbm"][i] = p
    cols["margin_db"][i] = float(margin[k])
    cols["terrain_loss_db"][i] = relief_db
    cols["sector_loss_db"][i] = sector_db
    cols["off_axis_deg"][i] = off
    cols["dark_reason"][i] = _classify(
        shortfall=-float(margin[k]), relief_db=relief_db, sector_db=sector_db, off_axis=off,
        beamwidth=float(tower.get("beamwidth_deg", antennas.DEFAULT_BEAMWIDTH_DEG)),
        water=prof.water_share,
    )  # fmt: skip
    if obstacle > 0 and relief_db > 0:
        above = prof.above_los(obstacle)
        if above > 0:
            # the relief itself rises into the line of sight (the earth bulge alone is "distance")
            ox, oy = float(prof.x[obstacle]), float(prof.y[obstacle])
            lon, lat = to_ll.transform(ox, oy)
            cols["obstruction_lon"][i], cols["obstruction_lat"][i] = lon, lat
            cols["obstruction_height_m"][i] = float(prof.z_m[obstacle])
            cols["obstruction_distance_km"][i] = math.hypot(ox - x, oy - y) / 1000.0
            cols["obstruction_bearing_deg"][i] = float(antennas.bearing_deg(ox - x, oy - y))
            cols["obstruction_above_los_m"][i] = above
            cols["fresnel_radius_m"][i] = float(prof.fresnel_m[obstacle])
    # the mast search judges each height's levels by the rule, as the margin above
    mast = _mast_needed(tower, terrain, x, y, rule, opts, max_mast_m)
    cols["mast_height_needed_m"][i] = mast
    cols["mast_reachable"][i] = bool(math.isfinite(mast))


# -- sentences (wording: lomsong.text.SENTENCES) -----------------------------------------------
def _get(row: Any, key: str) -> Any:
    v = row.get(key) if hasattr(row, "get") else getattr(row, key, None)
    if v is None or v is pd.NA:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


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
    tx = for_lang(SENTENCES, lang)
    reason = _get(row, "dark_reason")
    if reason is None:
        return ""
    name = str(_get(row, "name") or _get(row, "village_id") or "")
    t = _get(row, "best_tower")
    d = _get(row, "distance_km")
    margin = _get(row, "margin_db")
    f = {
        "name": name, "t": t, "d": format_km(d, lang) if d is not None else "?",
        "s": format_int(abs(margin), lang) if margin is not None else "?",
        "r": format_int(max_radius_km, lang), "m": format_int(max_mast_m, lang),
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
            f.update(h=format_int(h, lang), od=format_km(od, lang), dir=compass(ob, lang),
                     sea=tx["across_sea"] if over_sea else "")  # fmt: skip
            first = tx["terrain"]
    elif reason == "sector":
        off = _get(row, "off_axis_deg")
        f["off"] = format_int(off, lang) if off is not None else "?"
        first = tx["sector"]
    else:
        first = tx[reason]
    parts = [first.format(**f)]
    if t is not None and margin is not None and margin < 0:
        mast = _get(row, "mast_height_needed_m")
        if mast is not None:
            parts.append(tx["mast"].format(t=t, m=format_int(mast, lang)))
        else:
            parts.append(tx["mast_no"].format(t=t, m=format_int(max_mast_m, lang)))
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

    txt = for_lang(PLOT, lang)
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
            txt["obstacle"].format(h=format_int(float(profile.z_m[k]), lang)),
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
