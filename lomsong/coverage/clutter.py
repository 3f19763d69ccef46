"""Clutter loss at every receiver cell, from a land-cover grid (ITU-R P.2108-1 §3.1).

A handset among trees or buildings receives less than the propagation model predicts for it:
the terrain model has no canopy and no roofs. :func:`clutter_loss_grid` gives that loss (dB) on
the terrain grid, for one frequency and receiver height, from the land-cover classes that
:func:`lomsong.layers.landcover.read_landcover` put on the terrain's cells; the coverage rule
subtracts it from the power predicted at each cell.

Model
-----
The median terminal clutter loss of ITU-R P.2108-1 Annex 1 §3.1 (height-gain terminal correction
model, :func:`lomsong.propagation.clutter.terminal_clutter_loss_db`) of each cell's clutter type,
with the representative clutter heights of its Table 3 (10 m open/rural, water and suburban,
15 m urban and trees/forest, 20 m dense urban) and the 27 m street width. Published for
30 MHz-3 GHz; above (5G n78 at 3.5 GHz) the formulas are extrapolated, smooth in frequency, with
one :class:`~lomsong.errors.ModelValidityWarning` per grid.

Relative to open land (the default)
-----------------------------------
P.2108 §3.1 gives a loss in open/rural land too: a 1.5 m handset is below the 10 m
representative height of every clutter type (17.7 dB at 900 MHz). The empirical models
(Okumura-Hata and COST-231, fitted to measurements in their environments) and ITM's median
(fitted to measurements in mostly open, rural terrain) already hold that average ground clutter
of the areas they were fitted in. Counting P.2108's absolute loss on top would count it twice
and put every open field 17.7 dB lower. So the grid is, by default, the loss *relative to*
open/rural land — the clutter *correction* commonly applied on top of a propagation model
calibrated in open terrain: forest − open (4.85 dB at 900 MHz for a 1.5 m handset, 7.8 dB at
3.5 GHz), dense urban − open (7.4 dB at 900 MHz), open land and water 0. A type that P.2108 gives
less loss than open land (trees/forest and urban below ~100 MHz, suburban below ~600 MHz)
counts 0: clutter never makes a receiver better than open ground. ``relative_to=None`` gives
the absolute P.2108 loss, for a model that has no clutter in it (free space).

References
----------
- ITU-R P.2108-1 (09/2021), *Prediction of clutter loss*, Annex 1 §3.1, Table 3.
- ESA WorldCover 10 m 2020 v100 / 2021 v200, Product User Manual, Table 1 (class codes).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from lomsong.defaults import CLUTTER_REFERENCE, CLUTTER_TYPES
from lomsong.grid import Grid
from lomsong.layers.landcover import UNKNOWN_CLASS, class_table
from lomsong.propagation.clutter import terminal_clutter_loss_db

__all__ = ["clutter_loss_by_type", "clutter_loss_grid"]

#: Codes the class table lacks take this type (the reader has warned about them).
_LACKING_TYPE = "open_rural"
#: Largest code indexed by a lookup array (one entry per possible code); beyond, np.unique.
_LUT_MAX_CODE = 1 << 16


def clutter_loss_by_type(
    f_mhz: float,
    *,
    rx_height_m: float,
    types: tuple[str, ...] = CLUTTER_TYPES,
    relative_to: str | None = CLUTTER_REFERENCE,
) -> dict[str, float]:
    """The clutter loss (dB, ≥ 0) of each clutter type at one frequency and receiver height.

    Parameters
    ----------
    f_mhz
        Frequency (MHz), > 0; published 30 MHz-3 GHz, extrapolated beyond with one
        :class:`~lomsong.errors.ModelValidityWarning`.
    rx_height_m
        Receiver antenna height above ground (m), > 0.
    types
        The clutter types wanted (:data:`lomsong.defaults.CLUTTER_TYPES`).
    relative_to
        Count the loss from this type's (default open/rural, see the module docstring), at
        least 0; None: P.2108's absolute loss.

    Returns
    -------
    dict
        ``{clutter type: loss dB}``: P.2108-1 §3.1 median loss, one model evaluation per type.
    """
    f = float(f_mhz)
    if not (np.isfinite(f) and f > 0):
        raise ValueError(f"f_mhz must be a positive frequency (MHz), got {f_mhz!r}")
    if relative_to is not None and relative_to not in CLUTTER_TYPES:
        raise ValueError(f"relative_to {relative_to!r} is not a clutter type; use one of "
                         f"{', '.join(CLUTTER_TYPES)} or None")  # fmt: skip
    wanted = list(dict.fromkeys([*((relative_to,) if relative_to else ()), *types]))
    absolute: dict[str, float] = {}
    for i, kind in enumerate(wanted):  # the frequency warning once, with the first type
        absolute[kind] = float(terminal_clutter_loss_db(f, rx_height_m, kind, validate=i == 0))
    ref = absolute[relative_to] if relative_to is not None else 0.0
    return {kind: max(absolute[kind] - ref, 0.0) for kind in types}


def clutter_loss_grid(
    landcover: Grid,
    *,
    f_mhz: float,
    rx_height_m: float,
    classes: Mapping[int, str] | None = None,
    relative_to: str | None = CLUTTER_REFERENCE,
) -> np.ndarray:
    """Terminal clutter loss (dB) at each receiver cell of a land-cover grid.

    Parameters
    ----------
    landcover
        Integer class codes on the terrain grid (:func:`lomsong.layers.landcover.read_landcover`);
        0 (and the grid's ``nodata``) = unknown.
    f_mhz
        Carrier frequency (MHz); ITU-R P.2108 §3.1 is published for 30 MHz-3 GHz (above, e.g.
        3.5 GHz, extrapolated with one :class:`~lomsong.errors.ModelValidityWarning`).
    rx_height_m
        Receiver (handset) height above ground (m).
    classes
        ``{code: clutter type}`` of the land cover's classification; None for ESA WorldCover
        (:data:`lomsong.defaults.WORLDCOVER_CLUTTER`). Codes it lacks count as open/rural.
    relative_to
        ``"open_rural"`` (default): the loss beyond open land's, ≥ 0 (forest − open; open 0),
        since the propagation models already hold open land's clutter (module docstring);
        another clutter type likewise; None: P.2108's absolute loss.

    Returns
    -------
    numpy.ndarray
        float32 of ``landcover``'s shape: the P.2108-1 §3.1 median loss (dB, ≥ 0) of each cell's
        clutter type for a receiver there, to subtract from the power predicted at the cell;
        0 where the land cover is unknown.

    Notes
    -----
    The model is evaluated once per clutter type; the grid is one table lookup per cell.
    """
    table = class_table(classes)
    types = tuple(dict.fromkeys([_LACKING_TYPE, *table.values()]))
    loss = clutter_loss_by_type(
        f_mhz, rx_height_m=rx_height_m, types=types, relative_to=relative_to
    )
    codes = np.asarray(landcover.data)
    if codes.dtype.kind not in "iu":
        raise ValueError(f"a land-cover grid holds integer class codes, got {codes.dtype}")
    unknown = {UNKNOWN_CLASS}
    if landcover.nodata is not None and float(landcover.nodata).is_integer():
        unknown.add(int(landcover.nodata))

    def value(code: int) -> float:
        if code in unknown:
            return 0.0
        return loss[table.get(code, _LACKING_TYPE)]

    if codes.size == 0:
        return np.zeros(codes.shape, dtype=np.float32)
    lo, hi = int(codes.min()), int(codes.max())
    if lo >= 0 and hi < _LUT_MAX_CODE:
        # one entry per possible code up to the largest present: a lookup per cell, no sort
        lut = np.full(hi + 1, loss[_LACKING_TYPE], dtype=np.float32)
        for code in [*table, *unknown]:
            if 0 <= code <= hi:
                lut[code] = value(code)
        return lut[codes]
    present, inverse = np.unique(codes, return_inverse=True)
    lut = np.array([value(int(c)) for c in present], dtype=np.float32)
    return lut[inverse].reshape(codes.shape)
