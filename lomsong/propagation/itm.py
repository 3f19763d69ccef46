"""Longley-Rice Irregular Terrain Model (ITM v1.4), faithful to the NTIA/ITS reference.

The four entry points mirror the reference implementation (github.com/NTIA/itm, v1.4):

================  =======================  ===============================================
function          reference                variability given as
================  =======================  ===============================================
:func:`p2p_tls`   ``ITM_P2P_TLS_Ex``       time / location / situation percentages
:func:`p2p_cr`    ``ITM_P2P_CR_Ex``        confidence / reliability percentages
:func:`area_tls`  ``ITM_AREA_TLS_Ex``      time / location / situation percentages
:func:`area_cr`   ``ITM_AREA_CR_Ex``       confidence / reliability percentages
================  =======================  ===============================================

and each has a ``*_batch`` variant that loops in compiled numba code over arrays of paths.

Model
-----
ITM predicts the *basic transmission loss* (dB, isotropic antennas) of a radio path from
20 MHz to 20 GHz (validity 40 MHz - 10 GHz), 1 km - 2000 km, antennas 0.5 m - 3000 m above ground
(validity 1 m - 1000 m). A median *reference attenuation* relative to free space is computed from
three regimes — two-ray line of sight blended with diffraction, a weighted knife-edge /
smooth-earth diffraction line and forward troposcatter — from the path geometry (terminal
horizons, effective heights, terrain irregularity Δh). Variability in time, location and
situation (climate tables of TN101) is then added at the requested quantiles::

    loss = A_fs(d, f) + A_ref - V_med - Y_R - Y_S        (soft floor when below free space)

In point-to-point mode the geometry is extracted from a terrain profile; in area mode it is
estimated from Δh and the siting criteria. References: Hufford, Longley & Kissick (1982),
NTIA Report 82-100; Longley & Rice (1968), ESSA Tech. Rep. ERL 79-ITS 67; Rice et al. (1967),
NBS TN 101; G. A. Hufford, "The ITS Irregular Terrain Model, version 1.2.2: the Algorithm".

Inputs outside the hard limits raise :class:`ITMError` carrying the reference's return code;
inputs near the limits set the reference's warning bits (``WARN_*`` constants) in
``result.warnings``. The numerical core is in :mod:`lomsong.propagation._itm_core` (numba; other
numba code may call ``_itm_core._p2p_core`` per profile).

Examples
--------
>>> from lomsong.propagation import itm
>>> r = itm.area_tls(d_km=10, h_tx_m=15, h_rx_m=3, tx_site_criteria=0, rx_site_criteria=0,
...                  delta_h_m=20, climate=5, n0=301, f_mhz=3500, pol=1, epsilon=15,
...                  sigma=0.005, mdvar=1, time=50, location=50, situation=50)
>>> round(r.loss_db, 1), r.mode
(134.5, 1)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lomsong.errors import InputError, LomsongError
from lomsong.propagation import _itm_core as _core

logger = logging.getLogger(__name__)

__all__ = [
    "ITMError",
    "ITMResult",
    "IntermediateValues",
    "BatchResult",
    "p2p_tls",
    "p2p_cr",
    "area_tls",
    "area_cr",
    "p2p_tls_batch",
    "p2p_cr_batch",
    "area_tls_batch",
    "area_cr_batch",
    "warning_names",
    "ERROR_CODES",
    "WARNING_FLAGS",
]

# --- enumerations (values of the reference's Enums.h) ----------------------------------------
POL_HORIZONTAL = 0
POL_VERTICAL = 1

CLIMATE_EQUATORIAL = 1
CLIMATE_CONTINENTAL_SUBTROPICAL = 2
CLIMATE_MARITIME_SUBTROPICAL = 3
CLIMATE_DESERT = 4
CLIMATE_CONTINENTAL_TEMPERATE = 5
CLIMATE_MARITIME_TEMPERATE_OVER_LAND = 6
CLIMATE_MARITIME_TEMPERATE_OVER_SEA = 7

#: Modes of variability; add 10 to drop location variability, 20 to drop direct situation
#: variability (interference studies), 30 for both.
MDVAR_SINGLE_MESSAGE = 0
MDVAR_ACCIDENTAL = 1
MDVAR_MOBILE = 2
MDVAR_BROADCAST = 3

SITING_RANDOM = 0
SITING_CAREFUL = 1
SITING_VERY_CAREFUL = 2

MODE_NOT_SET = 0
MODE_LINE_OF_SIGHT = 1
MODE_DIFFRACTION = 2
MODE_TROPOSCATTER = 3

# --- return codes (reference's Errors.h) -----------------------------------------------------
SUCCESS = 0
SUCCESS_WITH_WARNINGS = 1

#: Frequencies the reference computes (MHz); outside them it returns ERROR__FREQUENCY (1009).
FREQ_RANGE_MHZ = (20.0, 20_000.0)

#: Error return code → (reference name, meaning).
ERROR_CODES: dict[int, tuple[str, str]] = {
    1000: ("ERROR__TX_TERMINAL_HEIGHT", "TX terminal height is out of range (0.5 m - 3000 m)"),
    1001: ("ERROR__RX_TERMINAL_HEIGHT", "RX terminal height is out of range (0.5 m - 3000 m)"),
    1002: ("ERROR__INVALID_RADIO_CLIMATE", "invalid radio climate (1..7)"),
    1003: ("ERROR__INVALID_TIME", "time percentage is out of range (0 < time < 100)"),
    1004: ("ERROR__INVALID_LOCATION", "location percentage is out of range (0 < location < 100)"),
    1005: (
        "ERROR__INVALID_SITUATION",
        "situation percentage is out of range (0 < situation < 100)",
    ),
    1006: ("ERROR__INVALID_CONFIDENCE", "confidence percentage is out of range (0 < c < 100)"),
    1007: ("ERROR__INVALID_RELIABILITY", "reliability percentage is out of range (0 < r < 100)"),
    1008: ("ERROR__REFRACTIVITY", "surface refractivity N0 is out of range (250 - 400 N-units)"),
    1009: ("ERROR__FREQUENCY", "frequency is out of range (20 MHz - 20000 MHz)"),
    1010: ("ERROR__POLARIZATION", "invalid polarization (0 horizontal, 1 vertical)"),
    1011: ("ERROR__EPSILON", "relative permittivity epsilon is out of range (>= 1)"),
    1012: ("ERROR__SIGMA", "conductivity sigma is out of range (> 0 S/m)"),
    1013: (
        "ERROR__GROUND_IMPEDANCE",
        "the imaginary part of the ground impedance is larger than the real part",
    ),
    1014: ("ERROR__MDVAR", "invalid mode of variability (0..3, +10, +20, +30)"),
    1016: ("ERROR__EFFECTIVE_EARTH", "internally computed effective earth radius is invalid"),
    1017: ("ERROR__PATH_DISTANCE", "path distance is out of range (> 0 km)"),
    1018: ("ERROR__DELTA_H", "terrain irregularity delta_h is out of range (>= 0 m)"),
    1019: ("ERROR__TX_SITING_CRITERIA", "invalid TX siting criteria (0, 1, 2)"),
    1020: ("ERROR__RX_SITING_CRITERIA", "invalid RX siting criteria (0, 1, 2)"),
    1021: (
        "ERROR__SURFACE_REFRACTIVITY_SMALL",
        "surface refractivity at the path's mean height is too small (< 150 N-units)",
    ),
    1022: (
        "ERROR__SURFACE_REFRACTIVITY_LARGE",
        "surface refractivity at the path's mean height is too large (> 400 N-units)",
    ),
}

# --- warning flags (reference's Warnings.h) --------------------------------------------------
WARN_TX_TERMINAL_HEIGHT = 0x0001  # TX height outside 1 m - 1000 m
WARN_RX_TERMINAL_HEIGHT = 0x0002  # RX height outside 1 m - 1000 m
WARN_FREQUENCY = 0x0004  # frequency outside 40 MHz - 10 GHz
WARN_PATH_DISTANCE_TOO_BIG_1 = 0x0008  # d > 1000 km
WARN_PATH_DISTANCE_TOO_BIG_2 = 0x0010  # d > 2000 km
WARN_PATH_DISTANCE_TOO_SMALL_1 = 0x0020  # d < |h_e,tx - h_e,rx| / 0.2
WARN_PATH_DISTANCE_TOO_SMALL_2 = 0x0040  # d < 1 km
WARN_TX_HORIZON_ANGLE = 0x0080  # |theta_hzn,tx| > 0.2 rad
WARN_RX_HORIZON_ANGLE = 0x0100  # |theta_hzn,rx| > 0.2 rad
WARN_TX_HORIZON_DISTANCE_1 = 0x0200  # TX horizon < 0.1 × smooth-earth horizon
WARN_RX_HORIZON_DISTANCE_1 = 0x0400  # RX horizon < 0.1 × smooth-earth horizon
WARN_TX_HORIZON_DISTANCE_2 = 0x0800  # TX horizon > 3 × smooth-earth horizon
WARN_RX_HORIZON_DISTANCE_2 = 0x1000  # RX horizon > 3 × smooth-earth horizon
WARN_EXTREME_VARIABILITIES = 0x2000  # a quantile deviate beyond ±3.10
WARN_SURFACE_REFRACTIVITY = 0x4000  # N_s < 250 N-units

#: Warning bit → name, in bit order.
WARNING_FLAGS: dict[int, str] = {
    WARN_TX_TERMINAL_HEIGHT: "WARN_TX_TERMINAL_HEIGHT",
    WARN_RX_TERMINAL_HEIGHT: "WARN_RX_TERMINAL_HEIGHT",
    WARN_FREQUENCY: "WARN_FREQUENCY",
    WARN_PATH_DISTANCE_TOO_BIG_1: "WARN_PATH_DISTANCE_TOO_BIG_1",
    WARN_PATH_DISTANCE_TOO_BIG_2: "WARN_PATH_DISTANCE_TOO_BIG_2",
    WARN_PATH_DISTANCE_TOO_SMALL_1: "WARN_PATH_DISTANCE_TOO_SMALL_1",
    WARN_PATH_DISTANCE_TOO_SMALL_2: "WARN_PATH_DISTANCE_TOO_SMALL_2",
    WARN_TX_HORIZON_ANGLE: "WARN_TX_HORIZON_ANGLE",
    WARN_RX_HORIZON_ANGLE: "WARN_RX_HORIZON_ANGLE",
    WARN_TX_HORIZON_DISTANCE_1: "WARN_TX_HORIZON_DISTANCE_1",
    WARN_RX_HORIZON_DISTANCE_1: "WARN_RX_HORIZON_DISTANCE_1",
    WARN_TX_HORIZON_DISTANCE_2: "WARN_TX_HORIZON_DISTANCE_2",
    WARN_RX_HORIZON_DISTANCE_2: "WARN_RX_HORIZON_DISTANCE_2",
    WARN_EXTREME_VARIABILITIES: "WARN_EXTREME_VARIABILITIES",
    WARN_SURFACE_REFRACTIVITY: "WARN_SURFACE_REFRACTIVITY",
}


def warning_names(warnings: int) -> tuple[str, ...]:
    """Names of the warning bits set in a warning bit-field, in bit order."""
    return tuple(name for bit, name in WARNING_FLAGS.items() if warnings & bit)


class ITMError(LomsongError, ValueError):
    """ITM refused its inputs; ``code`` is the reference's return code (1000-1022).

    Attributes
    ----------
    code
        The reference's error return code.
    name
        Its name in the reference (``"ERROR__FREQUENCY"``, ...).
    index
        For the batch functions, the position of the first failing path (else ``None``).
    """

    def __init__(self, code: int, *, index: int | None = None, detail: str = "") -> None:
        self.code = int(code)
        self.name, reason = ERROR_CODES.get(self.code, ("UNKNOWN", "unknown ITM error"))
        self.index = index
        where = f"path {index}: " if index is not None else ""
        super().__init__(f"ITM error {self.code} ({self.name}): {where}{reason}{detail}")


@dataclass(frozen=True, slots=True)
class IntermediateValues:
    """The reference's ``IntermediateValues``: path geometry and median terms.

    Pairs are (transmitter, receiver). Angles in radians, distances in metres unless named
    ``_km``, losses in dB, ``N_s`` in N-units.
    """

    theta_hzn: tuple[float, float]
    d_hzn_m: tuple[float, float]
    h_e_m: tuple[float, float]
    N_s: float
    delta_h_m: float
    A_ref_db: float
    A_fs_db: float
    d_km: float
    mode: int


@dataclass(frozen=True, slots=True)
class ITMResult:
    """Result of one ITM call.

    Attributes
    ----------
    loss_db
        Basic transmission loss, dB.
    warnings
        Warning bit-field (``WARN_*`` constants; 0 when none).
    mode
        Propagation mode: 1 line of sight, 2 diffraction, 3 troposcatter.
    intermediate
        Intermediate values of the calculation.
    code
        Return code of the reference: 0 success, 1 success with warnings.
    """

    loss_db: float
    warnings: int
    mode: int
    intermediate: IntermediateValues
    code: int

    @property
    def warning_names(self) -> tuple[str, ...]:
        """Names of the warnings set."""
        return warning_names(self.warnings)


@dataclass(frozen=True, slots=True)
class BatchResult:
    """Results of a batch call, one element per path.

    Attributes
    ----------
    loss_db
        float64 basic transmission loss, dB (NaN where ``code`` ≥ 1000).
    warnings
        int64 warning bit-fields.
    mode
        int8 propagation mode (0 where the path failed).
    code
        int16 reference return codes (0, 1, or an error code ≥ 1000).
    """

    loss_db: NDArray[np.float64]
    warnings: NDArray[np.int64]
    mode: NDArray[np.int8]
    code: NDArray[np.int16]


# --- helpers ---------------------------------------------------------------------------------
def _as_int(value: object, code: int) -> int:
    """An enumeration argument as int; a non-integral number is that argument's ITM error."""
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ITMError(code, detail=f" (got {value!r})") from None
    if not f.is_integer():
        raise ITMError(code, detail=f" (got {value!r})")
    return int(f)


def _profile(pfl: ArrayLike) -> NDArray[np.float64]:
    """Check a PFL array ``[n - 1, spacing, z0 .. zn]`` and return it as contiguous float64."""
    arr = np.ascontiguousarray(pfl, dtype=np.float64)
    if arr.ndim != 1 or arr.size < 4:
        raise InputError("pfl", f"expected a 1-D PFL array of >= 4 values, got shape {arr.shape}")
    reason = _profile_problem(arr[0], arr[1], arr.size, bool(np.isfinite(arr).all()))
    if reason:
        raise InputError("pfl", reason)
    return arr


def _profile_problem(n_intervals: float, spacing: float, size: int, finite: bool) -> str:
    if not (np.isfinite(n_intervals) and n_intervals >= 1 and float(n_intervals).is_integer()):
        return f"pfl[0] (number of points - 1) must be an integer >= 1, got {n_intervals!r}"
    if not (np.isfinite(spacing) and spacing > 0):
        return f"pfl[1] (point spacing, m) must be > 0, got {spacing!r}"
    if size != int(n_intervals) + 3:
        return f"pfl[0] = {int(n_intervals)} announces {int(n_intervals) + 3} values, got {size}"
    if not finite:
        return "terrain elevations must be finite (fill voids before calling ITM)"
    return ""


def _result(r: tuple, *, cr: bool = False) -> ITMResult:
    code = int(r[0])
    if cr:
        code = int(_core._cr_code(code))
    if code >= 1000:
        raise ITMError(code)
    inter = IntermediateValues(
        theta_hzn=(float(r[4]), float(r[5])),
        d_hzn_m=(float(r[6]), float(r[7])),
        h_e_m=(float(r[8]), float(r[9])),
        N_s=float(r[10]),
        delta_h_m=float(r[11]),
        A_ref_db=float(r[12]),
        A_fs_db=float(r[13]),
        d_km=float(r[14]),
        mode=int(r[3]),
    )
    return ITMResult(
        loss_db=float(r[1]), warnings=int(r[2]), mode=int(r[3]), intermediate=inter, code=code
    )


# --- scalar API ------------------------------------------------------------------------------
def p2p_tls(
    pfl: ArrayLike,
    *,
    h_tx_m: float,
    h_rx_m: float,
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
) -> ITMResult:
    """ITM point-to-point mode with time / location / situation variability.

    Parameters
    ----------
    pfl
        Terrain profile from transmitter to receiver in PFL format:
        ``[number of points - 1, spacing (m), z_0, ..., z_n]``, elevations in metres above sea
        level at equal spacing.
    h_tx_m, h_rx_m
        Antenna heights above ground, m. Valid 1-1000 m (warning outside, error outside
        0.5-3000 m).
    climate
        Radio climate 1..7 (equatorial, continental subtropical, maritime subtropical, desert,
        continental temperate, maritime temperate over land, maritime temperate over sea).
    n0
        Surface refractivity at sea level, N-units (250-400); reduced internally with the
        path's mean elevation.
    f_mhz
        Frequency, MHz (valid 40-10 000; error outside 20-20 000).
    pol
        Polarization: 0 horizontal, 1 vertical.
    epsilon, sigma
        Relative permittivity (>= 1) and conductivity (S/m, > 0) of the ground.
    mdvar
        Mode of variability: 0 single message, 1 accidental, 2 mobile, 3 broadcast; +10 removes
        location variability, +20 removes direct situation variability.
    time, location, situation
        Quantiles in percent, strictly between 0 and 100.

    Returns
    -------
    ITMResult
        Basic transmission loss (dB), warning bits, propagation mode, intermediate values.

    Raises
    ------
    ITMError
        With the reference's return code when an input is out of range.
    lomsong.errors.InputError
        When ``pfl`` is not a well-formed PFL array.

    Notes
    -----
    Costs about one pass over the profile (a few microseconds for 1000 points once compiled);
    the first call in a fresh environment compiles the numba core (cached on disk afterwards).
    """
    arr = _profile(pfl)
    r = _core._p2p_core(
        arr,
        float(h_tx_m),
        float(h_rx_m),
        _as_int(climate, 1002),
        float(n0),
        float(f_mhz),
        _as_int(pol, 1010),
        float(epsilon),
        float(sigma),
        _as_int(mdvar, 1014),
        float(time),
        float(location),
        float(situation),
    )
    return _result(r)


def p2p_cr(
    pfl: ArrayLike,
    *,
    h_tx_m: float,
    h_rx_m: float,
    climate: int,
    n0: float,
    f_mhz: float,
    pol: int,
    epsilon: float,
    sigma: float,
    mdvar: int,
    confidence: float,
    reliability: float,
) -> ITMResult:
    """ITM point-to-point mode with confidence / reliability variability.

    Same model and parameters as :func:`p2p_tls`; as in the reference this is the TLS call
    with ``time = reliability``, ``location = 50`` and ``situation = confidence`` (percent,
    strictly between 0 and 100), and out-of-range values raise codes 1007 / 1006.
    """
    arr = _profile(pfl)
    r = _core._p2p_core(
        arr,
        float(h_tx_m),
        float(h_rx_m),
        _as_int(climate, 1002),
        float(n0),
        float(f_mhz),
        _as_int(pol, 1010),
        float(epsilon),
        float(sigma),
        _as_int(mdvar, 1014),
        float(reliability),
        50.0,
        float(confidence),
    )
    return _result(r, cr=True)


def area_tls(
    *,
    d_km: float,
    h_tx_m: float,
    h_rx_m: float,
    tx_site_criteria: int,
    rx_site_criteria: int,
    delta_h_m: float,
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
) -> ITMResult:
    """ITM area mode with time / location / situation variability.

    Parameters
    ----------
    d_km
        Path distance, km (> 0; valid 1-2000).
    h_tx_m, h_rx_m
        Antenna heights above ground, m.
    tx_site_criteria, rx_site_criteria
        0 random, 1 careful, 2 very careful siting (raises the effective height on hills).
    delta_h_m
        Terrain irregularity parameter Δh, m (>= 0; ~0 water, 30 rolling plains, 90 hills,
        200 mountains).
    climate, n0, f_mhz, pol, epsilon, sigma, mdvar, time, location, situation
        As in :func:`p2p_tls` (``n0`` is used unchanged as the surface refractivity).

    Returns
    -------
    ITMResult
    """
    r = _core._area_core(
        float(d_km),
        float(h_tx_m),
        float(h_rx_m),
        _as_int(tx_site_criteria, 1019),
        _as_int(rx_site_criteria, 1020),
        float(delta_h_m),
        _as_int(climate, 1002),
        float(n0),
        float(f_mhz),
        _as_int(pol, 1010),
        float(epsilon),
        float(sigma),
        _as_int(mdvar, 1014),
        float(time),
        float(location),
        float(situation),
    )
    return _result(r)


def area_cr(
    *,
    d_km: float,
    h_tx_m: float,
    h_rx_m: float,
    tx_site_criteria: int,
    rx_site_criteria: int,
    delta_h_m: float,
    climate: int,
    n0: float,
    f_mhz: float,
    pol: int,
    epsilon: float,
    sigma: float,
    mdvar: int,
    confidence: float,
    reliability: float,
) -> ITMResult:
    """ITM area mode with confidence / reliability variability (see :func:`area_tls`)."""
    r = _core._area_core(
        float(d_km),
        float(h_tx_m),
        float(h_rx_m),
        _as_int(tx_site_criteria, 1019),
        _as_int(rx_site_criteria, 1020),
        float(delta_h_m),
        _as_int(climate, 1002),
        float(n0),
        float(f_mhz),
        _as_int(pol, 1010),
        float(epsilon),
        float(sigma),
        _as_int(mdvar, 1014),
        float(reliability),
        50.0,
        float(confidence),
    )
    return _result(r, cr=True)


# --- batch API -------------------------------------------------------------------------------
Errors = Literal["raise", "nan"]


def _floats(value: ArrayLike, n: int, name: str) -> NDArray[np.float64]:
    arr = np.asarray(value, dtype=np.float64)
    try:
        return np.ascontiguousarray(np.broadcast_to(arr, (n,)))
    except ValueError:
        raise InputError(f"<{name}>", f"shape {arr.shape} does not broadcast to ({n},)") from None


def _ints(value: ArrayLike, n: int, name: str, code: int) -> NDArray[np.int64]:
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu":
        f = arr.astype(np.float64)
        bad = ~(np.isfinite(f) & (f == np.round(f)))
        if bad.any():
            first = int(np.flatnonzero(np.broadcast_to(bad, (n,)))[0])
            raise ITMError(code, index=first, detail=f" ({name} must be integral)")
        arr = f
    return _floats(arr, n, name).astype(np.int64)


def _flatten_profiles(
    pfls: ArrayLike | Sequence[ArrayLike],
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Profiles → (flat buffer, start offsets). Rows of a 2-D array may be padded at the end."""
    if isinstance(pfls, np.ndarray) and pfls.ndim != 2:
        raise InputError(
            "pfls", f"expected a 2-D array or a list of PFL arrays, got shape {pfls.shape}"
        )
    if isinstance(pfls, np.ndarray):
        flat2 = np.ascontiguousarray(pfls, dtype=np.float64)
        n, width = flat2.shape
        offsets = np.arange(n, dtype=np.int64) * width
        lengths = np.full(n, width, dtype=np.int64)
        flat = flat2.reshape(-1)
    else:
        rows = [np.asarray(p, dtype=np.float64).ravel() for p in pfls]  # type: ignore[union-attr]
        lengths = np.array([r.size for r in rows], dtype=np.int64)
        offsets = np.zeros(len(rows), dtype=np.int64)
        if len(rows) > 1:
            offsets[1:] = np.cumsum(lengths)[:-1]
        flat = np.concatenate(rows) if rows else np.zeros(0)
    bad, reason = _core._check_profiles(flat, offsets, lengths)
    if bad >= 0:
        o, ln = int(offsets[bad]), int(lengths[bad])
        row = flat[o : o + ln]
        detail = _profile_problem(
            row[0] if ln else np.nan,
            row[1] if ln > 1 else np.nan,
            ln,
            False,
        )
        if reason == 3:  # announced more points than the row holds
            detail = f"pfl[0] = {int(row[0])} announces {int(row[0]) + 3} values, row has {ln}"
        elif reason == 4:
            detail = "terrain elevations must be finite (fill voids before calling ITM)"
        raise InputError("pfls", detail, row=bad)
    return flat, offsets


def _finish(out: BatchResult, errors: Errors) -> BatchResult:
    failed = out.code >= 1000
    if errors == "raise" and failed.any():
        first = int(np.flatnonzero(failed)[0])
        more = int(failed.sum()) - 1
        raise ITMError(
            int(out.code[first]),
            index=first,
            detail=f" (and {more} more failing paths)" if more else "",
        )
    return out


def _alloc(n: int) -> BatchResult:
    return BatchResult(
        loss_db=np.empty(n, dtype=np.float64),
        warnings=np.empty(n, dtype=np.int64),
        mode=np.empty(n, dtype=np.int8),
        code=np.empty(n, dtype=np.int16),
    )


def _p2p_batch(
    pfls: ArrayLike | Sequence[ArrayLike],
    cr: bool,
    errors: Errors,
    h_tx_m: ArrayLike,
    h_rx_m: ArrayLike,
    climate: ArrayLike,
    n0: ArrayLike,
    f_mhz: ArrayLike,
    pol: ArrayLike,
    epsilon: ArrayLike,
    sigma: ArrayLike,
    mdvar: ArrayLike,
    time: ArrayLike,
    location: ArrayLike,
    situation: ArrayLike,
) -> BatchResult:
    if errors not in ("raise", "nan"):
        raise ValueError(f"errors must be 'raise' or 'nan', got {errors!r}")
    flat, offsets = _flatten_profiles(pfls)
    n = offsets.size
    out = _alloc(n)
    _core._p2p_batch(
        flat,
        offsets,
        _floats(h_tx_m, n, "h_tx_m"),
        _floats(h_rx_m, n, "h_rx_m"),
        _ints(climate, n, "climate", 1002),
        _floats(n0, n, "n0"),
        _floats(f_mhz, n, "f_mhz"),
        _ints(pol, n, "pol", 1010),
        _floats(epsilon, n, "epsilon"),
        _floats(sigma, n, "sigma"),
        _ints(mdvar, n, "mdvar", 1014),
        _floats(time, n, "time"),
        _floats(location, n, "location"),
        _floats(situation, n, "situation"),
        cr,
        out.loss_db,
        out.warnings,
        out.mode,
        out.code,
    )
    return _finish(out, errors)


def p2p_tls_batch(
    pfls: ArrayLike | Sequence[ArrayLike],
    *,
    h_tx_m: ArrayLike,
    h_rx_m: ArrayLike,
    climate: ArrayLike,
    n0: ArrayLike,
    f_mhz: ArrayLike,
    pol: ArrayLike,
    epsilon: ArrayLike,
    sigma: ArrayLike,
    mdvar: ArrayLike,
    time: ArrayLike,
    location: ArrayLike,
    situation: ArrayLike,
    errors: Errors = "raise",
) -> BatchResult:
    """:func:`p2p_tls` over many profiles, in parallel compiled code.

    Parameters
    ----------
    pfls
        A 2-D array with one PFL profile per row (rows may be longer than ``pfl[0] + 3``;
        the padding is ignored), or a sequence of 1-D PFL arrays of any lengths.
    h_tx_m, ..., situation
        Scalars or arrays broadcastable to the number of profiles (see :func:`p2p_tls`).
    errors
        ``"raise"`` raises :class:`ITMError` for the first path the reference would refuse
        (``index`` names it); ``"nan"`` returns NaN loss and the error code for those paths.

    Returns
    -------
    BatchResult
        Arrays ``loss_db``, ``warnings``, ``mode``, ``code``.

    Notes
    -----
    Identical results to calling :func:`p2p_tls` path by path. Runs on all numba threads;
    memory is the flattened profiles plus four output arrays.
    """
    return _p2p_batch(
        pfls, False, errors, h_tx_m, h_rx_m, climate, n0, f_mhz, pol, epsilon, sigma, mdvar,
        time, location, situation,
    )  # fmt: skip


def p2p_cr_batch(
    pfls: ArrayLike | Sequence[ArrayLike],
    *,
    h_tx_m: ArrayLike,
    h_rx_m: ArrayLike,
    climate: ArrayLike,
    n0: ArrayLike,
    f_mhz: ArrayLike,
    pol: ArrayLike,
    epsilon: ArrayLike,
    sigma: ArrayLike,
    mdvar: ArrayLike,
    confidence: ArrayLike,
    reliability: ArrayLike,
    errors: Errors = "raise",
) -> BatchResult:
    """:func:`p2p_cr` over many profiles (see :func:`p2p_tls_batch`)."""
    return _p2p_batch(
        pfls, True, errors, h_tx_m, h_rx_m, climate, n0, f_mhz, pol, epsilon, sigma, mdvar,
        reliability, 50.0, confidence,
    )  # fmt: skip


def _area_batch(
    cr: bool,
    errors: Errors,
    d_km: ArrayLike,
    h_tx_m: ArrayLike,
    h_rx_m: ArrayLike,
    tx_site_criteria: ArrayLike,
    rx_site_criteria: ArrayLike,
    delta_h_m: ArrayLike,
    climate: ArrayLike,
    n0: ArrayLike,
    f_mhz: ArrayLike,
    pol: ArrayLike,
    epsilon: ArrayLike,
    sigma: ArrayLike,
    mdvar: ArrayLike,
    time: ArrayLike,
    location: ArrayLike,
    situation: ArrayLike,
) -> BatchResult:
    if errors not in ("raise", "nan"):
        raise ValueError(f"errors must be 'raise' or 'nan', got {errors!r}")
    args = (
        d_km, h_tx_m, h_rx_m, tx_site_criteria, rx_site_criteria, delta_h_m, climate, n0, f_mhz,
        pol, epsilon, sigma, mdvar, time, location, situation,
    )  # fmt: skip
    if any(np.ndim(a) > 1 for a in args):
        raise InputError("<area batch>", "arguments must be scalars or 1-D arrays")
    try:
        n = int(np.broadcast(*args).size)
    except ValueError:
        raise InputError("<area batch>", "the arguments do not broadcast together") from None
    out = _alloc(n)
    _core._area_batch(
        _floats(d_km, n, "d_km"),
        _floats(h_tx_m, n, "h_tx_m"),
        _floats(h_rx_m, n, "h_rx_m"),
        _ints(tx_site_criteria, n, "tx_site_criteria", 1019),
        _ints(rx_site_criteria, n, "rx_site_criteria", 1020),
        _floats(delta_h_m, n, "delta_h_m"),
        _ints(climate, n, "climate", 1002),
        _floats(n0, n, "n0"),
        _floats(f_mhz, n, "f_mhz"),
        _ints(pol, n, "pol", 1010),
        _floats(epsilon, n, "epsilon"),
        _floats(sigma, n, "sigma"),
        _ints(mdvar, n, "mdvar", 1014),
        _floats(time, n, "time"),
        _floats(location, n, "location"),
        _floats(situation, n, "situation"),
        cr,
        out.loss_db,
        out.warnings,
        out.mode,
        out.code,
    )
    return _finish(out, errors)


def area_tls_batch(
    *,
    d_km: ArrayLike,
    h_tx_m: ArrayLike,
    h_rx_m: ArrayLike,
    tx_site_criteria: ArrayLike,
    rx_site_criteria: ArrayLike,
    delta_h_m: ArrayLike,
    climate: ArrayLike,
    n0: ArrayLike,
    f_mhz: ArrayLike,
    pol: ArrayLike,
    epsilon: ArrayLike,
    sigma: ArrayLike,
    mdvar: ArrayLike,
    time: ArrayLike,
    location: ArrayLike,
    situation: ArrayLike,
    errors: Errors = "raise",
) -> BatchResult:
    """:func:`area_tls` over arrays (scalars or 1-D arrays broadcast together)."""
    return _area_batch(
        False, errors, d_km, h_tx_m, h_rx_m, tx_site_criteria, rx_site_criteria, delta_h_m,
        climate, n0, f_mhz, pol, epsilon, sigma, mdvar, time, location, situation,
    )  # fmt: skip


def area_cr_batch(
    *,
    d_km: ArrayLike,
    h_tx_m: ArrayLike,
    h_rx_m: ArrayLike,
    tx_site_criteria: ArrayLike,
    rx_site_criteria: ArrayLike,
    delta_h_m: ArrayLike,
    climate: ArrayLike,
    n0: ArrayLike,
    f_mhz: ArrayLike,
    pol: ArrayLike,
    epsilon: ArrayLike,
    sigma: ArrayLike,
    mdvar: ArrayLike,
    confidence: ArrayLike,
    reliability: ArrayLike,
    errors: Errors = "raise",
) -> BatchResult:
    """:func:`area_cr` over arrays (scalars or 1-D arrays broadcast together)."""
    return _area_batch(
        True, errors, d_km, h_tx_m, h_rx_m, tx_site_criteria, rx_site_criteria, delta_h_m,
        climate, n0, f_mhz, pol, epsilon, sigma, mdvar, reliability, 50.0, confidence,
    )  # fmt: skip
