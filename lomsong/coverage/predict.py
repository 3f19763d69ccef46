"""Signal prediction over terrain: per-tower received power and the best-server composite."""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd

from lomsong.grid import Grid

__all__ = ["Coverage"]


@dataclass
class Coverage:
    """Result of :func:`predict`.

    Attributes
    ----------
    power
        float32 Grid of best-server received power (dBm) at receiver height;
        NaN where no tower is within range.
    serving
        int32 Grid of the serving tower's positional index into ``towers`` (-1 = none).
    towers
        The towers predicted (project CRS), in the order that ``serving`` indexes.
    model
        Name of the propagation model ("fspl", "hata", "cost231", "itm").
    rx_height_m
        Receiver height above ground (m).
    params
        Model parameters used (environment, max radius, …) for reports and cache keys.
    """

    power: Grid
    serving: Grid
    towers: gpd.GeoDataFrame
    model: str
    rx_height_m: float
    params: dict = field(default_factory=dict)
