"""Service level per technology: from the total received power to the quantity operators measure.

lomsong predicts the *total* power a handset receives from a cell (the cell's total EIRP minus
the path loss). Operators, regulators and drive-test tools do not quote that number: each
technology has its own measured quantity, defined on a part of the carrier. This module gives
the offset (dB) to **add** to the total received power to obtain that quantity.

Model
-----
- **2G (GSM) — RxLev**: received level of the BCCH carrier (TS 45.008 §8.1.4); offset 0 dB.
- **3G (UMTS) — RSCP**: received code power of the CPICH (TS 25.215 §5.1.1); offset
  10·log10(s), s the CPICH share of the total power.
- **4G (LTE) — RSRP**: mean power of one cell-specific reference-signal resource element
  (TS 36.214 §5.1.1); offset −10·log10(12·N_RB).
- **5G (NR) — SS-RSRP**: mean power of one secondary-synchronisation-signal resource element
  (TS 38.215 §5.1.1); offset −10·log10(12·N_RB).

Assumptions (the usual link-budget ones; stated so that a calibrated offset can replace them):

- **2G**: the tower's EIRP is that of one carrier, the BCCH carrier, which is always transmitted
  at full power; RxLev is that carrier's received power, so the offset is 0 dB.
- **3G**: the CPICH carries a fixed share ``s`` of the cell's total power (operators set 5-10 %;
  10 % is the common planning value), so RSCP = total + 10·log10(s) (−10.0 dB at 10 %).
- **4G / 5G**: the total power is spread **evenly** over the 12·N_RB subcarriers of the
  carrier (one OFDM symbol's resource elements), with **no power boosting** of the reference or
  synchronisation signals (boosting of +3 dB or more would raise RSRP by that much), so
  RSRP = total − 10·log10(12·N_RB): −24.77 dB for LTE 5 MHz, −27.78 dB for 10 MHz, −30.79 dB
  for 20 MHz, −35.15 dB for NR 100 MHz at 30 kHz subcarrier spacing.
- N_RB is the maximum transmission bandwidth configuration of the channel bandwidth:
  3GPP TS 36.101 Table 5.6-1 (LTE) and TS 38.101-1 Table 5.3.2-1 (NR FR1, Rel-17 edition,
  which adds the 3 MHz, 35 MHz and 45 MHz channels).

Units: powers in dBm, offsets in dB, bandwidths in MHz, subcarrier spacing in kHz.

Per-technology values (bandwidth, CPICH share, NR subcarrier spacing) have no defaults here: the
caller passes them (``lomsong.defaults`` is the one place for defaults).

References
----------
- 3GPP TS 45.008, *Radio subsystem link control*, §8.1.4 (RXLEV).
- 3GPP TS 25.215, *Physical layer; Measurements (FDD)*, §5.1.1 (CPICH RSCP).
- 3GPP TS 36.214, *E-UTRA Physical layer; Measurements*, §5.1.1 (RSRP).
- 3GPP TS 38.215, *NR Physical layer measurements*, §5.1.1 (SS-RSRP).
- 3GPP TS 36.101, *E-UTRA UE radio transmission and reception*, Table 5.6-1.
- 3GPP TS 38.101-1 V17, *NR UE radio transmission and reception, Part 1: Range 1 Standalone*,
  Table 5.3.2-1.
"""

from __future__ import annotations

import math

from lomsong.defaults import LTE_N_RB, NR_N_RB, canonical_tech

__all__ = [
    "QUANTITY",
    "SUBCARRIERS_PER_RB",
    "LTE_N_RB",
    "NR_N_RB",
    "resource_blocks",
    "service_offset_db",
]

#: The quantity each technology is measured in (what a threshold of that technology refers to).
QUANTITY: dict[str, str] = {"2G": "RxLev", "3G": "RSCP", "4G": "RSRP", "5G": "SS-RSRP"}

#: Subcarriers in one resource block, LTE and NR (TS 36.211 §6.2.3, TS 38.211 §4.4.4.1).
SUBCARRIERS_PER_RB = 12

# LTE_N_RB (TS 36.101 Table 5.6-1) and NR_N_RB (TS 38.101-1 Table 5.3.2-1) live in
# lomsong.defaults, so that the towers reader checks bandwidths with the same tables.

# Channel bandwidths are nominal values (1.4, 5, 100 MHz …); a value read from a file as
# 1.4000000001 is still 1.4 MHz, while 1.5 MHz is no channel bandwidth at all.
_BANDWIDTH_ABS_TOL_MHZ = 1e-6


def _tech(tech: str) -> str:
    name = canonical_tech(tech)
    if name is None:
        raise ValueError(f"unknown technology {tech!r}; expected one of {', '.join(QUANTITY)}")
    return name


def _lookup(table: dict[float, int], bandwidth_mhz: float, what: str) -> int:
    for bw, n_rb in table.items():
        if math.isclose(float(bandwidth_mhz), bw, rel_tol=0.0, abs_tol=_BANDWIDTH_ABS_TOL_MHZ):
            return n_rb
    allowed = ", ".join(f"{bw:g}" for bw in table)
    raise ValueError(
        f"{what}: no channel bandwidth of {bandwidth_mhz!r} MHz; allowed: {allowed} MHz"
    )


def resource_blocks(tech: str, bandwidth_mhz: float, *, scs_khz: int | None = None) -> int:
    """Number of resource blocks N_RB of an LTE or NR carrier.

    Parameters
    ----------
    tech
        ``"4G"`` (LTE) or ``"5G"`` (NR); aliases such as ``"LTE"``/``"NR"`` are accepted.
    bandwidth_mhz
        Channel bandwidth (MHz), one of the standard's values.
    scs_khz
        NR subcarrier spacing (kHz): 15, 30 or 60 (FR1). Required for 5G; must be None or 15 for
        LTE (whose spacing is always 15 kHz).

    Returns
    -------
    int
        N_RB, the maximum transmission bandwidth configuration: TS 36.101 Table 5.6-1 for LTE,
        TS 38.101-1 Table 5.3.2-1 (FR1) for NR.

    Raises
    ------
    ValueError
        Unknown technology, 2G/3G (no resource blocks), a bandwidth not in the table (the message
        lists the allowed ones), or a missing/unknown NR subcarrier spacing.
    """
    name = _tech(tech)
    if name == "4G":
        if scs_khz not in (None, 15):
            raise ValueError(f"LTE has a 15 kHz subcarrier spacing; got scs_khz={scs_khz!r}")
        return _lookup(LTE_N_RB, bandwidth_mhz, "LTE (TS 36.101 Table 5.6-1)")
    if name == "5G":
        if scs_khz is None:
            raise ValueError(
                f"5G needs the subcarrier spacing scs_khz (one of {', '.join(map(str, NR_N_RB))})"
            )
        table = NR_N_RB.get(int(scs_khz)) if float(scs_khz).is_integer() else None
        if table is None:
            raise ValueError(
                f"NR FR1 subcarrier spacing {scs_khz!r} kHz unknown; allowed: "
                f"{', '.join(map(str, NR_N_RB))} kHz"
            )
        return _lookup(
            table, bandwidth_mhz, f"NR at {int(scs_khz)} kHz (TS 38.101-1 Table 5.3.2-1)"
        )
    raise ValueError(f"{name} has no resource blocks (only 4G/LTE and 5G/NR do)")


def service_offset_db(
    tech: str,
    *,
    bandwidth_mhz: float | None = None,
    cpich_share: float | None = None,
    scs_khz: int | None = None,
) -> float:
    """dB to add to the total received power (dBm) to get the technology's own quantity (dBm).

    See the module docstring for the model and its assumptions (2G BCCH carrier at full power,
    3G CPICH share of the total, 4G/5G power spread evenly over 12·N_RB resource elements with
    no reference-signal boosting).

    Parameters
    ----------
    tech
        ``"2G"``, ``"3G"``, ``"4G"`` or ``"5G"`` (or an alias: ``"GSM"``, ``"UMTS"``, ``"LTE"``,
        ``"NR"`` …).
    bandwidth_mhz
        Channel bandwidth (MHz); required for 4G and 5G, ignored for 2G and 3G.
    cpich_share
        Share of the cell's total power on the CPICH (0 < share ≤ 1, e.g. 0.1); required for
        3G, ignored otherwise.
    scs_khz
        NR subcarrier spacing (kHz); required for 5G, ignored otherwise.

    Returns
    -------
    float
        The offset in dB (≤ 0): 0 for RxLev, 10·log10(cpich_share) for RSCP,
        −10·log10(12·N_RB) for RSRP and SS-RSRP.

    Raises
    ------
    ValueError
        Unknown technology, a required argument missing or out of range, or a bandwidth not in
        the 3GPP table.
    """
    name = _tech(tech)
    if name == "2G":
        return 0.0
    if name == "3G":
        if cpich_share is None:
            raise ValueError("3G needs cpich_share, the CPICH share of the total power (e.g. 0.1)")
        share = float(cpich_share)
        if not 0.0 < share <= 1.0:
            raise ValueError(f"cpich_share must be in (0, 1]; got {cpich_share!r}")
        return 10.0 * math.log10(share)
    if bandwidth_mhz is None:
        raise ValueError(f"{name} needs bandwidth_mhz, the channel bandwidth (MHz)")
    n_rb = resource_blocks(name, bandwidth_mhz, scs_khz=scs_khz if name == "5G" else None)
    return -10.0 * math.log10(SUBCARRIERS_PER_RB * n_rb)
