"""The one documented place for lomsong's defaults (units in the names).

Radio defaults per technology are used for towers whose file leaves a parameter empty; every use
is counted and reported in ``summary.json`` (``defaults_used``).
"""

from __future__ import annotations

#: Receiver (handset) height above ground, m — the usual planning assumption for outdoor users.
RX_HEIGHT_M = 1.5

#: Coverage threshold, received power at RX_HEIGHT_M (dBm). −100 dBm is a common outdoor
#: planning level for voice service on 2G/4G (≈ RSRP −110 dBm per resource element on LTE).
THRESHOLD_DBM = -100.0

#: A village is "dead" when at least this share of its households is uncovered.
DEAD_SHARE = 0.5

#: Maximum prediction radius around each tower, km.
MAX_RADIUS_KM = 30.0

#: Persons per household (Vietnam 2009 census average).
HOUSEHOLD_SIZE = 3.8

#: Effective earth radius factor (standard atmosphere).
K_FACTOR = 4.0 / 3.0
EARTH_RADIUS_M = 6_371_000.0

#: Per-technology radio defaults: carrier (MHz), antenna height above ground (m), EIRP per
#: sector/antenna (dBm), horizontal beamwidth (deg) and electrical downtilt (deg). Values are
#: typical of Vietnamese rural macro sites: 2G on 900 MHz, 3G on 2100 MHz, 4G on 1800 MHz,
#: 5G on 3500 MHz (n78); EIRP = ~43–46 dBm PA + ~15–17 dBi antenna − feeder loss.
TECH_DEFAULTS: dict[str, dict[str, float]] = {
    "2G": {"freq_mhz": 900.0, "height_m": 30.0, "eirp_dbm": 58.0, "beamwidth_deg": 65.0,
           "tilt_deg": 3.0},
    "3G": {"freq_mhz": 2100.0, "height_m": 30.0, "eirp_dbm": 58.0, "beamwidth_deg": 65.0,
           "tilt_deg": 3.0},
    "4G": {"freq_mhz": 1800.0, "height_m": 30.0, "eirp_dbm": 60.0, "beamwidth_deg": 65.0,
           "tilt_deg": 3.0},
    "5G": {"freq_mhz": 3500.0, "height_m": 30.0, "eirp_dbm": 63.0, "beamwidth_deg": 65.0,
           "tilt_deg": 4.0},
}  # fmt: skip

#: Technology assumed when a tower's file says nothing about it.
DEFAULT_TECH = "4G"

#: Candidate (proposed) sites: mast height above ground (m) and omni EIRP (dBm).
CANDIDATE_MAST_HEIGHT_M = 30.0
CANDIDATE_TECH = "4G"
