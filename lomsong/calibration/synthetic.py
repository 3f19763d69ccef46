"""A simulated walk test: field evidence drawn from a prediction with a known error.

A community digital team's log is what :mod:`lomsong.calibration.validate` and
:mod:`lomsong.calibration.censored` are for; to show and test them where no real log exists (the
demo province, notebook 05, the synthetic-truth check of issue 17), this module writes the log
such a team would bring back if the world were lomsong's own prediction plus a known error:

- each walked village gets ``samples_per_village`` points drawn uniformly inside its polygon;
  each point is one phone of one operator × technology (taken in turn among those present);
- the true level of every cell of that operator × technology at the point is the engine's
  point-to-point service level (:func:`lomsong.coverage.engine.received_power_points`, the
  same quantity — RxLev, RSCP, RSRP — and model as the run) + the operator's offset
  (``offsets_db``, the "truth" a calibration should recover) + Gaussian shadowing of
  ``noise_db``, correlated between the cells seen at one point with coefficient
  ``correlation`` (0.5: the inter-site shadowing correlation of 3GPP TR 25.942 §4.1.1 —
  part of the shadowing is the receiver's own surroundings, common to every path);
- the phone camps on the strongest cell (so its level is biased upward by the choice among
  noisy cells, as in the field: a calibration should not be expected to recover the offsets
  exactly from best-server samples); when even that one is below the phone's floor
  (:data:`lomsong.defaults.PHONE_FLOOR_DBM`, or ``floor_dbm``) it has no service: the row is
  kept with an empty level and no cell, as the generic evidence contract says;
- levels are whole dBm, as phones report them.

The result follows the generic evidence contract (``lat, lon, level_dbm, tech, operator,
cell_id, time``), so :func:`~lomsong.calibration.evidence.read_evidence` reads it as it reads a
real log. It is a simulation, named as one wherever it is used.
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely import contains_xy

from lomsong.coverage.engine import received_power_points
from lomsong.defaults import ENVIRONMENT, MAX_RADIUS_KM, PHONE_FLOOR_DBM, RX_HEIGHT_M
from lomsong.grid import Grid

__all__ = ["simulate_walk_test"]

#: Start of the simulated walk (UTC): one sample every 10 s from there.
_START = pd.Timestamp("2026-11-02T01:00:00Z")


def _points_in(poly, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points uniform in a polygon, by rejection from its bounding box."""
    x0, y0, x1, y1 = poly.bounds
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    got = 0
    for _ in range(50):  # a village fills ≥ ~30 % of its box: 50 rounds never run out
        x = rng.uniform(x0, x1, 4 * n)
        y = rng.uniform(y0, y1, 4 * n)
        inside = contains_xy(poly, x, y)
        xs.append(x[inside])
        ys.append(y[inside])
        got += int(inside.sum())
        if got >= n:
            break
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def simulate_walk_test(
    towers: gpd.GeoDataFrame,
    villages: gpd.GeoDataFrame,
    *,
    terrain: Grid,
    offsets_db: Mapping[str, float],
    model: str = "itm",
    environment: str = ENVIRONMENT,
    rx_height_m: float = RX_HEIGHT_M,
    max_radius_km: float = MAX_RADIUS_KM,
    noise_db: float = 6.0,
    correlation: float = 0.5,
    floor_dbm: Mapping[str, float] | None = None,
    samples_per_village: int = 20,
    walked: int | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Simulate a walk-test log over the villages (see the module notes for the model).

    Parameters
    ----------
    towers, villages
        The network and the villages, in the terrain's projected CRS.
    terrain
        The DEM the prediction uses.
    offsets_db
        True error of the model per operator (dB, measured − predicted); operators not listed
        have none.
    model, environment, rx_height_m, max_radius_km
        The prediction the "world" is built on.
    noise_db
        Standard deviation of the shadowing (dB).
    correlation
        Correlation of the shadowing between the cells seen at one point (0 = independent,
        1 = one draw per point).
    floor_dbm
        Phone floor per technology (dBm); default :data:`~lomsong.defaults.PHONE_FLOOR_DBM`.
    samples_per_village
        Points walked in each village.
    walked
        How many villages are walked (a random choice); None: all of them.
    seed
        Seed of every draw: the same seed gives the same log.

    Returns
    -------
    pandas.DataFrame
        ``lat, lon`` (degrees), ``level_dbm`` (whole dBm; NaN = no service), ``tech``,
        ``operator``, ``cell_id`` ("" with no service), ``time`` (ISO 8601 UTC),
        ``village_id`` (where the point was drawn, for checking).
    """
    rng = np.random.default_rng(seed)
    floors = {**PHONE_FLOOR_DBM, **(floor_dbm or {})}
    vil = villages.reset_index(drop=True)
    if walked is not None and walked < len(vil):
        vil = vil.iloc[np.sort(rng.choice(len(vil), size=walked, replace=False))]
    xs, ys, vid = [], [], []
    for row in vil.itertuples():
        x, y = _points_in(row.geometry, samples_per_village, rng)
        xs.append(x)
        ys.append(y)
        vid += [row.village_id] * len(x)
    x = np.concatenate(xs)
    y = np.concatenate(ys)
    n = len(x)
    ops, techs = towers["operator"].astype(str), towers["tech"].astype(str)
    pairs = sorted(set(zip(ops, techs, strict=True)))
    which = np.arange(n) % len(pairs)  # phones of each operator × technology in turn
    if not 0.0 <= correlation <= 1.0:
        raise ValueError(f"correlation must be in [0, 1], not {correlation}")
    common = rng.normal(0.0, noise_db, n) * np.sqrt(correlation)
    own_db = noise_db * np.sqrt(1.0 - correlation)
    best = np.full(n, -np.inf)
    cell = np.full(n, "", dtype=object)
    for k, (op, tech) in enumerate(pairs):
        idx = np.flatnonzero(which == k)
        mine = towers[(towers["operator"].astype(str) == op) & (towers["tech"].astype(str) == tech)]
        for _, tower in mine.iterrows():
            level, _gain = received_power_points(
                tower, terrain, x[idx], y[idx], model=model, environment=environment,
                rx_height_m=rx_height_m, max_radius_km=max_radius_km,
            )  # fmt: skip
            noise = common[idx] + rng.normal(0.0, own_db, len(idx))
            level = level + float(offsets_db.get(op, 0.0)) + noise
            level = np.where(np.isfinite(level), level, -np.inf)
            better = level > best[idx]
            best[idx[better]] = level[better]
            cell[idx[better]] = str(tower["tower_id"])
    tech_of = np.array([pairs[k][1] for k in which], dtype=object)
    floor = np.array([floors.get(t, -np.inf) for t in tech_of])
    heard = best >= floor
    lon, lat = (
        gpd.GeoSeries(gpd.points_from_xy(x, y), crs=towers.crs)
        .to_crs(4326)
        .pipe(lambda s: (s.x.to_numpy(), s.y.to_numpy()))
    )
    return pd.DataFrame({
        "lat": np.round(lat, 6), "lon": np.round(lon, 6),
        "level_dbm": np.where(heard, np.round(best), np.nan),
        "tech": tech_of,
        "operator": [pairs[k][0] for k in which],
        "cell_id": np.where(heard, cell, ""),
        "time": [(_START + pd.Timedelta(seconds=10 * i)).isoformat() for i in range(n)],
        "village_id": vid,
    })  # fmt: skip
