"""Parameters of the demo variants and the frame the province is drawn in.

A variant (:data:`VARIANTS`: full, reduced, province) fixes the sizes of everything. The frame
places the province near the real one in UTM zone 49N (EPSG:32649) and works in local
coordinates (u east, v north, metres from the grid's lower-left corner): the coastline runs
roughly north-south (:class:`Coast`), and an island (~4 km², a hill of 60-100 m, like Lý Sơn /
Đảo Bé, :class:`Island`) lies 20-25 km offshore.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import shapely
from affine import Affine
from pyproj import CRS
from shapely.geometry import Polygon

DEMO_CRS = CRS.from_epsg(32649)
"""UTM zone 49N: the metric CRS of Quảng Ngãi (108-109 °E)."""

ORIGIN_LONLAT = (108.45, 14.75)
"""Lower-left corner of the demo grid (WGS84 lon, lat), near the real province."""


# ---------------------------------------------------------------------------------------------
# parameters
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Params:
    """Size of one demo variant. Lengths in metres, elevations in metres."""

    res: float  # cell size
    land_width: float  # mean distance from the west edge to the coast
    height: float  # north-south extent
    coast_amps: tuple[float, ...]  # coastline wiggle amplitudes
    coast_waves: tuple[float, ...]  # and wavelengths
    island_offshore: float  # island centre to the nearest mainland coast
    island_radius: float  # mean island radius
    mtn_start: float  # distance from the coast where the foothills begin
    mtn_full: float  # distance from the coast where the relief reaches its full height
    max_elev: tuple[float, float]  # range of the highest summit
    n_rivers: int
    n_tribs: tuple[int, int]  # tributaries per main river (min, max)
    trib_length: tuple[float, float]
    meander_amp: float  # meander amplitude of the main rivers in the mountains
    highway_d: float  # distance of the coastal highway from the coast
    plain_districts: tuple[str, ...]  # north to south
    mountain_districts: tuple[str, ...]
    town_villages: int  # "Tổ dân phố" per town (one town per plain district)
    n_plain: int
    plain_spacing: float
    n_foothill: int
    foothill_width: float  # foothill band beyond mtn_start
    foothill_spacing: float
    mtn_spacing: float  # between mountain hamlets along the rivers
    n_island_villages: int
    households_total: tuple[float, float]
    villages_per_commune: float
    n_plain_sites: int
    site_spacing: float
    coast_site_spacing: float
    n_foothill_sites: int
    tower_max_d: float  # no tower farther than this from the coast
    island_exclusion: float  # no tower closer than this to the island centre
    min_towers: int  # radiating units (rows)


_FULL = Params(
    res=30.0,
    land_width=36_000.0,
    height=40_020.0,
    coast_amps=(1_300.0, 600.0, 250.0),
    coast_waves=(38_000.0, 13_000.0, 5_000.0),
    island_offshore=23_500.0,
    island_radius=1_100.0,
    mtn_start=11_000.0,
    mtn_full=30_000.0,
    max_elev=(1_430.0, 1_530.0),
    n_rivers=4,
    n_tribs=(1, 2),
    trib_length=(5_000.0, 9_000.0),
    meander_amp=1_900.0,
    highway_d=6_500.0,
    plain_districts=("Bình Sơn", "Sơn Tịnh", "Tư Nghĩa", "Mộ Đức"),
    mountain_districts=("Trà Bồng", "Sơn Hà", "Ba Tơ"),
    town_villages=5,
    n_plain=100,
    plain_spacing=1_500.0,
    n_foothill=22,
    foothill_width=7_000.0,
    foothill_spacing=2_000.0,
    mtn_spacing=2_400.0,
    n_island_villages=2,
    households_total=(56_000.0, 64_000.0),
    villages_per_commune=6.5,
    n_plain_sites=14,
    site_spacing=4_500.0,
    coast_site_spacing=6_500.0,
    n_foothill_sites=3,
    tower_max_d=13_500.0,
    island_exclusion=27_000.0,
    min_towers=40,
)

_REDUCED = Params(
    res=90.0,
    land_width=16_020.0,
    height=12_060.0,
    coast_amps=(500.0, 200.0),
    coast_waves=(14_000.0, 5_000.0),
    island_offshore=9_000.0,
    island_radius=600.0,
    mtn_start=4_000.0,
    mtn_full=13_000.0,
    max_elev=(1_250.0, 1_350.0),
    n_rivers=2,
    n_tribs=(1, 1),
    trib_length=(3_000.0, 4_000.0),
    meander_amp=1_100.0,
    highway_d=2_500.0,
    plain_districts=("Tư Nghĩa",),
    mountain_districts=("Ba Tơ",),
    town_villages=4,
    n_plain=14,
    plain_spacing=1_200.0,
    n_foothill=5,
    foothill_width=4_000.0,
    foothill_spacing=1_500.0,
    mtn_spacing=1_800.0,
    n_island_villages=1,
    households_total=(5_500.0, 7_000.0),
    villages_per_commune=5.0,
    n_plain_sites=3,
    site_spacing=3_000.0,
    coast_site_spacing=4_000.0,
    n_foothill_sites=3,
    tower_max_d=8_000.0,
    island_exclusion=15_500.0,
    min_towers=10,
)

#: A province-sized variant for benchmarks: ~62 × 83 km of land (≈ 5,150 km², the area of
#: Quảng Ngãi) at 30 m, households at the real province's scale.
_PROVINCE = replace(
    _FULL,
    land_width=62_000.0,
    height=83_010.0,
    coast_amps=(2_500.0, 1_000.0, 300.0),
    coast_waves=(70_000.0, 20_000.0, 6_000.0),
    mtn_full=45_000.0,
    n_rivers=7,
    plain_districts=("Bình Sơn", "Sơn Tịnh", "Tư Nghĩa", "Nghĩa Hành", "Mộ Đức", "Đức Phổ"),
    mountain_districts=("Trà Bồng", "Sơn Tây", "Sơn Hà", "Minh Long", "Ba Tơ"),
    n_plain=420,
    n_foothill=90,
    households_total=(290_000.0, 330_000.0),
    n_plain_sites=60,
    n_foothill_sites=12,
    min_towers=150,
)
VARIANTS = {"full": _FULL, "reduced": _REDUCED, "province": _PROVINCE}


# ---------------------------------------------------------------------------------------------
# geometry helpers: local coordinates (u east, v north, metres from the lower-left corner)
# ---------------------------------------------------------------------------------------------
class Coast:
    """Coastline u = f(v): a mean line with a few sinusoidal bays and headlands."""

    def __init__(self, rng: np.random.Generator, p: Params) -> None:
        self.mean = p.land_width
        self.amps = np.asarray(p.coast_amps) * rng.uniform(0.7, 1.1, len(p.coast_amps))
        self.waves = np.asarray(p.coast_waves) * rng.uniform(0.85, 1.15, len(p.coast_waves))
        self.phases = rng.uniform(0.0, 2.0 * np.pi, len(p.coast_amps))

    def __call__(self, v: np.ndarray | float) -> np.ndarray:
        v = np.asarray(v, dtype=float)[..., None]
        wiggle = self.amps * np.sin(2.0 * np.pi * v / self.waves + self.phases)
        return self.mean + wiggle.sum(axis=-1)


class Island:
    """A star-shaped island: radius R(θ) = R0 (1 + a2 sin(2θ+φ2) + a3 sin(3θ+φ3))."""

    def __init__(self, rng: np.random.Generator, p: Params, coast: Coast) -> None:
        self.r0 = p.island_radius * rng.uniform(0.9, 1.1)
        self.a = rng.uniform([0.08, 0.04], [0.18, 0.09])
        self.phi = rng.uniform(0.0, 2.0 * np.pi, 2)
        self.cv = p.height * rng.uniform(0.35, 0.6)
        # the centre lies `island_offshore` from the *nearest* coast point: the circle of that
        # radius about the centre touches the coastline
        dv = np.linspace(-p.island_offshore, p.island_offshore, 801)
        vv = self.cv + dv
        ok = (vv >= 0) & (vv <= p.height)
        du = np.sqrt(np.maximum(p.island_offshore**2 - dv[ok] ** 2, 0.0))
        self.cu = float(np.max(coast(vv[ok]) + du))
        self.peak = rng.uniform(65.0, 95.0)
        # the hill stands off-centre, like Lý Sơn's volcanic cones
        ang = rng.uniform(0.0, 2.0 * np.pi)
        self.pu = self.cu + 0.3 * self.r0 * math.cos(ang)
        self.pv = self.cv + 0.3 * self.r0 * math.sin(ang)

    def radius(self, theta: np.ndarray) -> np.ndarray:
        a2, a3 = self.a
        return self.r0 * (
            1.0 + a2 * np.sin(2 * theta + self.phi[0]) + a3 * np.sin(3 * theta + self.phi[1])
        )

    def polygon(self) -> Polygon:
        theta = np.linspace(0.0, 2.0 * np.pi, 145)[:-1]
        r = self.radius(theta)
        return Polygon(np.c_[self.cu + r * np.cos(theta), self.cv + r * np.sin(theta)])

    def elevation(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Elevation (m): a low base rising inland and a Gaussian hill of height ``peak``."""
        du, dv = u - self.cu, v - self.cv
        rho = np.hypot(du, dv) / self.radius(np.arctan2(dv, du))
        base = 2.0 + 8.0 * (1.0 - np.clip(rho, 0.0, 1.0))
        sigma = 0.35 * self.r0
        hill = np.exp(-((u - self.pu) ** 2 + (v - self.pv) ** 2) / (2.0 * sigma**2))
        return base + (self.peak - 10.0) * hill


@dataclass
class Frame:
    """The grid of a demo province: its variant, world origin (x0, y0: the lower-left corner
    in EPSG:32649), size in cells, coastline and island."""

    p: Params
    x0: float
    y0: float
    nx: int
    ny: int
    coast: Coast
    island: Island

    @property
    def width(self) -> float:
        return self.nx * self.p.res

    @property
    def transform(self) -> Affine:
        return Affine(self.p.res, 0.0, self.x0, 0.0, -self.p.res, self.y0 + self.ny * self.p.res)

    def cell_uv(self) -> tuple[np.ndarray, np.ndarray]:
        res = self.p.res
        u = (np.arange(self.nx) + 0.5) * res
        v = self.ny * res - (np.arange(self.ny) + 0.5) * res
        return u, v

    def rowcol(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        res = self.p.res
        cols = np.clip(np.floor(np.asarray(u) / res).astype(np.int64), 0, self.nx - 1)
        rows = np.clip(np.floor((self.ny * res - np.asarray(v)) / res).astype(np.int64), 0,
                       self.ny - 1)  # fmt: skip
        return rows, cols

    def d_coast(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Distance west of the coastline (m), measured along the east-west axis."""
        return self.coast(v) - np.asarray(u)

    def mainland(self) -> Polygon:
        v = np.linspace(0.0, self.ny * self.p.res, int(self.ny * self.p.res / 100.0) + 1)
        ring = np.r_[np.c_[self.coast(v), v], [[0.0, v[-1]], [0.0, 0.0]]]
        return Polygon(ring)


def to_world(geom: shapely.Geometry, frame: Frame) -> shapely.Geometry:
    """``geom`` from local (u, v) to world (EPSG:32649) coordinates."""
    return shapely.transform(geom, lambda c: c + np.array([frame.x0, frame.y0]))


def sample_at(frame: Frame, grid: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Values of a frame-shaped array at the cells holding the points (u, v)."""
    rows, cols = frame.rowcol(u, v)
    return grid[rows, cols]
