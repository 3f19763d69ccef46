"""Indoor and clutter losses: ITU-R P.2109 building entry loss, ITU-R P.2108 terminal clutter loss.

Both are losses in dB (positive numbers) to add to a path's basic transmission loss, i.e. to
subtract from the received power predicted at an open terminal. Functions take numpy arrays or
scalars for the numeric inputs, broadcast them and return float64 (a numpy scalar when every
input is a scalar); the building class and the clutter type are one string per call.

Building entry loss (ITU-R P.2109-2, Annex 1 §3)
------------------------------------------------
The loss from the field outside a building to a user inside is the power sum of two log-normal
terms and a constant::

    L_BEL(P) = 10·log10(10^(0.1·A(P)) + 10^(0.1·B(P)) + 10^(0.1·C))      (1)
    A(P) = F⁻¹(P)·σ1 + μ1                                                (2)
    B(P) = F⁻¹(P)·σ2 + μ2                                                (3)
    C = −3.0                                                             (4)
    μ1 = L_h + L_e                                                       (5)
    μ2 = w + x·log10(f)                                                  (6)
    σ1 = u + v·log10(f)                                                  (7)
    σ2 = y + z·log10(f)                                                  (8)
    L_h = r + s·log10(f) + t·(log10 f)²                                  (9)
    L_e = 0.212·|θ|                                                      (10)

with f in GHz, θ the elevation of the path at the façade (degrees), F⁻¹ the inverse standard
normal cumulative distribution, P the probability that the loss is *not exceeded* (0 < P < 1),
and the Table 1 coefficients of :data:`BEL_COEFFICIENTS` for "traditional" and "thermally
efficient" (metallised glass, foil-backed insulation) buildings. The equations and Table 1 are
those of P.2109-1 (08/2019), unchanged in P.2109-2 (08/2023); the numbers in brackets follow
P.2109-1. Valid 80 MHz-100 GHz. At horizontal incidence the median (P = 0.5) is 14.31 dB for
a traditional building at 1 GHz and 14.84 dB at 1.8 GHz (31.01 and 30.55 dB thermally
efficient).

Terminal clutter loss (ITU-R P.2108-1, Annex 1 §3.1, height-gain terminal correction model)
-------------------------------------------------------------------------------------------
The median loss of a terminal at height h below the representative clutter height R of its
surroundings (f in GHz)::

    A_h = J(ν) − 6.03                 suburban, urban, trees/forest, dense urban    (2a)
    A_h = −K_h2·log10(h/R)            water/sea, open/rural                          (2b)
    ν = K_nu·sqrt(h_dif·θ_clut)                                                      (2c)
    h_dif = R − h                                                                    (2d)
    θ_clut = arctan(h_dif/w_s)  (degrees)                                            (2e)
    K_h2 = 21.8 + 6.2·log10(f)                                                       (2f)
    K_nu = 0.342·sqrt(f)                                                             (2g)

with J(ν) = 6.9 + 20·log10(sqrt((ν − 0.1)² + 1) + ν − 0.1) the knife-edge loss of ITU-R P.526
(0 for ν ≤ −0.78), w_s the street width (27 m unless known) and A_h = 0 when h ≥ R. Where site
data are lacking, R takes the Table 3 value of the clutter type (:data:`CLUTTER_HEIGHT_M`):
10 m for water/sea, open/rural and suburban, 15 m for urban and trees/forest, 20 m for dense
urban. Note that with those heights a handset at 1.5 m is *below* R in every type, so even
water/sea and open/rural give a loss (eq. (2b): 17.73 dB at 900 MHz) — the model describes a
terminal among obstacles of height R, and is meant for places that have them. Valid
30 MHz-3 GHz; outside, the formulas are extrapolated (smooth in f) with one
:class:`~lomsong.errors.ModelValidityWarning` per call when ``validate`` is true.

Land cover
----------
:data:`WORLDCOVER_CLUTTER` maps the classes of the ESA WorldCover 10 m map (v100/v200) to the
P.2108 clutter types (defined in :mod:`lomsong.defaults`, the default classification of
``[inputs] landcover``; :mod:`lomsong.coverage.clutter` turns a land-cover grid into losses).

References
----------
- ITU-R P.2109-2 (08/2023), *Prediction of building entry loss*, Annex 1 §3, Table 1
  (same model as P.2109-1 (08/2019)).
- ITU-R P.2108-1 (09/2021), *Prediction of clutter loss*, Annex 1 §3.1, Table 3.
- ITU-R P.526-15 (10/2019), *Propagation by diffraction*, §4.1 eq. (31) (J(ν)).
- Reference values: ITU-R Study Group 3 "Clutter and BEL workbook" (as reproduced in
  I. Stevanovic's P.2109 validation, github.com/eeveetza/p2109) and NTIA/ITS's P.2108 reference
  implementation test data (github.com/NTIA/p2108, HeightGainTerminalCorrectionModelTestData).
- ESA WorldCover 10 m 2020 v100 / 2021 v200, Product User Manual, Table 1 (class codes).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.special import ndtri

from lomsong.defaults import WORLDCOVER_CLUTTER
from lomsong.errors import ModelValidityWarning
from lomsong.propagation._arrays import check_positive, scalar_or_array
from lomsong.propagation.paths import knife_edge_db

__all__ = [
    "BEL_COEFFICIENTS",
    "BEL_C_DB",
    "P2109_FREQUENCY_RANGE_MHZ",
    "CLUTTER_HEIGHT_M",
    "STREET_WIDTH_M",
    "P2108_FREQUENCY_RANGE_MHZ",
    "WORLDCOVER_CLUTTER",
    "building_entry_loss_db",
    "terminal_clutter_loss_db",
]

ArrayLike = npt.ArrayLike
Building = Literal["traditional", "thermally_efficient"]

#: ITU-R P.2109-2 Table 1: coefficients r, s, t, u, v, w, x, y, z per building class.
BEL_COEFFICIENTS: dict[str, dict[str, float]] = {
    "traditional": {"r": 12.64, "s": 3.72, "t": 0.96, "u": 9.6, "v": 2.0, "w": 9.1, "x": -3.0,
                    "y": 4.5, "z": -2.0},
    "thermally_efficient": {"r": 28.19, "s": -3.00, "t": 8.48, "u": 13.5, "v": 3.8, "w": 27.8,
                            "x": -2.9, "y": 9.4, "z": -2.1},
}  # fmt: skip

#: The constant term C of P.2109 eq. (4), dB.
BEL_C_DB = -3.0

#: Elevation-angle term of P.2109 eq. (10), dB per degree.
_BEL_ELEVATION_DB_PER_DEG = 0.212

#: Frequency range of ITU-R P.2109 (MHz, inclusive).
P2109_FREQUENCY_RANGE_MHZ: tuple[float, float] = (80.0, 100_000.0)

#: ITU-R P.2108-1 Table 3: representative clutter height R (m) per clutter type, for use when
#: local information is not available.
CLUTTER_HEIGHT_M: dict[str, float] = {
    "water_sea": 10.0,
    "open_rural": 10.0,
    "suburban": 10.0,
    "urban": 15.0,
    "trees_forest": 15.0,
    "dense_urban": 20.0,
}

#: Clutter types of P.2108 §3.1 that use eq. (2b) (the others use the diffraction form (2a)).
_HEIGHT_GAIN_TYPES = frozenset({"water_sea", "open_rural"})

#: The street width w_s (m) ITU-R P.2108 §3.1 uses when it is not known locally.
STREET_WIDTH_M = 27.0

#: Frequency range of the P.2108 §3.1 height-gain model (MHz, inclusive).
P2108_FREQUENCY_RANGE_MHZ: tuple[float, float] = (30.0, 3000.0)


def _warn_frequency(model: str, f_mhz: np.ndarray, bounds: tuple[float, float]) -> None:
    lo, hi = bounds
    if np.any((f_mhz < lo) | (f_mhz > hi)):
        warnings.warn(
            f"{model} used outside {lo:g}-{hi:g} MHz (got {np.nanmin(f_mhz):.4g}-"
            f"{np.nanmax(f_mhz):.4g} MHz); the formula is extrapolated",
            ModelValidityWarning,
            stacklevel=3,
        )


def _choice(name: str, value: str, allowed: Mapping[str, object]) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; expected one of {', '.join(allowed)}")


def building_entry_loss_db(
    f_mhz: ArrayLike,
    p: ArrayLike,
    *,
    building: Building = "traditional",
    elevation_deg: ArrayLike = 0.0,
    validate: bool = True,
) -> np.ndarray | np.float64:
    """Building entry loss (dB) not exceeded with probability ``p`` (ITU-R P.2109-2 §3).

    Parameters
    ----------
    f_mhz
        Frequency (MHz); the model is published for 80 MHz-100 GHz.
    p
        Probability that the loss is not exceeded, 0 < p < 1 (0.5 = the median).
    building
        ``"traditional"`` or ``"thermally_efficient"`` (Table 1 of the recommendation).
    elevation_deg
        Elevation angle of the path at the façade, degrees above (or below) the horizontal,
        −90 to 90; 0 for a terrestrial cell seen from the ground.
    validate
        Warn (:class:`~lomsong.errors.ModelValidityWarning`, once per call) for a frequency
        outside 80 MHz-100 GHz; the formula is then extrapolated.

    Returns
    -------
    float or ndarray
        L_BEL(p) in dB, eq. (1) of the module docstring; increasing in ``p``.
    """
    _choice("building", building, BEL_COEFFICIENTS)
    f = np.asarray(f_mhz, dtype=np.float64)
    prob = np.asarray(p, dtype=np.float64)
    theta = np.asarray(elevation_deg, dtype=np.float64)
    check_positive("f_mhz", f)
    if np.any((prob <= 0.0) | (prob >= 1.0)):
        raise ValueError(f"p must be strictly between 0 and 1; got {prob.ravel()[0]!r}")
    if np.any(np.abs(theta) > 90.0):
        raise ValueError(f"elevation_deg must be within ±90°; got {np.nanmax(np.abs(theta))!r}")
    if validate:
        _warn_frequency("ITU-R P.2109", f, P2109_FREQUENCY_RANGE_MHZ)
    c = BEL_COEFFICIENTS[building]
    lf = np.log10(f / 1000.0)  # the recommendation's f is in GHz
    l_h = c["r"] + c["s"] * lf + c["t"] * lf**2  # (9)
    l_e = _BEL_ELEVATION_DB_PER_DEG * np.abs(theta)  # (10)
    mu1 = l_h + l_e  # (5)
    mu2 = c["w"] + c["x"] * lf  # (6)
    sigma1 = c["u"] + c["v"] * lf  # (7)
    sigma2 = c["y"] + c["z"] * lf  # (8)
    f_inv = ndtri(prob)  # F⁻¹(P)
    a = f_inv * sigma1 + mu1  # (2)
    b = f_inv * sigma2 + mu2  # (3)
    loss = 10.0 * np.log10(10.0 ** (0.1 * a) + 10.0 ** (0.1 * b) + 10.0 ** (0.1 * BEL_C_DB))  # (1)
    return scalar_or_array(np.asarray(loss, dtype=np.float64))


def terminal_clutter_loss_db(
    f_mhz: ArrayLike,
    h_m: ArrayLike,
    clutter: str,
    *,
    width_m: float = STREET_WIDTH_M,
    representative_height_m: float | None = None,
    validate: bool = True,
) -> np.ndarray | np.float64:
    """Median loss (dB) of a terminal within clutter (ITU-R P.2108-1 §3.1, height-gain model).

    Parameters
    ----------
    f_mhz
        Frequency (MHz); the model is published for 30 MHz-3 GHz.
    h_m
        Terminal antenna height above ground (m), > 0.
    clutter
        Clutter type of P.2108 Table 3: ``"water_sea"``, ``"open_rural"``, ``"suburban"``,
        ``"urban"``, ``"trees_forest"`` or ``"dense_urban"``.
    width_m
        Street width w_s (m), > 0; the recommendation's 27 m unless known.
    representative_height_m
        Representative clutter height R (m), > 0, when known locally; None uses the Table 3
        value of ``clutter`` (:data:`CLUTTER_HEIGHT_M`).
    validate
        Warn (:class:`~lomsong.errors.ModelValidityWarning`, once per call) for a frequency
        outside 30 MHz-3 GHz; the formula is then extrapolated.

    Returns
    -------
    float or ndarray
        A_h in dB: eq. (2a) or (2b) of the module docstring for h < R, 0 for h ≥ R. Grows with
        frequency and with R − h.
    """
    _choice("clutter type", clutter, CLUTTER_HEIGHT_M)
    f = np.asarray(f_mhz, dtype=np.float64)
    h = np.asarray(h_m, dtype=np.float64)
    r = float(CLUTTER_HEIGHT_M[clutter] if representative_height_m is None
              else representative_height_m)  # fmt: skip
    check_positive("f_mhz", f)
    check_positive("h_m", h)
    check_positive("width_m", np.asarray(width_m, dtype=np.float64))
    check_positive("representative_height_m", np.asarray(r))
    if validate:
        _warn_frequency("ITU-R P.2108 §3.1", f, P2108_FREQUENCY_RANGE_MHZ)
    f_ghz = f / 1000.0
    h_below = np.minimum(h, r)  # h ≥ R gives 0 below; this keeps the formulas finite there
    if clutter in _HEIGHT_GAIN_TYPES:
        k_h2 = 21.8 + 6.2 * np.log10(f_ghz)  # (2f)
        loss = -k_h2 * np.log10(h_below / r)  # (2b)
    else:
        h_dif = r - h_below  # (2d)
        theta_clut = np.degrees(np.arctan(h_dif / float(width_m)))  # (2e)
        k_nu = 0.342 * np.sqrt(f_ghz)  # (2g)
        nu = k_nu * np.sqrt(h_dif * theta_clut)  # (2c)
        loss = knife_edge_db(nu) - 6.03  # (2a): J(ν) of ITU-R P.526 (lomsong.propagation.paths)
    loss = np.where(h < r, loss, 0.0)
    return scalar_or_array(np.asarray(loss, dtype=np.float64))
