"""The built-in demo province: a synthetic Quảng Ngãi generated deterministically from a seed.

The demo stands in for real inputs when none are at hand (``lomsong demo``, notebooks, tests).
Everything is made here with numpy from the seed alone -- no downloaded data -- and placed
near the real province in UTM zone 49N (EPSG:32649):

* **terrain**: a coastal plain in the east rising to mountains of ~1,500 m in the west, cut by
  meandering rivers (with tributaries) that flow east to the sea; the coastline runs roughly
  north-south; an island (~4 km², a hill of 60-100 m, like Lý Sơn / Đảo Bé) lies 20-25 km
  offshore. Sea cells are exactly 0 m, as in SRTM. The relief is spectral-synthesis fractal
  noise (power spectrum ~ k^-beta) with a ridged component, shaped by an envelope that rises
  westward, and valleys carved along the rivers so that valley hamlets sit low between ridges.
* **villages**: Voronoi cells of village centres clipped to the land -- towns ("Tổ dân phố"),
  plain and coastal hamlets ("Thôn", "Xóm"), foothill and mountain-valley hamlets ("Làng",
  "Nước" …) and the island's hamlets (commune "An Bình", hamlet "Đảo Bé"), grouped into
  communes and districts, with household counts (dense plain, sparse mountains).
* **households**: weighted points inside their village, clustered near the village centre,
  along valleys and the coastal highway; weights add up to the village's households exactly.
* **towers**: omni and 3-sector sites of Viettel, VinaPhone and MobiFone (2G 900 MHz,
  3G 2100 MHz, 4G 1800 MHz) on the plain, along the coast, at valley mouths and in the
  foothills -- none on the island and none deep in the mountains, so that the upper valleys
  (15-25 km of ridges away from any tower) and the island are dead zones, as in the real
  province.

``reduced=True`` runs the same code with smaller parameters (16 × 12 km of land, 90 m cells,
~30 villages, ~10 towers) for fast tests.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, replace
from os import PathLike
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from affine import Affine
from pyproj import CRS, Transformer
from rasterio import features
from scipy import fft as sfft
from scipy import ndimage
from shapely.geometry import MultiPoint, Polygon, box

from lomsong.grid import Grid

__all__ = ["DemoProvince", "generate_demo", "write_demo"]

logger = logging.getLogger(__name__)

DEMO_CRS = CRS.from_epsg(32649)
"""UTM zone 49N: the metric CRS of Quảng Ngãi (108-109 °E)."""

_ORIGIN_LONLAT = (108.45, 14.75)
"""Lower-left corner of the demo grid (WGS84 lon, lat), near the real province."""


# ---------------------------------------------------------------------------------------------
# parameters
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Params:
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


_FULL = _Params(
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

_REDUCED = _Params(
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
_VARIANTS = {"full": _FULL, "reduced": _REDUCED, "province": _PROVINCE}


# ---------------------------------------------------------------------------------------------
# result
# ---------------------------------------------------------------------------------------------
@dataclass
class DemoProvince:
    """The demo province's four input layers, in the project CRS (EPSG:32649).

    Attributes
    ----------
    villages
        ``village_id, name, commune, district, households, kind`` and Polygon/MultiPolygon
        geometry; ``kind`` is one of town, plain, coastal, foothill, mountain, island.
    towers
        One row per radiating unit: ``tower_id, site_id, operator, tech, freq_mhz, height_m,
        eirp_dbm, azimuth_deg`` (NaN = omni), ``beamwidth_deg, tilt_deg`` and Point geometry.
    households
        Points with an integer ``households`` weight and the ``village_id`` they belong to.
    terrain
        float32 elevation (m above sea level); sea cells are exactly 0.
    seed
        The seed the province was generated from.
    crs
        EPSG:32649 (UTM zone 49N).
    """

    villages: gpd.GeoDataFrame
    towers: gpd.GeoDataFrame
    households: gpd.GeoDataFrame
    terrain: Grid
    seed: int
    crs: CRS


# ---------------------------------------------------------------------------------------------
# geometry helpers: local coordinates (u east, v north, metres from the lower-left corner)
# ---------------------------------------------------------------------------------------------
def _smoothstep(t: np.ndarray | float) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


class _Coast:
    """Coastline u = f(v): a mean line with a few sinusoidal bays and headlands."""

    def __init__(self, rng: np.random.Generator, p: _Params) -> None:
        self.mean = p.land_width
        self.amps = np.asarray(p.coast_amps) * rng.uniform(0.7, 1.1, len(p.coast_amps))
        self.waves = np.asarray(p.coast_waves) * rng.uniform(0.85, 1.15, len(p.coast_waves))
        self.phases = rng.uniform(0.0, 2.0 * np.pi, len(p.coast_amps))

    def __call__(self, v: np.ndarray | float) -> np.ndarray:
        v = np.asarray(v, dtype=float)[..., None]
        wiggle = self.amps * np.sin(2.0 * np.pi * v / self.waves + self.phases)
        return self.mean + wiggle.sum(axis=-1)


class _Island:
    """A star-shaped island: radius R(θ) = R0 (1 + a2 sin(2θ+φ2) + a3 sin(3θ+φ3))."""

    def __init__(self, rng: np.random.Generator, p: _Params, coast: _Coast) -> None:
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
class _River:
    """A bed polyline (u, v) sampled every half cell, in the downstream direction.

    ``floor`` is the bed elevation (m), ``flat`` the half-width of the flat valley floor and
    ``reach`` the distance from its edge over which the valley sides climb to the full relief
    (m). ``level`` is 1 for a main river, 2 for a tributary.
    """

    u: np.ndarray
    v: np.ndarray
    floor: np.ndarray
    flat: np.ndarray
    reach: np.ndarray
    level: int

    @property
    def main(self) -> bool:
        return self.level == 1


@dataclass
class _Frame:
    p: _Params
    x0: float
    y0: float
    nx: int
    ny: int
    coast: _Coast
    island: _Island

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


def _to_world(geom: shapely.Geometry, frame: _Frame) -> shapely.Geometry:
    return shapely.transform(geom, lambda c: c + np.array([frame.x0, frame.y0]))


# ---------------------------------------------------------------------------------------------
# terrain
# ---------------------------------------------------------------------------------------------
def _spectral_noise(
    rng: np.random.Generator,
    shape: tuple[int, int],
    res: float,
    *,
    beta: float,
    lmin: float,
    lmax: float,
) -> np.ndarray:
    """Gaussian fractal noise of power spectrum ~ k^-beta between wavelengths lmin and lmax.

    White noise is filtered in the Fourier domain (spectral synthesis); the field is computed
    on a padded grid so that its periodic wrap-around does not show, then normalised to zero
    mean and unit standard deviation.
    """
    h, w = shape
    ph, pw = (
        sfft.next_fast_len(int(h * 1.15) + 8, real=True),
        sfft.next_fast_len(int(w * 1.15) + 8, real=True),
    )
    spec = np.fft.rfft2(rng.standard_normal((ph, pw)))
    fy = np.fft.fftfreq(ph, d=res)[:, None]
    fx = np.fft.rfftfreq(pw, d=res)[None, :]
    f = np.maximum(np.hypot(fy, fx), 1.0 / lmax)
    amp = f ** (-beta / 2.0) * np.exp(-((f * lmin) ** 2))
    amp[0, 0] = 0.0
    field = np.fft.irfft2(spec * amp, s=(ph, pw))[:h, :w]
    field -= field.mean()
    field /= field.std()
    return field


def _octaves(
    rng: np.random.Generator, shape: tuple[int, int], res: float, lams: list[float]
) -> list[np.ndarray]:
    """Band-pass noise fields (unit variance) centred on each wavelength in ``lams`` (m), from
    one white-noise spectrum: log-Gaussian filters of ~one octave width."""
    h, w = shape
    ph = sfft.next_fast_len(h + 64, real=True)
    pw = sfft.next_fast_len(w + 64, real=True)
    spec = np.fft.rfft2(rng.standard_normal((ph, pw)))
    f = np.hypot(np.fft.fftfreq(ph, d=res)[:, None], np.fft.rfftfreq(pw, d=res)[None, :])
    logf = np.log(np.maximum(f, 1e-12))
    out = []
    for lam in lams:
        band = np.exp(-0.5 * ((logf + math.log(lam)) / 0.45) ** 2)
        n = np.fft.irfft2(spec * band, s=(ph, pw))[:h, :w]
        out.append(n / n.std())
    return out


def _bed_gradient(p: _Params) -> float:
    """Main-stem bed gradient in the mountains (m per m): the bed climbs ~250 m from the
    foothills to the west edge."""
    return 250.0 / max(p.land_width - p.mtn_start, 1.0)


def _floor_profile(d: np.ndarray, p: _Params) -> np.ndarray:
    """Main-river bed elevation (m) at distance d (m) west of the coast: 0.5 m/km on the
    plain, then :func:`_bed_gradient` in the mountains."""
    d = np.asarray(d, dtype=float)
    return (
        1.5
        + 0.0005 * np.clip(d, 0.0, p.mtn_start)
        + _bed_gradient(p) * np.clip(d - p.mtn_start, 0.0, None)
    )


def _upstream_line(
    rng: np.random.Generator,
    u0: float,
    v0: float,
    heading: float,
    length: float,
    step: float,
    *,
    curl: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A gently curving line from a junction (u0, v0) upstream: (u, v, distance from the
    junction), junction first. The heading (radians) drifts by a smooth random curl."""
    s = np.arange(0.0, length, step)
    drift = curl * np.sin(np.pi * s / length * rng.uniform(0.5, 1.5) + rng.uniform(0, np.pi))
    ang = heading + drift
    u = u0 + np.r_[0.0, np.cumsum(np.cos(ang[:-1]) * step)]
    v = v0 + np.r_[0.0, np.cumsum(np.sin(ang[:-1]) * step)]
    return u, v, s


def _make_rivers(rng: np.random.Generator, frame: _Frame) -> list[_River]:
    """Main rivers from the west edge to the sea (level 1) and tributaries (level 2)."""
    p = frame.p
    step = p.res / 2.0
    rivers: list[_River] = []
    spacing = p.height / p.n_rivers
    for i in range(p.n_rivers):
        v0 = spacing * (i + 0.5 + rng.uniform(-0.1, 0.1))
        u = np.arange(0.0, p.land_width + 3.0 * max(p.coast_amps) + 1_000.0, step)
        waves = rng.uniform([0.9, 0.35], [1.3, 0.5]) * p.mtn_full / 2.5
        phase = rng.uniform(0.0, 2.0 * np.pi, 2)
        # meanders are wide in the mountains (the valley winds between spurs), tame on the plain
        d_approx = p.land_width - u
        amp = p.meander_amp * (0.25 + 0.75 * _smoothstep((d_approx - p.mtn_start) / 4_000.0))
        wiggle = np.sin(2 * np.pi * u / waves[0] + phase[0]) + 0.45 * np.sin(
            2 * np.pi * u / waves[1] + phase[1]
        )
        v = np.clip(v0 + amp * wiggle / 1.45, step, p.height - step)
        keep = frame.d_coast(u, v) > -800.0
        u, v = u[keep], v[keep]
        d = frame.d_coast(u, v)
        mtn = _smoothstep((d - p.mtn_start + 2_000.0) / 6_000.0)
        flat = 600.0 + (180.0 - 600.0) * mtn
        reach = 4_000.0 + (2_200.0 - 4_000.0) * mtn
        rivers.append(_River(u, v, _floor_profile(d, p), flat, reach, 1))

    mains = list(rivers)
    for k, main in enumerate(mains):
        d = frame.d_coast(main.u, main.v)
        lo, hi = p.mtn_start + 0.2 * (p.mtn_full - p.mtn_start), p.land_width - 4_000.0
        cand = np.flatnonzero((d > lo) & (d < hi))
        for _ in range(rng.integers(p.n_tribs[0], p.n_tribs[1] + 1)):
            if cand.size == 0:
                break
            j = int(rng.choice(cand))
            side = 1.0 if rng.random() < 0.5 else -1.0
            heading = math.pi - side * math.radians(rng.uniform(35.0, 60.0))  # west-ish
            tu, tv, s = _upstream_line(
                rng, main.u[j], main.v[j], heading, rng.uniform(*p.trib_length), step, curl=0.35
            )
            ok = (tu > step) & (tv > step) & (tv < p.height - step)
            # stop short of the neighbouring main rivers (keep a ridge between the valleys)
            for m, other in enumerate(mains):
                if m != k:
                    pts = np.c_[other.u[::10], other.v[::10]]
                    gap = np.min(np.hypot(tu[:, None] - pts[:, 0], tv[:, None] - pts[:, 1]), 1)
                    ok &= gap > 2_500.0
            n = len(ok) if ok.all() else int(np.argmin(ok))
            if n < 20:
                continue
            cand = cand[np.abs(cand - j) > 2_000.0 / step]  # junctions apart
            tu, tv, s = tu[:n][::-1], tv[:n][::-1], s[:n][::-1]
            floor = main.floor[j] + 2.5 * _bed_gradient(p) * s
            rivers.append(_River(tu, tv, floor, np.full(n, 110.0), np.full(n, 1_800.0), 2))
    return rivers


def _bed_fields(
    frame: _Frame, beds: list[_River]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distance (m) of every cell to the nearest bed, and that bed's floor, flat and reach."""
    shape = (frame.ny, frame.nx)
    floor = np.full(shape, np.inf)
    flat = np.zeros(shape)
    reach = np.zeros(shape)
    for r in beds:
        rows, cols = frame.rowcol(r.u, r.v)
        np.minimum.at(floor, (rows, cols), r.floor)
        np.maximum.at(flat, (rows, cols), r.flat)
        np.maximum.at(reach, (rows, cols), r.reach)
    dist, (ir, ic) = ndimage.distance_transform_edt(
        ~np.isfinite(floor), sampling=frame.p.res, return_indices=True
    )
    return dist, floor[ir, ic], flat[ir, ic], reach[ir, ic]


def _carve(
    h: np.ndarray, dist: np.ndarray, floor: np.ndarray, flat: np.ndarray, reach: np.ndarray
) -> np.ndarray:
    """Cut valleys: flat floors within ``flat`` of the bed, straight sides up to the full
    relief ``reach`` farther out (the sides meet in sharp ridges between valleys)."""
    t = np.clip((dist - flat) / reach, 0.0, 1.0) ** 0.9
    return np.where(h > floor, floor + (h - floor) * t, h)


def _make_terrain(
    rng: np.random.Generator, frame: _Frame, rivers: list[_River]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Elevation (float32, m, sea = 0) and the fields used to place people (distance to the
    rivers and tributaries, slope, distance from the coast)."""
    p = frame.p
    shape = (frame.ny, frame.nx)
    u, v = frame.cell_uv()
    d = frame.coast(v)[:, None] - u[None, :]  # distance west of the coast (m)

    # land: cells whose centre lies inside the (smooth) mainland / island polygons
    land, isl = (
        features.rasterize(
            [(_to_world(g, frame), 1)], out_shape=shape, transform=frame.transform, dtype="uint8"
        ).astype(bool)
        for g in (frame.mainland(), frame.island.polygon())
    )

    # relief: a smooth fBm (beta 3.8: massifs and spurs) plus "folded" octaves: sum(1 - |n_i|)
    # creases into sharp ridges (4 km down to 250 m) and sum(|n_i|) into gullies, as in
    # dissected mountains; kept positive by a soft floor, times an envelope rising westward
    broad = _spectral_noise(rng, shape, p.res, beta=3.8, lmin=2 * p.res, lmax=12_000.0)
    lams = [lam for lam in (4_000.0, 2_000.0, 1_000.0, 500.0, 250.0) if lam >= 2.5 * p.res]
    ridges = _octaves(rng, shape, p.res, lams)
    gullies = _octaves(rng, shape, p.res, lams[1:])
    fold = sum((1.0 - np.abs(n)) * 2.0**-i for i, n in enumerate(ridges))
    fold += sum(0.7 * np.abs(n) * 2.0 ** -(i + 1) for i, n in enumerate(gullies))
    fold = (fold - fold.mean()) / fold.std()
    m = 0.72 + 0.16 * broad + 0.24 * fold
    shape_f = 0.25 + np.logaddexp(0.0, 10.0 * (m - 0.25)) / 10.0  # softplus: stays >= 0.25
    env = _smoothstep((d - p.mtn_start) / (p.mtn_full - p.mtn_start))
    env = 0.08 * _smoothstep((d - p.mtn_start + 3_000.0) / 5_000.0) + 0.92 * env**1.2
    relief = env * shape_f

    # the gentle coastal plain, with a few isolated hills (like Núi Thiên Ấn)
    base = 3.0 + 0.002 * np.clip(d, 0.0, None) + 1.5 * broad
    uu, vv = np.meshgrid(u, v)
    for _ in range(max(2, int(p.height / 6_000.0))):
        hv = rng.uniform(0.05, 0.95) * p.height
        hu = float(frame.coast(hv)) - rng.uniform(0.2, 0.8) * p.mtn_start
        sig = rng.uniform(400.0, 900.0) * (p.res / 30.0) ** 0.5
        base += rng.uniform(50.0, 160.0) * np.exp(
            -((uu - hu) ** 2 + (vv - hv) ** 2) / (2.0 * sig**2)
        )

    # scale the relief so that the highest summit is near the drawn maximum before carving
    hmax = rng.uniform(*p.max_elev)
    k = int(np.argmax(np.where(land, relief, -np.inf)))
    elev = base + relief * ((hmax - base.flat[k]) / relief.flat[k])

    # valleys: the rivers, then the tributaries, each cut into the previous surface
    f1 = _bed_fields(frame, [r for r in rivers if r.level == 1])
    elev = _carve(elev, *f1)
    tribs = [r for r in rivers if r.level == 2]
    f2 = _bed_fields(frame, tribs) if tribs else f1
    elev = _carve(elev, *f2)
    river_dist = np.minimum(f1[0], f2[0])
    # carving lowers a few summits: bring the highest back to hmax (relief above the plain)
    k = int(np.argmax(np.where(land, elev, -np.inf)))
    gain = float(np.clip((hmax - base.flat[k]) / (elev.flat[k] - base.flat[k]), 1.0, 1.3))
    elev = base + (elev - base) * gain

    elev = np.where(land, np.maximum(elev, 1.0), 0.0)
    elev = np.where(isl, np.maximum(frame.island.elevation(uu, vv), 1.0), elev)
    elev = elev.astype(np.float32)

    gy, gx = np.gradient(elev.astype(np.float64), p.res)
    fields = {"d": d, "river_dist": river_dist, "slope": np.hypot(gx, gy), "land": land}
    return elev, fields


# ---------------------------------------------------------------------------------------------
# villages
# ---------------------------------------------------------------------------------------------
def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# syllables of hamlet names: Sino-Vietnamese on the plain, Hrê / Cor / Ca Dong in the mountains
_THON = _words(
    "An Phú Hòa Bình Thạnh Tân Long Mỹ Xuân Đông Tây Trung Phước Lộc Thọ Khánh Lợi Hưng Quang "
    "Thuận Vĩnh Hiệp Đức Nghĩa Hải Thạch Minh Thành Lâm Sơn Châu Điền Phong Hội Tường Văn Kỳ "
    "Thượng Hạ Nhơn Lạc Cát Thủy Định Trà Gia Ngọc Khương Yên Triều Liên"
)
_XOM = _words("Bãi Lưới Cát Chài Ghe Gành Lạch Cồn Dừa Mới Rớ Thuyền Đá Biển Vạn Giữa")
_LANG_PREFIX = ("Làng", "Nước", "Tà", "Gò", "Mang", "Đak", "Ba")
_LANG = _words(
    "Mâm Lăng Rêu Rá Mát Xuyên Nhà Ranh Krá Pơ Loa Bong Ui Giá Dinh Trê Vương Ren Xiêm Kon Manh "
    "Lế Lang Rinh Bói Trui Tang Nỏ Lay Bua Xoong Gia Hoa"
)
_COMMUNE_PREFIX = {
    "Trà Bồng": ("Trà", "Bùi Lâm Hiệp Tân Sơn Thủy Giang Bình Phú Xinh Tây Thanh Phong"),
    "Sơn Hà": ("Sơn", "Kỳ Ba Thượng Bao Cao Linh Giang Nham Trung Hải Thủy Thành"),
    "Ba Tơ": ("Ba", "Bích Điền Vì Tô Xa Lế Nam Trang Khâm Thành Dinh Giang Liên Cung Vinh Động"),
    "Bình Sơn": ("Bình", "Châu Hải Thạnh Dương Trị Đông Phước Hiệp Long Minh Chánh Nguyên Trung"),
    "Sơn Tịnh": ("Tịnh", "Hòa Kỳ Khê Long Châu Thiện An Ấn Bình Đông Hiệp Thọ Phong Hà Giang"),
    "Tư Nghĩa": ("Nghĩa", "Kỳ Thuận Điền Hiệp Phương Hòa Sơn Thắng Trung Thương Hà Mỹ Lâm Phú"),
    "Mộ Đức": ("Đức", "Lợi Thắng Chánh Minh Phong Hiệp Nhuận Tân Hòa Phú Lân Thạnh"),
    # the province variant's extra districts
    "Nghĩa Hành": ("Hành", "Thuận Dũng Minh Đức Thịnh Phước Thiện Tín Trung Nhân"),
    "Đức Phổ": ("Phổ", "An Phong Thuận Văn Quang Ninh Hòa Cường Khánh Nhơn Vinh Thạnh"),
    "Sơn Tây": ("Sơn", "Dung Mùa Bua Liên Lập Long Màu Tinh Tân"),
    "Minh Long": ("Long", "Hiệp Mai Sơn Môn Thanh"),
}
_TOWN = {
    "Bình Sơn": "Thị trấn Châu Ổ",
    "Sơn Tịnh": "Thị trấn Sơn Tịnh",
    "Tư Nghĩa": "Thị trấn La Hà",
    "Mộ Đức": "Thị trấn Mộ Đức",
    "Nghĩa Hành": "Thị trấn Chợ Chùa",
    "Đức Phổ": "Thị trấn Đức Phổ",
}
_ISLAND_DISTRICT, _ISLAND_COMMUNE = "Lý Sơn", "An Bình"
_ISLAND_NAMES = ("Đảo Bé", "Thôn Tây", "Thôn Đông")


def _dart(
    cand: np.ndarray,
    n: int,
    spacing: float,
    existing: np.ndarray,
) -> np.ndarray:
    """Accept candidates (in the given order) at least ``spacing`` from all accepted points and
    from ``existing``, until ``n`` are accepted: a Poisson-disc (dart-throwing) sample."""
    taken = [tuple(pt) for pt in existing]
    out: list[tuple[float, float]] = []
    arr = np.asarray(taken, dtype=float).reshape(-1, 2)
    for pt in cand:
        if len(out) >= n:
            break
        if arr.size and np.min(np.hypot(arr[:, 0] - pt[0], arr[:, 1] - pt[1])) < spacing:
            continue
        out.append((float(pt[0]), float(pt[1])))
        arr = np.vstack([arr, pt[None, :]])
    return np.asarray(out, dtype=float).reshape(-1, 2)


def _sample_at(frame: _Frame, grid: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    rows, cols = frame.rowcol(u, v)
    return grid[rows, cols]


def _village_centres(
    rng: np.random.Generator,
    frame: _Frame,
    elev: np.ndarray,
    fields: dict[str, np.ndarray],
    rivers: list[_River],
) -> pd.DataFrame:
    """Centres (u, v) and kind of every village, before names and households."""
    p = frame.p
    land = fields["land"]
    rows: list[tuple[float, float, str]] = []

    def on_land(pts: np.ndarray) -> np.ndarray:
        return _sample_at(frame, land, pts[:, 0], pts[:, 1]) & (
            _sample_at(frame, fields["d"], pts[:, 0], pts[:, 1]) > 2 * p.res
        )

    # towns: where the coastal highway crosses a main river (else mid-band)
    band = p.height / len(p.plain_districts)
    towns = []
    mains = [r for r in rivers if r.main]
    for i in range(len(p.plain_districts)):
        top, bot = p.height - i * band, p.height - (i + 1) * band
        vc = (top + bot) / 2.0
        for r in mains:
            d = frame.d_coast(r.u, r.v)
            j = int(np.argmin(np.abs(d - p.highway_d)))
            if bot + 0.2 * band < r.v[j] < top - 0.2 * band:
                vc = r.v[j] + rng.choice([-1.0, 1.0]) * 0.6 * p.plain_spacing
                break
        towns.append((float(frame.coast(vc)) - p.highway_d, vc))
    town_pts = np.empty((0, 2))
    for tu, tv in towns:
        ang = rng.uniform(0, 2 * np.pi, 200)
        rad = np.sqrt(rng.uniform(0, 1, 200)) * 0.55 * p.plain_spacing * math.sqrt(p.town_villages)
        cand = np.c_[tu + rad * np.cos(ang), tv + rad * np.sin(ang)]
        cand = np.r_[[[tu, tv]], cand[on_land(cand)]]
        pts = _dart(cand, p.town_villages, 0.45 * p.plain_spacing, town_pts)
        town_pts = np.r_[town_pts, pts]
        rows += [(a, b, "town") for a, b in pts]

    # plain and coastal hamlets: dart throwing over the plain, off the hills and river beds
    m = 40 * p.n_plain
    cand = np.c_[rng.uniform(0, frame.width, m), rng.uniform(0, p.height, m)]
    d = frame.d_coast(cand[:, 0], cand[:, 1])
    ok = on_land(cand) & (d > 250.0) & (d < p.mtn_start + 1_000.0)
    ok &= _sample_at(frame, elev, cand[:, 0], cand[:, 1]) < 60.0
    ok &= _sample_at(frame, fields["river_dist"], cand[:, 0], cand[:, 1]) > 150.0
    pts = _dart(cand[ok], p.n_plain, p.plain_spacing, town_pts)
    dd = frame.d_coast(pts[:, 0], pts[:, 1])
    rows += [
        (a, b, "coastal" if di < 1_500.0 else "plain") for (a, b), di in zip(pts, dd, strict=True)
    ]
    taken = np.r_[town_pts, pts]

    # foothill hamlets: low ground or near a river in the foothill band
    m = 60 * p.n_foothill
    cand = np.c_[rng.uniform(0, frame.width, m), rng.uniform(0, p.height, m)]
    d = frame.d_coast(cand[:, 0], cand[:, 1])
    ok = on_land(cand) & (d > p.mtn_start + 0.5 * p.plain_spacing)
    ok &= d < p.mtn_start + p.foothill_width
    z = _sample_at(frame, elev, cand[:, 0], cand[:, 1])
    rd = _sample_at(frame, fields["river_dist"], cand[:, 0], cand[:, 1])
    ok &= (rd < 700.0) & (rd > 60.0) | (z < 120.0)
    pts = _dart(cand[ok], p.n_foothill, p.foothill_spacing, taken)
    rows += [(a, b, "foothill") for a, b in pts]
    taken = np.r_[taken, pts]

    # mountain-valley hamlets: on the valley floors, spaced along every river
    cand_list = []
    for r in rivers:
        d = frame.d_coast(r.u, r.v)
        idx = np.flatnonzero(d > p.mtn_start + p.foothill_width)
        if idx.size == 0:
            continue
        idx = idx[:: max(1, int(0.25 * p.mtn_spacing / (p.res / 2)))]
        jitter = rng.normal(0.0, 60.0, (idx.size, 2))
        cand_list.append(np.c_[r.u[idx], r.v[idx]] + jitter)
    cand = np.concatenate(cand_list)
    cand = cand[rng.permutation(len(cand))]
    cand = cand[on_land(cand)]
    pts = _dart(cand, 10_000, p.mtn_spacing, taken)
    rows += [(a, b, "mountain") for a, b in pts]

    # the island's hamlets: "Đảo Bé" first
    isl = frame.island
    for i in range(p.n_island_villages):
        ang = math.pi + i * 2.0 * math.pi / max(p.n_island_villages, 1) + rng.uniform(-0.3, 0.3)
        off = 0.0 if p.n_island_villages == 1 else 0.45 * isl.r0
        rows.append((isl.cu + off * math.cos(ang), isl.cv + off * math.sin(ang), "island"))

    return pd.DataFrame(rows, columns=["u", "v", "kind"])


def _kmeans(rng: np.random.Generator, pts: np.ndarray, k: int) -> np.ndarray:
    """Labels of a few Lloyd iterations from random seeds (communes as compact groups)."""
    k = max(1, min(k, len(pts)))
    centres = pts[rng.choice(len(pts), k, replace=False)]
    labels = np.zeros(len(pts), dtype=int)
    for _ in range(12):
        dist = np.hypot(
            pts[:, None, 0] - centres[None, :, 0], pts[:, None, 1] - centres[None, :, 1]
        )
        labels = np.argmin(dist, axis=1)
        for j in range(k):
            if np.any(labels == j):
                centres[j] = pts[labels == j].mean(axis=0)
    # renumber north to south so that names read in order
    order = np.argsort(-np.array([pts[labels == j, 1].mean() if np.any(labels == j) else 0
                                  for j in range(k)]))  # fmt: skip
    rank = np.empty(k, dtype=int)
    rank[order] = np.arange(k)
    return rank[labels]


def _admin(rng: np.random.Generator, frame: _Frame, vil: pd.DataFrame) -> pd.DataFrame:
    """Districts (bands north to south, plain vs mountains), communes and hamlet names."""
    p = frame.p
    vil = vil.copy()
    d = frame.d_coast(vil["u"].to_numpy(), vil["v"].to_numpy())
    district = np.empty(len(vil), dtype=object)
    mtn = np.asarray(d > p.mtn_start + 0.5 * p.foothill_width)
    for names, sel in ((p.plain_districts, ~mtn), (p.mountain_districts, mtn)):
        band = p.height / len(names)
        i = np.clip(((p.height - vil["v"].to_numpy()) // band).astype(int), 0, len(names) - 1)
        district[sel] = np.asarray(names, dtype=object)[i[sel]]
    district[vil["kind"].to_numpy() == "island"] = _ISLAND_DISTRICT
    # a town belongs to the district it serves
    town = vil["kind"].to_numpy() == "town"
    for t_i, name in enumerate(p.plain_districts):
        sel = np.flatnonzero(town)[t_i * p.town_villages : (t_i + 1) * p.town_villages]
        district[sel] = name
    vil["district"] = district

    commune = np.empty(len(vil), dtype=object)
    for dist_name in pd.unique(vil["district"]):
        sel = (vil["district"] == dist_name).to_numpy()
        if dist_name == _ISLAND_DISTRICT:
            commune[sel] = _ISLAND_COMMUNE
            continue
        town_sel = sel & town
        commune[town_sel] = _TOWN.get(dist_name, f"Thị trấn {dist_name}")
        rest = sel & ~town
        if not rest.any():
            continue
        pts = vil.loc[rest, ["u", "v"]].to_numpy()
        k = math.ceil(rest.sum() / p.villages_per_commune)
        labels = _kmeans(rng, pts, k)
        prefix, seconds = _COMMUNE_PREFIX[dist_name]
        picks = rng.permutation(seconds.split())
        names = [f"{prefix} {picks[j % len(picks)]}" for j in range(labels.max() + 1)]
        commune[rest] = np.asarray(names, dtype=object)[labels]
    vil["commune"] = commune

    # hamlet names, unique within the commune
    names = np.empty(len(vil), dtype=object)
    used: dict[str, set[str]] = {}
    tdp: dict[str, int] = {}
    island_i = 0
    for i, row in enumerate(vil.itertuples()):
        taken = used.setdefault(row.commune, set())
        name = ""
        if row.kind == "island":
            name = _ISLAND_NAMES[island_i % len(_ISLAND_NAMES)]
            island_i += 1
        elif row.kind == "town":
            tdp[row.commune] = tdp.get(row.commune, 0) + 1
            name = f"Tổ dân phố {tdp[row.commune]}"
        for _ in range(200):
            if name and name not in taken:
                break
            if row.kind == "coastal" and rng.random() < 0.7:
                name = f"Xóm {rng.choice(_XOM)}"
            elif row.kind == "mountain" or (row.kind == "foothill" and rng.random() < 0.5):
                name = f"{rng.choice(_LANG_PREFIX)} {rng.choice(_LANG)}"
            else:
                a, b = rng.choice(_THON, 2, replace=False)
                name = f"Thôn {a} {b}"
        taken.add(name)
        names[i] = name
    vil["name"] = names
    return vil


def _households_per_village(rng: np.random.Generator, p: _Params, kind: np.ndarray) -> np.ndarray:
    """Households (int): dense towns and plain, 80-300 in the foothills, 20-150 in the
    mountains; the plain is scaled so that the total matches a drawn provincial total."""
    n = len(kind)
    hh = np.empty(n)
    draws = {
        "town": lambda m: rng.uniform(350, 800, m),
        "coastal": lambda m: rng.lognormal(math.log(450), 0.35, m),
        "plain": lambda m: rng.lognormal(math.log(380), 0.35, m),
        "foothill": lambda m: rng.uniform(80, 300, m),
        "mountain": lambda m: rng.uniform(20, 150, m),
        "island": lambda m: rng.uniform(90, 220, m),
    }
    for k, draw in draws.items():
        sel = kind == k
        hh[sel] = draw(int(sel.sum()))
    dense = np.isin(kind, ["town", "coastal", "plain"])
    target = rng.uniform(*p.households_total)
    hh[dense] *= (target - hh[~dense].sum()) / hh[dense].sum()
    hh[dense] = np.clip(hh[dense], 100, 1_500)
    return np.maximum(np.round(hh), 20).astype(np.int64)


def _village_polygons(frame: _Frame, vil: pd.DataFrame) -> list[shapely.Geometry]:
    """Voronoi cells of the centres, clipped to the mainland (or the island for its hamlets)."""
    geoms: list[shapely.Geometry | None] = [None] * len(vil)
    extent = box(-1_000.0, -1_000.0, frame.width + 1_000.0, frame.p.height + 1_000.0)
    for kinds, land in (
        (vil["kind"] != "island", frame.mainland()),
        (vil["kind"] == "island", frame.island.polygon()),
    ):
        idx = np.flatnonzero(kinds.to_numpy())
        pts = vil.loc[kinds, ["u", "v"]].to_numpy()
        if len(idx) == 1:
            cells = [land]
        else:
            vor = shapely.voronoi_polygons(MultiPoint(pts), extend_to=extent, ordered=True)
            cells = [shapely.intersection(c, land) for c in shapely.get_parts(vor)]
        for i, c in zip(idx, cells, strict=True):
            geoms[i] = shapely.make_valid(c) if not c.is_valid else c
    return [_to_world(g, frame) for g in geoms]


# ---------------------------------------------------------------------------------------------
# households
# ---------------------------------------------------------------------------------------------
def _household_points(
    rng: np.random.Generator,
    frame: _Frame,
    vil: gpd.GeoDataFrame,
    elev: np.ndarray,
    fields: dict[str, np.ndarray],
) -> gpd.GeoDataFrame:
    """Weighted household points inside each village (one point per 5-20 households).

    Candidates are drawn around the village centre (and uniformly over the village) and
    chosen with a suitability that favours gentle slopes, valley floors and the highway.
    """
    p = frame.p
    out_x, out_y, out_w, out_id = [], [], [], []
    for row in vil.itertuples():
        poly = row.geometry
        hh = int(row.households)
        n = int(np.clip(round(hh / rng.uniform(5.0, 20.0)), 1, hh))
        cu, cv = row.u + frame.x0, row.v + frame.y0
        sigma = {"mountain": 450.0, "foothill": 500.0, "island": 350.0}.get(
            row.kind, 0.35 * p.plain_spacing
        )
        m = max(12 * n, 300)
        gx = cu + rng.normal(0.0, sigma, m)
        gy = cv + rng.normal(0.0, sigma, m)
        x0, y0, x1, y1 = poly.bounds
        ux = rng.uniform(x0, x1, m // 3)
        uy = rng.uniform(y0, y1, m // 3)
        x, y = np.r_[gx, ux], np.r_[gy, uy]
        ok = shapely.contains_xy(poly, x, y)
        lu, lv = x - frame.x0, y - frame.y0
        ok &= _sample_at(frame, elev, lu, lv) > 0.0
        x, y, lu, lv = x[ok], y[ok], lu[ok], lv[ok]
        if len(x) == 0:
            pt = poly.representative_point()
            x, y = np.array([pt.x]), np.array([pt.y])
            lu, lv = x - frame.x0, y - frame.y0
        slope = _sample_at(frame, fields["slope"], lu, lv)
        rdist = _sample_at(frame, fields["river_dist"], lu, lv)
        road = np.abs(frame.d_coast(lu, lv) - p.highway_d)
        suit = np.exp(-slope / 0.12)
        if row.kind in ("mountain", "foothill"):
            suit *= np.exp(-rdist / 300.0) * (rdist > 40.0) + 1e-6
        else:
            suit *= 1.0 + 2.0 * np.exp(-road / 400.0)
            suit *= 1.0 - 0.8 * np.exp(-rdist / 80.0)  # not in the river bed
        suit = suit + 1e-12
        n = min(n, len(x))
        pick = rng.choice(len(x), n, replace=False, p=suit / suit.sum())
        # integer weights >= 1 that add up to the village's households exactly
        w = 1 + rng.multinomial(hh - n, np.full(n, 1.0 / n))
        out_x.append(x[pick])
        out_y.append(y[pick])
        out_w.append(w)
        out_id += [row.village_id] * n
    return gpd.GeoDataFrame(
        {"households": np.concatenate(out_w).astype(np.int64), "village_id": out_id},
        geometry=gpd.points_from_xy(np.concatenate(out_x), np.concatenate(out_y)),
        crs=DEMO_CRS,
    )


# ---------------------------------------------------------------------------------------------
# towers
# ---------------------------------------------------------------------------------------------
_OPERATORS = (("Viettel", 0.45), ("VinaPhone", 0.30), ("MobiFone", 0.25))
_TECH = {
    # tech: (freq MHz, EIRP range dBm per radiating unit)
    "2G": (900, (55.0, 60.0)),
    "3G": (2100, (56.0, 60.0)),
    "4G": (1800, (58.0, 62.0)),
}


def _tower_sites(
    rng: np.random.Generator,
    frame: _Frame,
    elev: np.ndarray,
    vil: pd.DataFrame,
    rivers: list[_River],
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
        if _sample_at(frame, elev, np.array([u]), np.array([v]))[0] <= 0.0:
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
        z = _sample_at(frame, elev, np.array([u]), np.array([v]))[0]
        if z < 60.0 and ok(u, v, p.site_spacing):
            sites.append((u, v, "plain"))

    # coast: every few km, 1-2 km inland (fishing hamlets, the coastal road)
    for vc in np.arange(0.4 * p.coast_site_spacing, p.height, p.coast_site_spacing):
        vc += rng.uniform(-0.15, 0.15) * p.coast_site_spacing
        u = float(frame.coast(vc)) - rng.uniform(900.0, 1_800.0)
        z = _sample_at(frame, elev, np.array([u]), np.array([vc]))[0]
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
        z = _sample_at(frame, elev, cand[:, 0], cand[:, 1])
        sel = (d > p.mtn_start - 1_000.0) & (d < p.tower_max_d) & (z > 0) & (z < 350.0)
        for j in np.flatnonzero(sel)[np.argsort(-z[sel])]:
            if ok(cand[j, 0], cand[j, 1], p.site_spacing):
                sites.append((float(cand[j, 0]), float(cand[j, 1]), "foothill"))
                break
    return pd.DataFrame(sites, columns=["u", "v", "kind"])


def _towers(rng: np.random.Generator, frame: _Frame, sites: pd.DataFrame) -> gpd.GeoDataFrame:
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


# ---------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------
def generate_demo(
    *, seed: int = 2023, reduced: bool = False, variant: str | None = None
) -> DemoProvince:
    """Generate the demo province deterministically from ``seed``.

    Parameters
    ----------
    seed
        Seed of every random draw: the same seed gives identical layers, another seed another
        province of the same kind.
    reduced
        A small, fast variant for tests (16 × 12 km of land at 90 m, an island 9 km offshore,
        ~30 villages, ~10 towers) instead of the full one (36 × 40 km of land at 30 m, an island
        23.5 km offshore, ≥ 150 villages, ≥ 40 towers, 56,000-64,000 households).
    variant
        "full", "reduced" or "province" (≈ 5,150 km² of land, for benchmarks); overrides
        ``reduced``.

    Returns
    -------
    DemoProvince
        Villages, towers, households and terrain in EPSG:32649.

    Notes
    -----
    The full province takes a few seconds and ~1 GB of transient memory (float64 fields of
    ~3 million cells); the reduced one well under a second.
    """
    t0 = time.perf_counter()
    name = variant or ("reduced" if reduced else "full")
    if name not in _VARIANTS:
        raise ValueError(f"variant {name!r} is not one of {', '.join(_VARIANTS)}")
    p = _VARIANTS[name]
    # one independent stream per stage, so that tuning one stage leaves the others unchanged
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)]

    x, y = Transformer.from_crs(4326, DEMO_CRS, always_xy=True).transform(*_ORIGIN_LONLAT)
    x0, y0 = math.floor(x / 1_000.0) * 1_000.0, math.floor(y / 1_000.0) * 1_000.0
    coast = _Coast(rngs[0], p)
    island = _Island(rngs[0], p, coast)
    nx = math.ceil((island.cu + 1.4 * island.r0 + 2_000.0) / p.res)
    ny = round(p.height / p.res)
    frame = _Frame(p, x0, y0, nx, ny, coast, island)

    rivers = _make_rivers(rngs[1], frame)
    elev, fields = _make_terrain(rngs[2], frame, rivers)
    terrain = Grid(elev, frame.transform, DEMO_CRS)

    vil = _village_centres(rngs[3], frame, elev, fields, rivers)
    vil = _admin(rngs[4], frame, vil)
    vil["households"] = _households_per_village(rngs[5], p, vil["kind"].to_numpy())
    order = np.lexsort((-vil["v"].to_numpy(), vil["commune"].to_numpy(),
                        vil["district"].to_numpy()))  # fmt: skip
    vil = vil.iloc[order].reset_index(drop=True)
    vil["village_id"] = [f"V{i + 1:03d}" for i in range(len(vil))]
    villages = gpd.GeoDataFrame(vil, geometry=_village_polygons(frame, vil), crs=DEMO_CRS)

    households = _household_points(rngs[6], frame, villages, elev, fields)
    sites = _tower_sites(rngs[7], frame, elev, vil, rivers)
    towers = _towers(rngs[7], frame, sites)

    villages = villages[
        ["village_id", "name", "commune", "district", "households", "kind", "geometry"]
    ]
    logger.info(
        "demo province (seed %d%s): %d × %d cells, %d villages, %d households, %d towers, %.1f s",
        seed, "" if name == "full" else f", {name}", ny, nx, len(villages),
        int(villages["households"].sum()), len(towers), time.perf_counter() - t0,
    )  # fmt: skip
    return DemoProvince(villages, towers, households, terrain, seed, DEMO_CRS)


def _project_toml(seed: int, reduced: bool) -> str:
    what = f"seed {seed}, reduced" if reduced else f"seed {seed}"
    return f"""\
# lomsong demo province — generated by lomsong.layers.demo ({what})
[inputs]
villages = "villages.gpkg"
towers = "towers.csv"
terrain = ["terrain.tif"]
households = "households.gpkg"
candidates = "auto"

[model]
name = "itm"
environment = "suburban"
rx_height_m = 1.5
max_radius_km = {15 if reduced else 30}

[coverage]
threshold_dbm = -100

[siting]
sites = {5 if reduced else 10}
method = "greedy"

[output]
dir = "../rerun"
lang = "vi"
"""


def write_demo(directory: str | PathLike[str], *, seed: int = 2023, reduced: bool = False) -> Path:
    """Generate the demo province and write it as a lomsong project.

    Writes ``villages.gpkg`` (layer "villages"), ``households.gpkg`` (layer "households"),
    ``towers.csv`` (WGS84 ``lon``/``lat`` with 6 decimals, empty ``azimuth_deg`` for omni),
    ``terrain.tif`` and ``project.toml`` into ``directory`` (created if needed).

    Returns
    -------
    Path
        The path of ``project.toml``.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    demo = generate_demo(seed=seed, reduced=reduced)

    demo.villages.to_file(out / "villages.gpkg", layer="villages", driver="GPKG")
    demo.households.to_file(out / "households.gpkg", layer="households", driver="GPKG")

    towers = demo.towers
    ll = towers.geometry.to_crs(4326)
    table = pd.DataFrame(towers.drop(columns="geometry"))
    table["lon"] = [f"{v:.6f}" for v in ll.x]
    table["lat"] = [f"{v:.6f}" for v in ll.y]
    table["freq_mhz"] = table["freq_mhz"].round().astype(int)
    table.to_csv(out / "towers.csv", index=False, na_rep="")

    demo.terrain.to_file(out / "terrain.tif")
    path = out / "project.toml"
    path.write_text(_project_toml(seed, reduced), encoding="utf-8")
    return path
