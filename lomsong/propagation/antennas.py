"""Sector antenna patterns: gain relative to boresight (dB, <= 0) by bearing and elevation.

The patterns are the parabolic sector model of 3GPP TR 36.814 (Table A.2.1.1-2) and
TR 38.901 (Table 7.3-1)::

    A_H(phi)   = -min(12 (phi / phi_3dB)^2, A_m)                 horizontal
    A_V(theta) = -min(12 ((theta - theta_tilt) / theta_3dB)^2, SLA_v)   vertical
    A(phi, theta) = -min(-(A_H + A_V), A_m)                        combined

Every function is vectorised: arguments broadcast against each other and the result is a
float64 array of the broadcast shape (a numpy float64 scalar for scalar inputs). Adding the
antenna's boresight gain (dBi) is the caller's business (EIRP already includes it).

Angle conventions
-----------------
Bearing
    Clockwise from **grid north** (the +y axis of the projected CRS), 0-360 degrees, from the
    tower to the cell: see :func:`bearing_deg`. Tower azimuths are usually given from true
    north; in UTM the two differ by the meridian convergence, at most about 1.2 degrees in
    Vietnam (delta-longitude x sin(latitude) <= 3 x sin 23), small against a 65-degree beam.
Elevation
    Degrees **above** the local horizontal as seen from the antenna: positive when the cell is
    higher than the antenna, negative below it (:func:`elevation_deg`).
Tilt
    **Downtilt positive**: a tilt of 6 degrees points the beam maximum 6 degrees *below* the
    horizon, i.e. at elevation -6. Internally the vertical pattern works on the depression
    angle ``theta = -elevation`` (degrees below the horizon), so that 3GPP's
    ``theta - theta_tilt`` reads directly.
Omni
    A tower whose ``azimuth_deg`` is NaN is omnidirectional: gain 0 dB in every direction
    (no vertical pattern either, since an omni's tilt is rarely known).

References
----------
- 3GPP TR 36.814 V9.2.0, *Further advancements for E-UTRA physical layer aspects*,
  Table A.2.1.1-2 (3-sector antenna pattern).
- 3GPP TR 38.901 V17.0.0, *Study on channel model for frequencies from 0.5 to 100 GHz*,
  Table 7.3-1.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
import numpy.typing as npt

from lomsong.grid import full_spans

__all__ = [
    "DEFAULT_BEAMWIDTH_DEG",
    "DEFAULT_FRONT_TO_BACK_DB",
    "DEFAULT_VERTICAL_BEAMWIDTH_DEG",
    "DEFAULT_SIDELOBE_DB",
    "DEFAULT_TILT_DEG",
    "horizontal_pattern_db",
    "vertical_pattern_db",
    "antenna_gain_db",
    "bearing_deg",
    "elevation_deg",
    "sector_gain_window",
    "window_cell_depression_deg",
    "depression_window",
    "sector_db",
    "window_bearings",
]

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]

DEFAULT_BEAMWIDTH_DEG: float = 65.0
"""Horizontal half-power (3 dB) beamwidth (degrees): the usual 3-sector panel (3GPP phi_3dB)."""

DEFAULT_FRONT_TO_BACK_DB: float = 25.0
"""Front-to-back ratio, the pattern's floor A_m (dB): TR 36.814 uses 25 dB (TR 38.901: 30)."""

DEFAULT_VERTICAL_BEAMWIDTH_DEG: float = 10.0
"""Vertical half-power beamwidth (degrees): TR 36.814 theta_3dB for macro cells."""

DEFAULT_SIDELOBE_DB: float = 20.0
"""Vertical side-lobe level SLA_v (dB below boresight): TR 36.814 (TR 38.901: 30)."""

DEFAULT_TILT_DEG: float = 0.0
"""Downtilt (degrees, positive = beam below the horizon) when none is given."""


def _as_float(x: ArrayLike) -> FloatArray:
    return np.asarray(x, dtype=np.float64)


def _out(x: FloatArray) -> FloatArray:
    return x[()] if x.ndim == 0 else x


def _check_positive(name: str, x: FloatArray) -> None:
    if np.any(x <= 0):  # NaN passes: it means "no sector" (omni) for the caller to handle
        raise ValueError(f"{name} must be positive; got min {np.nanmin(x)!r}")


def _wrap180(angle_deg: FloatArray) -> FloatArray:
    """Wrap angles to [-180, 180) degrees."""
    return (angle_deg + 180.0) % 360.0 - 180.0


def horizontal_pattern_db(
    az_offset_deg: ArrayLike,
    *,
    beamwidth_deg: ArrayLike = DEFAULT_BEAMWIDTH_DEG,
    front_to_back_db: ArrayLike = DEFAULT_FRONT_TO_BACK_DB,
) -> FloatArray:
    """Horizontal sector pattern ``A_H = -min(12 (phi / phi_3dB)^2, A_m)`` (dB, <= 0).

    Parameters
    ----------
    az_offset_deg
        Angle between the direction of interest and the antenna azimuth (degrees); any value,
        wrapped to [-180, 180) first, so 350 and -10 are the same offset.
    beamwidth_deg
        Half-power beamwidth phi_3dB (degrees), > 0: the gain is -3 dB at +-beamwidth/2.
    front_to_back_db
        Floor A_m (dB, positive): the gain never falls below ``-front_to_back_db``.

    Returns
    -------
    numpy.ndarray
        Relative gain (dB), float64, broadcast shape.
    """
    phi = _wrap180(_as_float(az_offset_deg))
    bw = _as_float(beamwidth_deg)
    _check_positive("beamwidth_deg", bw)
    return _out(-np.minimum(12.0 * (phi / bw) ** 2, _as_float(front_to_back_db)))


def vertical_pattern_db(
    elev_deg: ArrayLike,
    *,
    tilt_deg: ArrayLike = DEFAULT_TILT_DEG,
    vertical_beamwidth_deg: ArrayLike = DEFAULT_VERTICAL_BEAMWIDTH_DEG,
    sidelobe_db: ArrayLike = DEFAULT_SIDELOBE_DB,
) -> FloatArray:
    """Vertical sector pattern ``A_V = -min(12 ((theta - tilt) / theta_3dB)^2, SLA_v)`` (dB).

    ``theta = -elev_deg`` is the depression angle (degrees below the horizon), so with a
    downtilt of ``tilt_deg`` the maximum (0 dB) lies at elevation ``-tilt_deg``.

    Parameters
    ----------
    elev_deg
        Elevation of the direction of interest, degrees above the horizon (negative below).
    tilt_deg
        Downtilt (degrees), positive pointing below the horizon.
    vertical_beamwidth_deg
        Vertical half-power beamwidth theta_3dB (degrees), > 0.
    sidelobe_db
        Side-lobe level SLA_v (dB, positive): the floor of the vertical pattern.

    Returns
    -------
    numpy.ndarray
        Relative gain (dB, <= 0), float64, broadcast shape.
    """
    theta = -_as_float(elev_deg)
    vbw = _as_float(vertical_beamwidth_deg)
    _check_positive("vertical_beamwidth_deg", vbw)
    off = (theta - _as_float(tilt_deg)) / vbw
    return _out(-np.minimum(12.0 * off**2, _as_float(sidelobe_db)))


def antenna_gain_db(
    bearing_deg: ArrayLike,
    elevation_deg: ArrayLike,
    *,
    azimuth_deg: ArrayLike,
    beamwidth_deg: ArrayLike = DEFAULT_BEAMWIDTH_DEG,
    tilt_deg: ArrayLike = DEFAULT_TILT_DEG,
    front_to_back_db: ArrayLike = DEFAULT_FRONT_TO_BACK_DB,
    vertical_beamwidth_deg: ArrayLike = DEFAULT_VERTICAL_BEAMWIDTH_DEG,
    sidelobe_db: ArrayLike = DEFAULT_SIDELOBE_DB,
) -> FloatArray:
    """Combined 3-D sector gain ``-min(-(A_H + A_V), A_m)`` relative to boresight (dB, <= 0).

    Parameters
    ----------
    bearing_deg
        Bearing from the tower to the point, clockwise from grid north (degrees), see
        :func:`bearing_deg`.
    elevation_deg
        Elevation of the point seen from the antenna, degrees above the horizon, see
        :func:`elevation_deg`.
    azimuth_deg
        Antenna azimuth, clockwise from north (degrees). NaN means omnidirectional: 0 dB
        everywhere. May be an array (one value per tower, NaN for omni towers) that
        broadcasts against the bearings.
    beamwidth_deg, front_to_back_db
        Horizontal pattern, see :func:`horizontal_pattern_db`; ``front_to_back_db`` is also
        the floor of the combined pattern.
    tilt_deg, vertical_beamwidth_deg, sidelobe_db
        Vertical pattern (downtilt positive), see :func:`vertical_pattern_db`.

    Returns
    -------
    numpy.ndarray
        Relative gain (dB), float64, broadcast shape of all arguments. NaN bearings or
        elevations give NaN for sector antennas and 0 dB for omnis. Beamwidth or tilt that
        are NaN on a *sectored* tower give NaN (defaults are filled in by the tower reader,
        not guessed here).

    Notes
    -----
    Cost: a handful of elementwise passes over the broadcast shape; for a tower times a raster
    of N cells, about 10 temporary float64 arrays of N values.
    """
    az = _as_float(azimuth_deg)
    omni = np.isnan(az)
    # Sector maths on a harmless azimuth/beamwidth for omni entries; their result is replaced.
    bw = np.where(omni, DEFAULT_BEAMWIDTH_DEG, _as_float(beamwidth_deg))
    vbw = np.where(omni, DEFAULT_VERTICAL_BEAMWIDTH_DEG, _as_float(vertical_beamwidth_deg))
    am = _as_float(front_to_back_db)
    a_h = horizontal_pattern_db(
        _as_float(bearing_deg) - np.where(omni, 0.0, az),
        beamwidth_deg=bw,
        front_to_back_db=am,
    )
    a_v = vertical_pattern_db(
        elevation_deg, tilt_deg=tilt_deg, vertical_beamwidth_deg=vbw, sidelobe_db=sidelobe_db
    )
    gain = -np.minimum(-(a_h + a_v), am)
    return _out(np.asarray(np.where(omni, 0.0, gain), dtype=np.float64))


def bearing_deg(dx: ArrayLike, dy: ArrayLike) -> FloatArray:
    """Bearing of the vector (dx, dy), clockwise from grid north (+y), in [0, 360) degrees.

    ``dx`` is the easting difference and ``dy`` the northing difference (point minus tower)
    in a projected metric CRS. (0, 0) gives 0.

    Returns
    -------
    numpy.ndarray
        Bearing (degrees), float64, broadcast shape.
    """
    b = np.degrees(np.arctan2(_as_float(dx), _as_float(dy))) % 360.0
    # % can return exactly 360.0 for tiny negative angles (-1e-15 % 360 rounds to 360).
    return _out(np.where(b >= 360.0, 0.0, b))


def elevation_deg(dz_m: ArrayLike, distance_m: ArrayLike) -> FloatArray:
    """Elevation angle (degrees above the horizon) of a point ``dz_m`` above the antenna.

    ``atan2(dz, distance)`` on a flat earth; ``dz_m`` is the point's height above sea level
    minus the antenna's (ground + mast), ``distance_m`` the horizontal distance. Earth
    curvature lowers a point at 10 km by under 0.05 degrees, negligible for a 10-degree beam.

    Returns
    -------
    numpy.ndarray
        Elevation (degrees, -90 to 90), float64, broadcast shape.
    """
    return _out(np.degrees(np.arctan2(_as_float(dz_m), _as_float(distance_m))))


def sector_gain_window(
    elevation: np.ndarray,
    row0: int,
    col0: int,
    size: int,
    res_m: float,
    *,
    antenna_abs_m: float,
    rx_height_m: float,
    azimuth_deg: float,
    beamwidth_deg: float = DEFAULT_BEAMWIDTH_DEG,
    tilt_deg: float = DEFAULT_TILT_DEG,
    front_to_back_db: float = DEFAULT_FRONT_TO_BACK_DB,
    vertical_beamwidth_deg: float = DEFAULT_VERTICAL_BEAMWIDTH_DEG,
    sidelobe_db: float = DEFAULT_SIDELOBE_DB,
) -> np.ndarray:
    """:func:`antenna_gain_db` of one sector antenna over a square window of a terrain grid.

    The window is ``size`` × ``size`` cells from grid cell (``row0``, ``col0``), the antenna at
    its centre cell, ``antenna_abs_m`` above sea level (ground + mast); each cell's elevation
    angle is that of the receiver ``rx_height_m`` above the cell's ground (cells outside the
    grid take the nearest edge cell's ground). The same formulas as the vectorised functions
    above, fused into one parallel pass (numba) instead of ~10 temporary arrays of the window:
    float32, like the predictions it is added to.
    """
    z = np.ascontiguousarray(elevation)
    bearing = window_bearings(int(size))
    return _sector_window(z, bearing, int(row0), int(col0), int(size), float(res_m),
                          float(antenna_abs_m),
                          float(rx_height_m), float(azimuth_deg), float(beamwidth_deg),
                          float(tilt_deg), float(front_to_back_db),
                          float(vertical_beamwidth_deg), float(sidelobe_db))  # fmt: skip


# The bearings of a window's cells from its centre depend on its size only: towers with the
# same radius share them (the last size is kept: 2001² float64 = 32 MB at 30 km / 30 m).
_BEARINGS: dict[int, np.ndarray] = {}


def window_bearings(size: int) -> np.ndarray:
    """:func:`bearing_deg` of every cell of a size × size window from its centre cell."""
    b = _BEARINGS.get(size)
    if b is None:
        off = np.arange(size, dtype=np.float64) - size // 2
        b = np.ascontiguousarray(bearing_deg(off[None, :], -off[:, None]))
        _BEARINGS.clear()
        _BEARINGS[size] = b
    return b


@nb.njit(cache=True, inline="always")
def horizontal_db(bearing: float, az: float, bw: float, am: float) -> float:
    """:func:`horizontal_pattern_db` of one bearing (compiled, for the window loops).

    The angle is wrapped as Python's ``(x + 180) % 360 − 180`` does, bit for bit, without
    its ``fmod`` call where one subtraction or addition of 360 does it (bearings and azimuths
    in [0, 360): always): that call was ~85 % of the gain's cost, and the composite's
    kernels take three gains per window cell.
    """
    y = bearing - az + 180.0
    # exact: y − 360 for y in [360, 720) (Sterbenz); y + 360 for y in [−360, 0) is the
    # rounding Python's % does itself after fmod (which returns y there)
    if y >= 360.0:
        y = y - 360.0 if y < 720.0 else y % 360.0
    elif y < 0.0:
        y = y + 360.0 if y >= -360.0 else y % 360.0
    phi = y - 180.0
    return -min(12.0 * (phi / bw) ** 2, am)


@nb.njit(cache=True, inline="always")
def _window_cell_dist(R: int, i: int, j: int, res: float) -> float:
    """Horizontal distance (m) from the centre of a (2R+1)² window to its cell (i, j), as
    float32 offsets of numpy give it (half a cell at the centre)."""
    dy = -float(np.float32(i - R) * np.float32(res))  # as the float32 offsets of numpy
    dx = float(np.float32(j - R) * np.float32(res))
    dist = float(np.float32(math.hypot(dx, dy)))
    if i == R and j == R:
        dist = res / 2
    return dist


@nb.njit(cache=True, inline="always")
def _depression_deg(
    Z: np.ndarray, r0: int, c0: int, i: int, j: int, dist: float, z_ant: float, h_rx: float
) -> float:
    """:func:`window_cell_depression_deg` with the cell's distance given."""
    h, w = Z.shape
    rr = min(max(r0 + i, 0), h - 1)
    cc = min(max(c0 + j, 0), w - 1)
    # float32 like numpy's float32 terrain + Python floats
    dz = float(np.float32(np.float32(Z[rr, cc]) + np.float32(h_rx)) - np.float32(z_ant))
    return -math.degrees(math.atan2(dz, dist))


@nb.njit(cache=True, inline="always")
def window_cell_depression_deg(
    Z: np.ndarray,
    r0: int,
    c0: int,
    R: int,
    i: int,
    j: int,
    res: float,
    z_ant: float,
    h_rx: float,
) -> float:
    """Depression angle (degrees below the antenna's horizontal, the vertical pattern's
    argument) of a receiver ``h_rx`` m above cell (i, j) of a (2R+1)² window from grid cell
    (r0, c0), the antenna at its centre ``z_ant`` m above sea level (cells outside the grid
    take the nearest edge cell's ground)."""
    return _depression_deg(Z, r0, c0, i, j, _window_cell_dist(R, i, j, res), z_ant, h_rx)


@nb.njit(cache=True, parallel=True)
def _window_dists(R: int, res: float) -> np.ndarray:
    size = 2 * R + 1
    out = np.empty((size, size))
    for i in nb.prange(size):
        for j in range(size):
            out[i, j] = _window_cell_dist(R, i, j, res)
    return out


# the distances of a window's cells depend only on its size and the grid's resolution: the
# last table is kept (R = 1000: 32 MB), as every antenna of a run shares it
_DISTS: dict[tuple[int, float], np.ndarray] = {}


def window_dists(R: int, res_m: float) -> np.ndarray:
    """:func:`_window_cell_dist` of every cell of a (2R+1)² window (m, read-only)."""
    key = (int(R), float(res_m))
    d = _DISTS.get(key)
    if d is None:
        d = _window_dists(int(R), float(res_m))
        d.flags.writeable = False
        _DISTS.clear()
        _DISTS[key] = d
    return d


@nb.njit(cache=True, parallel=True)
def _depression_window(
    Z: np.ndarray,
    r0: int,
    c0: int,
    dists: np.ndarray,
    z_ant: float,
    h_rx: float,
    only: np.ndarray,
    use_only: bool,
    spans: np.ndarray,
) -> np.ndarray:
    size = dists.shape[0]
    h, w = Z.shape
    out = np.full((size, size), np.nan)
    for i in nb.prange(size):
        for j in range(spans[i, 0], spans[i, 1]):
            r, c = r0 + i, c0 + j
            if use_only and not (0 <= r < h and 0 <= c < w and only[r, c]):
                continue
            out[i, j] = _depression_deg(Z, r0, c0, i, j, dists[i, j], z_ant, h_rx)
    return out


def depression_window(
    elevation: np.ndarray,
    row: int,
    col: int,
    R: int,
    *,
    res_m: float,
    antenna_abs_m: float,
    rx_height_m: float,
    only: np.ndarray | None = None,
    spans: np.ndarray | None = None,
) -> np.ndarray:
    """:func:`window_cell_depression_deg` (degrees, float64) of every cell of the (2R+1)²
    window centred on grid cell (row, col), the antenna ``antenna_abs_m`` above sea level:
    computed once per antenna position for every sector and band there (the composite's
    kernels read it, each pass took one arctangent per cell). With ``only`` (a grid-shaped
    bool mask), on those grid cells alone (NaN elsewhere); ``spans``
    (:func:`lomsong.grid.window_spans` of that mask) bounds each window row's columns to
    visit."""
    mask = np.zeros((1, 1), dtype=np.bool_) if only is None else only
    return _depression_window(elevation, int(row) - int(R), int(col) - int(R),
                              window_dists(R, res_m), float(antenna_abs_m), float(rx_height_m),
                              mask, only is not None,
                              full_spans(int(R)) if spans is None else spans)  # fmt: skip


@nb.njit(cache=True, inline="always")
def sector_db(
    bearing: float,
    depression: float,
    az: float,
    bw: float,
    tilt: float,
    am: float,
    vbw: float,
    sla: float,
) -> np.float32:
    """:func:`antenna_gain_db` of one direction (bearing, depression angle in degrees),
    float32: the one compiled form, read by :func:`sector_gain_window` and by the composite's
    kernels (:mod:`lomsong.coverage.predict`, :mod:`lomsong.coverage.pruning`), so that a
    level and its pruning bound take the very same gain."""
    a_h = horizontal_db(bearing, az, bw, am)
    off = (depression - tilt) / vbw
    a_v = -min(12.0 * off**2, sla)
    return np.float32(-min(-(a_h + a_v), am))


@nb.njit(cache=True, parallel=True)
def _sector_window(
    Z: np.ndarray,
    bearing: np.ndarray,
    r0: int,
    c0: int,
    size: int,
    res: float,
    z_ant: float,
    h_rx: float,
    az: float,
    bw: float,
    tilt: float,
    am: float,
    vbw: float,
    sla: float,
) -> np.ndarray:
    R = size // 2
    out = np.empty((size, size), dtype=np.float32)
    for i in nb.prange(size):
        for j in range(size):
            dep = window_cell_depression_deg(Z, r0, c0, R, i, j, res, z_ant, h_rx)
            out[i, j] = sector_db(bearing[i, j], dep, az, bw, tilt, am, vbw, sla)
    return out
