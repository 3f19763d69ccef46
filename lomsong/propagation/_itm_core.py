"""numba core of the Irregular Terrain Model (Longley-Rice, ITM v1.4).

Private module: the public wrappers live in :mod:`lomsong.propagation.itm`. Every function here is
``numba.njit(cache=True)`` on float64 scalars / 1-D arrays, so other numba code (the raster engine)
can call :func:`_p2p_core` directly, once per profile, without touching Python.

This is an independent implementation of the published algorithm (Hufford's "The Algorithm",
ERL 79-ITS 67, TN101) written to reproduce the NTIA/ITS reference implementation v1.4
(github.com/NTIA/itm, commit 183ad95bd813) exactly: same constants, same branch conditions, same
floating-point accumulation order where it decides a comparison (horizon search, least-squares
fit, Δh interpolation), same warning bits and same error return codes. Pairs (transmitter,
receiver) are passed as two scalars rather than 2-arrays so that nothing is allocated per call
except the 247-sample scratch profile of the Δh computation.

Return codes: 0 success, 1 success with warnings, ≥ 1000 an error (see ``itm.ERROR_CODES``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from lomsong.constants import ITM_EARTH_CURVATURE_PER_M as _GAMMA_A
from lomsong.constants import ITM_EARTH_RADIUS_M as _A0_M
from lomsong.constants import ITM_VARIABILITY_EARTH_RADIUS_M as _A9000_M

# --- constants of the reference ---------------------------------------------------------------
_PI = 3.1415926535897932384
_SQRT2 = math.sqrt(2.0)
_THIRD = 1.0 / 3.0

# return codes (same values as the reference's Errors.h)
_SUCCESS = 0
_SUCCESS_WITH_WARNINGS = 1
_ERR_TX_HEIGHT = 1000
_ERR_RX_HEIGHT = 1001
_ERR_CLIMATE = 1002
_ERR_TIME = 1003
_ERR_LOCATION = 1004
_ERR_SITUATION = 1005
_ERR_CONFIDENCE = 1006
_ERR_RELIABILITY = 1007
_ERR_REFRACTIVITY = 1008
_ERR_FREQUENCY = 1009
_ERR_POLARIZATION = 1010
_ERR_EPSILON = 1011
_ERR_SIGMA = 1012
_ERR_GROUND_IMPEDANCE = 1013
_ERR_MDVAR = 1014
_ERR_EFFECTIVE_EARTH = 1016
_ERR_PATH_DISTANCE = 1017
_ERR_DELTA_H = 1018
_ERR_TX_SITING = 1019
_ERR_RX_SITING = 1020
_ERR_NS_SMALL = 1021
_ERR_NS_LARGE = 1022

# warning bits (same values as the reference's Warnings.h)
_W_TX_HEIGHT = 0x0001
_W_RX_HEIGHT = 0x0002
_W_FREQUENCY = 0x0004
_W_DIST_BIG_1 = 0x0008
_W_DIST_BIG_2 = 0x0010
_W_DIST_SMALL_1 = 0x0020
_W_DIST_SMALL_2 = 0x0040
_W_TX_HZN_ANGLE = 0x0080
_W_RX_HZN_ANGLE = 0x0100
_W_TX_HZN_DIST_1 = 0x0200
_W_RX_HZN_DIST_1 = 0x0400
_W_TX_HZN_DIST_2 = 0x0800
_W_RX_HZN_DIST_2 = 0x1000
_W_EXTREME_VAR = 0x2000
_W_NS = 0x4000

# propagation modes
_MODE_LOS = 1
_MODE_DIFFRACTION = 2
_MODE_TROPO = 3

# --- climate tables of the variability (TN101 fig. 10.13; Algorithm table 5.1) ----------------
# rows: climates 1..7 (equatorial, cont. subtropical, mar. subtropical, desert, cont. temperate,
# mar. temperate over land, mar. temperate over sea)
# median V(0.5, d_e): c1, c2, x1, x2, x3 of the curve function
_V_MED = np.array(
    [
        [-9.67, 12.7, 144.9e3, 190.3e3, 133.8e3],
        [-0.62, 9.19, 228.9e3, 205.2e3, 143.6e3],
        [1.26, 15.5, 262.6e3, 185.2e3, 99.8e3],
        [-9.21, 9.05, 84.1e3, 101.1e3, 98.6e3],
        [-0.62, 9.19, 228.9e3, 205.2e3, 143.6e3],
        [-0.39, 2.86, 141.7e3, 315.9e3, 167.4e3],
        [3.15, 857.9, 2222.0e3, 164.8e3, 116.3e3],
    ]
)
# sigma_T- (below the median): c1, c2, x1, x2, x3
_SIG_T_MINUS = np.array(
    [
        [2.13, 159.5, 762.2e3, 123.6e3, 94.5e3],
        [2.66, 7.67, 100.4e3, 172.5e3, 136.4e3],
        [6.11, 6.65, 138.2e3, 242.2e3, 178.6e3],
        [1.98, 13.11, 139.1e3, 132.7e3, 193.5e3],
        [2.68, 7.16, 93.7e3, 186.8e3, 133.5e3],
        [6.86, 10.38, 187.8e3, 169.6e3, 108.9e3],
        [8.51, 169.8, 609.8e3, 119.9e3, 106.6e3],
    ]
)
# sigma_T+ (above the median): c1, c2, x1, x2, x3
_SIG_T_PLUS = np.array(
    [
        [2.11, 102.3, 636.9e3, 134.8e3, 95.6e3],
        [6.87, 15.53, 138.7e3, 143.7e3, 98.6e3],
        [10.08, 9.60, 165.3e3, 225.7e3, 129.7e3],
        [3.68, 159.3, 464.4e3, 93.1e3, 94.2e3],
        [4.75, 8.12, 93.2e3, 135.9e3, 113.4e3],
        [8.58, 13.97, 216.0e3, 152.0e3, 122.7e3],
        [8.43, 8.19, 136.2e3, 188.5e3, 122.9e3],
    ]
)
# frequency factors g-(f) and g+(f): b1, b2, b3
_G_MINUS = np.array(
    [
        [1.0, 0.0, 0.0],
        [1.0, 0.0, 0.0],
        [1.0, 0.0, 0.0],
        [1.0, 0.0, 0.0],
        [0.92, 0.25, 1.77],
        [1.0, 0.0, 0.0],
        [1.0, 0.0, 0.0],
    ]
)
_G_PLUS = np.array(
    [
        [1.0, 0.0, 0.0],
        [0.93, 0.31, 2.00],
        [1.0, 0.0, 0.0],
        [0.93, 0.19, 1.79],
        [0.93, 0.31, 2.00],
        [1.0, 0.0, 0.0],
        [1.0, 0.0, 0.0],
    ]
)
# ducting tail: C_D and z_D per climate
_C_D = np.array([1.224, 0.801, 1.380, 1.000, 1.224, 1.518, 1.518])
_Z_D = np.array([1.282, 2.161, 1.282, 20.0, 1.282, 1.282, 1.282])
# hypothetical H0 curves (Algorithm 6.13), eta_s = 1..5
_H0_A = np.array([25.0, 80.0, 177.0, 395.0, 705.0])
_H0_B = np.array([24.0, 45.0, 68.0, 80.0, 105.0])


# --- small functions --------------------------------------------------------------------------
# The reference's MAX / MIN / DIM are C macros, ``x > y ? x : y`` etc.: with a NaN operand they
# return the second argument (a NaN intermediate can so be clamped to 0). Python's max / min
# differ, hence these helpers, always called with the reference's argument order.
@njit(cache=True)
def _mx(x, y):  # untyped on purpose: used on ints and floats
    """C macro ``MAX(x, y)``."""
    return x if x > y else y


@njit(cache=True)
def _mn(x, y):  # untyped on purpose: used on ints and floats
    """C macro ``MIN(x, y)``."""
    return x if x < y else y


@njit(cache=True)
def _dim(x: float, y: float) -> float:
    """C macro ``DIM(x, y)``: x - y if x > y, else 0 (also 0 with a NaN operand)."""
    return x - y if x > y else 0.0


@njit(cache=True)
def _fdim(x: float, y: float) -> float:
    """C library ``fdim``: positive difference, NaN if either operand is NaN."""
    if x > y:
        return x - y
    if x <= y:
        return 0.0
    return math.nan


@njit(cache=True)
def _q_inverse(q: float) -> float:
    """Inverse complementary normal distribution (Abramowitz & Stegun 26.2.23)."""
    x = 1.0 - q if q > 0.5 else q
    t = math.sqrt(-2.0 * math.log(x))
    zeta = ((0.010328 * t + 0.802853) * t + 2.515516) / (
        ((0.001308 * t + 0.189269) * t + 1.432788) * t + 1.0
    )
    z = t - zeta
    return -z if q > 0.5 else z


@njit(cache=True)
def _free_space_db(d_m: float, f_mhz: float) -> float:
    """Free-space basic transmission loss, dB."""
    return 32.45 + 20.0 * math.log10(f_mhz) + 20.0 * math.log10(d_m / 1000.0)


@njit(cache=True)
def _dh_at(d_m: float, delta_h_m: float) -> float:
    """Interdecile range Δh(d) seen over distance d (ERL 79-ITS 67 eq. 3)."""
    return delta_h_m * (1.0 - 0.8 * math.exp(-d_m / 50e3))


@njit(cache=True)
def _sigma_h(dh_m: float) -> float:
    """RMS terrain deviation in the first Fresnel zone (ERL 79-ITS 67 eq. 3.6a)."""
    return 0.78 * dh_m * math.exp(-0.5 * dh_m**0.25)


@njit(cache=True)
def _fresnel_knife_db(v2: float) -> float:
    """Knife-edge attenuation as a function of v² (TN101 III.24)."""
    if v2 < 5.76:  # v < 2.4
        return 6.02 + 9.11 * math.sqrt(v2) - 1.27 * v2
    return 12.953 + 10.0 * math.log10(v2)


@njit(cache=True)
def _curve(c1: float, c2: float, x1: float, x2: float, x3: float, de_m: float) -> float:
    """The variability curve family of TN101 (eqs. III.69-70)."""
    r = (de_m / x1) ** 2
    return (c1 + c2 / (1.0 + ((de_m - x2) / x3) ** 2)) * r / (1.0 + r)


@njit(cache=True)
def _h0_curve(j: int, r: float) -> float:
    return 10.0 * math.log10(1.0 + _H0_A[j] * (1.0 / r) ** 4 + _H0_B[j] * (1.0 / r) ** 2)


@njit(cache=True)
def _h0(r: float, eta_s: float) -> float:
    """Frequency-gain function H0(r, eta_s), interpolated between integer eta_s curves."""
    eta = _mn(_mx(eta_s, 1.0), 5.0)
    k = int(eta)
    frac = eta - k
    val = _h0_curve(k - 1, r)
    if frac != 0.0:
        val = (1.0 - frac) * val + frac * _h0_curve(k, r)
    return val


@njit(cache=True)
def _f_theta_d(td: float) -> float:
    """Attenuation function F(theta·d) of the scatter loss (Algorithm 6.9)."""
    if td <= 10e3:
        return 133.4 + 0.332e-3 * td - 10.0 * math.log10(td)
    if td <= 70e3:
        return 104.6 + 0.212e-3 * td - 2.5 * math.log10(td)
    return 71.8 + 0.157e-3 * td + 5.0 * math.log10(td)


@njit(cache=True)
def _height_gain_db(x_km: float, k: float) -> float:
    """Vogler height-gain function F(x, K) of the smooth-earth diffraction."""
    if x_km < 200.0:
        w = -math.log(k)
        if k < 1e-5 or x_km * w**3 > 5495.0:
            val = -117.0
            if x_km > 1.0:
                val = 17.372 * math.log(x_km) + val
            return val
        return 2.5e-5 * x_km**2 / k - 8.686 * w - 15.0
    val = 0.05751 * x_km - 4.343 * math.log(x_km)
    if x_km < 2000.0:
        w = 0.0134 * x_km * math.exp(-0.005 * x_km)
        val = (1.0 - w) * val + w * (17.372 * math.log(x_km) - 117.0)
    return val


# --- diffraction ------------------------------------------------------------------------------
@njit(cache=True)
def _knife_edge_db(
    d: float, f_mhz: float, a_e: float, theta_los: float, dl0: float, dl1: float
) -> float:
    """Double knife-edge attenuation at distance d (TN101 I.1, I.7)."""
    theta = d / a_e - theta_los
    d_beyond = d - (dl0 + dl1)
    common = 0.0795775 * (f_mhz / 47.7) * theta**2 * d_beyond  # 1/(4π) · k θ² d
    v1 = common * dl0 / (d_beyond + dl0)
    v2 = common * dl1 / (d_beyond + dl1)
    return _fresnel_knife_db(v1) + _fresnel_knife_db(v2)


@njit(cache=True)
def _smooth_earth_db(
    d: float,
    f_mhz: float,
    a_e: float,
    theta_los: float,
    dl0: float,
    dl1: float,
    he0: float,
    he1: float,
    z_abs: float,
) -> float:
    """Three-radius smooth-earth diffraction attenuation (Vogler 1964)."""
    theta = d / a_e - theta_los
    d_ml = dl0 + dl1
    f_third = f_mhz**_THIRD
    # radius and length of the diffraction arc, and of each terminal's horizon arc
    a_path = (d - d_ml) / (d / a_e - theta_los)
    a_tx = 0.5 * dl0**2 / he0
    a_rx = 0.5 * dl1**2 / he1
    c_path = ((4.0 / 3.0) * _A0_M / a_path) ** _THIRD
    c_tx = ((4.0 / 3.0) * _A0_M / a_tx) ** _THIRD
    c_rx = ((4.0 / 3.0) * _A0_M / a_rx) ** _THIRD
    k_path = 0.017778 * c_path * f_mhz ** (-_THIRD) / z_abs
    k_tx = 0.017778 * c_tx * f_mhz ** (-_THIRD) / z_abs
    k_rx = 0.017778 * c_rx * f_mhz ** (-_THIRD) / z_abs
    x_tx = (1.607 - k_tx) * c_tx**2 * f_third * (dl0 / 1000.0)
    x_rx = (1.607 - k_rx) * c_rx**2 * f_third * (dl1 / 1000.0)
    x_path = (1.607 - k_path) * c_path**2 * f_third * (a_path * theta / 1000.0) + x_tx + x_rx
    g_db = 0.05751 * x_path - 10.0 * math.log10(x_path)
    return g_db - _height_gain_db(x_tx, k_tx) - _height_gain_db(x_rx, k_rx) - 20.0


@njit(cache=True)
def _diffraction_db(
    d: float,
    dl0: float,
    dl1: float,
    he0: float,
    he1: float,
    z_abs: float,
    a_e: float,
    delta_h: float,
    h0: float,
    h1: float,
    area_mode: bool,
    theta_los: float,
    d_sml: float,
    f_mhz: float,
) -> float:
    """Weighted knife-edge / smooth-earth diffraction plus clutter (ERL 79-ITS 67 3.23, 3.38c)."""
    a_k = _knife_edge_db(d, f_mhz, a_e, theta_los, dl0, dl1)
    a_se = _smooth_earth_db(d, f_mhz, a_e, theta_los, dl0, dl1, he0, he1, z_abs)
    # clutter factor, using the roughness seen over the smooth-earth LOS distance
    sig = _sigma_h(_dh_at(d_sml, delta_h))
    a_fo = _mn(15.0, 5.0 * math.log10(1.0 + 1e-5 * h0 * h1 * f_mhz * sig))
    dh_d = _dh_at(d, delta_h)
    hh = h0 * h1
    qk = he0 * he1 - hh
    if not area_mode:
        hh += 10.0  # C ≈ 10 for low antennas on known paths (ERL 79-ITS 67 p. 3-8)
    root = math.sqrt(1.0 + qk / hh)
    q = (root + (-theta_los * a_e + dl0 + dl1) / d) * _mn(dh_d * f_mhz / 47.7, 6283.2)
    w = 25.1 / (25.1 + math.sqrt(q))
    return w * a_se + (1.0 - w) * a_k + a_fo


@njit(cache=True)
def _diffraction_pair_db(
    d3: float,
    d4: float,
    dl0: float,
    dl1: float,
    he0: float,
    he1: float,
    z_abs: float,
    a_e: float,
    delta_h: float,
    h0: float,
    h1: float,
    area_mode: bool,
    theta_los: float,
    d_sml: float,
    f_mhz: float,
) -> tuple[float, float]:
    """:func:`_diffraction_db` at two distances, sharing what does not depend on the distance.

    The terminals' smooth-earth terms (radii, K, x and height gains), the clutter factor and the
    roughness weight's root are computed once; every expression is the one of
    :func:`_diffraction_db` / :func:`_smooth_earth_db`, in the same order, so both values are
    bit-identical to two separate calls (the reference attenuation needs both for its
    diffraction line, once per path).
    """
    f_third = f_mhz**_THIRD
    f_m_third = f_mhz ** (-_THIRD)
    d_ml = dl0 + dl1
    # terminal terms of the smooth-earth diffraction (_smooth_earth_db)
    a_tx = 0.5 * dl0**2 / he0
    a_rx = 0.5 * dl1**2 / he1
    c_tx = ((4.0 / 3.0) * _A0_M / a_tx) ** _THIRD
    c_rx = ((4.0 / 3.0) * _A0_M / a_rx) ** _THIRD
    k_tx = 0.017778 * c_tx * f_m_third / z_abs
    k_rx = 0.017778 * c_rx * f_m_third / z_abs
    x_tx = (1.607 - k_tx) * c_tx**2 * f_third * (dl0 / 1000.0)
    x_rx = (1.607 - k_rx) * c_rx**2 * f_third * (dl1 / 1000.0)
    g_tx = _height_gain_db(x_tx, k_tx)
    g_rx = _height_gain_db(x_rx, k_rx)
    # clutter and weighting terms of _diffraction_db
    sig = _sigma_h(_dh_at(d_sml, delta_h))
    a_fo = _mn(15.0, 5.0 * math.log10(1.0 + 1e-5 * h0 * h1 * f_mhz * sig))
    hh = h0 * h1
    qk = he0 * he1 - hh
    if not area_mode:
        hh += 10.0
    root = math.sqrt(1.0 + qk / hh)
    out0 = 0.0
    out1 = 0.0
    for k in range(2):
        d = d3 if k == 0 else d4
        a_k = _knife_edge_db(d, f_mhz, a_e, theta_los, dl0, dl1)
        theta = d / a_e - theta_los
        a_path = (d - d_ml) / (d / a_e - theta_los)
        c_path = ((4.0 / 3.0) * _A0_M / a_path) ** _THIRD
        k_path = 0.017778 * c_path * f_m_third / z_abs
        x_path = (1.607 - k_path) * c_path**2 * f_third * (a_path * theta / 1000.0) + x_tx + x_rx
        g_db = 0.05751 * x_path - 10.0 * math.log10(x_path)
        a_se = g_db - g_tx - g_rx - 20.0
        dh_d = _dh_at(d, delta_h)
        q = (root + (-theta_los * a_e + dl0 + dl1) / d) * _mn(dh_d * f_mhz / 47.7, 6283.2)
        w = 25.1 / (25.1 + math.sqrt(q))
        val = w * a_se + (1.0 - w) * a_k + a_fo
        if k == 0:
            out0 = val
        else:
            out1 = val
    return out0, out1


# --- line of sight ----------------------------------------------------------------------------
@njit(cache=True)
def _los_db(
    d: float,
    he0: float,
    he1: float,
    z_g: complex,
    delta_h: float,
    m_d: float,
    a_d0: float,
    d_sml: float,
    f_mhz: float,
) -> float:
    """Two-ray line-of-sight attenuation blended with the extended diffraction line."""
    sig = _sigma_h(_dh_at(d, delta_h))
    wn = f_mhz / 47.7
    hsum = he0 + he1
    sin_psi = hsum / math.sqrt(d**2 + hsum**2)
    r_e = (sin_psi - z_g) / (sin_psi + z_g) * math.exp(-_mn(10.0, wn * sig * sin_psi))
    mag2 = r_e.real**2 + r_e.imag**2
    if mag2 < 0.25 or mag2 < sin_psi:
        r_e = r_e * math.sqrt(sin_psi / mag2)
    dphi = wn * 2.0 * he0 * he1 / d
    if dphi > _PI / 2.0:
        dphi = _PI - (_PI / 2.0) ** 2 / dphi
    rr = complex(math.cos(dphi), -math.sin(dphi)) + r_e
    a_t = -10.0 * math.log10(rr.real**2 + rr.imag**2)
    a_d = m_d * d + a_d0
    w = 1.0 / (1.0 + f_mhz * delta_h / _mx(10e3, d_sml))
    return w * a_t + (1.0 - w) * a_d


# --- troposcatter -----------------------------------------------------------------------------
@njit(cache=True)
def _scatter_db(
    d: float,
    th0: float,
    th1: float,
    dl0: float,
    dl1: float,
    he0: float,
    he1: float,
    a_e: float,
    n_s: float,
    f_mhz: float,
    theta_los: float,
    h0_prev: float,
) -> tuple[float, float]:
    """Forward-scatter attenuation at d; returns (loss dB, H0 to carry to the next call).

    ``h0_prev`` < 0 means "no previous value". A loss of 1001 flags an undefined result.
    """
    wn = f_mhz / 47.7
    if h0_prev > 15.0:
        h_0 = h0_prev
    else:
        ad = dl0 - dl1
        rr = he1 / he0
        if ad < 0.0:
            ad = -ad
            rr = 1.0 / rr
        theta = th0 + th1 + d / a_e
        r1 = 2.0 * wn * theta * he0
        r2 = 2.0 * wn * theta * he1
        if r1 < 0.2 and r2 < 0.2:
            return 1001.0, h0_prev
        s = (d - ad) / (d + ad)
        q = _mn(_mx(0.1, rr / s), 10.0)
        s = _mx(0.1, s)
        h_x = (d - ad) * (d + ad) * theta * 0.25 / d  # cross-over height
        eta_s = (h_x / 1.7556e3) * (
            1.0
            + (0.031 - n_s * 2.32e-3 + n_s**2 * 5.67e-6) * math.exp(-(_mn(1.7, h_x / 8.0e3) ** 6))
        )
        h_00 = (_h0(r1, eta_s) + _h0(r2, eta_s)) / 2.0
        h_0 = h_00 + _mn(
            h_00, 6.0 * (0.6 - math.log10(_mx(eta_s, 1.0))) * math.log10(s) * math.log10(q)
        )
        h_0 = _mx(h_0, 0.0)
        if eta_s < 1.0:
            h_0 = eta_s * h_0 + (1.0 - eta_s) * 10.0 * math.log10(
                ((1.0 + _SQRT2 / r1) * (1.0 + _SQRT2 / r2)) ** 2
                * (r1 + r2)
                / (r1 + r2 + 2.0 * _SQRT2)
            )
        if h_0 > 15.0 and h0_prev >= 0.0:
            h_0 = h0_prev
    th = d / a_e - theta_los
    loss = (
        _f_theta_d(th * d)
        + 10.0 * math.log10(wn * 47.7 * th**4)
        - 0.1 * (n_s - 301.0) * math.exp(-th * d / 40e3)
        + h_0
    )
    return loss, h_0


# --- reference attenuation --------------------------------------------------------------------
@njit(cache=True)
def _reference_attenuation(
    th0: float,
    th1: float,
    f_mhz: float,
    z_g: complex,
    dl0: float,
    dl1: float,
    he0: float,
    he1: float,
    gamma_e: float,
    n_s: float,
    delta_h: float,
    h0: float,
    h1: float,
    d: float,
    area_mode: bool,
) -> tuple[int, float, int, int]:
    """Median attenuation relative to free space; returns (code, A_ref dB, warnings, mode)."""
    warn = 0
    a_e = 1.0 / gamma_e
    ds0 = math.sqrt(2.0 * he0 * a_e)  # smooth-earth horizon distances
    ds1 = math.sqrt(2.0 * he1 * a_e)
    d_sml = ds0 + ds1
    d_ml = dl0 + dl1
    theta_los = -_mx(th0 + th1, -d_ml / a_e)

    if abs(th0) > 200e-3:
        warn |= _W_TX_HZN_ANGLE
    if abs(th1) > 200e-3:
        warn |= _W_RX_HZN_ANGLE
    if dl0 < 0.1 * ds0:
        warn |= _W_TX_HZN_DIST_1
    if dl1 < 0.1 * ds1:
        warn |= _W_RX_HZN_DIST_1
    if dl0 > 3.0 * ds0:
        warn |= _W_TX_HZN_DIST_2
    if dl1 > 3.0 * ds1:
        warn |= _W_RX_HZN_DIST_2
    if n_s < 150.0:
        return _ERR_NS_SMALL, 0.0, warn, 0
    if n_s > 400.0:
        return _ERR_NS_LARGE, 0.0, warn, 0
    if n_s < 250.0:
        warn |= _W_NS
    if a_e < 4000000.0 or a_e > 13333333.0:
        return _ERR_EFFECTIVE_EARTH, 0.0, warn, 0
    if z_g.real <= abs(z_g.imag):
        return _ERR_GROUND_IMPEDANCE, 0.0, warn, 0
    z_abs = abs(z_g)

    # diffraction line through two points far beyond the horizon
    scale = (a_e**2 / f_mhz) ** (1.0 / 3.0)
    d3 = _mx(d_sml, d_ml + 5.0 * scale)
    d4 = d3 + 10.0 * scale
    a3, a4 = _diffraction_pair_db(
        d3, d4, dl0, dl1, he0, he1, z_abs, a_e, delta_h, h0, h1, area_mode, theta_los, d_sml, f_mhz
    )
    m_d = (a4 - a3) / (d4 - d3)
    a_d0 = a3 - m_d * d3

    if d < abs(he0 - he1) / 200e-3:
        warn |= _W_DIST_SMALL_1
    if d < 1e3:
        warn |= _W_DIST_SMALL_2
    if d > 1000e3:
        warn |= _W_DIST_BIG_1
    if d > 2000e3:
        warn |= _W_DIST_BIG_2

    if d < d_sml:
        # line of sight: fit A = A_o + k1 d + k2 ln d through the LOS points and A(d_sML)
        a_sml = d_sml * m_d + a_d0
        d0 = 0.04 * f_mhz * he0 * he1
        if a_d0 >= 0.0:
            d0 = _mn(d0, 0.5 * d_ml)
            d1 = d0 + 0.25 * (d_ml - d0)
        else:
            d1 = _mx(-a_d0 / m_d, 0.25 * d_ml)
        a1 = _los_db(d1, he0, he1, z_g, delta_h, m_d, a_d0, d_sml, f_mhz)
        use_log = False
        k1 = 0.0
        k2 = 0.0
        if d0 < d1:
            a0 = _los_db(d0, he0, he1, z_g, delta_h, m_d, a_d0, d_sml, f_mhz)
            q = math.log(d_sml / d0)
            k2 = _mx(
                0.0,
                ((d_sml - d0) * (a1 - a0) - (d1 - d0) * (a_sml - a0))
                / ((d_sml - d0) * math.log(d1 / d0) - (d1 - d0) * q),
            )
            use_log = a_d0 > 0.0 or k2 > 0.0
            if use_log:
                k1 = (a_sml - a0 - k2 * q) / (d_sml - d0)
                if k1 < 0.0:
                    k1 = 0.0
                    k2 = _dim(a_sml, a0) / q
                    if k2 == 0.0:
                        k1 = m_d
        if not use_log:
            k1 = _dim(a_sml, a1) / (d_sml - d1)
            k2 = 0.0
            if k1 == 0.0:
                k1 = m_d
        a_o = a_sml - k1 * d_sml - k2 * math.log(d_sml)
        a_ref = a_o + k1 * d + k2 * math.log(d)
        mode = _MODE_LOS
    elif d <= _mx(d_sml, d_ml + 1.088 * scale * math.log(f_mhz)):
        # beyond the horizon but short of the lower bound of the scatter crossing d_x (below):
        # diffraction whatever the scatter line, which is then not needed
        a_ref = m_d * d + a_d0
        mode = _MODE_DIFFRACTION
    else:
        # beyond the horizon: diffraction line, or the scatter line past the crossing d_x
        d5 = d_ml + 200e3
        d6 = d_ml + 400e3
        a6, h0c = _scatter_db(d6, th0, th1, dl0, dl1, he0, he1, a_e, n_s, f_mhz, theta_los, -1.0)
        a5, h0c = _scatter_db(d5, th0, th1, dl0, dl1, he0, he1, a_e, n_s, f_mhz, theta_los, h0c)
        if a5 < 1000.0:
            m_s = (a6 - a5) / 200e3
            d_x = _mx(
                _mx(d_sml, d_ml + 1.088 * scale * math.log(f_mhz)),
                (a5 - a_d0 - m_s * d5) / (m_d - m_s),
            )
            a_s0 = (m_d - m_s) * d_x + a_d0
        else:
            m_s = m_d
            a_s0 = a_d0
            d_x = 10e6
        if d > d_x:
            a_ref = m_s * d + a_s0
            mode = _MODE_TROPO
        else:
            a_ref = m_d * d + a_d0
            mode = _MODE_DIFFRACTION
    return _SUCCESS, _mx(a_ref, 0.0), warn, mode


# --- variability ------------------------------------------------------------------------------
@njit(cache=True)
def _variability_db(
    time: float,
    location: float,
    situation: float,
    he0: float,
    he1: float,
    delta_h: float,
    f_mhz: float,
    d: float,
    a_ref: float,
    climate: int,
    mdvar: int,
) -> tuple[float, int]:
    """Attenuation A_ref - V_med - Y_R - Y_S at the requested quantiles; returns (dB, warnings)."""
    warn = 0
    z_t = _q_inverse(time / 100.0)
    z_l = _q_inverse(location / 100.0)
    z_s = _q_inverse(situation / 100.0)
    c = climate - 1
    wn = f_mhz / 47.7
    d_ex = (
        math.sqrt(2.0 * _A9000_M * he0)
        + math.sqrt(2.0 * _A9000_M * he1)
        + (575.7e12 / wn) ** _THIRD
    )
    # effective distance (Algorithm eq. 5.3)
    d_e = 130e3 * d / d_ex if d < d_ex else 130e3 + d - d_ex

    base = mdvar
    no_situation = base >= 20  # +20: drop direct situation variability (interference studies)
    if no_situation:
        base -= 20
    sigma_s = 0.0 if no_situation else 5.0 + 3.0 * math.exp(-d_e / 100e3)
    no_location = base >= 10  # +10: location variability eliminated (point-to-point use)
    if no_location:
        base -= 10

    v_med = _curve(_V_MED[c, 0], _V_MED[c, 1], _V_MED[c, 2], _V_MED[c, 3], _V_MED[c, 4], d_e)
    if base == 0:  # single message
        z_t = z_s
        z_l = z_s
    elif base == 1:  # accidental
        z_l = z_s
    elif base == 2:  # mobile
        z_l = z_t
    if abs(z_t) > 3.10 or abs(z_l) > 3.10 or abs(z_s) > 3.10:
        warn |= _W_EXTREME_VAR

    if no_location:
        sigma_l = 0.0
    else:
        dh_d = _dh_at(d, delta_h)
        sigma_l = 10.0 * wn * dh_d / (wn * dh_d + 13.0)
    y_l = sigma_l * z_l

    lq = math.log(0.133 * wn)
    g_minus = _G_MINUS[c, 0] + _G_MINUS[c, 1] / ((_G_MINUS[c, 2] * lq) ** 2 + 1.0)
    g_plus = _G_PLUS[c, 0] + _G_PLUS[c, 1] / ((_G_PLUS[c, 2] * lq) ** 2 + 1.0)
    sig_minus = (
        _curve(
            _SIG_T_MINUS[c, 0],
            _SIG_T_MINUS[c, 1],
            _SIG_T_MINUS[c, 2],
            _SIG_T_MINUS[c, 3],
            _SIG_T_MINUS[c, 4],
            d_e,
        )
        * g_minus
    )
    sig_plus = (
        _curve(
            _SIG_T_PLUS[c, 0],
            _SIG_T_PLUS[c, 1],
            _SIG_T_PLUS[c, 2],
            _SIG_T_PLUS[c, 3],
            _SIG_T_PLUS[c, 4],
            d_e,
        )
        * g_plus
    )
    sig_td = _C_D[c] * sig_plus
    tgtd = (sig_plus - sig_td) * _Z_D[c]
    if z_t < 0.0:
        sigma_t = sig_minus
    elif z_t <= _Z_D[c]:
        sigma_t = sig_plus
    else:
        sigma_t = sig_td + tgtd / z_t
    return _combine_variability(a_ref, v_med, base, sigma_t, sigma_l, sigma_s, z_t, z_s, y_l), warn


@njit(cache=True)
def _combine_variability(
    a_ref: float,
    v_med: float,
    base: int,
    sigma_t: float,
    sigma_l: float,
    sigma_s: float,
    z_t: float,
    z_s: float,
    y_l: float,
) -> float:
    """Loss from the reference attenuation and the time/location/situation deviations,
    combined as the mdvar mode says, with the soft floor below free space."""
    y_t = sigma_t * z_t
    ys2 = sigma_s**2 + y_t**2 / (7.8 + z_s**2) + y_l**2 / (24.0 + z_s**2)
    if base == 0:
        y_r = 0.0
        y_s = math.sqrt(sigma_t**2 + sigma_l**2 + ys2) * z_s
    elif base == 1:
        y_r = y_t
        y_s = math.sqrt(sigma_l**2 + ys2) * z_s
    elif base == 2:
        y_r = math.sqrt(sigma_t**2 + sigma_l**2) * z_t
        y_s = math.sqrt(ys2) * z_s
    else:
        y_r = y_t + y_l
        y_s = math.sqrt(ys2) * z_s
    val = a_ref - v_med - y_r - y_s
    if val < 0.0:  # soft floor: loss below free space shrinks smoothly (Algorithm eq. 52)
        val = val * (29.0 - val) / (29.0 - 10.0 * val)
    return val


# --- inputs and terrain -----------------------------------------------------------------------
@njit(cache=True)
def _validate(
    h_tx: float,
    h_rx: float,
    climate: int,
    time: float,
    location: float,
    situation: float,
    n0: float,
    f_mhz: float,
    pol: int,
    epsilon: float,
    sigma: float,
    mdvar: int,
) -> tuple[int, int]:
    """Range checks, in the reference's order; returns (code, warnings)."""
    warn = 0
    if h_tx < 1.0 or h_tx > 1000.0:
        warn |= _W_TX_HEIGHT
    if h_tx < 0.5 or h_tx > 3000.0:
        return _ERR_TX_HEIGHT, warn
    if h_rx < 1.0 or h_rx > 1000.0:
        warn |= _W_RX_HEIGHT
    if h_rx < 0.5 or h_rx > 3000.0:
        return _ERR_RX_HEIGHT, warn
    if climate < 1 or climate > 7:
        return _ERR_CLIMATE, warn
    if n0 < 250.0 or n0 > 400.0:
        return _ERR_REFRACTIVITY, warn
    if f_mhz < 40.0 or f_mhz > 10000.0:
        warn |= _W_FREQUENCY
    if f_mhz < 20.0 or f_mhz > 20000.0:
        return _ERR_FREQUENCY, warn
    if pol != 0 and pol != 1:
        return _ERR_POLARIZATION, warn
    if epsilon < 1.0:
        return _ERR_EPSILON, warn
    if sigma <= 0.0:
        return _ERR_SIGMA, warn
    if mdvar < 0 or (3 < mdvar < 10) or (13 < mdvar < 20) or (23 < mdvar < 30) or mdvar > 33:
        return _ERR_MDVAR, warn
    if situation <= 0.0 or situation >= 100.0:
        return _ERR_SITUATION, warn
    if time <= 0.0 or time >= 100.0:
        return _ERR_TIME, warn
    if location <= 0.0 or location >= 100.0:
        return _ERR_LOCATION, warn
    return _SUCCESS, warn


@njit(cache=True)
def _ground(
    f_mhz: float, h_sys: float, n0: float, pol: int, epsilon: float, sigma: float
) -> tuple[complex, float, float]:
    """Ground impedance Z_g, effective earth curvature gamma_e and surface refractivity N_s."""
    n_s = n0 if h_sys == 0.0 else n0 * math.exp(-h_sys / 9460.0)  # TN101 eq. 4.3
    gamma_e = _GAMMA_A * (1.0 - 0.04665 * math.exp(n_s / 179.3))  # TN101 eq. 4.4
    eps_r = complex(epsilon, 18000.0 * sigma / f_mhz)
    z_g = np.sqrt(eps_r - 1.0)
    if pol == 1:  # vertical
        z_g = z_g / eps_r
    return z_g, gamma_e, n_s


@njit(cache=True)
def _horizons(pfl: np.ndarray, a_e: float, h_tx: float, h_rx: float) -> tuple:
    """Horizon elevation angles and distances of both terminals: (th0, th1, dl0, dl1)."""
    n = int(pfl[0])
    step = pfl[1]
    d = pfl[0] * pfl[1]
    z_tx = pfl[2] + h_tx
    z_rx = pfl[n + 2] + h_rx
    th0 = (z_rx - z_tx) / d - d / (2.0 * a_e)
    th1 = -(z_rx - z_tx) / d - d / (2.0 * a_e)
    dl0 = d
    dl1 = d
    # distances accumulate by repeated addition, as in the reference, so ties resolve alike
    x_tx = 0.0
    x_rx = d
    for i in range(1, n):
        x_tx = x_tx + step
        x_rx = x_rx - step
        z = pfl[i + 2]
        t_tx = (z - z_tx) / x_tx - x_tx / (2.0 * a_e)
        t_rx = -(z_rx - z) / x_rx - x_rx / (2.0 * a_e)
        if t_tx > th0:
            th0 = t_tx
            dl0 = x_tx
        if t_rx > th1:
            th1 = t_rx
            dl1 = x_rx
    return th0, th1, dl0, dl1


@njit(cache=True)
def _line_fit(pfl: np.ndarray, d_start: float, d_end: float) -> tuple[float, float]:
    """Least-squares line through the profile between two distances.

    Returns the fitted heights at the profile's start and end (the reference's fit_y1/y2).
    """
    n = int(pfl[0])
    i0 = int(_fdim(d_start / pfl[1], 0.0))
    i1 = n - int(_fdim(float(n), d_end / pfl[1]))
    if i1 <= i0:
        i0 = int(_fdim(float(i0), 1.0))
        i1 = n - int(_fdim(float(n), i1 + 1.0))
    length = float(i1 - i0)
    xc = -0.5 * length  # abscissa relative to the middle of the window
    x_mid_end = i1 + xc
    sum_z = 0.5 * (pfl[i0 + 2] + pfl[i1 + 2])
    sum_xz = 0.5 * (pfl[i0 + 2] - pfl[i1 + 2]) * xc
    k = i0
    for _ in range(2, int(length) + 1):
        k += 1
        xc += 1.0
        sum_z += pfl[k + 2]
        sum_xz += pfl[k + 2] * xc
    sum_z = sum_z / length
    sum_xz = sum_xz * 12.0 / ((length * length + 2.0) * length)
    return sum_z - sum_xz * x_mid_end, sum_z + sum_xz * (n - x_mid_end)


@njit(cache=True)
def _select_desc(a: np.ndarray, n: int, k: int) -> float:
    """k-th largest (0-based) of a[:n], by in-place quickselect (order statistic, any order)."""
    lo = 0
    hi = n - 1
    while lo < hi:
        pivot = a[(lo + hi) // 2]
        i = lo
        j = hi
        while i <= j:
            while a[i] > pivot:
                i += 1
            while a[j] < pivot:
                j -= 1
            if i <= j:
                t = a[i]
                a[i] = a[j]
                a[j] = t
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return a[k]
    return a[k]


#: largest resampled profile of the Δh computation (p10 = 25)
_DH_MAX_POINTS = 245


@njit(cache=True)
def _terrain_delta_h(pfl: np.ndarray, d_start: float, d_end: float) -> float:
    """Interdecile range Δh of terrain heights about a fitted line, between two distances.

    The profile is resampled to 10·p10 - 5 equally spaced points (p10 in 4..25), a least-squares
    line is removed and the 10 %-90 % range of the residuals is scaled to an asymptotic Δh
    (ERL 79-ITS 67 eq. 3, inverted).
    """
    return _terrain_delta_h_buf(
        pfl, d_start, d_end, np.empty(_DH_MAX_POINTS + 2), np.empty(_DH_MAX_POINTS)
    )


@njit(cache=True)
def _terrain_delta_h_buf(
    pfl: np.ndarray, d_start: float, d_end: float, s: np.ndarray, resid: np.ndarray
) -> float:
    """:func:`_terrain_delta_h` with caller-owned scratch arrays (no allocation per call).

    ``s`` holds at least ``_DH_MAX_POINTS + 2`` values and ``resid`` ``_DH_MAX_POINTS``; the raster
    engine calls this once per checkpoint of every ray, from parallel threads.
    """
    n_pfl = int(pfl[0])
    x0 = d_start / pfl[1]
    x1 = d_end / pfl[1]
    if x1 - x0 < 2.0:
        return 0.0
    p10 = int(0.1 * (x1 - x0 + 8.0))
    p10 = _mn(_mx(4, p10), 25)
    m = 10 * p10 - 5
    p90 = m - p10
    span = float(m - 1)
    s[0] = span
    s[1] = 1.0
    step = (x1 - x0) / span
    i = int(x0)
    # the reference subtracts (i + 1) after rounding it to single precision
    frac = x0 - float(np.float32(i + 1.0))
    for j in range(m):
        while frac > 0.0 and (i + 1) < n_pfl:
            frac -= 1.0
            i += 1
        s[j + 2] = pfl[i + 3] + (pfl[i + 3] - pfl[i + 2]) * frac
        frac += step
    y1, y2 = _line_fit(s, 0.0, span)
    slope = (y2 - y1) / span
    for j in range(m):
        resid[j] = s[j + 2] - y1
        y1 += slope
    q10 = _select_desc(resid, m, p10 - 1)
    # quickselect leaves resid[:p10] >= q10 >= resid[p10:], so the 90 % point (index p90 > p10)
    # is selected among the tail only: the same order statistic, about half the work
    q90 = _select_desc(resid[p10:], m - p10, p90 - p10)
    return (q10 - q90) / (1.0 - 0.8 * math.exp(-(d_end - d_start) / 50e3))


@njit(cache=True)
def _profile_geometry(pfl: np.ndarray, gamma_e: float, h_tx: float, h_rx: float) -> tuple:
    """Path geometry from the profile: (th0, th1, dl0, dl1, he0, he1, delta_h, d)."""
    d = pfl[0] * pfl[1]
    n = int(pfl[0])
    a_e = 1.0 / gamma_e
    th0, th1, dl0, dl1 = _horizons(pfl, a_e, h_tx, h_rx)
    # terrain is considered from ~15 tower heights out, or 10 % of the horizon distance
    x_start = _mn(15.0 * h_tx, 0.1 * dl0)
    x_end = d - _mn(15.0 * h_rx, 0.1 * dl1)
    delta_h = _terrain_delta_h(pfl, x_start, x_end)
    if dl0 + dl1 > 1.5 * d:
        # well within line of sight: effective heights over one fitted line, smooth-earth horizons
        fit_tx, fit_rx = _line_fit(pfl, x_start, x_end)
        he0 = h_tx + _fdim(pfl[2], fit_tx)
        he1 = h_rx + _fdim(pfl[n + 2], fit_rx)
        dl0 = math.sqrt(2.0 * he0 * a_e) * math.exp(-0.07 * math.sqrt(delta_h / _mx(he0, 5.0)))
        dl1 = math.sqrt(2.0 * he1 * a_e) * math.exp(-0.07 * math.sqrt(delta_h / _mx(he1, 5.0)))
        if dl0 + dl1 <= d:
            q = (d / (dl0 + dl1)) ** 2
            he0 = he0 * q
            he1 = he1 * q
            dl0 = math.sqrt(2.0 * he0 * a_e) * math.exp(-0.07 * math.sqrt(delta_h / _mx(he0, 5.0)))
            dl1 = math.sqrt(2.0 * he1 * a_e) * math.exp(-0.07 * math.sqrt(delta_h / _mx(he1, 5.0)))
        q0 = math.sqrt(2.0 * he0 * a_e)
        q1 = math.sqrt(2.0 * he1 * a_e)
        th0 = (0.65 * delta_h * (q0 / dl0 - 1.0) - 2.0 * he0) / q0
        th1 = (0.65 * delta_h * (q1 / dl1 - 1.0) - 2.0 * he1) / q1
    else:
        # effective heights over the foreground of each terminal, up to 90 % of its horizon
        fit_tx, _ = _line_fit(pfl, x_start, 0.9 * dl0)
        he0 = h_tx + _fdim(pfl[2], fit_tx)
        _, fit_rx = _line_fit(pfl, d - 0.9 * dl1, x_end)
        he1 = h_rx + _fdim(pfl[n + 2], fit_rx)
    return th0, th1, dl0, dl1, he0, he1, delta_h, d


@njit(cache=True)
def _area_geometry(
    site: int, gamma_e: float, delta_h: float, h: float
) -> tuple[float, float, float]:
    """Area mode: effective height, horizon distance, horizon angle (Algorithm 3.2-3.4)."""
    if site == 0:  # random siting
        he = h
    else:
        b = 4.0 if site == 1 else 9.0  # careful / very careful
        if h < 5.0:
            b = b * math.sin(0.1 * _PI * h)
        he = h + (1.0 + b) * math.exp(-_mn(20.0, 2.0 * h / _mx(1e-3, delta_h)))
    d_ls = math.sqrt(2.0 * he / gamma_e)
    dl = d_ls * math.exp(-0.07 * math.sqrt(delta_h / _mx(he, 5.0)))
    th = (0.65 * delta_h * (d_ls / dl - 1.0) - 2.0 * he) / d_ls
    return he, dl, th


# --- entry points -----------------------------------------------------------------------------
@njit(cache=True)
def _p2p_core(
    pfl: np.ndarray,
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
) -> tuple:
    """ITM point-to-point, time/location/situation variability (the reference's ITM_P2P_TLS_Ex).

    Parameters
    ----------
    pfl
        float64 profile ``[n_points - 1, spacing m, z0 .. zn]`` (only ``pfl[:n_points + 2]`` read).
    h_tx, h_rx
        Structural antenna heights above ground, m.
    climate, n0, f_mhz, pol, epsilon, sigma, mdvar, time, location, situation
        As in :func:`lomsong.propagation.itm.p2p_tls`.

    Returns
    -------
    tuple
        ``(code, loss_db, warnings, mode, theta_tx, theta_rx, d_hzn_tx_m, d_hzn_rx_m, h_e_tx_m,
        h_e_rx_m, N_s, delta_h_m, A_ref_db, A_fs_db, d_km)``. ``code`` is 0 / 1 (success without /
        with warnings) or a reference error code ≥ 1000, in which case ``loss_db`` is NaN.
        For the confidence/reliability variant call with ``time=reliability, location=50,
        situation=confidence`` (and map codes 1003 → 1007, 1005 → 1006).
    """
    nan = math.nan
    code, warn = _validate(
        h_tx, h_rx, climate, time, location, situation, n0, f_mhz, pol, epsilon, sigma, mdvar
    )
    d_km = pfl[0] * pfl[1] / 1000.0
    if code != _SUCCESS:
        return (code, nan, warn, 0, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, d_km)
    n = int(pfl[0])
    # mean terrain height, ignoring the first and last 10 % of the path
    p10 = int(0.1 * n)
    h_sys = 0.0
    for i in range(p10, n - p10 + 1):
        h_sys += pfl[i + 2]
    h_sys = h_sys / (n - 2 * p10 + 1)
    z_g, gamma_e, n_s = _ground(f_mhz, h_sys, n0, pol, epsilon, sigma)
    th0, th1, dl0, dl1, he0, he1, delta_h, d = _profile_geometry(pfl, gamma_e, h_tx, h_rx)
    code, a_ref, w2, mode = _reference_attenuation(
        th0, th1, f_mhz, z_g, dl0, dl1, he0, he1, gamma_e, n_s, delta_h, h_tx, h_rx, d, False
    )
    warn |= w2
    if code != _SUCCESS:
        return (code, nan, warn, 0, th0, th1, dl0, dl1, he0, he1, n_s, delta_h, nan, nan, d_km)
    a_fs = _free_space_db(d, f_mhz)
    var, w3 = _variability_db(
        time, location, situation, he0, he1, delta_h, f_mhz, d, a_ref, climate, mdvar
    )
    warn |= w3
    code = _SUCCESS_WITH_WARNINGS if warn != 0 else _SUCCESS
    return (
        code, var + a_fs, warn, mode, th0, th1, dl0, dl1, he0, he1, n_s, delta_h, a_ref, a_fs, d_km
    )  # fmt: skip


@njit(cache=True)
def _p2p_loss(
    pfl: np.ndarray,
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
) -> tuple[int, float, int, int]:
    """:func:`_p2p_core` reduced to ``(code, loss_db, warnings, mode)``, for inner loops."""
    r = _p2p_core(
        pfl, h_tx, h_rx, climate, n0, f_mhz, pol, epsilon, sigma, mdvar, time, location, situation
    )
    return r[0], r[1], r[2], r[3]


@njit(cache=True)
def _area_core(
    d_km: float,
    h_tx: float,
    h_rx: float,
    tx_site: int,
    rx_site: int,
    delta_h: float,
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
) -> tuple:
    """ITM area mode, time/location/situation variability (the reference's ITM_AREA_TLS_Ex).

    Returns the same 15-tuple as :func:`_p2p_core`.
    """
    nan = math.nan
    code, warn = _validate(
        h_tx, h_rx, climate, time, location, situation, n0, f_mhz, pol, epsilon, sigma, mdvar
    )
    if code == _SUCCESS:
        if d_km <= 0.0:
            code = _ERR_PATH_DISTANCE
        elif delta_h < 0.0:
            code = _ERR_DELTA_H
        elif tx_site < 0 or tx_site > 2:
            code = _ERR_TX_SITING
        elif rx_site < 0 or rx_site > 2:
            code = _ERR_RX_SITING
    if code != _SUCCESS:
        return (code, nan, warn, 0, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, d_km)
    z_g, gamma_e, n_s = _ground(f_mhz, 0.0, n0, pol, epsilon, sigma)
    he0, dl0, th0 = _area_geometry(tx_site, gamma_e, delta_h, h_tx)
    he1, dl1, th1 = _area_geometry(rx_site, gamma_e, delta_h, h_rx)
    d = d_km * 1000.0
    code, a_ref, w2, mode = _reference_attenuation(
        th0, th1, f_mhz, z_g, dl0, dl1, he0, he1, gamma_e, n_s, delta_h, h_tx, h_rx, d, True
    )
    warn |= w2
    if code != _SUCCESS:
        return (code, nan, warn, 0, th0, th1, dl0, dl1, he0, he1, n_s, delta_h, nan, nan, d_km)
    a_fs = _free_space_db(d, f_mhz)
    var, w3 = _variability_db(
        time, location, situation, he0, he1, delta_h, f_mhz, d, a_ref, climate, mdvar
    )
    warn |= w3
    code = _SUCCESS_WITH_WARNINGS if warn != 0 else _SUCCESS
    return (
        code, a_fs + var, warn, mode, th0, th1, dl0, dl1, he0, he1, n_s, delta_h, a_ref, a_fs, d_km
    )  # fmt: skip


@njit(cache=True)
def _cr_code(code: int) -> int:
    """Map the TLS time/situation error codes to the CR reliability/confidence codes."""
    if code == _ERR_TIME:
        return _ERR_RELIABILITY
    if code == _ERR_SITUATION:
        return _ERR_CONFIDENCE
    return code


# --- batch loops ------------------------------------------------------------------------------
@njit(cache=True, parallel=True)
def _p2p_batch(
    flat: np.ndarray,
    offsets: np.ndarray,
    h_tx: np.ndarray,
    h_rx: np.ndarray,
    climate: np.ndarray,
    n0: np.ndarray,
    f_mhz: np.ndarray,
    pol: np.ndarray,
    epsilon: np.ndarray,
    sigma: np.ndarray,
    mdvar: np.ndarray,
    time: np.ndarray,
    location: np.ndarray,
    situation: np.ndarray,
    cr: bool,
    loss: np.ndarray,
    warnings: np.ndarray,
    mode: np.ndarray,
    code: np.ndarray,
) -> None:
    """Point-to-point over many profiles; profile k is ``flat[offsets[k]:]`` (PFL format).

    With ``cr`` the (time, location, situation) arrays hold (reliability, 50, confidence) and
    error codes are mapped as ITM_P2P_CR does. Outputs are written in place.
    """
    for k in prange(offsets.shape[0]):
        o = offsets[k]
        n = int(flat[o])
        pfl = flat[o : o + n + 3]
        r = _p2p_core(
            pfl, h_tx[k], h_rx[k], climate[k], n0[k], f_mhz[k], pol[k], epsilon[k], sigma[k],
            mdvar[k], time[k], location[k], situation[k],
        )  # fmt: skip
        c = r[0]
        code[k] = _cr_code(c) if cr else c
        loss[k] = r[1]
        warnings[k] = r[2]
        mode[k] = r[3]


@njit(cache=True, parallel=True)
def _area_batch(
    d_km: np.ndarray,
    h_tx: np.ndarray,
    h_rx: np.ndarray,
    tx_site: np.ndarray,
    rx_site: np.ndarray,
    delta_h: np.ndarray,
    climate: np.ndarray,
    n0: np.ndarray,
    f_mhz: np.ndarray,
    pol: np.ndarray,
    epsilon: np.ndarray,
    sigma: np.ndarray,
    mdvar: np.ndarray,
    time: np.ndarray,
    location: np.ndarray,
    situation: np.ndarray,
    cr: bool,
    loss: np.ndarray,
    warnings: np.ndarray,
    mode: np.ndarray,
    code: np.ndarray,
) -> None:
    """Area mode over arrays of equal length; outputs written in place (see :func:`_p2p_batch`)."""
    for k in prange(d_km.shape[0]):
        r = _area_core(
            d_km[k], h_tx[k], h_rx[k], tx_site[k], rx_site[k], delta_h[k], climate[k], n0[k],
            f_mhz[k], pol[k], epsilon[k], sigma[k], mdvar[k], time[k], location[k], situation[k],
        )  # fmt: skip
        c = r[0]
        code[k] = _cr_code(c) if cr else c
        loss[k] = r[1]
        warnings[k] = r[2]
        mode[k] = r[3]


@njit(cache=True)
def _check_profiles(flat: np.ndarray, offsets: np.ndarray, lengths: np.ndarray) -> tuple[int, int]:
    """First malformed profile of a batch: (index, reason) or (-1, 0).

    Reasons: 1 bad point count, 2 bad spacing, 3 row shorter than announced, 4 non-finite value.
    """
    for k in range(offsets.shape[0]):
        o = offsets[k]
        ln = lengths[k]
        if ln < 4:
            return k, 3
        cnt = flat[o]
        if not (math.isfinite(cnt) and cnt >= 1.0 and cnt == math.floor(cnt)):
            return k, 1
        if not (math.isfinite(flat[o + 1]) and flat[o + 1] > 0.0):
            return k, 2
        n = int(cnt)
        if n + 3 > ln:
            return k, 3
        for i in range(2, n + 3):
            if not math.isfinite(flat[o + i]):
                return k, 4
    return -1, 0
