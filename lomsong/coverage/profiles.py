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

import numba as nb
import numpy as np

from lomsong.defaults import EARTH_RADIUS_M, K_FACTOR

__all__ = ["ray_loss_window", "point_loss", "distance_table", "EFFECTIVE_EARTH_RADIUS_M"]

EFFECTIVE_EARTH_RADIUS_M = K_FACTOR * EARTH_RADIUS_M
_C = 299_792_458.0


@nb.njit(cache=True, inline="always")
def _knife_edge_db(v: float) -> float:
    """ITU-R P.526-15 eq. (31): J(v) = 6.9 + 20 log10(sqrt((v−0.1)²+1) + v − 0.1), v > −0.78."""
    if v <= -0.78:
        return 0.0
    w = v - 0.1
    return 6.9 + 20.0 * math.log10(math.sqrt(w * w + 1.0) + w)


_J0 = 6.9 + 20.0 * math.log10(math.sqrt(0.01 + 1.0) - 0.1)  # J(0) = 6.02 dB


@nb.njit(cache=True, inline="always")
def _edge_loss(d: float, h_rx_abs: float, h_tx_abs: float, ob_d: float, ob_z: float,
               wavelength: float, ae: float) -> float:  # fmt: skip
    """Loss beyond grazing, J(v) − J(0) for v > 0, of the obstacle (ob_d, ob_z) on the path
    tx → rx of length d (m); 0 when the obstacle stays below the line of sight."""
    if ob_d <= 0.0 or ob_d >= d:
        return 0.0
    d2 = d - ob_d
    # obstacle height above the straight ray, the earth's bulge added at the obstacle
    los = h_tx_abs + (h_rx_abs - h_tx_abs) * ob_d / d
    h = ob_z + ob_d * d2 / (2.0 * ae) - los
    if h <= 0.0:
        return 0.0
    v = h * math.sqrt(2.0 * d / (wavelength * ob_d * d2))
    return _knife_edge_db(v) - _J0


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
    wavelength = _C / (f_mhz * 1e6)
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
    z_tx = _bilinear(Z, rt, ct)
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
            z = _bilinear(Z, rt - dy / res * f, ct + dx / res * f)
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


@nb.njit(cache=True, inline="always")
def _bilinear(Z, r, c):
    h, w = Z.shape
    if r < -0.5 or c < -0.5 or r > h - 0.5 or c > w - 0.5:
        return np.nan
    r = min(max(r, 0.0), h - 1.0)
    c = min(max(c, 0.0), w - 1.0)
    i = min(int(r), h - 2) if h > 1 else 0
    j = min(int(c), w - 2) if w > 1 else 0
    fr = r - i if h > 1 else 0.0
    fc = c - j if w > 1 else 0.0
    i2 = i + 1 if h > 1 else i
    j2 = j + 1 if w > 1 else j
    return (Z[i, j] * (1 - fr) * (1 - fc) + Z[i2, j] * fr * (1 - fc)
            + Z[i, j2] * (1 - fr) * fc + Z[i2, j2] * fr * fc)  # fmt: skip


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
                   float(table_step_m), _C / (f_mhz * 1e6),
                   EFFECTIVE_EARTH_RADIUS_M)  # fmt: skip
