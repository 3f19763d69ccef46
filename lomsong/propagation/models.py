"""Closed-form path-loss models: free space, Okumura-Hata, COST-231 Hata, knife-edge diffraction.

Every function takes numpy arrays (or scalars), broadcasts them against each other and
returns float64: an ndarray of the broadcast shape, or a numpy float64 scalar when every
input is a scalar. Losses are *basic transmission losses* in dB (positive numbers).

Conventions shared by the empirical models
------------------------------------------
Units
    distance ``d_km`` in kilometres, frequency ``f_mhz`` in MHz, heights in metres above
    ground (``h_tx_m`` base station, ``h_rx_m`` mobile).
Validity
    Okumura-Hata is published for 150-1500 MHz, COST-231 Hata for 1500-2000 MHz, both for
    base heights 30-200 m, mobile heights 1-10 m and distances 1-20 km. A call with any value
    outside those ranges emits **one** :class:`~lomsong.errors.ModelValidityWarning` naming
    every offending parameter and its range. The formula is then simply *extrapolated*:
    nothing is clamped to the range, so e.g. a 200 m distance gives the Hata curve continued
    below 1 km (about 35 dB per decade with a 30 m mast). The raster engine evaluates these
    models near towers (d < 1 km) on purpose and passes ``validate=False`` to skip the check.
Minimum distance
    Distances below :data:`MIN_DISTANCE_KM` (10 m) are evaluated *at* 10 m. A tower's own
    cell sits at d = 0, where every log-distance law gives -inf; 10 m is below any raster
    resolution used here (30-90 m), so the clamp only touches the tower's own cell and keeps
    the result finite. This clamp is documented here and applies with or without
    ``validate``; it is the only clamp. Negative distances raise :class:`ValueError`, NaN
    distances give NaN (the raster engine marks cells out of range with NaN).

Registry
--------
:data:`MODELS` maps ``"fspl"``, ``"hata"`` and ``"cost231"`` to functions with the common
signature ``(d_km, f_mhz, h_tx_m, h_rx_m, *, environment="urban", validate=True)``, so the
raster engine can plug any of them in; :func:`get_model` looks a name up with a clear error.

References
----------
- ITU-R P.525-4, *Calculation of free-space attenuation* (2019).
- M. Hata, "Empirical formula for propagation loss in land mobile radio services",
  IEEE Trans. Veh. Technol. VT-29(3), 317-325, 1980.
- COST Action 231, *Digital mobile radio towards future generation systems*, final report,
  EUR 18957, 1999, section 4.4 (COST-231 Hata).
- ITU-R P.526-15, *Propagation by diffraction* (2019), section 4.1 (single knife edge).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from lomsong.constants import SPEED_OF_LIGHT_M_S
from lomsong.defaults import ENVIRONMENTS
from lomsong.errors import ModelValidityWarning
from lomsong.propagation._arrays import as_float, check_positive, scalar_or_array

__all__ = [
    "MIN_DISTANCE_KM",
    "ENVIRONMENTS",
    "HATA_VALIDITY",
    "COST231_VALIDITY",
    "PathLossModel",
    "free_space_loss",
    "hata_loss",
    "cost231_loss",
    "knife_edge_loss",
    "fresnel_parameter",
    "MODELS",
    "get_model",
]

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]
Environment = Literal["urban_large", "urban", "suburban", "open"]
OpenVariant = Literal["textbook", "ns3", "ns3_legacy"]

MIN_DISTANCE_KM: float = 0.01
"""Shortest distance (km) a model is evaluated at; shorter distances use this value (10 m)."""

# Environment names of the Hata-family models (:data:`lomsong.defaults.ENVIRONMENTS`):
# "urban_large" large city (COST-231: metropolitan centre), "urban" small/medium city,
# "suburban", "open" (open rural area). COST-231 takes "suburban" and "open" from Hata's own
# corrections (see cost231_loss), so every model accepts every environment.

HATA_VALIDITY: dict[str, tuple[float, float]] = {
    "f_mhz": (150.0, 1500.0),
    "h_tx_m": (30.0, 200.0),
    "h_rx_m": (1.0, 10.0),
    "d_km": (1.0, 20.0),
}
"""Published validity ranges of Okumura-Hata (Hata 1980), inclusive, by parameter name."""

COST231_VALIDITY: dict[str, tuple[float, float]] = {
    "f_mhz": (1500.0, 2000.0),
    "h_tx_m": (30.0, 200.0),
    "h_rx_m": (1.0, 10.0),
    "d_km": (1.0, 20.0),
}
"""Published validity ranges of COST-231 Hata (COST 231 final report 4.4), inclusive."""

_UNITS = {"f_mhz": "MHz", "h_tx_m": "m", "h_rx_m": "m", "d_km": "km"}

# Okumura-Hata switches the large-city mobile-antenna correction at 300 MHz (Hata 1980 gives
# the 8.29 form "for f <= 200 MHz" and the 3.2 form "for f >= 400 MHz"; textbooks such as
# Rappaport split the gap at 300 MHz, which is what we use).
_LARGE_CITY_SWITCH_MHZ = 300.0

# Open-area coefficient of (log10 f)^2: Hata 1980 gives 4.78. Earlier ns-3 releases (and the
# Octave reference scripts of ns-3's test suite) use 4.70; current ns-3 uses 4.78.
_OPEN_COEF_TEXTBOOK = 4.78
_OPEN_COEF_NS3_LEGACY = 4.70


class PathLossModel(Protocol):
    """Common signature of the models in :data:`MODELS` (loss in dB)."""

    def __call__(
        self,
        d_km: ArrayLike,
        f_mhz: ArrayLike,
        h_tx_m: ArrayLike,
        h_rx_m: ArrayLike,
        *,
        environment: str = "urban",
        validate: bool = True,
    ) -> FloatArray: ...


# --------------------------------------------------------------------------------------------
# helpers


def _distance_km(d_km: ArrayLike) -> FloatArray:
    d = as_float(d_km)
    check_positive("d_km", d, allow_zero=True)
    return np.maximum(d, MIN_DISTANCE_KM)  # documented clamp; NaN stays NaN


def _check_environment(environment: str, allowed: tuple[str, ...], model: str) -> None:
    if environment not in allowed:
        raise ValueError(
            f"{model}: unknown environment {environment!r}; expected one of {', '.join(allowed)}"
        )


def _warn_validity(
    model: str,
    ranges: Mapping[str, tuple[float, float]],
    values: Mapping[str, FloatArray],
    *,
    stacklevel: int,
) -> None:
    """Emit one ModelValidityWarning naming every parameter outside its published range."""
    problems = []
    for name, (lo, hi) in ranges.items():
        x = values[name]
        outside = (x < lo) | (x > hi)  # NaN is neither
        if np.any(outside):
            unit = _UNITS[name]
            problems.append(
                f"{name} outside {lo:g}-{hi:g} {unit} "
                f"(got {np.nanmin(x):.4g}-{np.nanmax(x):.4g} {unit})"
            )
    if problems:
        warnings.warn(
            f"{model} used outside its validity range: {'; '.join(problems)}; "
            "the formula is extrapolated",
            ModelValidityWarning,
            stacklevel=stacklevel,
        )


def _a_hm_medium(f_mhz: FloatArray, h_rx_m: FloatArray) -> FloatArray:
    """Mobile-antenna height correction a(hm), small/medium city (dB)."""
    lf = np.log10(f_mhz)
    return (1.1 * lf - 0.7) * h_rx_m - (1.56 * lf - 0.8)


def _a_hm_large(f_mhz: FloatArray, h_rx_m: FloatArray) -> FloatArray:
    """Mobile-antenna height correction a(hm), large city (dB)."""
    high = 3.2 * np.log10(11.75 * h_rx_m) ** 2 - 4.97
    low = 8.29 * np.log10(1.54 * h_rx_m) ** 2 - 1.1
    return np.where(f_mhz >= _LARGE_CITY_SWITCH_MHZ, high, low)


def _suburban_correction(f_mhz: FloatArray) -> FloatArray:
    """Hata's (1980) suburban correction (dB), subtracted from the medium-city loss."""
    return 2.0 * np.log10(f_mhz / 28.0) ** 2 + 5.4


def _open_correction(f_mhz: FloatArray, coef: float = _OPEN_COEF_TEXTBOOK) -> FloatArray:
    """Hata's (1980) open-area correction (dB), subtracted from the urban loss."""
    lf = np.log10(f_mhz)
    return coef * lf**2 - 18.33 * lf + 40.94


# --------------------------------------------------------------------------------------------
# models


def free_space_loss(d_km: ArrayLike, f_mhz: ArrayLike) -> FloatArray:
    """Free-space basic transmission loss (ITU-R P.525).

    ``L = 32.44 + 20 log10(f_MHz) + 20 log10(d_km)`` dB, valid at any frequency in the far
    field. Distances below :data:`MIN_DISTANCE_KM` are evaluated at that distance.

    Parameters
    ----------
    d_km
        Path length (km), >= 0.
    f_mhz
        Frequency (MHz), > 0.

    Returns
    -------
    numpy.ndarray
        Loss (dB), float64, broadcast shape of the inputs.
    """
    d = _distance_km(d_km)
    f = as_float(f_mhz)
    check_positive("f_mhz", f)
    return scalar_or_array(32.44 + 20.0 * np.log10(f) + 20.0 * np.log10(d))


def hata_loss(
    d_km: ArrayLike,
    f_mhz: ArrayLike,
    h_tx_m: ArrayLike,
    h_rx_m: ArrayLike,
    *,
    environment: Environment | str = "urban",
    open_variant: OpenVariant | str = "textbook",
    validate: bool = True,
) -> FloatArray:
    """Okumura-Hata median path loss (Hata 1980).

    Urban loss::

        Lu = 69.55 + 26.16 log10 f - 13.82 log10 hb - a(hm) + (44.9 - 6.55 log10 hb) log10 d

    with the mobile-antenna correction ``a(hm)``

    - large city (``"urban_large"``): ``3.2 (log10 11.75 hm)^2 - 4.97`` for f >= 300 MHz,
      ``8.29 (log10 1.54 hm)^2 - 1.1`` below;
    - small/medium city (every other environment):
      ``(1.1 log10 f - 0.7) hm - (1.56 log10 f - 0.8)``.

    Suburban: ``Lu - 2 (log10(f/28))^2 - 5.4``; open area:
    ``Lu - 4.78 (log10 f)^2 + 18.33 log10 f - 40.94``, both on the small/medium-city ``Lu``.

    Parameters
    ----------
    d_km
        Distance (km). Valid 1-20 km; values below :data:`MIN_DISTANCE_KM` use that value.
    f_mhz
        Frequency (MHz). Valid 150-1500 MHz.
    h_tx_m
        Base-station antenna height above ground (m), > 0. Valid 30-200 m.
    h_rx_m
        Mobile antenna height above ground (m), > 0. Valid 1-10 m.
    environment
        ``"urban_large"``, ``"urban"`` (small/medium city), ``"suburban"`` or ``"open"``.
    open_variant
        Which open-area formula (``environment="open"`` only; ignored otherwise):

        - ``"textbook"`` (default): Hata 1980 as above, coefficient 4.78 on the
          small/medium-city urban loss.
        - ``"ns3"``: ns-3's ``OkumuraHataPropagationLossModel`` as its test suite runs it
          (``CitySize=Large``): coefficient 4.78 on the *large-city* urban loss.
        - ``"ns3_legacy"``: earlier ns-3 releases and the Octave reference scripts of its
          test suite: coefficient **4.70** on the large-city urban loss (about 0.7 dB more
          loss than 4.78 at 900 MHz). Kept only to reproduce those published numbers.
    validate
        Warn (:class:`~lomsong.errors.ModelValidityWarning`, once per call) when any input is
        outside the validity ranges above. ``False`` skips the check, e.g. for raster cells
        closer than 1 km; the formula is extrapolated either way (see the module notes).

    Returns
    -------
    numpy.ndarray
        Loss (dB), float64, broadcast shape of the inputs.

    Raises
    ------
    ValueError
        Unknown ``environment`` or ``open_variant``; negative distance; non-positive
        frequency or height.
    """
    return _hata(
        d_km,
        f_mhz,
        h_tx_m,
        h_rx_m,
        environment=environment,
        open_variant=open_variant,
        validate=validate,
        stacklevel=4,
    )


def _hata_family_inputs(
    model: str,
    validity: Mapping[str, tuple[float, float]],
    d_km: ArrayLike,
    f_mhz: ArrayLike,
    h_tx_m: ArrayLike,
    h_rx_m: ArrayLike,
    validate: bool,
    stacklevel: int,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Arrays (d clamped, f, h_tx, h_rx) of a Hata-family call, checked and range-warned."""
    d = _distance_km(d_km)
    f = as_float(f_mhz)
    hb = as_float(h_tx_m)
    hm = as_float(h_rx_m)
    for name, x in (("f_mhz", f), ("h_tx_m", hb), ("h_rx_m", hm)):
        check_positive(name, x)
    if validate:
        _warn_validity(
            model,
            validity,
            {"d_km": as_float(d_km), "f_mhz": f, "h_tx_m": hb, "h_rx_m": hm},
            stacklevel=stacklevel,
        )
    return d, f, hb, hm


def _hata(
    d_km: ArrayLike,
    f_mhz: ArrayLike,
    h_tx_m: ArrayLike,
    h_rx_m: ArrayLike,
    *,
    environment: str,
    open_variant: str,
    validate: bool,
    stacklevel: int,
) -> FloatArray:
    # stacklevel is warnings.warn's, counted from _warn_validity: 4 = caller of hata_loss.
    _check_environment(environment, ENVIRONMENTS, "hata_loss")
    if open_variant not in ("textbook", "ns3", "ns3_legacy"):
        raise ValueError(
            f"hata_loss: unknown open_variant {open_variant!r}; "
            "expected one of textbook, ns3, ns3_legacy"
        )
    d, f, hb, hm = _hata_family_inputs(
        "Okumura-Hata", HATA_VALIDITY, d_km, f_mhz, h_tx_m, h_rx_m, validate, stacklevel + 1
    )

    lf = np.log10(f)
    lhb = np.log10(hb)
    large = environment == "urban_large" or (environment == "open" and open_variant != "textbook")
    a_hm = _a_hm_large(f, hm) if large else _a_hm_medium(f, hm)
    loss = 69.55 + 26.16 * lf - 13.82 * lhb - a_hm + (44.9 - 6.55 * lhb) * np.log10(d)
    if environment == "suburban":
        loss = loss - _suburban_correction(f)
    elif environment == "open":
        coef = _OPEN_COEF_NS3_LEGACY if open_variant == "ns3_legacy" else _OPEN_COEF_TEXTBOOK
        loss = loss - _open_correction(f, coef)
    return scalar_or_array(np.asarray(loss, dtype=np.float64))


def cost231_loss(
    d_km: ArrayLike,
    f_mhz: ArrayLike,
    h_tx_m: ArrayLike,
    h_rx_m: ArrayLike,
    *,
    environment: Environment | str = "urban",
    c_db: ArrayLike | None = None,
    validate: bool = True,
) -> FloatArray:
    """COST-231 Hata median path loss (COST 231 final report, eq. 4.4.3).

    ::

        L = 46.3 + 33.9 log10 f - 13.82 log10 hb - a(hm) + (44.9 - 6.55 log10 hb) log10 d + C

    with the small/medium-city ``a(hm) = (1.1 log10 f - 0.7) hm - (1.56 log10 f - 0.8)`` for
    every environment (as in the COST 231 report), and the environment giving ``C`` and a
    correction ``K`` subtracted from ``L``:

    =================  ======  ===============================================  ==============
    environment        C (dB)  K (dB)                                           source
    =================  ======  ===============================================  ==============
    ``"urban_large"``  3       0                                                COST 231
    ``"urban"``        0       0                                                COST 231
    ``"suburban"``     0       ``2 (log10(f/28))^2 + 5.4``                      Hata 1980
    ``"open"``         0       ``4.78 (log10 f)^2 - 18.33 log10 f + 40.94``     Hata 1980
    =================  ======  ===============================================  ==============

    COST 231 defines only C = 3 dB (metropolitan centres) and C = 0 ("medium sized city and
    suburban centres with moderate tree density"); it has no open-area form. The usual
    practice, followed here, is to take COST-231's medium-city loss (C = 0) and apply
    Okumura-Hata's own suburban and open-area corrections on top (Hata 1980, the suburban
    and open-area formulas), which is what a planner expects of a rural or suburban area at
    1800-2100 MHz: the same environment correction Okumura-Hata applies below 1500 MHz, so
    the step where :mod:`lomsong.coverage.engine` switches from Hata to COST-231 at 1500 MHz
    is the same ~1.3 dB for "urban", "suburban" and "open" (without the correction, a
    suburban cell would lose about 12 dB more just above 1500 MHz than just below). The
    corrections are Hata's formulas, published for 150-1500 MHz, extrapolated into
    COST-231's band.
    ns-3 differs for large cities (it uses ``3.2 (log10 11.75 hm)^2`` without the -4.97 term
    plus C = 3), so its large-city COST-231 value (148.55 dB in its test suite) is not
    reproduced here.

    Parameters
    ----------
    d_km
        Distance (km). Valid 1-20 km; values below :data:`MIN_DISTANCE_KM` use that value.
    f_mhz
        Frequency (MHz). Valid 1500-2000 MHz.
    h_tx_m
        Base-station antenna height above ground (m), > 0. Valid 30-200 m.
    h_rx_m
        Mobile antenna height above ground (m), > 0. Valid 1-10 m.
    environment
        ``"urban_large"``, ``"urban"``, ``"suburban"`` or ``"open"`` (C and K as tabled
        above).
    c_db
        Set C (dB) explicitly, overriding the environment's value; the environment's
        correction K still applies.
    validate
        Warn (:class:`~lomsong.errors.ModelValidityWarning`, once per call) when any input is
        outside the validity ranges above; ``False`` skips the check. The formula is
        extrapolated either way.

    Returns
    -------
    numpy.ndarray
        Loss (dB), float64, broadcast shape of the inputs.

    Raises
    ------
    ValueError
        Unknown environment; negative distance; non-positive frequency or height.
    """
    return _cost231(
        d_km,
        f_mhz,
        h_tx_m,
        h_rx_m,
        environment=environment,
        c_db=c_db,
        validate=validate,
        stacklevel=4,
    )


def _cost231(
    d_km: ArrayLike,
    f_mhz: ArrayLike,
    h_tx_m: ArrayLike,
    h_rx_m: ArrayLike,
    *,
    environment: str,
    c_db: ArrayLike | None,
    validate: bool,
    stacklevel: int,
) -> FloatArray:
    _check_environment(environment, ENVIRONMENTS, "cost231_loss")
    d, f, hb, hm = _hata_family_inputs(
        "COST-231 Hata", COST231_VALIDITY, d_km, f_mhz, h_tx_m, h_rx_m, validate, stacklevel + 1
    )
    c = (3.0 if environment == "urban_large" else 0.0) if c_db is None else as_float(c_db)
    lf = np.log10(f)
    lhb = np.log10(hb)
    loss = (
        46.3 + 33.9 * lf - 13.82 * lhb - _a_hm_medium(f, hm) + (44.9 - 6.55 * lhb) * np.log10(d) + c
    )
    # COST 231 has no suburban/open form: Hata's corrections on the medium-city loss (docstring)
    if environment == "suburban":
        loss = loss - _suburban_correction(f)
    elif environment == "open":
        loss = loss - _open_correction(f)
    return scalar_or_array(np.asarray(loss, dtype=np.float64))


def fresnel_parameter(
    h_m: ArrayLike, d1_m: ArrayLike, d2_m: ArrayLike, f_mhz: ArrayLike
) -> FloatArray:
    """Fresnel-Kirchhoff diffraction parameter of a knife edge (ITU-R P.526, eq. 26).

    ``v = h sqrt(2 (d1 + d2) / (lambda d1 d2))`` with ``lambda = c / f``.

    Parameters
    ----------
    h_m
        Height of the edge above the straight line joining the two path ends (m); negative
        when the edge lies below that line.
    d1_m, d2_m
        Distances from each path end to the edge (m), > 0.
    f_mhz
        Frequency (MHz), > 0.

    Returns
    -------
    numpy.ndarray
        Dimensionless ``v``, float64, broadcast shape of the inputs.
    """
    h = as_float(h_m)
    d1 = as_float(d1_m)
    d2 = as_float(d2_m)
    f = as_float(f_mhz)
    for name, x in (("d1_m", d1), ("d2_m", d2), ("f_mhz", f)):
        check_positive(name, x)
    wavelength = SPEED_OF_LIGHT_M_S / (f * 1e6)
    return scalar_or_array(h * np.sqrt(2.0 * (d1 + d2) / (wavelength * d1 * d2)))


def knife_edge_loss(v: ArrayLike) -> FloatArray:
    """Single knife-edge diffraction loss J(v) (ITU-R P.526, eq. 31).

    ``J(v) = 6.9 + 20 log10(sqrt((v - 0.1)^2 + 1) + v - 0.1)`` dB for ``v > -0.78``, else 0.
    The approximation stays within about 0.12 dB of the exact Fresnel-integral value for
    ``-0.78 < v < 5`` (0.11 dB up to v = 3); J(0) = 6.03 dB (exact 6.02 dB).

    Parameters
    ----------
    v
        Fresnel-Kirchhoff parameter, see :func:`fresnel_parameter`.

    Returns
    -------
    numpy.ndarray
        Loss (dB, >= 0 in practice), float64, shape of ``v``; NaN where ``v`` is NaN.
    """
    v = as_float(v)
    # Evaluate on a safe argument so the discarded branch (v <= -0.78) never warns.
    vs = np.where(v > -0.78, v, 0.0)
    j = 6.9 + 20.0 * np.log10(np.sqrt((vs - 0.1) ** 2 + 1.0) + vs - 0.1)
    return scalar_or_array(np.where(v > -0.78, j, np.where(np.isnan(v), np.nan, 0.0)))


# --------------------------------------------------------------------------------------------
# registry


def _fspl_model(
    d_km: ArrayLike,
    f_mhz: ArrayLike,
    h_tx_m: ArrayLike,
    h_rx_m: ArrayLike,
    *,
    environment: str = "urban",
    validate: bool = True,
) -> FloatArray:
    """Free space in the common model signature: heights and environment are ignored."""
    del h_tx_m, h_rx_m, environment, validate  # free space has neither heights nor a range
    return free_space_loss(d_km, f_mhz)


def _hata_model(
    d_km: ArrayLike,
    f_mhz: ArrayLike,
    h_tx_m: ArrayLike,
    h_rx_m: ArrayLike,
    *,
    environment: str = "urban",
    validate: bool = True,
) -> FloatArray:
    """Okumura-Hata (textbook open-area form) in the common model signature."""
    return _hata(
        d_km,
        f_mhz,
        h_tx_m,
        h_rx_m,
        environment=environment,
        open_variant="textbook",
        validate=validate,
        stacklevel=4,
    )


def _cost231_model(
    d_km: ArrayLike,
    f_mhz: ArrayLike,
    h_tx_m: ArrayLike,
    h_rx_m: ArrayLike,
    *,
    environment: str = "urban",
    validate: bool = True,
) -> FloatArray:
    """COST-231 Hata in the common model signature."""
    return _cost231(
        d_km,
        f_mhz,
        h_tx_m,
        h_rx_m,
        environment=environment,
        c_db=None,
        validate=validate,
        stacklevel=4,
    )


MODELS: Mapping[str, PathLossModel] = {
    "fspl": _fspl_model,
    "hata": _hata_model,
    "cost231": _cost231_model,
}
"""Terrain-free path-loss models by name, all with the :class:`PathLossModel` signature
``(d_km, f_mhz, h_tx_m, h_rx_m, *, environment="urban", validate=True) -> loss dB``.
``"fspl"`` ignores heights and environment."""


def get_model(name: str) -> PathLossModel:
    """Return the model registered as ``name`` in :data:`MODELS`.

    Raises
    ------
    ValueError
        ``name`` is not registered; the message lists the names that are.
    """
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(
            f"unknown path-loss model {name!r}; expected one of {', '.join(MODELS)}"
        ) from None
