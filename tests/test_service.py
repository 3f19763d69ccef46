"""Tests of lomsong.propagation.service: 3GPP resource-block tables and per-technology offsets."""

from __future__ import annotations

import math

import pytest
from assertions import EXACT, HAND_COMPUTED_DB

from lomsong.propagation.service import (
    LTE_N_RB,
    NR_N_RB,
    QUANTITY,
    resource_blocks,
    service_offset_db,
)

# ------------------------------------------------------------------------ resource blocks


@pytest.mark.parametrize(
    ("bandwidth_mhz", "n_rb"),
    [(1.4, 6), (3, 15), (5, 25), (10, 50), (15, 75), (20, 100)],  # TS 36.101 Table 5.6-1
)
def test_lte_resource_blocks_match_ts_36_101(bandwidth_mhz: float, n_rb: int) -> None:
    assert resource_blocks("4G", bandwidth_mhz) == n_rb
    assert resource_blocks("LTE", bandwidth_mhz) == n_rb  # the alias names the same table


# TS 38.101-1 Table 5.3.2-1 (FR1), every channel bandwidth of the 30 and 15 kHz rows.
NR_30KHZ = {10: 24, 15: 38, 20: 51, 25: 65, 30: 78, 40: 106, 50: 133, 60: 162, 70: 189,
            80: 217, 90: 245, 100: 273}  # fmt: skip
NR_15KHZ = {5: 25, 10: 52, 15: 79, 20: 106, 25: 133, 30: 160, 40: 216, 50: 270}


@pytest.mark.parametrize(("bandwidth_mhz", "n_rb"), sorted(NR_30KHZ.items()))
def test_nr_resource_blocks_at_30_khz_match_ts_38_101_1(bandwidth_mhz: int, n_rb: int) -> None:
    assert resource_blocks("5G", bandwidth_mhz, scs_khz=30) == n_rb


@pytest.mark.parametrize(("bandwidth_mhz", "n_rb"), sorted(NR_15KHZ.items()))
def test_nr_resource_blocks_at_15_khz_match_ts_38_101_1(bandwidth_mhz: int, n_rb: int) -> None:
    assert resource_blocks("NR", bandwidth_mhz, scs_khz=15) == n_rb


def test_resource_blocks_fill_at_most_the_channel() -> None:
    # N_RB·12·SCS is the occupied bandwidth: always below the channel bandwidth (guard bands).
    for bw, n_rb in LTE_N_RB.items():
        assert n_rb * 12 * 15e-3 < bw
    for scs, table in NR_N_RB.items():
        for bw, n_rb in table.items():
            assert n_rb * 12 * scs * 1e-3 < bw, (scs, bw)


def test_unknown_bandwidth_lists_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match=r"allowed: 1\.4, 3, 5, 10, 15, 20 MHz"):
        resource_blocks("4G", 7)
    with pytest.raises(ValueError, match=r"no channel bandwidth of 55 MHz; allowed: 5, 10"):
        resource_blocks("5G", 55, scs_khz=30)
    with pytest.raises(ValueError, match="allowed: 3, 5, 10"):
        resource_blocks("5G", 100, scs_khz=15)  # 100 MHz needs 30 or 60 kHz


def test_resource_blocks_rejects_what_has_none() -> None:
    with pytest.raises(ValueError, match="subcarrier spacing"):
        resource_blocks("5G", 100)  # NR needs its spacing
    with pytest.raises(ValueError, match="allowed: 15, 30, 60 kHz"):
        resource_blocks("5G", 100, scs_khz=120)  # FR2 spacing
    with pytest.raises(ValueError, match="no resource blocks"):
        resource_blocks("2G", 0.2)
    with pytest.raises(ValueError, match="15 kHz"):
        resource_blocks("4G", 10, scs_khz=30)
    with pytest.raises(ValueError, match="unknown technology"):
        resource_blocks("6G", 10)


# ------------------------------------------------------------------------ service offsets


@pytest.mark.parametrize(
    ("tech", "kwargs", "expected_db"),
    [
        ("2G", {}, 0.0),  # BCCH carrier at full power
        ("2G", {"bandwidth_mhz": 0.2}, 0.0),  # bandwidth is irrelevant for RxLev
        ("3G", {"cpich_share": 0.1}, -10.0),  # 10·log10(0.1)
        ("3G", {"cpich_share": 0.05}, -13.01),  # 10·log10(0.05)
        ("4G", {"bandwidth_mhz": 5}, -24.77),  # −10·log10(12·25) = −10·log10(300)
        ("4G", {"bandwidth_mhz": 10}, -27.78),  # −10·log10(600)
        ("4G", {"bandwidth_mhz": 20}, -30.79),  # −10·log10(1200)
        ("5G", {"bandwidth_mhz": 100, "scs_khz": 30}, -35.15),  # −10·log10(12·273 = 3276)
        ("5G", {"bandwidth_mhz": 20, "scs_khz": 15}, -31.04),  # −10·log10(12·106 = 1272)
    ],
)
def test_service_offset_hand_values(tech: str, kwargs: dict, expected_db: float) -> None:
    assert service_offset_db(tech, **kwargs) == pytest.approx(expected_db, abs=HAND_COMPUTED_DB)


def test_rsrp_offset_is_minus_ten_log_of_the_resource_elements() -> None:
    for bw, n_rb in LTE_N_RB.items():
        expected = -10 * math.log10(12 * n_rb)
        assert service_offset_db("4G", bandwidth_mhz=bw) == pytest.approx(expected, abs=EXACT)


def test_wider_carrier_spreads_power_thinner() -> None:
    # Same total power over more resource elements: each one gets less.
    lte = [service_offset_db("4G", bandwidth_mhz=bw) for bw in sorted(LTE_N_RB)]
    assert all(a > b for a, b in zip(lte, lte[1:], strict=False))
    nr = [service_offset_db("5G", bandwidth_mhz=bw, scs_khz=30) for bw in sorted(NR_N_RB[30])]
    assert all(a > b for a, b in zip(nr, nr[1:], strict=False))


def test_service_offset_needs_each_technologys_own_parameter() -> None:
    with pytest.raises(ValueError, match="cpich_share"):
        service_offset_db("3G")
    with pytest.raises(ValueError, match=r"cpich_share must be in \(0, 1\]"):
        service_offset_db("3G", cpich_share=0.0)
    with pytest.raises(ValueError, match="bandwidth_mhz"):
        service_offset_db("4G")
    with pytest.raises(ValueError, match="subcarrier spacing"):
        service_offset_db("5G", bandwidth_mhz=100)
    with pytest.raises(ValueError, match="allowed"):
        service_offset_db("4G", bandwidth_mhz=12)


def test_quantity_names_every_technology() -> None:
    assert QUANTITY == {"2G": "RxLev", "3G": "RSCP", "4G": "RSRP", "5G": "SS-RSRP"}
