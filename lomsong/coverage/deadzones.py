"""Dead zones: who has no signal, per household and per village."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd

__all__ = ["DeadZones"]


@dataclass
class DeadZones:
    """Result of :func:`dead_zones`.

    Attributes
    ----------
    villages
        The villages with ``households, households_covered, households_uncovered,
        share_uncovered, dead`` (project CRS), sorted by households_uncovered descending.
    zones
        Dead-zone polygons: ``zone_id, households, area_km2, villages, nearest_tower_km``.
    households
        Every household point with ``households`` (weight), ``village_id``,
        ``power_dbm`` and ``covered`` (bool).
    threshold_dbm
        The coverage threshold used (received power, dBm).
    """

    villages: gpd.GeoDataFrame
    zones: gpd.GeoDataFrame
    households: gpd.GeoDataFrame
    threshold_dbm: float

    @property
    def uncovered(self) -> gpd.GeoDataFrame:
        """Household points without coverage: the demand of site ranking."""
        return self.households[~self.households["covered"]]
