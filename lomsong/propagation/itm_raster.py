"""Longley-Rice (ITM v1.4) over a raster: basic transmission loss from one tower to every cell.

Model
-----
Each cell gets the ITM point-to-point loss (:func:`lomsong.propagation.itm.p2p_tls`) of the terrain
profile from the tower to the cell. Profiles come from the ray geometry of
:mod:`lomsong.propagation.paths`, with ``q`` = 2 rays per border cell: 8qR rays from the tower
cell to every half-cell of the border of the (2R+1)² window, one sample per cell along the major
axis, elevation interpolated across the minor axis; each cell takes the ray sample that passes
nearest its centre, at most a quarter of a cell aside. The profile of sample t of a ray is the
ray's first t+1 samples, so a ray of n samples holds n nested profiles.

Calling the reference once per sample costs O(n) per call (horizon search, least-squares fits),
O(n²) per ray. Here every profile-dependent quantity of ITM is kept incrementally as the path
grows, sample by sample:

- the path's mean elevation (surface refractivity N_s, effective earth radius a_e): prefix sums,
  O(1);
- both horizons: the terrain points (x_i, z_i − x_i²/(2a)) seen with a reference curvature 1/a
  (that of the ray's mean height, from every 8th sample) are kept on an upper convex hull
  (Andrew's monotone chain, amortised O(1) per push). The transmitter's horizon is the tangent
  from the antenna (left of every point), the receiver's the tangent from the receiver antenna
  (right of every point): binary searches, O(log n). The
  true a_e of each path differs from the ray's reference by < 2 % (N_s varies with the mean
  elevation of the path), so the tangent vertex is then refined by walking the hull with the
  exact ITM angle formula; the horizon angles and distances returned are the reference's own
  expressions at that vertex;
- the least-squares lines that give the effective heights (the reference's half-weighted
  ``LinearLeastSquaresFit``): prefix sums of z and i·z, O(1);
- Δh, the interdecile range of the terrain about its fitted line: ITM resamples the middle of
  the path to 10·p10 − 5 ≤ 245 points, so one exact evaluation is O(1) but costs ~1 µs. It is
  evaluated exactly (the reference's algorithm) at checkpoints — every sample up to
  ``_DH_DENSE`` samples, then at path lengths growing geometrically by ``_DH_GROWTH`` (12.5 %)
  — and interpolated linearly in path length in between; and only on every ``_DH_RAYS``-th ray
  (8th), the rays in between interpolating it linearly in angle from the two beside them (at
  most 4 cells apart at the border). Δh is a statistic of ≥ 35 resampled points of a window
  that changes little between checkpoints and between neighbouring rays: against Δh evaluated
  on every sample of every ray this adds a median 0.09 dB, 95th percentile 0.55 dB of loss
  difference on rough real terrain (SRTM of Đà Nẵng), 0.01 / 0.25 dB on rolling hills; exact
  Δh at every cell would cost ~3 µs per cell, ten times the rest of ITM;
- everything else of ITM (reference attenuation, variability, free space) is O(1) per cell
  given those, and is evaluated only at the ray samples that some cell takes (π R² of the
  ~14 R² samples). The walk collects the geometry of a ray's cells, then evaluates them as one
  batch with :func:`lomsong.propagation._itm_cell.cells_loss`: the reference's expressions written
  without branches and with polynomial exp/log (:mod:`lomsong.propagation._vmath`), which LLVM
  vectorises (AVX2, 4 cells per instruction, fused multiply-adds) — ~0.2 µs per cell where the
  scalar form with libm took ~0.6 µs. The terms that depend only on the radio parameters are
  computed once per tower (:func:`lomsong.propagation._itm_cell._tower_constants`).

The receiver's ground elevation is the cell centre's (not the ray sample's, up to a quarter of a
cell aside), since ITM is most sensitive to the receiver's ground (its horizon and effective
height).

A ray of n samples so costs O(n log n); the window O(R² log R) with R = radius / cell size.

Cells a caller already knows to be irrelevant can be skipped (``skip``; see
:func:`loss_lower_bound_window` and :func:`lomsong.coverage.pruning.pruning_mask`): their ITM
is not evaluated, a ray is read only as far as its last evaluated cell, and the Δh rays
evaluate only the checkpoints the evaluated cells interpolate from. Every other cell keeps its
value bit for bit: a skipped cell's sample still ends its Δh checkpoint on the cell centre's
ground, and the hull's curvature does not depend on how far the ray is read.

Validity: that of ITM (20 MHz – 20 GHz, antennas 0.5 – 3000 m; ITM's warnings, e.g. paths
shorter than 1 km, are not reported per cell). The comparison with the exact point-to-point
profile of each cell (:func:`itm_point_loss`) is in ``tests/test_itm_raster.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numba as nb
import numpy as np
from numba import prange

from lomsong.grid import bilinear_rc
from lomsong.propagation import _itm_core as _core
from lomsong.propagation import itm
from lomsong.propagation._itm_cell import _tower_constants, cells_loss, smooth_paths
from lomsong.propagation._vmath import vexp
from lomsong.propagation.paths import _elev_minor, _ray_cell, half_width

__all__ = [
    "itm_loss_window",
    "itm_loss_pair",
    "itm_loss_bands",
    "itm_point_loss",
    "itm_point_loss_pair",
    "loss_lower_bound_window",
]


#: Δh is evaluated exactly at every sample up to this path length (samples) ...
_DH_DENSE = 16
#: ... then at path lengths growing by this factor (interpolated in between).
_DH_GROWTH = 1.125
#: Rays per border cell of the window: the ray nearest a cell passes within 1/(2q) cell of its
#: centre. 2 rather than 1 brings the 95th percentile against exact p2p on rough SRTM from 2.2
#: to 1.3-1.8 dB, for ~0.3 CPU-s more at R = 1000 (ITM on rough ground is that sensitive to
#: the profile's lateral offset).
_RAY_DENSITY = 2
#: Δh is evaluated on every _DH_RAYS-th ray and interpolated across the ray angle in between.
_DH_RAYS = 8
#: The hull's reference curvature is that of the mean height of every _GREF_STEP-th sample of
#: the ray (it only has to be near each path's own, within ~2 %; the exact angles decide).
_GREF_STEP = 8
#: Carriers evaluated on one walk of the rays (a site's bands share the path geometry); more
#: are walked again, this many at a time.
_MAX_BANDS = 3
# Rows of the per-ray geometry of the samples cells take (one column per sample), the batch
# :func:`lomsong.propagation._itm_cell.cells_loss` turns into losses.
_G_TH0, _G_TH1, _G_DL0, _G_DL1, _G_HE0, _G_HE1, _G_SMOOTH, _G_GAM, _G_NS, _G_DH, _G_D = range(11)
_G_LOSS, _G_MD, _G_AD0, _G_LOSSQ = 11, 12, 13, 14  # the losses (median, quantile); scratch
_G_SIZE = 15
#: Fast-math flags of the walk's arithmetic: fused multiply-add, division by reciprocal, no signed
#: zeros — NaN, infinities and the order of operations stay IEEE. ~15 % faster per tower; the
#: losses move by < 0.01 dB on 99 % of cells, by up to ~1 dB on < 1 % where a rounding flips a
#: discrete choice of the reference (the end of a fit window, a hull vertex), as any
#: reordering of its arithmetic would.
_FM = {"contract", "arcp", "nsz"}


# --- incremental profile pieces ----------------------------------------------------------------
# The helpers that take arrays and run per sample or per cell are compiled without numba's
# runtime (_nrt=False): a function with NRT increments and decrements each array argument's
# reference count atomically, which cost a quarter of the engine's time in these tight loops.
@nb.njit(cache=True, _nrt=False, fastmath=_FM)
def _elev_minor_nrt(Z: np.ndarray, r: int, c: int, direction: int, off: float) -> float:
    """:func:`lomsong.propagation.paths._elev_minor` (the same arithmetic), without NRT."""
    h, w = Z.shape
    # selects, not branches: the sign of the offset flips irregularly along a ray
    step = 1 if off >= 0.0 else -1
    f = abs(off)
    r2 = r + step if direction <= 1 else r
    c2 = c if direction <= 1 else c + step
    z = Z[r, c]
    if 0 <= r2 < h and 0 <= c2 < w:
        z2 = Z[r2, c2]
        if not math.isnan(z2):
            z = z * (1.0 - f) + z2 * f
    return z


@nb.njit(cache=True, _nrt=False)
def _hull_push(hidx: np.ndarray, hn: int, i: int, w: np.ndarray) -> int:
    """Push point (i, w[i]) (x increasing) on the upper hull stack; returns the new size."""
    while hn >= 2:
        a = hidx[hn - 2]
        b = hidx[hn - 1]
        # b stays only if it lies strictly above the segment a–i
        if (b - a) * (w[i] - w[a]) - (w[b] - w[a]) * (i - a) >= 0.0:
            hn -= 1
        else:
            break
    hidx[hn] = i
    return hn + 1


@nb.njit(cache=True, _nrt=False)
def _hull_push_tx(hidx: np.ndarray, hn: int, i: int, w: np.ndarray, z_tx: float, jt: int) -> tuple:
    """:func:`_hull_push`, keeping ``jt``: the hull position of the transmitter's tangent vertex
    (the point of largest slope from (0, z_tx); -1: none yet or lost, then searched).

    The tangent from a point left of all others touches the hull at the running maximum of the
    slope: a new point either takes it or leaves it on the hull (it lies above any segment from
    a point before it to the new one). Only a tie pops it (the hull drops collinear points);
    then it is searched again. Same predicate and tie rule as :func:`_tangent_vertex` (the
    first of equal slopes), so the same vertex."""
    hn = _hull_push(hidx, hn, i, w)
    if jt >= hn - 1:
        return hn, np.intp(-1)  # popped (a tie): search at the next query
    if hn == 1:
        return hn, np.intp(0)
    if jt >= 0 and _past_tangent(w, hidx[jt], i, 0, z_tx, True):
        return hn, np.intp(hn - 1)
    return hn, jt


@nb.njit(cache=True, inline="always", fastmath=_FM)
def _past_tangent(w: np.ndarray, a: int, b: int, x0: int, y0: float, left: bool) -> bool:
    """Whether the tangent from (x0, y0) touches the hull beyond its edge (a, b): the edge's
    line passes below a point ``left`` of the hull, above a point right of it."""
    lhs = (y0 - w[a]) * (b - a)
    rhs = (w[b] - w[a]) * (x0 - a)
    return (lhs > rhs) if left else (lhs < rhs)


@nb.njit(cache=True, inline="always", fastmath=_FM)
def _tangent_vertex(
    hidx: np.ndarray, hn: int, w: np.ndarray, x0: int, y0: float, left: bool
) -> int:
    """Hull position of the vertex where the tangent from the point (x0, y0) touches the hull
    (a binary search over its edges): for a point ``left`` of every hull point (the
    transmitter), the first edge whose line passes above it; for one right of them (the
    receiver), the first whose line passes below it. Ties: the first such vertex."""
    lo = 0
    hi = hn - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if _past_tangent(w, hidx[mid], hidx[mid + 1], x0, y0, left):
            lo = mid + 1
        else:
            hi = mid
    return lo


@nb.njit(cache=True, _nrt=False, fastmath=_FM)
def _tx_angle(z: np.ndarray, i: int, s: float, z_tx: float, a_e: float) -> float:
    x = i * s
    return (z[i] - z_tx) / x - x / (2.0 * a_e)


@nb.njit(cache=True, _nrt=False, fastmath=_FM)
def _rx_angle(z: np.ndarray, i: int, n: int, s: float, z_rx: float, a_e: float) -> float:
    x = (n - i) * s
    return -(z_rx - z[i]) / x - x / (2.0 * a_e)


@nb.njit(cache=True, _nrt=False, fastmath=_FM)
def _horizons_hull(
    hidx: np.ndarray,
    hn: int,
    w: np.ndarray,
    z: np.ndarray,
    n: int,
    s: float,
    z_tx: float,
    z_rx: float,
    g_ref: float,
    a_e: float,
    jt: int,
) -> tuple[float, float, float, float, int]:
    """Horizons (th0, th1, dl0, dl1) of the profile z[0..n] (receiver ground replaced, z_rx given),
    and the hull position of the transmitter's tangent vertex.

    The hull holds the interior points 1..n-1 transformed with the curvature ``g_ref``; the
    result follows the reference's ``FindHorizons`` (the receiver itself is the horizon unless an
    interior point is strictly higher in angle). ``jt``: that tangent vertex kept by
    :func:`_hull_push_tx` (-1: searched here).
    """
    d = n * s
    th0 = (z_rx - z_tx) / d - d / (2.0 * a_e)
    th1 = -(z_rx - z_tx) / d - d / (2.0 * a_e)
    dl0 = d
    dl1 = d
    if hn == 0:
        return th0, th1, dl0, dl1, jt
    # transmitter: tangent from (0, z_tx), the first hull edge whose line passes above it
    if jt < 0:
        jt = _tangent_vertex(hidx, hn, w, 0, z_tx, True)
    j = jt
    v = _tx_angle(z, hidx[j], s, z_tx, a_e)
    # exact angle with this path's a_e: walk to the best neighbour (ties: nearer the tx, as the
    # reference keeps the first maximum)
    while j > 0:
        u = _tx_angle(z, hidx[j - 1], s, z_tx, a_e)
        if u >= v:
            v = u
            j -= 1
        else:
            break
    while j < hn - 1:
        u = _tx_angle(z, hidx[j + 1], s, z_tx, a_e)
        if u > v:
            v = u
            j += 1
        else:
            break
    if v > th0:
        th0 = v
        dl0 = hidx[j] * s
    # receiver: tangent from (n, w_rx), the first hull edge whose line passes below it
    w_rx = z_rx - 0.5 * g_ref * d * d
    j = _tangent_vertex(hidx, hn, w, n, w_rx, False)
    v = _rx_angle(z, hidx[j], n, s, z_rx, a_e)
    while j > 0:
        u = _rx_angle(z, hidx[j - 1], n, s, z_rx, a_e)
        if u >= v:
            v = u
            j -= 1
        else:
            break
    while j < hn - 1:
        u = _rx_angle(z, hidx[j + 1], n, s, z_rx, a_e)
        if u > v:
            v = u
            j += 1
        else:
            break
    if v > th1:
        th1 = v
        dl1 = (n - hidx[j]) * s
    return th0, th1, dl0, dl1, jt


@nb.njit(cache=True, _nrt=False, fastmath=_FM)
def _fit_prefix(
    P0: np.ndarray,
    P1: np.ndarray,
    z: np.ndarray,
    zref: float,
    n: int,
    z_n: float,
    s: float,
    d_start: float,
    d_end: float,
) -> tuple[float, float]:
    """The reference's ``LinearLeastSquaresFit`` over z[0..n] (z[n] replaced by ``z_n``) in O(1).

    ``P0[k] = Σ_{j<k} (z_j − zref)`` and ``P1[k] = Σ_{j<k} j (z_j − zref)``. The reference weighs
    both end points by ½ and normalises by 12 / ((L² + 2) L); the same sums are formed here
    from the prefix sums. Returns the fitted heights at the profile's start and end.
    """
    i0 = int(_core._fdim(d_start / s, 0.0))
    i1 = n - int(_core._fdim(float(n), d_end / s))
    if i1 <= i0:
        i0 = int(_core._fdim(float(i0), 1.0))
        i1 = n - int(_core._fdim(float(n), i1 + 1.0))
    length = float(i1 - i0)
    xc0 = -0.5 * length
    x_mid_end = i1 + xc0
    c = i0 - xc0
    s0 = P0[i1 + 1] - P0[i0]
    s1 = P1[i1 + 1] - P1[i0]
    za = z[i0] - zref
    zb = z[i1] - zref
    if i1 == n:
        dz = z_n - z[n]
        s0 += dz
        s1 += n * dz
        zb += dz
    sum_z = (s0 - 0.5 * (za + zb)) / length
    sum_xz = (s1 - c * s0 - 0.5 * (za - zb) * xc0) * 12.0 / ((length * length + 2.0) * length)
    return (sum_z - sum_xz * x_mid_end + zref, sum_z + sum_xz * (n - x_mid_end) + zref)


@nb.njit(cache=True, _nrt=False, fastmath=_FM)
def _mean_height(P0: np.ndarray, z: np.ndarray, zref: float, n: int, z_n: float) -> float:
    """Mean terrain height ignoring the first and last 10 % of the path (reference's h_sys)."""
    p10 = int(0.1 * n)
    tot = P0[n - p10 + 1] - P0[p10]
    if p10 == 0:
        tot += z_n - z[n]
    return tot / (n - 2 * p10 + 1) + zref


@nb.njit(cache=True, inline="always")
def _earth(h_sys: float, n0: float) -> tuple[float, float]:
    """(gamma_e, N_s) at the path's mean height (the reference's ``InitializePointToPoint``).

    With the polynomial exp of :mod:`._vmath` (≤ 1e-14 relative to libm's; this runs once per
    cell: ~10 % less time in this step, measured by cycle counts).
    """
    n_s = n0 if h_sys == 0.0 else n0 * vexp(-h_sys / 9460.0)
    return _core._GAMMA_A * (1.0 - 0.04665 * vexp(n_s / 179.3)), n_s


@nb.njit(cache=True, _nrt=False, fastmath=_FM)
def _effective_heights(
    P0: np.ndarray,
    P1: np.ndarray,
    z: np.ndarray,
    zref: float,
    n: int,
    z_n: float,
    s: float,
    dl0: float,
    dl1: float,
    h_tx: float,
    h_rx: float,
) -> tuple[float, float, bool]:
    """(he0, he1, smooth) of the profile z[0..n] (z[n] → z_n) with horizon distances dl0, dl1.

    The reference's ``_profile_geometry`` with O(1) fits: a path whose horizons sum to more than
    1.5 × its length is line of sight (``smooth``: one fit over the path, the horizons then
    taken over smooth earth, in :func:`lomsong.propagation._itm_cell.cells_loss`); otherwise each
    terminal's effective height is fitted over its side of the path up to 0.9 × its horizon.
    """
    d = n * s
    x_start = _core._mn(15.0 * h_tx, 0.1 * dl0)
    x_end = d - _core._mn(15.0 * h_rx, 0.1 * dl1)
    if dl0 + dl1 > 1.5 * d:
        fit_tx, fit_rx = _fit_prefix(P0, P1, z, zref, n, z_n, s, x_start, x_end)
        return h_tx + _core._fdim(z[0], fit_tx), h_rx + _core._fdim(z_n, fit_rx), True
    fit_tx, _ = _fit_prefix(P0, P1, z, zref, n, z_n, s, x_start, 0.9 * dl0)
    _, fit_rx = _fit_prefix(P0, P1, z, zref, n, z_n, s, d - 0.9 * dl1, x_end)
    return h_tx + _core._fdim(z[0], fit_tx), h_rx + _core._fdim(z_n, fit_rx), False


# --- the raster engine -------------------------------------------------------------------------
@nb.njit(cache=True, parallel=True)
def _extents(
    Z: np.ndarray,
    r0: int,
    c0: int,
    R: int,
    q: int,
    res: float,
    max_d: float,
    voids: bool = True,
    grid: bool = True,
) -> np.ndarray:
    """Last usable sample of every ray: within ``max_d``, inside the grid, before any void.

    Ray (direction, m), m in −qR..qR, moves m/(qR) cells across the minor axis per step (``q``
    rays per border cell). ``voids=False`` (the window holds no NaN) skips reading the terrain;
    ``grid=False`` (with ``voids=False``) ignores the grid's edges: the extents of the radius
    alone, the same for every tower.
    """
    size = 2 * q * R + 1
    n_rays = 4 * size
    ext = np.zeros(n_rays, dtype=np.int32)
    h, w = Z.shape
    if not voids:
        # without terrain to read, each limit is monotone along the ray: found without walking
        # (the walk below took ~25 ms per tower at R = 1000)
        for ray in prange(n_rays):
            direction = ray // size
            m = ray % size - q * R
            ext[ray] = _ray_limit(direction, m, R, q * R, res, max_d, r0, c0, h, w, grid)
        return ext
    for ray in prange(n_rays):
        direction = ray // size
        m = ray % size - q * R
        stretch = math.sqrt(1.0 + (m / (q * R)) ** 2) * res
        last = 0
        for t in range(1, R + 1):
            if t * stretch > max_d:
                break
            dr, dc, off = _ray_cell(direction, m, t, q * R)
            r = r0 + dr
            c = c0 + dc
            if grid and (r < 0 or r >= h or c < 0 or c >= w):
                break
            if voids and math.isnan(_elev_minor(Z, r, c, direction, off)):
                break
            last = t
        ext[ray] = last
    return ext


@nb.njit(cache=True)
def _ray_limit(
    direction: int,
    m: int,
    R: int,
    qR: int,
    res: float,
    max_d: float,
    r0: int,
    c0: int,
    h: int,
    w: int,
    grid: bool,
) -> int:
    """Last step of ray (direction, m) within ``max_d`` (and, with ``grid``, inside the h × w
    grid from the tower cell (r0, c0)): the walk of :func:`_extents` without terrain, each
    limit solved directly — the major axis exactly, the minor one (monotone in t) by
    bisection."""
    stretch = math.sqrt(1.0 + (m / qR) ** 2) * res
    last = min(R, int(max_d / stretch))
    while last < R and (last + 1) * stretch <= max_d:
        last += 1
    while last > 0 and last * stretch > max_d:
        last -= 1
    if not grid:
        return last
    if direction == 0:
        last = min(last, w - 1 - c0)
    elif direction == 1:
        last = min(last, c0)
    elif direction == 2:
        last = min(last, h - 1 - r0)
    else:
        last = min(last, r0)
    base = r0 if direction <= 1 else c0
    span = h if direction <= 1 else w
    dr, dc, _ = _ray_cell(direction, m, last, qR)
    k = dr if direction <= 1 else dc
    if 0 <= base + k < span:
        return last
    lo = 0  # inside (the tower's cell)
    hi = last  # outside
    while hi - lo > 1:
        mid = (lo + hi) // 2
        dr, dc, _ = _ray_cell(direction, m, mid, qR)
        k = dr if direction <= 1 else dc
        if 0 <= base + k < span:
            lo = mid
        else:
            hi = mid
    return lo


@nb.njit(cache=True)
def _winners(ext: np.ndarray, R: int, q: int) -> np.ndarray:
    """mask[ray, t] = 1 where sample t of the ray is the one nearest its cell's centre.

    With ``q`` = 1 the same choice as :func:`lomsong.propagation.paths._scatter` (first ray wins
    ties).
    """
    size = 2 * R + 1
    n_rays = ext.shape[0]
    rsize = n_rays // 4
    best = np.full((size, size), 2.0, dtype=np.float32)
    who = np.full((size, size), -1, dtype=np.int32)
    for ray in range(n_rays):
        direction = ray // rsize
        m = ray % rsize - q * R
        for t in range(1, ext[ray] + 1):
            dr, dc, off = _ray_cell(direction, m, t, q * R)
            a = abs(off)
            i = R + dr
            j = R + dc
            if a < best[i, j]:
                best[i, j] = a
                who[i, j] = ray * (R + 1) + t
    mask = np.zeros((n_rays, R + 1), dtype=np.uint8)
    for i in range(size):
        for j in range(size):
            k = who[i, j]
            if k >= 0:
                mask[k // (R + 1), k % (R + 1)] = 1
    return mask


@nb.njit(cache=True)
def _dh_slot(m: int, qR: int, g: int) -> int:
    """Row of ray m (−qR..qR) in the shared Δh table, −1 if it is not a Δh ray.

    Δh rays are every g-th ray from m = −qR, plus m = qR.
    """
    if (m + qR) % g == 0:
        return (m + qR) // g
    if m == qR:
        return 2 * qR // g + 1
    return -1


@nb.njit(cache=True)
def _dh_neighbours(m: int, qR: int, g: int, dh_row: int) -> tuple[int, int, float]:
    """Rows in the Δh table of the two Δh rays beside (non-Δh) ray m of a direction whose
    rows start at ``dh_row``, and the weight of the second (linear in the ray angle)."""
    ma = m - (m + qR) % g
    mb = ma + g if ma + g <= qR else qR
    return dh_row + _dh_slot(ma, qR, g), dh_row + _dh_slot(mb, qR, g), (m - ma) / (mb - ma)


@nb.njit(cache=True, _nrt=False)
def _checkpoints(T: int, dh_dense: int, dh_ratio: float, cp_t: np.ndarray) -> int:
    """Δh checkpoints of a ray of T samples into ``cp_t`` (then a sentinel T + 1): every sample
    up to dh_dense, then growing by dh_ratio, and T. Returns how many."""
    n_cp = 0
    t = 1
    while t <= T:
        cp_t[n_cp] = t
        n_cp += 1
        if t == T:
            break
        t = t + 1 if t < dh_dense else max(t + 1, int(t * dh_ratio))
        if t > T:
            t = T
    cp_t[n_cp] = T + 1  # sentinel
    return n_cp


@nb.njit(cache=True, _nrt=False)
def _ray_roles(
    ray: int,
    R: int,
    qR: int,
    T: int,
    slot: int,
    dh_row: int,
    mask: np.ndarray,
    dh_dense: int,
    dh_ratio: float,
    cp_t: np.ndarray,
    role: np.ndarray,
    win: np.ndarray,
    skip: np.ndarray,
    use_skip: bool,
    need: np.ndarray,
) -> tuple[int, int]:
    """The ray's Δh checkpoints into ``cp_t`` and each sample's role into ``role`` (see
    :func:`_itm_rays`); returns (number of checkpoints, last sample with a role ≠ 4, 0 if none).

    Δh checkpoints: every sample up to dh_dense, then growing by dh_ratio, and T. Only those
    that bracket a cell's sample are needed (near the tower most rays carry no cell at all);
    a Δh ray evaluates all of them past dh_dense for its neighbours — with ``use_skip``, only
    those its neighbours marked in ``need`` (:func:`_mark_needs`). Skipped cells get +inf.
    """
    direction = ray // (2 * qR + 1)
    m = ray % (2 * qR + 1) - qR
    n_cp = _checkpoints(T, dh_dense, dh_ratio, cp_t)
    for t in range(1, T + 1):
        role[t] = mask[ray, t]
    if use_skip:
        for t in range(1, T + 1):
            if role[t]:
                dr, dc, _ = _ray_cell(direction, m, t, qR)
                if skip[R + dr, R + dc]:
                    role[t] = 4
                    win[R + dr, R + dc] = math.inf
    if slot >= 0:
        for k in range(n_cp):
            if cp_t[k] > dh_dense and (not use_skip or need[dh_row + slot, cp_t[k]]):
                role[cp_t[k]] |= 2
    k = 0
    for t in range(1, T + 1):
        if role[t] & 1:
            while cp_t[k + 1] <= t:
                k += 1
            role[cp_t[k]] |= 2
            if cp_t[k] != t:
                role[cp_t[k + 1]] |= 2
    last = 0
    for t in range(1, T + 1):
        if role[t] & 3:
            last = t
    return n_cp, last


@nb.njit(cache=True, _nrt=False)
def _mark_needs(
    ray: int,
    R: int,
    q: int,
    g: int,
    ext: np.ndarray,
    mask: np.ndarray,
    dh_dense: int,
    dh_ratio: float,
    cp_t: np.ndarray,
    role: np.ndarray,
    win: np.ndarray,
    skip: np.ndarray,
    need: np.ndarray,
) -> None:
    """Mark in ``need`` the Δh checkpoints of the two Δh rays beside a (non-Δh) ray that its
    evaluated cells interpolate from: with skipped cells, the Δh rays evaluate only those,
    and every other value stays what it would be without skipping. ``role`` is the ray's own
    row of roles, kept for its walk."""
    T = ext[ray]
    qR = q * R
    m = ray % (2 * qR + 1) - qR
    if T == 0 or _dh_slot(m, qR, g) >= 0:
        return
    dh_row = (ray // (2 * qR + 1)) * (2 * qR // g + 2)
    ia, ib, _ = _dh_neighbours(m, qR, g, dh_row)
    # typed constants (np.intp, np.bool_), not literals: a literal argument compiles a second
    # specialisation of the callee (see _walk_ray's counters)
    _ray_roles(ray, R, qR, T, np.intp(-1), dh_row, mask, dh_dense, dh_ratio, cp_t, role, win,
               skip, np.bool_(True), need)  # fmt: skip
    for t in range(1, T + 1):
        if role[t] & 2 and t > dh_dense:
            need[ia, t] = 1  # racing threads store the same value
            need[ib, t] = 1


@nb.njit(cache=True, fastmath=_FM)
def _walk_ray(
    ray: int,
    Z: np.ndarray,
    r0: int,
    c0: int,
    R: int,
    q: int,
    g: int,
    res: float,
    z0: float,
    ext: np.ndarray,
    mask: np.ndarray,
    dh_dense: int,
    dh_ratio: float,
    h_tx: float,
    h_rx: float,
    n0: float,
    fs: tuple,
    zgs: tuple,
    kc0: tuple,
    kc1: tuple,
    kc2: tuple,
    nbands: int,
    DH: np.ndarray,
    mark: np.ndarray,
    win: np.ndarray,
    win_q: np.ndarray,
    pfl: np.ndarray,
    P0: np.ndarray,
    P1: np.ndarray,
    w: np.ndarray,
    hidx: np.ndarray,
    cp_t: np.ndarray,
    cp_dh: np.ndarray,
    role: np.ndarray,
    geo: np.ndarray,
    tk: np.ndarray,
    zc: np.ndarray,
    sbuf: np.ndarray,
    rbuf: np.ndarray,
    ear: np.ndarray,
    skip: np.ndarray,
    use_skip: bool,
    need: np.ndarray,
    roles_ready: bool,
) -> None:
    """Walk one ray outward and write the loss of the cells that take its samples into ``win``
    (location median) and ``win_q`` (location quantile), ``[b]`` for carrier b < ``nbands`` of
    ``fs`` (ground impedances ``zgs``, constants ``kc0``-``kc2``): one geometry, ITM's
    frequency terms per carrier.

    With ``use_skip``, cells marked in ``skip`` (window-shaped) are not evaluated: +inf in
    ``mark`` (the first carrier's median window).

    Δh rays (:func:`_dh_slot`) evaluate Δh at every checkpoint past ``dh_dense`` (and at those
    their own cells need) and store it in ``DH``; the others interpolate it across the ray angle
    from the two Δh rays beside them where both have it, and evaluate it themselves otherwise.
    """
    T = ext[ray]
    if T == 0:
        return
    qR = q * R
    rsize = 2 * qR + 1
    direction = ray // rsize
    m = ray % rsize - qR
    s = math.sqrt(1.0 + (m / qR) ** 2) * res
    slot = _dh_slot(m, qR, g)
    dh_row = direction * (2 * qR // g + 2)
    ia, ib, fw = _dh_neighbours(m, qR, g, dh_row) if slot < 0 else (-1, -1, 0.0)
    if roles_ready:  # set by _mark_needs
        n_cp = _checkpoints(T, dh_dense, dh_ratio, cp_t)
        last = 0
        for t in range(1, T + 1):
            if role[t] & 3:
                last = t
    else:
        n_cp, last = _ray_roles(ray, R, qR, T, slot, dh_row, mask, dh_dense, dh_ratio, cp_t,
                                role, mark, skip, use_skip, need)  # fmt: skip
    if last == 0:  # no cell to evaluate, no Δh a neighbour needs
        for t in range(1, T + 1):
            role[t] = 0
        return
    z = pfl[2:]
    pfl[1] = s
    z[0] = z0
    P0[0] = 0.0
    P1[0] = 0.0
    P0[1] = 0.0
    P1[1] = 0.0
    # the profile is read only as far as a sample has a role: beyond, no path ends
    for t in range(1, last + 1):
        dr, dc, off = _ray_cell(direction, m, t, qR)
        zt = _elev_minor_nrt(Z, r0 + dr, c0 + dc, direction, off)
        z[t] = zt
        if role[t] & 5:
            zc[t] = Z[r0 + dr, c0 + dc]
        P0[t + 1] = P0[t] + (zt - z0)
        P1[t + 1] = P1[t] + t * (zt - z0)
    # reference curvature of the hull: at the mean height of the whole ray (every _GREF_STEP-th
    # sample, so that it does not depend on how far the ray is read, nor on what was skipped)
    acc = 0.0
    cnt = 0
    for t in range(_GREF_STEP, last + 1, _GREF_STEP):  # (read above)
        acc += z[t]
        cnt += 1
    for t in range(cnt * _GREF_STEP + _GREF_STEP, T + 1, _GREF_STEP):
        dr, dc, off = _ray_cell(direction, m, t, qR)
        acc += _elev_minor_nrt(Z, r0 + dr, c0 + dc, direction, off)
        cnt += 1
    g_ref, _ = _earth(acc / cnt if cnt > 0 else z0, n0)
    # the earth (γ_e, N_s) of every path the walk evaluates, from its mean height: two
    # exponentials each, in a loop of their own that LLVM runs four paths at a time (inside
    # the walk, their dependent chains were a quarter of its own time). The samples that take
    # a path are those of the walk below: not a Δh checkpoint the two Δh rays beside it give.
    ne = 0
    for t in range(1, last + 1):
        rl = role[t]
        if rl & 2 and slot < 0 and not (math.isnan(DH[ia, t]) or math.isnan(DH[ib, t])):
            rl &= 5
        if rl & 3:
            ear[0, ne] = _mean_height(P0, z, z0, t, zc[t] if rl & 5 else z[t])
            ne += 1
    for e in range(ne):
        ear[0, e], ear[1, e] = _earth(ear[0, e], n0)
    e = 0
    half_g = 0.5 * g_ref * s * s
    w[0] = z0
    z_tx = z0 + h_tx
    # np.intp, not the literal 0: numba would first type the callees that take these counters
    # (_hull_push_tx, _horizons_hull, cells_loss) with Literal[int](0) and compile each
    # twice — cells_loss's second compile alone was ~40 % of the engine's one-time compile
    hn = np.intp(0)
    jt = np.intp(-1)  # the transmitter's tangent vertex on the hull (_hull_push_tx)
    k = 0
    nw = np.intp(0)  # winners so far
    # past the last sample with a role, the walk would only push hull points no query reads
    for t in range(1, last + 1):
        w[t] = z[t] - half_g * t * t  # the hull's transformed height, as the samples arrive
        rl = role[t]
        if (rl & 3) == 0:
            hn, jt = _hull_push_tx(hidx, hn, t, w, z_tx, jt)
            continue
        if rl & 2:
            while cp_t[k] < t:
                k += 1
            if slot < 0:
                da = DH[ia, t]
                db = DH[ib, t]
                if not (math.isnan(da) or math.isnan(db)):
                    cp_dh[k] = da * (1.0 - fw) + db * fw
                    rl &= 5
                    if (rl & 3) == 0:
                        hn, jt = _hull_push_tx(hidx, hn, t, w, z_tx, jt)
                        continue
        win_t = (rl & 1) != 0
        e += 1  # this path's earth: ear[:, e - 1]
        # a cell's profile ends on the cell centre's ground, other checkpoints on the ray's
        # (a skipped cell's too: Δh there must not depend on what was skipped)
        z_end = zc[t] if (rl & 5) else z[t]
        gam = ear[0, e - 1]
        n_s = ear[1, e - 1]
        th0, th1, dl0, dl1, jt = _horizons_hull(
            hidx, hn, w, z, t, s, z_tx, z_end + h_rx, g_ref, 1.0 / gam, jt
        )
        if win_t:
            he0, he1, smooth = _effective_heights(P0, P1, z, z0, t, z_end, s, dl0, dl1, h_tx, h_rx)
            geo[_G_TH0, nw] = th0
            geo[_G_TH1, nw] = th1
            geo[_G_DL0, nw] = dl0
            geo[_G_DL1, nw] = dl1
            geo[_G_HE0, nw] = he0
            geo[_G_HE1, nw] = he1
            geo[_G_SMOOTH, nw] = 1.0 if smooth else 0.0
            geo[_G_GAM, nw] = gam
            geo[_G_NS, nw] = n_s
            geo[_G_D, nw] = t * s
            tk[nw] = t
            nw += 1
        if rl & 2:
            d = t * s
            pfl[0] = t
            z_ray = z[t]
            z[t] = z_end
            cp_dh[k] = _core._terrain_delta_h_buf(
                pfl,
                _core._mn(15.0 * h_tx, 0.1 * dl0),
                d - _core._mn(15.0 * h_rx, 0.1 * dl1),
                sbuf,
                rbuf,
            )
            z[t] = z_ray
            if slot >= 0 and t > dh_dense:
                DH[dh_row + slot, t] = cp_dh[k]
        hn, jt = _hull_push_tx(hidx, hn, t, w, z_tx, jt)
    # second pass: Δh interpolated between checkpoints, then the loss of every winner at once
    k = 0
    for j in range(nw):
        t = tk[j]
        while cp_t[k + 1] <= t:
            k += 1
        if cp_t[k] == t:
            geo[_G_DH, j] = cp_dh[k]
        else:
            f = (t - cp_t[k]) / (cp_t[k + 1] - cp_t[k])
            geo[_G_DH, j] = cp_dh[k] * (1.0 - f) + cp_dh[k + 1] * f
    # the geometry is the frequency's neither (horizons, effective heights, Δh, a smooth path's
    # horizons from its effective heights): each band takes it as it is
    smooth_paths(nw, geo[_G_TH0], geo[_G_TH1], geo[_G_DL0], geo[_G_DL1], geo[_G_HE0],
                 geo[_G_HE1], geo[_G_SMOOTH], geo[_G_GAM], geo[_G_DH])  # fmt: skip
    for b in range(nbands):
        cells_loss(nw, geo[_G_TH0], geo[_G_TH1], geo[_G_DL0], geo[_G_DL1], geo[_G_HE0],
                   geo[_G_HE1], geo[_G_SMOOTH], geo[_G_GAM], geo[_G_NS], geo[_G_DH], geo[_G_D],
                   geo[_G_LOSS], geo[_G_LOSSQ], geo[_G_MD], geo[_G_AD0],
                   kc0 if b == 0 else (kc1 if b == 1 else kc2), zgs[b], fs[b])  # fmt: skip
        for j in range(nw):
            dr, dc, _ = _ray_cell(direction, m, tk[j], qR)
            win[b, R + dr, R + dc] = geo[_G_LOSS, j]
            win_q[b, R + dr, R + dc] = geo[_G_LOSSQ, j]
    for t in range(1, T + 1):
        role[t] = 0


@nb.njit(cache=True, parallel=True)
def _itm_rays(
    Z: np.ndarray,
    r0: int,
    c0: int,
    R: int,
    q: int,
    g: int,
    res: float,
    z0: float,
    ext: np.ndarray,
    mask: np.ndarray,
    n_chunks: int,
    dh_dense: int,
    dh_ratio: float,
    h_tx: float,
    h_rx: float,
    n0: float,
    fs: tuple,
    zgs: tuple,
    kc0: tuple,
    kc1: tuple,
    kc2: tuple,
    nbands: int,
    skip: np.ndarray,
    use_skip: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Loss windows (location median, location quantile), (nbands, 2R+1, 2R+1) each: every ray
    walked once outward, ITM evaluated at the samples cells take, for each carrier.

    Two parallel passes: the Δh rays (every g-th), which fill the shared Δh table, then the
    others, which read it. Cells marked in ``skip`` (with ``use_skip``) are left at +inf;
    then a first pass marks which Δh values the others will read (:func:`_mark_needs`).
    """
    size = 2 * R + 1
    qR = q * R
    rsize = 2 * qR + 1
    n_rays = 4 * rsize
    win = np.full((nbands, size, size), np.nan, dtype=np.float32)
    win_q = np.full((nbands, size, size), np.nan, dtype=np.float32)
    mark = win[0]  # skipped cells are marked +inf in the first band's median window
    DH = np.full((4 * (2 * qR // g + 2), R + 1), np.nan, dtype=np.float32)
    need = np.zeros(DH.shape if use_skip else (1, 1), dtype=np.uint8)
    # the roles of the non-Δh rays, found while marking their needs and kept for their walk
    roles = np.zeros((n_rays if use_skip else 1, R + 1), dtype=np.uint8)
    if use_skip:
        for chunk in prange(n_chunks):
            cp_t = np.empty(R + 2, dtype=np.int64)
            for ray in range(chunk, n_rays, n_chunks):
                _mark_needs(ray, R, q, g, ext, mask, dh_dense, dh_ratio, cp_t, roles[ray], mark,
                            skip, need)  # fmt: skip
    for phase in range(2):
        for chunk in prange(n_chunks):
            # per-thread scratch, reused by every ray of the chunk (rays strided for balance)
            pfl = np.empty(R + 3)  # the ray's profile in PFL layout: [n, spacing, z0 .. zR]
            P0 = np.empty(R + 2)
            P1 = np.empty(R + 2)
            w = np.empty(R + 1)
            hidx = np.empty(R + 1, dtype=np.int64)
            cp_t = np.empty(R + 2, dtype=np.int64)
            cp_dh = np.empty(R + 2)
            # per sample: 0 nothing, 1 a cell takes it, 2 a Δh checkpoint needed, 3 both; 4 a
            # skipped cell takes it (its checkpoint, if any, still ends on the cell centre)
            role = np.zeros(R + 1, dtype=np.uint8)
            geo = np.empty((_G_SIZE, R + 1))  # per winning sample, see _G_TH0
            tk = np.empty(R + 1, dtype=np.int64)  # its sample index
            zc = np.empty(R + 1)
            sbuf = np.empty(_core._DH_MAX_POINTS + 2)
            rbuf = np.empty(_core._DH_MAX_POINTS)
            ear = np.empty((2, R + 1))  # γ_e, N_s of the paths the walk evaluates, in order
            for ray in range(chunk, n_rays, n_chunks):
                is_dh = _dh_slot(ray % rsize - qR, qR, g) >= 0
                if is_dh != (phase == 0):
                    continue
                ready = use_skip and not is_dh
                row = roles[ray] if ready else role
                _walk_ray(ray, Z, r0, c0, R, q, g, res, z0, ext, mask, dh_dense, dh_ratio,
                          h_tx, h_rx, n0, fs, zgs, kc0, kc1, kc2, nbands, DH, mark, win,
                          win_q, pfl, P0, P1, w, hidx, cp_t, cp_dh, row, geo, tk, zc, sbuf,
                          rbuf, ear, skip, use_skip, need, ready)  # fmt: skip
    return win, win_q


@nb.njit(cache=True, parallel=True)
def _points(
    Z: np.ndarray,
    x0: float,
    y0: float,
    res: float,
    tx_x: float,
    tx_y: float,
    rx_x: np.ndarray,
    rx_y: np.ndarray,
    h_tx: float,
    h_rx: float,
    climate: int,
    n0: float,
    f_mhz: float,
    pol: int,
    epsilon: float,
    sigma: float,
    mdvar: int,
    time: float,
    location: float,
    situation: float,
    location_q: float,
    with_q: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact ITM p2p on the straight profile to each point (one sample per cell, bilinear): the
    loss at ``location`` and, ``with_q``, at ``location_q`` too — the same path's geometry and
    reference attenuation, only the variability evaluated again (what a second call would
    compute, bit for bit)."""
    n_pts = rx_x.shape[0]
    out = np.full(n_pts, np.nan)
    out_q = np.full(n_pts if with_q else 0, np.nan)
    ct = (tx_x - x0) / res - 0.5
    rt = (y0 - tx_y) / res - 0.5
    z_tx = bilinear_rc(Z, rt, ct)
    if math.isnan(z_tx):
        z_tx = 0.0
    for k in prange(n_pts):
        dx = rx_x[k] - tx_x
        dy = rx_y[k] - tx_y
        dist = math.sqrt(dx * dx + dy * dy)
        if 2.0 * dist < res:
            # the tower's own cell: a flat half-cell path, as the raster's centre cell
            pfl = np.array([1.0, 0.5 * res, z_tx, z_tx])
        else:
            n = max(1, int(math.ceil(dist / res)))
            pfl = np.empty(n + 3)
            pfl[0] = n
            pfl[1] = dist / n
            pfl[2] = z_tx
            ok = True
            for i in range(1, n + 1):
                f = i / n
                zi = bilinear_rc(Z, rt - dy / res * f, ct + dx / res * f)
                if math.isnan(zi):
                    ok = False
                    break
                pfl[i + 2] = zi
            if not ok:
                continue
        r = _core._p2p_core(
            pfl, h_tx, h_rx, climate, n0, f_mhz, pol, epsilon, sigma, mdvar, time, location,
            situation,
        )  # fmt: skip
        if r[0] < 1000:
            out[k] = r[1]
            if with_q:
                # (code, loss, warnings, mode, th0, th1, dl0, dl1, he0, he1, N_s, Δh, A_ref,
                # A_fs, d km): the variability at the other location on the same path
                var_q, _ = _core._variability_db(
                    time, location_q, situation, r[8], r[9], r[11], f_mhz, pfl[0] * pfl[1],
                    r[12], climate, mdvar,
                )  # fmt: skip
                out_q[k] = var_q + r[13]
    return out, out_q


def _check_itm_params(
    h_tx_m: float,
    h_rx_m: float,
    f_mhz: float,
    climate: int,
    n0: float,
    pol: int,
    epsilon: float,
    sigma: float,
    mdvar: int,
    time: float,
    location: float,
    situation: float,
) -> None:
    """Raise :class:`~lomsong.propagation.itm.ITMError` for parameters the reference refuses."""
    itm.p2p_tls(
        np.array([1.0, 100.0, 0.0, 0.0]), h_tx_m=h_tx_m, h_rx_m=h_rx_m, climate=climate, n0=n0,
        f_mhz=f_mhz, pol=pol, epsilon=epsilon, sigma=sigma, mdvar=mdvar, time=time,
        location=location, situation=situation,
    )  # fmt: skip


def itm_loss_window(
    elevation: np.ndarray,
    row: int,
    col: int,
    *,
    res_m: float,
    max_radius_m: float,
    h_tx_m: float,
    h_rx_m: float,
    f_mhz: float,
    climate: int = 1,
    n0: float = 301.0,
    pol: int = 1,
    epsilon: float = 15.0,
    sigma: float = 0.005,
    mdvar: int = 12,
    time: float = 50.0,
    location: float = 50.0,
    situation: float = 50.0,
    skip: np.ndarray | None = None,
) -> np.ndarray:
    """ITM basic transmission loss (dB) on the window of half-width R = ceil(max_radius/res).

    Parameters
    ----------
    elevation
        Terrain (m) on square cells of ``res_m`` metres in a metric CRS; NaN cells (voids) stop
        the rays that reach them.
    row, col
        Tower cell (the antenna stands at its centre; a void tower cell counts as 0 m).
    res_m, max_radius_m
        Cell size and prediction radius (m).
    h_tx_m, h_rx_m
        Antenna heights above ground (m); valid 1 – 1000 m (ITM).
    f_mhz
        Frequency (MHz), valid 40 – 10 000 (ITM).
    climate, n0, pol, epsilon, sigma, mdvar, time, location, situation
        As in :func:`lomsong.propagation.itm.p2p_tls` (radio climate 1-7, surface refractivity
        N-units, polarisation 0 horizontal / 1 vertical, ground permittivity and conductivity
        S/m, mode of variability, quantiles in %).
    skip
        Optional bool (2R+1, 2R+1) mask of cells not to evaluate (they get +inf): cells where
        the caller already knows the tower cannot matter, e.g. where its power bounded with
        :func:`loss_lower_bound_window` is below another tower's (see
        :func:`lomsong.coverage.predict.predict`). The rays still walk their whole length (later
        cells' profiles need every sample), but a ray whose cells are all skipped and that
        carries no Δh for its neighbours stops at once. The centre cell is always evaluated.

    Returns
    -------
    ndarray
        float32 (2R+1, 2R+1): cell (i, j) is grid cell (row − R + i, col − R + j). NaN beyond
        ``max_radius_m``, outside the grid, behind a void, or where ITM refuses the path. The
        centre cell (the tower's own) takes the loss of a flat path of half a cell.

    Raises
    ------
    lomsong.propagation.itm.ITMError
        When a radio parameter is outside ITM's hard limits.

    Notes
    -----
    Compared with the exact point-to-point ITM of each cell's straight profile
    (:func:`itm_point_loss`), the differences come from the ray geometry (the profile passes up
    to a quarter of a cell beside the cell centre, and its samples are interpolated across one
    axis only, one per major-axis step) and from Δh interpolated between checkpoints and rays:
    median 0.07 / 0.17 dB, 95th percentile 0.6 / 1.3-1.8 dB on rolling hills / real SRTM; see
    the module docstring and the tests.

    Cost: about 14 R² ray samples (hull push, O(1) amortised), a horizon query (O(log R)) and
    the rest of ITM (~0.2 µs vectorised, ~28 % of the time) once per cell (π R²), Δh at ~40
    checkpoints on every 8th ray, over all numba threads. R = 1000 (30 km at 30 m), measured
    with ``benchmarks/propagation.py``: ~1.0 s per tower on 2 cores of an Intel Xeon
    (Emerald Rapids, 2.1 GHz, shared VM; ±20 % from run to run), 1.05 s per tower over the
    province benchmark's 1,000 mountain towers; single-thread cycle counts split it as the
    batch ITM 28 %, horizons 17 %, Δh 17 %, effective heights 10 %, the rest of the walk
    28 %. Memory ≈ 40 R² bytes (float32 window 16 R², uint8 mask of the samples cells take
    16 R², float32 Δh of the Δh rays 8 R²) plus 32 R² bytes while that mask is built — it is
    cached: every tower whose window holds no void shares it — and ~110 R bytes of scratch
    per thread: ~40-70 MB at R = 1000.
    """
    if res_m <= 0 or max_radius_m <= 0:
        raise ValueError(f"res_m and max_radius_m must be > 0, got {res_m}, {max_radius_m}")
    Z = np.ascontiguousarray(elevation, dtype=np.float32)
    h, w = Z.shape
    if not (0 <= row < h and 0 <= col < w):
        raise ValueError(f"tower cell ({row}, {col}) is outside the {h} × {w} grid")
    _check_itm_params(h_tx_m, h_rx_m, f_mhz, climate, n0, pol, epsilon, sigma, mdvar, time,
                      location, situation)  # fmt: skip
    R = half_width(max_radius_m, res_m)
    if skip is not None and skip.shape != (2 * R + 1, 2 * R + 1):
        raise ValueError(f"skip has shape {skip.shape}, the window is {2 * R + 1} × {2 * R + 1}")
    return _window(Z, int(row), int(col), float(res_m), float(max_radius_m), float(h_tx_m),
                   float(h_rx_m), (float(f_mhz),), int(climate), float(n0), int(pol),
                   float(epsilon), float(sigma), int(mdvar), float(time), float(location),
                   float(situation), _DH_DENSE, _DH_GROWTH, skip=skip)[0][1]  # fmt: skip


def itm_loss_pair(
    elevation: np.ndarray,
    row: int,
    col: int,
    *,
    res_m: float,
    max_radius_m: float,
    h_tx_m: float,
    h_rx_m: float,
    f_mhz: float,
    climate: int = 1,
    n0: float = 301.0,
    pol: int = 1,
    epsilon: float = 15.0,
    sigma: float = 0.005,
    mdvar: int = 3,
    time: float = 50.0,
    location: float = 90.0,
    situation: float = 50.0,
    skip: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """ITM loss (dB) on the window at the location median and at location quantile ``location``.

    One pass of :func:`itm_loss_window`'s engine: the path geometry and ITM's reference
    attenuation A_ref are computed once per cell, the variability twice — with the location at
    50 % and at ``location`` %, time, situation and the mode of variability ``mdvar`` being
    the same for both. With the broadcast mode (``mdvar`` 3; NTIA ITM v1.4: time and location
    are two separate reliabilities, "F(L, T)") and time and situation at 50 %, the two differ by
    ITM's location deviation alone: the quantile's loss is the soft floor (Algorithm eq. 52)
    of A_ref − V_med + σ_L · Q⁻¹(1 − location / 100) above free space, with
    σ_L = 10 k Δh(d) / (k Δh(d) + 13) dB, k = f / 47.7 MHz, Δh(d) the path's terrain
    irregularity at its length: < 1 dB on flat ground, ≈ 10 dB on hilly paths at UHF.

    Parameters and the window are those of :func:`itm_loss_window`; ``skip`` marks cells of
    both windows (+inf in both).

    Returns
    -------
    (ndarray, ndarray)
        float32 (2R+1, 2R+1) each: the loss at the location median and at the quantile. Each
        cell of either equals :func:`itm_loss_window` with ``location`` = 50 and with
        ``location`` (the same computation); for ``location`` ≥ 50 and time, situation at
        50 %, the quantile's loss is never below the median's.

    Notes
    -----
    Costs one window: the second variability is ~5 arithmetic operations per cell in the
    vectorised loop; memory is a second float32 window (16 R² bytes).
    """
    return itm_loss_bands(
        elevation, row, col, res_m=res_m, max_radius_m=max_radius_m, h_tx_m=h_tx_m,
        h_rx_m=h_rx_m, f_mhz=(f_mhz,), climate=climate, n0=n0, pol=pol, epsilon=epsilon,
        sigma=sigma, mdvar=mdvar, time=time, location=location, situation=situation, skip=skip,
    )[0]  # fmt: skip


def itm_loss_bands(
    elevation: np.ndarray,
    row: int,
    col: int,
    *,
    res_m: float,
    max_radius_m: float,
    h_tx_m: float,
    h_rx_m: float,
    f_mhz: Sequence[float],
    climate: int = 1,
    n0: float = 301.0,
    pol: int = 1,
    epsilon: float = 15.0,
    sigma: float = 0.005,
    mdvar: int = 3,
    time: float = 50.0,
    location: float = 90.0,
    situation: float = 50.0,
    skip: np.ndarray | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`itm_loss_pair` of one antenna position and height on several carriers at once.

    The path geometry does not depend on the frequency — the horizons (angles and distances),
    the effective heights, the terrain irregularity Δh, the surface refractivity and the earth
    curvature are functions of the profile, the antenna heights and N₀ (NTIA ITM v1.4
    ``QuickPfl``) — so the rays are walked once and only ITM's frequency-dependent terms
    (:func:`lomsong.propagation._itm_cell.cells_loss`: diffraction, line of sight, variability,
    free space) are evaluated per carrier, up to three carriers per walk. A site's bands
    (e.g. 900 + 1800 + 2100 MHz on one mast) so cost one walk and three batches of ITM's terms
    instead of three walks.

    Parameters are those of :func:`itm_loss_pair` but ``f_mhz``, a sequence of carriers (MHz);
    ``skip`` marks the cells no carrier evaluates (+inf in every window).

    Returns
    -------
    list of (ndarray, ndarray)
        One (median, quantile) pair of float32 (2R+1, 2R+1) windows per carrier, in order; each
        equals :func:`itm_loss_pair` of that carrier bit for bit.
    """
    if res_m <= 0 or max_radius_m <= 0:
        raise ValueError(f"res_m and max_radius_m must be > 0, got {res_m}, {max_radius_m}")
    freqs = tuple(float(f) for f in f_mhz)
    if not freqs:
        raise ValueError("f_mhz: no carrier")
    Z = np.ascontiguousarray(elevation, dtype=np.float32)
    h, w = Z.shape
    if not (0 <= row < h and 0 <= col < w):
        raise ValueError(f"tower cell ({row}, {col}) is outside the {h} × {w} grid")
    for f in dict.fromkeys(freqs):
        _check_itm_params(h_tx_m, h_rx_m, f, climate, n0, pol, epsilon, sigma, mdvar, time,
                          location, situation)  # fmt: skip
    R = half_width(max_radius_m, res_m)
    if skip is not None and skip.shape != (2 * R + 1, 2 * R + 1):
        raise ValueError(f"skip has shape {skip.shape}, the window is {2 * R + 1} × {2 * R + 1}")
    return _window(Z, int(row), int(col), float(res_m), float(max_radius_m), float(h_tx_m),
                   float(h_rx_m), freqs, int(climate), float(n0), int(pol), float(epsilon),
                   float(sigma), int(mdvar), float(time), float(location), float(situation),
                   _DH_DENSE, _DH_GROWTH, skip=skip)  # fmt: skip


# 20 log10 of the bound's distances on the last window size (R = 1000: 16 MB), shared by every
# tower of that radius; the per-tower terms are added to a copy.
_BOUND_CACHE: dict[tuple, np.ndarray] = {}
# the bounds of the last few (window size, carrier and floor) — see loss_lower_bound_window
_BOUNDS: dict[tuple, np.ndarray] = {}
# by climate, the running maximum of the median variability V_med (dB) on effective distances
# 0, 10 m, 20 m … 5,000 km: its largest value up to any distance is one lookup (sampling the
# curve again for every mast height took 3.3 ms a window, 7 s of the province's 6,000 cells)
_V_MED_STEP_M = 10.0
_V_MED_RUNMAX: dict[int, np.ndarray] = {}


def _v_med_max(climate: int, de_max: float) -> float:
    """The largest median variability V_med (dB, ≥ 0) of ``climate`` over effective distances
    0 … ``de_max`` (m), sampled every 10 m (the curve varies over ~100 km), plus 0.01 dB."""
    run = _V_MED_RUNMAX.get(climate)
    if run is None:
        v = _core._V_MED[climate - 1]
        d_e = np.arange(0.0, 5e6 + 2 * _V_MED_STEP_M, _V_MED_STEP_M)
        r = (d_e / v[2]) ** 2
        run = np.maximum.accumulate((v[0] + v[1] / (1.0 + ((d_e - v[3]) / v[4]) ** 2))
                                    * r / (1.0 + r))  # fmt: skip
        _V_MED_RUNMAX[climate] = run
    # the first sample at or beyond de_max: the maximum over the whole range
    k = min(math.ceil(de_max / _V_MED_STEP_M), run.size - 1)
    return max(0.0, float(run[k])) + 0.01


def loss_lower_bound_window(
    R: int,
    *,
    res_m: float,
    f_mhz: float,
    climate: int = 1,
    time: float = 50.0,
    location: float = 50.0,
    situation: float = 50.0,
    h_tx_m: float | None = None,
    h_rx_m: float | None = None,
) -> np.ndarray | None:
    """A loss (dB) that ITM's loss never goes below, on the (2R+1)² window: at the medians, and
    at any location quantile ≥ 50 % with time and situation at 50 %.

    Model: ITM's loss is free-space loss plus the reference attenuation A_ref ≥ 0 (the
    reference clamps it) minus the climate's median variability V_med(d_e), the difference
    passed through the soft floor ``v (29 − v) / (29 − 10 v)`` for v < 0, which increases with
    v. So loss ≥ FSPL(d) + floor(−max V_med) for every path of length d, whatever the terrain
    (for climate 1, max V_med = 1.95 dB, at an effective distance d_e ≈ 198 km: 1.25 dB below
    free space). With the antenna heights, the maximum is taken over the effective distances
    the window's paths can have: d_e = 130 km · d / d_ex (d < d_ex) with d_ex = √(2 a₉ h_e0) +
    √(2 a₉ h_e1) + (575.7e12 / k)^⅓, a₉ = 9000 km, and ITM's effective heights are never
    below the antennas' (h_e ≥ h); for the province's 20-45 m masts at ≤ 42 km, d_e ≤ 115 km,
    where climate 1's V_med ≤ 0: the bound is free space. The engine measures a cell's
    path to its ray sample, up to a quarter of a cell from the cell centre; the bound takes
    the cell's distance minus half a cell (and −inf at the centre cell).

    At a location quantile ≥ 50 % with time and situation at their medians, in every mode of
    variability, the deviation added to A_ref − V_med is the location's σ_L · Q⁻¹(1 − q) ≥ 0
    (or 0, where the mode ties the location to the time or situation quantile), and the soft
    floor increases: that loss is never below the median's, so the same bound holds.

    Returns None for other quantiles (time or situation ≠ 50 %, location < 50 %): their
    deviations are not bounded here.

    Parameters
    ----------
    R
        Half-width of the window (cells), as in :func:`itm_loss_window`.
    res_m, f_mhz, climate, time, location, situation
        As in :func:`itm_loss_window`.
    h_tx_m, h_rx_m
        Antenna heights (m): when given, the variability is bounded over the effective
        distances of this window only (a tighter bound).
    """
    if not (time == situation == 50.0 and location >= 50.0):
        return None
    de_max = 5e6  # any path
    if h_tx_m is not None and h_rx_m is not None:
        d_max = math.sqrt(2.0) * R * res_m  # the window's corner
        d_ex = (math.sqrt(2.0 * _core._A9000_M * h_tx_m) + math.sqrt(2.0 * _core._A9000_M * h_rx_m)
                + (575.7e12 / (f_mhz / 47.7)) ** (1.0 / 3.0))  # fmt: skip
        de_max = 130e3 * d_max / d_ex if d_max < d_ex else 130e3 + d_max - d_ex
        de_max = round(de_max * 1.001 + 1.0, 0)  # and a little beyond: rounding
    v_max = _v_med_max(int(climate), de_max)
    key = (int(R), float(res_m))
    log_d = _BOUND_CACHE.get(key)
    if log_d is None:
        off = np.arange(-R, R + 1, dtype=np.float64) * res_m
        d = np.maximum(np.hypot(off[:, None], off[None, :]) - 0.5 * res_m, 0.5 * res_m)
        log_d = (20.0 * np.log10(d / 1000.0)).astype(np.float32)
        log_d[R, R] = -np.inf
        _BOUND_CACHE.clear()
        _BOUND_CACHE[key] = log_d
    floor = -v_max * (29.0 + v_max) / (29.0 + 10.0 * v_max)
    # 0.01 dB below: the float32 rounding of the distance term
    const = np.float32(32.45 + 20.0 * math.log10(f_mhz) + floor - 0.01)
    # a network's bands (and masts low enough for free space to be the bound) share a few
    # constants: the last windows are kept, read-only (16 MB each at R = 1000)
    bound = _BOUNDS.get((key, float(const)))
    if bound is None:
        bound = log_d + const
        bound.flags.writeable = False
        while len(_BOUNDS) >= 4:
            _BOUNDS.pop(next(iter(_BOUNDS)))
        _BOUNDS[(key, float(const))] = bound
    return bound


# The winner mask depends only on R and the rays' extents: towers whose windows hold no void
# share it (see _window), so the last one is kept (R = 1000: 8 MB) and reused.
_MASK_CACHE: dict[tuple, np.ndarray] = {}


def _winner_mask(
    Z: np.ndarray, ext: np.ndarray, R: int, q: int, res: float, max_d: float, voids: bool
) -> np.ndarray:
    """The winner mask of the rays' extents ``ext``; without voids, that of the extents set by
    the radius alone (the grid's edges ignored), the same for every tower (see _window)."""
    key = (R, q, ext.tobytes()) if voids else (R, q, res, max_d)
    mask = _MASK_CACHE.get(key)
    if mask is None:
        full = ext if voids else _extents(Z, 0, 0, R, q, res, max_d, False, False)
        mask = _winners(full, R, q)
        _MASK_CACHE.clear()
        _MASK_CACHE[key] = mask
    return mask


def _window(
    Z: np.ndarray,
    row: int,
    col: int,
    res: float,
    max_d: float,
    h_tx: float,
    h_rx: float,
    f_mhz: tuple[float, ...],
    climate: int,
    n0: float,
    pol: int,
    epsilon: float,
    sigma: float,
    mdvar: int,
    time: float,
    location: float,
    situation: float,
    dh_dense: int,
    dh_ratio: float,
    q: int = _RAY_DENSITY,
    g: int = _DH_RAYS,
    skip: np.ndarray | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`itm_loss_bands` on checked float32 terrain, with the Δh checkpoint schedule and
    ``q`` rays per border cell, Δh evaluated on every ``g``-th ray: (median, quantile) windows,
    one pair per carrier of ``f_mhz``."""
    R = half_width(max_d, res)
    z0 = float(Z[row, col])
    if not math.isfinite(z0):
        z0 = 0.0
    window = Z[max(0, row - R - 1) : row + R + 2, max(0, col - R - 1) : col + R + 2]
    voids = bool(np.isnan(window).any())
    ext = _extents(Z, row, col, R, q, res, max_d, voids, True)  # every argument: one signature
    # Without voids, the samples cells take are those of the unclipped window, cut at each
    # ray's extent: a digital ray that leaves the grid (a rectangle) never comes back, so a cell
    # inside the grid is taken by the same sample either way. That mask is the same for every
    # tower of a given R (computing it costs ~0.25 s single-threaded at R = 1000).
    mask = _winner_mask(Z, ext, R, q, res, max_d, voids)
    use_skip = skip is not None
    skip_arr = (
        np.ascontiguousarray(skip, dtype=np.bool_) if use_skip else np.zeros((1, 1), np.bool_)
    )
    out: list[tuple[np.ndarray, np.ndarray]] = []
    for first in range(0, len(f_mhz), _MAX_BANDS):
        bands = [float(f) for f in f_mhz[first : first + _MAX_BANDS]]
        zgs = [_core._ground(f, 0.0, n0, pol, epsilon, sigma)[0] for f in bands]
        kcs = [_tower_constants(f, h_tx, h_rx, climate, mdvar, time, location, situation, z)
               for f, z in zip(bands, zgs, strict=True)]  # fmt: skip
        n_b = len(bands)
        # the kernel takes exactly _MAX_BANDS of each (one compiled signature): padded with the
        # first band, which it does not evaluate again
        pad = _MAX_BANDS - n_b
        win, win_q = _itm_rays(Z, row, col, R, q, g, res, z0, ext, mask, nb.get_num_threads(),
                               dh_dense, dh_ratio, h_tx, h_rx, n0, tuple(bands + bands[:1] * pad),
                               tuple(zgs + zgs[:1] * pad), *(kcs + kcs[:1] * pad), n_b,
                               skip_arr, use_skip)  # fmt: skip
        skipped = np.isposinf(win[0]) if use_skip else None
        centre_pfl = np.array([1.0, 0.5 * res, z0, z0])
        for b, f in enumerate(bands):
            if skipped is not None:  # the skipped cells, marked +inf as the rays met them
                win[b][skipped] = np.inf
                win_q[b][skipped] = np.inf
            for w_out, loc in ((win[b], 50.0), (win_q[b], location)):
                centre = _core._p2p_loss(centre_pfl, h_tx, h_rx, climate, n0, f, pol, epsilon,
                                         sigma, mdvar, time, loc, situation)  # fmt: skip
                w_out[R, R] = centre[1] if centre[0] < 1000 else np.nan
            out.append((win[b], win_q[b]))
    return out


def itm_point_loss(
    elevation: np.ndarray,
    transform,
    tx_xy: tuple[float, float],
    rx_x: np.ndarray,
    rx_y: np.ndarray,
    *,
    h_tx_m: float,
    h_rx_m: float,
    f_mhz: float,
    climate: int = 1,
    n0: float = 301.0,
    pol: int = 1,
    epsilon: float = 15.0,
    sigma: float = 0.005,
    mdvar: int = 12,
    time: float = 50.0,
    location: float = 50.0,
    situation: float = 50.0,
) -> np.ndarray:
    """Exact ITM point-to-point loss (dB) from one transmitter to each point.

    The profile is the straight line from ``tx_xy`` to the point, sampled every cell size
    (n = ceil(D / res) intervals, bilinear elevations), passed whole to the reference algorithm
    (:func:`lomsong.propagation.itm.p2p_tls`). This is the per-cell reference the raster engine
    :func:`itm_loss_window` is tested against, and the right tool for a few hundred points.

    Parameters
    ----------
    elevation, transform
        Terrain (m) and its north-up affine transform (metric CRS, square cells).
    tx_xy
        Transmitter position (x, y); its ground is the bilinear elevation there (0 m on a void).
    rx_x, rx_y
        Receiver positions.
    h_tx_m, h_rx_m, f_mhz, climate, n0, pol, epsilon, sigma, mdvar, time, location, situation
        As in :func:`itm_loss_window`.

    Returns
    -------
    ndarray
        float64 loss per point; NaN where the profile leaves the grid or meets a void. A point
        closer than half a cell takes the flat half-cell path, like the raster's centre cell.

    Notes
    -----
    Cost: O(D / res) per point (the reference's full profile work), parallel over points.
    """
    return _point_losses(elevation, transform, tx_xy, rx_x, rx_y, h_tx_m, h_rx_m, f_mhz, climate,
                         n0, pol, epsilon, sigma, mdvar, time, location, situation,
                         None)[0]  # fmt: skip


def itm_point_loss_pair(
    elevation: np.ndarray,
    transform,
    tx_xy: tuple[float, float],
    rx_x: np.ndarray,
    rx_y: np.ndarray,
    *,
    h_tx_m: float,
    h_rx_m: float,
    f_mhz: float,
    climate: int = 1,
    n0: float = 301.0,
    pol: int = 1,
    epsilon: float = 15.0,
    sigma: float = 0.005,
    mdvar: int = 3,
    time: float = 50.0,
    location: float = 90.0,
    situation: float = 50.0,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`itm_point_loss` at the location median and at location quantile ``location``, on
    one evaluation of each path: the point twin of :func:`itm_loss_pair`.

    The profile, the horizons, the effective heights, Δh and ITM's reference attenuation do not
    depend on the location quantile: they are computed once per point and only the variability
    twice, so each array equals :func:`itm_point_loss` with ``location`` = 50 and with
    ``location`` bit for bit, for about the cost of one. Parameters are those of
    :func:`itm_point_loss`.
    """
    return _point_losses(elevation, transform, tx_xy, rx_x, rx_y, h_tx_m, h_rx_m, f_mhz, climate,
                         n0, pol, epsilon, sigma, mdvar, time, 50.0, situation,
                         float(location))  # fmt: skip


def _point_losses(elevation, transform, tx_xy, rx_x, rx_y, h_tx_m, h_rx_m, f_mhz, climate, n0,
                  pol, epsilon, sigma, mdvar, time, location, situation, location_q):  # fmt: skip
    """The checked call of :func:`_points` (``location_q`` None: the first loss only)."""
    for loc in (location,) if location_q is None else (location, location_q):
        _check_itm_params(h_tx_m, h_rx_m, f_mhz, climate, n0, pol, epsilon, sigma, mdvar, time,
                          loc, situation)  # fmt: skip
    Z = np.ascontiguousarray(elevation, dtype=np.float32)
    res = float(abs(transform.a))
    with_q = location_q is not None
    return _points(Z, float(transform.c), float(transform.f), res, float(tx_xy[0]),
                   float(tx_xy[1]), np.asarray(rx_x, dtype=np.float64).ravel(),
                   np.asarray(rx_y, dtype=np.float64).ravel(), float(h_tx_m), float(h_rx_m),
                   int(climate), float(n0), float(f_mhz), int(pol), float(epsilon),
                   float(sigma), int(mdvar), float(time), float(location),
                   float(situation), float(location_q) if with_q else 50.0,
                   with_q)  # fmt: skip
