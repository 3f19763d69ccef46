"""Location probability: log-normal location variability, fade margins and coverage probability.

A prediction gives the *median* received power of a place (50 % of locations). Within a small
area the power at individual locations is log-normally distributed around that median: normal in
dB with a standard deviation σ_L (the *location variability*). Coverage "at a location
probability p" (the way operators and regulators state it, e.g. 90 % or 95 % of locations) means
the median must exceed the threshold by the fade margin σ_L·Φ⁻¹(p).

Functions take numpy arrays or scalars, broadcast them and return float64 (a numpy scalar when
every input is a scalar).

Notation
--------
Φ is the standard normal cumulative distribution, Q(x) = 1 − Φ(x) its upper tail and
Q⁻¹ = Qi of ITU-R P.1546 its inverse: Q⁻¹(p) = Φ⁻¹(1 − p) = −Φ⁻¹(p).

Location variability σ_L (ITU-R P.1546-5, Annex 5 §12)
------------------------------------------------------
For analogue systems and digital systems narrower than 1 MHz::

    σ_L = K + 1.3·log10(f)   dB,  f in MHz,

with K = 1.2 for receivers with antennas below clutter height in urban or suburban environments
(mobile systems with omnidirectional antennas at car-roof height), K = 1.0 for receivers with
rooftop antennas near the clutter height and K = 0.5 for receivers in rural areas. For digital
systems with a bandwidth of 1 MHz or more, σ_L = 5.5 dB at all frequencies.

lomsong's environments map to those cases as follows (a handset at 1.5 m is below the clutter
wherever there is clutter; the rooftop case K = 1.0 is not used):

============  ==================================================  ====
environment   P.1546 case                                         K
============  ==================================================  ====
urban_large   antennas below clutter height, urban                1.2
urban         antennas below clutter height, urban                1.2
suburban      antennas below clutter height, suburban             1.2
open          receivers in rural areas                            0.5
============  ==================================================  ====

Edition note: this is the σ_L of P.1546-5 (09/2013) and earlier editions. P.1546-6 (08/2019)
replaced §12 by the P.1812 form σ_L = (0.024·f_GHz + 0.52)·w_a^0.28 (w_a the width in metres of
the square the variability applies to), with fixed values when no terrain data are used (the
SG3 reference implementation uses 8, 10 and 12 dB for urban, suburban and rural). The P.1546-5
form is kept here because it describes the variability *around a median predicted without
terminal-clutter detail* for a mobile at street level, which is what lomsong's raster gives.

P.1546-5 covers 30-3000 MHz: outside it the formula is evaluated at the nearest end of the
range (σ_L changes by less than 0.1 dB between 3000 and 3500 MHz), with one
:class:`~lomsong.errors.ModelValidityWarning` per call when ``validate`` is true.

References
----------
- ITU-R P.1546-5 (09/2013), *Method for point-to-area predictions for terrestrial services in
  the frequency range 30 MHz to 3 000 MHz*, Annex 5 §12 (location variability) and §13 (Qi).
- ITU-R P.1546-6 (08/2019), Annex 5 §12 (the later form, not implemented here).
"""

from __future__ import annotations

import warnings

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr, ndtri

from lomsong.errors import ModelValidityWarning
from lomsong.propagation._arrays import scalar_or_array

__all__ = [
    "LOCATION_K",
    "P1546_FREQUENCY_RANGE_MHZ",
    "WIDEBAND_MHZ",
    "WIDEBAND_SIGMA_DB",
    "inverse_q",
    "fade_margin_db",
    "location_sigma_db",
    "coverage_probability",
]

ArrayLike = npt.ArrayLike

#: K of σ_L = K + 1.3·log10(f) (P.1546-5 Annex 5 §12) per lomsong environment; see the module
#: docstring for the mapping.
LOCATION_K: dict[str, float] = {"urban_large": 1.2, "urban": 1.2, "suburban": 1.2, "open": 0.5}

#: Frequency range of ITU-R P.1546-5 (MHz, inclusive); σ_L is evaluated at the nearest end outside.
P1546_FREQUENCY_RANGE_MHZ: tuple[float, float] = (30.0, 3000.0)

#: Bandwidth (MHz) from which P.1546-5 §12 gives a digital system the fixed σ_L below.
WIDEBAND_MHZ = 1.0
#: σ_L (dB) of digital systems of WIDEBAND_MHZ or wider, at all frequencies (P.1546-5 §12).
WIDEBAND_SIGMA_DB = 5.5


def _check_probability(name: str, p: np.ndarray) -> None:
    bad = (p <= 0.0) | (p >= 1.0)  # NaN is neither: it propagates
    if np.any(bad):
        raise ValueError(f"{name} must be strictly between 0 and 1; got {p[bad].ravel()[0]!r}")


def inverse_q(p: ArrayLike) -> np.ndarray | np.float64:
    """Q⁻¹(p): the x whose standard-normal upper tail Q(x) = 1 − Φ(x) is p.

    Parameters
    ----------
    p
        Probability, 0 < p < 1.

    Returns
    -------
    float or ndarray
        Q⁻¹(p) = Φ⁻¹(1 − p) (the ``Qi`` of ITU-R P.1546 Annex 5 §13, here exact): 0 at 0.5,
        ≈ −1.2816 at 0.9, ≈ 1.2816 at 0.1.
    """
    p = np.asarray(p, dtype=np.float64)
    _check_probability("p", p)
    # −Φ⁻¹(p) equals Φ⁻¹(1 − p) but keeps full precision for p near 0 (1 − p would round).
    return scalar_or_array(-ndtri(p))


def fade_margin_db(p: ArrayLike, sigma_db: ArrayLike) -> np.ndarray | np.float64:
    """Margin (dB) over the median that is exceeded at a fraction ``p`` of locations.

    Parameters
    ----------
    p
        Location probability, 0 < p < 1 (e.g. 0.9 for coverage at 90 % of locations).
    sigma_db
        Location variability σ_L (dB), ≥ 0.

    Returns
    -------
    float or ndarray
        σ_L·Q⁻¹(1 − p) = σ_L·Φ⁻¹(p) dB: 0 at p = 0.5, ≈ 1.2816·σ_L at p = 0.9, negative below
        0.5. A place whose median power is this much above the threshold is covered at ``p``
        of its locations.
    """
    p = np.asarray(p, dtype=np.float64)
    sigma = np.asarray(sigma_db, dtype=np.float64)
    _check_probability("p", p)
    if np.any(sigma < 0.0):
        raise ValueError(f"sigma_db must be >= 0; got min {np.nanmin(sigma)!r}")
    return scalar_or_array(np.asarray(sigma * ndtri(p)))


def location_sigma_db(
    f_mhz: ArrayLike,
    environment: str,
    *,
    bandwidth_mhz: float | None = None,
    validate: bool = True,
) -> np.ndarray | np.float64:
    """Location variability σ_L (dB) of a receiver at street level (ITU-R P.1546-5 Annex 5 §12).

    Parameters
    ----------
    f_mhz
        Carrier frequency (MHz). Outside 30-3000 MHz the value at the nearest end is returned.
    environment
        One of ``"urban_large"``, ``"urban"``, ``"suburban"``, ``"open"`` (see
        :data:`LOCATION_K` and the module docstring for the P.1546 case each maps to).
    bandwidth_mhz
        The system's bandwidth (MHz). None (or below 1 MHz, e.g. GSM's 0.2 MHz) uses
        K + 1.3·log10(f); 1 MHz or more (UMTS, LTE, NR) gives P.1546's fixed 5.5 dB.
    validate
        Warn (:class:`~lomsong.errors.ModelValidityWarning`, once per call) when the formula is
        evaluated for a frequency outside 30-3000 MHz.

    Returns
    -------
    float or ndarray
        σ_L in dB, e.g. 5.04 dB (urban) and 4.34 dB (open) at 900 MHz, 5.5 dB for LTE.
    """
    if environment not in LOCATION_K:
        raise ValueError(
            f"unknown environment {environment!r}; expected one of {', '.join(LOCATION_K)}"
        )
    f = np.asarray(f_mhz, dtype=np.float64)
    if np.any(f <= 0.0):
        raise ValueError(f"f_mhz must be positive; got min {np.nanmin(f)!r}")
    if bandwidth_mhz is not None and float(bandwidth_mhz) >= WIDEBAND_MHZ:
        return scalar_or_array(np.full(f.shape, WIDEBAND_SIGMA_DB))
    lo, hi = P1546_FREQUENCY_RANGE_MHZ
    if validate and np.any((f < lo) | (f > hi)):
        warnings.warn(
            f"P.1546 location variability used outside {lo:g}-{hi:g} MHz (got "
            f"{np.nanmin(f):.4g}-{np.nanmax(f):.4g} MHz); evaluated at the nearest end",
            ModelValidityWarning,
            stacklevel=2,
        )
    return scalar_or_array(LOCATION_K[environment] + 1.3 * np.log10(np.clip(f, lo, hi)))


def coverage_probability(margin_db: ArrayLike, sigma_db: ArrayLike) -> np.ndarray | np.float64:
    """Probability that the received power reaches the threshold, for a log-normal location spread.

    Parameters
    ----------
    margin_db
        Median received power minus the threshold (dB); negative when the median is below it.
    sigma_db
        Location variability σ_L (dB), ≥ 0.

    Returns
    -------
    float or ndarray
        P(received ≥ threshold) = Φ(margin/σ_L): 0.5 at zero margin, ≈ 0.9 at a margin of
        1.2816·σ_L. With σ_L = 0 the power is the median everywhere: 1.0 when margin ≥ 0, else
        0.0. NaN margins give NaN.
    """
    m = np.asarray(margin_db, dtype=np.float64)
    sigma = np.asarray(sigma_db, dtype=np.float64)
    if np.any(sigma < 0.0):
        raise ValueError(f"sigma_db must be >= 0; got min {np.nanmin(sigma)!r}")
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = ndtr(m / sigma)
    step = np.where(m >= 0.0, 1.0, 0.0)
    out = np.where(sigma == 0.0, step, spread)
    out = np.where(np.isnan(m), np.nan, out)
    return scalar_or_array(np.asarray(out, dtype=np.float64))
