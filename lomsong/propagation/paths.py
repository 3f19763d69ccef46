"""Terrain profiles from a transmitter: along rays to every cell of a window, or to given points.

The raster engine casts one ray from the tower to every cell on the border of the square window
of half-width R cells (the "R2" ray set of viewshed analysis: 8R rays). Along a ray the major axis
advances one cell per step and the minor coordinate moves by m/R cells per step, so at step t the
rays are spaced t/R ≤ 1 cell apart across the minor axis and every cell of the window is within
half a cell of some ray sample. Each cell takes the sample that passes nearest its centre.

Along each ray the profile is walked once, outward: the transmitter's radio horizon (the
obstacle of greatest elevation angle, earth curvature included) is updated in O(1) per step,
and the loss at each sample is the model's distance loss plus the knife-edge diffraction of
that obstacle beyond grazing, J(v) − J(0) for v > 0 (ITU-R P.526 single edge). The empirical
models were fitted on quasi-smooth terrain where a 1.5 m receiver sees its first Fresnel zone
grazed by the ground around it, so grazing incidence (J(0) = 6 dB) is already in their curves;
only obstacles that rise above the line of sight add loss. A ray of n samples costs O(n).

Validity: the single-edge approximation is the first model of lomsong (Okumura-Hata/COST-231/
free space + one knife edge); it ignores obstacles on the receiver's side of the dominant edge,
so deep valleys behind a second ridge are predicted optimistically (by up to ~10 dB).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba as nb
import numpy as np

from lomsong.constants import EFFECTIVE_EARTH_RADIUS_M, SPEED_OF_LIGHT_M_S
from lomsong.defaults import RX_HEIGHT_M
from lomsong.grid import Grid, bilinear_rc, bilinear_rc_many

__all__ = ["ray_loss_window", "point_loss", "distance_table", "half_width", "wavelength_m",
           "fresnel_radius_m", "earth_bulge_m", "fresnel_parameter", "knife_edge_db",
           "edge_loss_db", "clearance_ratio", "Profile", "terrain_profile"]  # fmt: skip

# The geometry's ufuncs are built lazily (numba's DUFunc, ``vectorize`` without signatures): a
# ufunc with explicit signatures is built when its module is imported — ~55 ms each from the
# cache, a third of a second for the six, paid by every process that imports the raster
# engine; lazily, only by those that call them. Calls with float64 arguments (and ints,
# which numpy casts to the float64 loop once it exists) use one loop.


# -- the geometry of one path: every other module takes these formulas from here ---------------
def wavelength_m(f_mhz: float | np.ndarray) -> float | np.ndarray:
    """Wavelength λ = c / f (m) of a carrier ``f_mhz`` (MHz)."""
    return SPEED_OF_LIGHT_M_S / (np.asarray(f_mhz, dtype=np.float64) * 1e6)


@nb.vectorize(cache=True)
def fresnel_radius_m(d1_m: float, d2_m: float, wavelength: float) -> float:
    r"""Radius of the first Fresnel zone (m), :math:`F_1 = \sqrt{\lambda d_1 d_2 / (d_1 + d_2)}`.

    ``d1_m``, ``d2_m``: distances from the two path ends (m); ``wavelength`` (m). A numpy ufunc
    that numba kernels call too; 0 at either end (and for a zero-length path).
    """
    D = d1_m + d2_m
    if not D > 0.0:
        return 0.0
    return math.sqrt(max(wavelength * d1_m * d2_m / D, 0.0))


@nb.vectorize(cache=True)
def earth_bulge_m(d1_m: float, d2_m: float, effective_radius_m: float) -> float:
    """Apparent rise of the ground (m) between two points from earth curvature, d1·d2 / (2 k a).

    ``effective_radius_m`` is k·a (:data:`lomsong.constants.EFFECTIVE_EARTH_RADIUS_M` for the
    standard atmosphere): 23.5 m at the middle of a 40 km hop for k = 4/3.
    """
    return d1_m * d2_m / (2.0 * effective_radius_m)


@nb.vectorize(cache=True)
def fresnel_parameter(h_m: float, d1_m: float, d2_m: float, wavelength: float) -> float:
    """Fresnel-Kirchhoff parameter v = h √(2 (d1 + d2) / (λ d1 d2)) (ITU-R P.526-15 eq. 26)."""
    return h_m * math.sqrt(2.0 * (d1_m + d2_m) / (wavelength * d1_m * d2_m))


@nb.vectorize(cache=True)
def knife_edge_db(v: float) -> float:
    """Single knife-edge loss J(v) = 6.9 + 20 log10(√((v − 0.1)² + 1) + v − 0.1) dB for
    v > −0.78, else 0 (ITU-R P.526-15 eq. 31); within ~0.12 dB of the exact Fresnel integral
    for −0.78 < v < 5; J(0) = 6.03 dB. NaN stays NaN."""
    if math.isnan(v):
        return np.nan
    if v <= -0.78:
        return 0.0
    w = v - 0.1
    return 6.9 + 20.0 * math.log10(math.sqrt(w * w + 1.0) + w)


_J0 = 6.9 + 20.0 * math.log10(math.sqrt(0.01 + 1.0) - 0.1)  # J(0) = 6.02 dB


@nb.vectorize(cache=True)
def edge_loss_db(h_m: float, d1_m: float, d2_m: float, wavelength: float) -> float:
    """Diffraction loss beyond grazing, J(v) − J(0), of an edge ``h_m`` above the line of
    sight (dB, ≥ 0); 0 when the edge stays below it or sits at an end of the path.

    The empirical models (Hata, COST-231) were fitted on quasi-smooth terrain where the ground
    already grazes the first Fresnel zone of a 1.5 m receiver, so J(0) is in their curves and
    only obstacles rising above the line of sight add loss.
    """
    if not (h_m > 0.0 and d1_m > 0.0 and d2_m > 0.0):
        return 0.0
    return knife_edge_db(fresnel_parameter(h_m, d1_m, d2_m, wavelength)) - _J0


@nb.vectorize(cache=True)
def clearance_ratio(
    d1_m: float,
    length_m: float,
    ground_m: float,
    z_a_m: float,
    z_b_m: float,
    wavelength: float,
    effective_radius_m: float,
) -> float:
    """Clearance of the straight ray over the ground in first-Fresnel-zone radii at ``d1_m``.

    (ray − ground − earth bulge) / F1 with the ray from ``z_a_m`` to ``z_b_m`` (antenna heights
    above sea level) over ``length_m`` and the bulge of an earth of ``effective_radius_m``;
    ≥ 0.6 is the usual line-of-sight test. NaN ground gives NaN; at an end (F1 = 0) ±inf.
    """
    d2 = length_m - d1_m
    ray = z_a_m + (z_b_m - z_a_m) * (d1_m / length_m)
    clear = ray - ground_m - earth_bulge_m(d1_m, d2, effective_radius_m)
    r1 = fresnel_radius_m(d1_m, d2, wavelength)
    if r1 == 0.0:
        return np.inf if clear >= 0.0 else -np.inf
    return clear / r1


@nb.njit(cache=True, inline="always")
def _edge_loss(d: float, h_rx_abs: float, h_tx_abs: float, ob_d: float, ob_z: float,
               wavelength: float, ae: float) -> float:  # fmt: skip
    """Loss beyond grazing of the obstacle (ob_d, ob_z) on the path tx → rx of length d (m)."""
    if ob_d <= 0.0 or ob_d >= d:
        return 0.0
    d2 = d - ob_d
    # obstacle height above the straight ray, the earth's bulge added at the obstacle
    los = h_tx_abs + (h_rx_abs - h_tx_abs) * ob_d / d
    h = ob_z + earth_bulge_m(ob_d, d2, ae) - los
    return edge_loss_db(h, ob_d, d2, wavelength)


@nb.njit(cache=True, inline="always")
def _table(table: np.ndarray, step: float, d: float) -> float:
    x = d / step
    i = int(x)
    if i >= table.shape[0] - 1:
        return table[table.shape[0] - 1]
    f = x - i
    return table[i] * (1.0 - f) + table[i + 1] * f


@nb.njit(cache=True, inline="always")
def _ray_cell(direction: int, m: int, t: int, R: int) -> tuple[int, int, float]:
    """(dr, dc, minor offset) of step t on ray (direction, m); directions E, W, S, N."""
    minor = m * t / R
    k = int(math.floor(minor + 0.5))
    off = minor - k
    if direction == 0:
        return k, t, off
    if direction == 1:
        return k, -t, off
    if direction == 2:
        return t, k, off
    return -t, k, off


@nb.njit(cache=True, inline="always")
def _elev_minor(Z: np.ndarray, r: int, c: int, direction: int, off: float) -> float:
    """Elevation at the ray sample: linear along the minor axis between two cells."""
    h, w = Z.shape
    if off >= 0.0:
        r2, c2 = (r + 1, c) if direction <= 1 else (r, c + 1)
        f = off
    else:
        r2, c2 = (r - 1, c) if direction <= 1 else (r, c - 1)
        f = -off
    z = Z[r, c]
    if 0 <= r2 < h and 0 <= c2 < w:
        z2 = Z[r2, c2]
        if not math.isnan(z2):
            z = z * (1.0 - f) + z2 * f
    return z


@nb.njit(parallel=True, cache=True)
def _rays(Z, r0, c0, R, res, max_d, h_tx_abs, h_rx, table, step, wavelength, ae):
    n_rays = 4 * (2 * R + 1)
    out = np.full((n_rays, R + 1), np.nan, dtype=np.float32)
    h, w = Z.shape
    for ray in nb.prange(n_rays):
        direction = ray // (2 * R + 1)
        m = ray % (2 * R + 1) - R
        stretch = math.sqrt(1.0 + (m / R) ** 2) * res
        best = -1e30  # tangent of the horizon elevation angle seen from the antenna
        ob_d = 0.0
        ob_z = 0.0
        for t in range(1, R + 1):
            d = t * stretch
            if d > max_d:
                break
            dr, dc, off = _ray_cell(direction, m, t, R)
            r = r0 + dr
            c = c0 + dc
            if r < 0 or r >= h or c < 0 or c >= w:
                break
            z = _elev_minor(Z, r, c, direction, off)
            if math.isnan(z):
                break
            loss = _table(table, step, d) + _edge_loss(d, z + h_rx, h_tx_abs, ob_d, ob_z,
                                                       wavelength, ae)  # fmt: skip
            out[ray, t] = loss
            slope = (z - h_tx_abs) / d - d / (2.0 * ae)
            if slope > best:
                best = slope
                ob_d = d
                ob_z = z
    return out


@nb.njit(cache=True)
def _scatter(loss_rays, R):
    """Window (2R+1)² of the loss of the ray sample nearest each cell centre."""
    size = 2 * R + 1
    win = np.full((size, size), np.nan, dtype=np.float32)
    best = np.full((size, size), 2.0, dtype=np.float32)
    n_rays = loss_rays.shape[0]
    for ray in range(n_rays):
        direction = ray // (2 * R + 1)
        m = ray % (2 * R + 1) - R
        for t in range(1, R + 1):
            v = loss_rays[ray, t]
            if math.isnan(v):
                break
            dr, dc, off = _ray_cell(direction, m, t, R)
            a = abs(off)
            i = R + dr
            j = R + dc
            if a < best[i, j]:
                best[i, j] = a
                win[i, j] = v
    return win


def distance_table(loss_fn, max_d_m: float, step_m: float) -> np.ndarray:
    """Distance loss (dB) every ``step_m`` metres from 0 to ``max_d_m`` (+2 steps).

    ``loss_fn(d_km)`` is evaluated once per tower on this table, so any closed-form model plugs
    into the ray engine; distances below ``step_m`` use the value at ``step_m``.
    """
    d = np.arange(0, max_d_m + 3 * step_m, step_m)
    d[0] = step_m
    return np.asarray(loss_fn(d / 1000.0), dtype=np.float64)


def half_width(max_radius_m: float, res_m: float) -> int:
    """R, the half-width in cells of a tower's (2R+1)² window for a radius (at least 1)."""
    return max(1, int(math.ceil(max_radius_m / res_m)))


def ray_loss_window(
    elevation: np.ndarray,
    row: int,
    col: int,
    *,
    res_m: float,
    max_radius_m: float,
    h_tx_m: float,
    h_rx_m: float,
    f_mhz: float,
    table: np.ndarray,
    table_step_m: float,
) -> np.ndarray:
    """Path loss (dB) on the window of half-width R = ceil(max_radius/res) around (row, col).

    Parameters
    ----------
    elevation
        Terrain (m), float; NaN cells stop the rays that reach them.
    row, col
        Tower cell.
    h_tx_m, h_rx_m
        Antenna heights above ground (m).
    table, table_step_m
        Distance loss from :func:`distance_table`.

    Returns
    -------
    ndarray
        float32 (2R+1, 2R+1), NaN beyond ``max_radius_m``, outside the grid, or behind void.
        The centre cell (the tower's own) takes the loss at half a cell.

    Notes
    -----
    Cost: 8R² ray samples (R = 1000 for 30 km at 30 m: 8 million), both cores; memory 32R² bytes.
    """
    Z = np.ascontiguousarray(elevation, dtype=np.float32)
    R = half_width(max_radius_m, res_m)
    z0 = float(Z[row, col])
    if not math.isfinite(z0):
        z0 = 0.0
    wavelength = float(wavelength_m(f_mhz))
    rays = _rays(Z, int(row), int(col), R, float(res_m), float(max_radius_m), z0 + h_tx_m,
                 float(h_rx_m), table, float(table_step_m), wavelength,
                 EFFECTIVE_EARTH_RADIUS_M)  # fmt: skip
    win = _scatter(rays, R)
    win[R, R] = _table_value(table, table_step_m, res_m / 2)
    return win


def _table_value(table: np.ndarray, step: float, d: float) -> float:
    return float(_table(table, step, d))


@nb.njit(parallel=True, cache=True)
def _points(Z, x0, y0, res, tx_x, tx_y, h_tx, rx_x, rx_y, h_rx, table, step, wavelength, ae):
    """Loss from one transmitter to many points, walking each straight profile outward."""
    n = rx_x.shape[0]
    out = np.full(n, np.nan)
    h, w = Z.shape
    ct = (tx_x - x0) / res - 0.5
    rt = (y0 - tx_y) / res - 0.5
    z_tx = bilinear_rc(Z, rt, ct)
    if math.isnan(z_tx):
        z_tx = 0.0
    h_tx_abs = z_tx + h_tx
    for k in nb.prange(n):
        dx = rx_x[k] - tx_x
        dy = rx_y[k] - tx_y
        D = math.sqrt(dx * dx + dy * dy)
        steps = max(1, int(math.ceil(D / res)))
        best = -1e30
        ob_d = 0.0
        ob_z = 0.0
        z = 0.0
        ok = True
        for i in range(1, steps + 1):
            f = i / steps
            d = D * f
            z = bilinear_rc(Z, rt - dy / res * f, ct + dx / res * f)
            if math.isnan(z):
                ok = False
                break
            if i == steps:
                break
            slope = (z - h_tx_abs) / d - d / (2.0 * ae)
            if slope > best:
                best = slope
                ob_d = d
                ob_z = z
        if ok:
            dd = max(D, res / 2)
            out[k] = _table(table, step, dd) + _edge_loss(dd, z + h_rx, h_tx_abs, ob_d, ob_z,
                                                          wavelength, ae)  # fmt: skip
    return out


def point_loss(
    elevation: np.ndarray,
    transform,
    tx_xy: tuple[float, float],
    rx_x: np.ndarray,
    rx_y: np.ndarray,
    *,
    h_tx_m: float,
    h_rx_m: float,
    f_mhz: float,
    table: np.ndarray,
    table_step_m: float,
) -> np.ndarray:
    """Path loss (dB) from one transmitter to each point, with the ray engine's model.

    The profile is sampled every cell (bilinear); NaN where it leaves the grid or meets void.
    """
    Z = np.ascontiguousarray(elevation, dtype=np.float32)
    res = float(abs(transform.a))
    return _points(Z, float(transform.c), float(transform.f), res, float(tx_xy[0]),
                   float(tx_xy[1]), float(h_tx_m), np.asarray(rx_x, dtype=np.float64),
                   np.asarray(rx_y, dtype=np.float64), float(h_rx_m), table,
                   float(table_step_m), float(wavelength_m(f_mhz)),
                   EFFECTIVE_EARTH_RADIUS_M)  # fmt: skip


# -- the profile of one path, as the engine walks it ---------------------------------------------
@dataclass(frozen=True)
class Profile:
    """The straight terrain profile from a transmitter to a receiver, as the engine sees it.

    Samples every cell size along the path (bilinear elevation), index 0 at the transmitter and
    −1 at the receiver, exactly those :func:`point_loss` walks.

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
        Share of interior samples over the sea (the ``sea`` grid given to
        :func:`terrain_profile`, else ground ≤ 0 m), NaN without samples.
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

    def above_los(self, i: int) -> float:
        """Height (m) of sample ``i``'s ground, earth bulge added, above the line of sight."""
        return float(self.z_m[i] + self.bulge_m[i] - self.los_m[i])

    @property
    def fresnel_m(self) -> np.ndarray:
        """First Fresnel zone radius at each sample (m)."""
        d = max(self.length_m, 1e-9)
        return fresnel_radius_m(self.d_m, d - self.d_m, float(wavelength_m(self.f_mhz)))


def terrain_profile(
    terrain: Grid,
    tx_xy: tuple[float, float],
    rx_xy: tuple[float, float],
    *,
    h_tx_m: float,
    f_mhz: float,
    rx_height_m: float = RX_HEIGHT_M,
    sea: Grid | None = None,
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
    sea
        Bool grid of the sea (:func:`lomsong.layers.water.sea_mask`): the samples whose cell is
        sea make ``water_share``. Without it, ground ≤ 0 m counts as water.

    Returns
    -------
    Profile
        ``edge_db`` equals the diffraction term of
        :func:`point_loss` on the same path.
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
    Z = np.ascontiguousarray(terrain.data, dtype=np.float32)
    z = bilinear_rc_many(Z, rt - dy / res * f, ct + dx / res * f)
    z_tx = 0.0 if not np.isfinite(z[0]) else float(z[0])
    z = z.copy()
    z[0] = z_tx
    d = D * f
    ae = EFFECTIVE_EARTH_RADIUS_M
    bulge = earth_bulge_m(d, D - d, ae)
    h_tx_abs = z_tx + h_tx_m
    z_rx = float(z[-1]) if np.isfinite(z[-1]) else 0.0
    h_rx_abs = z_rx + rx_height_m
    interior = z[1:-1]
    finite = interior[np.isfinite(interior)]
    if sea is not None:
        wet = sea.sample(tx + dx * f[1:-1], ty + dy * f[1:-1], fill=0.0)[np.isfinite(interior)]
        water = float(np.mean(wet > 0)) if finite.size else math.nan
    else:
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
        above = float(z[ob] + earth_bulge_m(d1, d2, ae) - los)
        lam = float(wavelength_m(f_mhz))
        r1 = float(fresnel_radius_m(d1, d2, lam))
        edge = float(edge_loss_db(above, d1, d2, lam))
        relief = float(edge_loss_db(float(z[ob] - los), d1, d2, lam))
    return Profile(
        d_m=d, x=tx + dx * f, y=ty + dy * f, z_m=z, bulge_m=bulge, h_tx_abs_m=h_tx_abs,
        h_rx_abs_m=h_rx_abs, f_mhz=float(f_mhz), obstacle=ob, above_los_m=above,
        fresnel_radius_m=r1, edge_db=edge, relief_db=relief, water_share=water,
    )  # fmt: skip
