"""The one documented place for lomsong's defaults (units in the names).

Radio defaults per technology are used for towers whose file leaves a parameter empty; every use
is counted and reported in ``summary.json`` (``defaults_used``). ``config.py`` takes every
default of the project file from here, and ``lomsong/data/project.toml`` (the template that
``lomsong init`` writes) is checked against these values by a test.
"""

from __future__ import annotations

from pathlib import Path

# -- choices ------------------------------------------------------------------------------------
#: Propagation models of the project file's ``[model] name``.
MODEL_NAMES = ("fspl", "hata", "cost231", "itm")
#: Environments of the Hata family (``[model] environment``).
ENVIRONMENTS = ("urban_large", "urban", "suburban", "open")
#: Languages of the outputs (``[output] lang``).
LANGS = ("vi", "en")
#: Site-selection methods (``[siting] method``).
SITING_METHODS = ("greedy", "exact", "set_cover")

# -- [model] ------------------------------------------------------------------------------------
#: Hata-family environment when the project file gives none.
ENVIRONMENT = "suburban"

#: Receiver (handset) height above ground, m — the usual planning assumption for outdoor users.
RX_HEIGHT_M = 1.5

#: Maximum prediction radius around each tower, km.
MAX_RADIUS_KM = 30.0

#: ITM radio-climate and ground defaults for Vietnam: climate 1 (equatorial), surface
#: refractivity N0 = 350 N-units (humid tropics), average ground (ε = 15, σ = 0.005 S/m),
#: vertical polarisation, mdvar 12 (broadcast mode, location variability eliminated — the
#: cell value is the median over time and situations), 50 % time/location/situation.
ITM_DEFAULTS = {"climate": 1, "n0": 350.0, "pol": 1, "epsilon": 15.0, "sigma": 0.005,
                "mdvar": 12, "time": 50.0, "location": 50.0, "situation": 50.0}  # fmt: skip

# -- [coverage] ---------------------------------------------------------------------------------
#: Coverage threshold, received power at RX_HEIGHT_M (dBm). −100 dBm is a common outdoor
#: planning level for voice service on 2G/4G (≈ RSRP −110 dBm per resource element on LTE).
THRESHOLD_DBM = -100.0

#: Margin added to every threshold for indoor users (dB); 0 = outdoor coverage.
INDOOR_MARGIN_DB = 0.0
#: Largest plausible indoor margin (dB): building-entry loss is ~10-20 dB for traditional and up
#: to ~30-40 dB for thermally efficient buildings (ITU-R P.2109, 1-4 GHz, high percentiles).
INDOOR_MARGIN_MAX_DB = 40.0
#: Plausible range of a coverage threshold (dBm, exclusive): anything outside is a typo.
THRESHOLD_RANGE_DBM = (-200.0, 0.0)

#: A village is "dead" when at least this share of its households is uncovered.
DEAD_SHARE = 0.5

# -- households ---------------------------------------------------------------------------------
#: Persons per household (Vietnam 2009 census average).
HOUSEHOLD_SIZE = 3.8

# -- towers -------------------------------------------------------------------------------------
#: Mast height above ground (m) of a tower, a candidate or a fibre point whose file gives none: a
#: common self-supporting mast for rural sites in Vietnam is 30–45 m; 30 m is the cautious end.
MAST_HEIGHT_M = 30.0

#: Per-technology radio defaults: carrier (MHz), antenna height above ground (m), EIRP per
#: sector/antenna (dBm), horizontal beamwidth (deg) and electrical downtilt (deg). Values are
#: typical of Vietnamese rural macro sites: 2G on 900 MHz, 3G on 2100 MHz, 4G on 1800 MHz,
#: 5G on 3500 MHz (n78); EIRP = ~43–46 dBm PA + ~15–17 dBi antenna − feeder loss.
TECH_DEFAULTS: dict[str, dict[str, float]] = {
    "2G": {"freq_mhz": 900.0, "height_m": MAST_HEIGHT_M, "eirp_dbm": 58.0, "beamwidth_deg": 65.0,
           "tilt_deg": 3.0},
    "3G": {"freq_mhz": 2100.0, "height_m": MAST_HEIGHT_M, "eirp_dbm": 58.0, "beamwidth_deg": 65.0,
           "tilt_deg": 3.0},
    "4G": {"freq_mhz": 1800.0, "height_m": MAST_HEIGHT_M, "eirp_dbm": 60.0, "beamwidth_deg": 65.0,
           "tilt_deg": 3.0},
    "5G": {"freq_mhz": 3500.0, "height_m": MAST_HEIGHT_M, "eirp_dbm": 63.0, "beamwidth_deg": 65.0,
           "tilt_deg": 4.0},
}  # fmt: skip

#: Technology assumed when a tower's file says nothing about it.
DEFAULT_TECH = "4G"

#: Common names of the technologies, mapped to lomsong's (``[coverage] thresholds`` keys; the
#: project file is checked against them, the coverage rule reads them).
TECH_ALIASES: dict[str, str] = {
    "2G": "2G", "GSM": "2G", "GPRS": "2G", "EDGE": "2G",
    "3G": "3G", "UMTS": "3G", "WCDMA": "3G", "HSPA": "3G",
    "4G": "4G", "LTE": "4G",
    "5G": "5G", "NR": "5G",
}  # fmt: skip


def canonical_tech(name: str) -> str | None:
    """lomsong's name of a technology ("LTE" → "4G", "nr" → "5G"); None when unknown."""
    return TECH_ALIASES.get(str(name).strip().upper())


#: Tower rows without ``site_id`` — and OpenCelliD cells whose ids name no site (GSM, CDMA, NR),
#: or sites (eNodeBs, NodeBs) whose centres lie — closer than this (m) are one site: two masts
#: of one operator are rarely closer than a few hundred metres in rural Vietnam.
SITE_DISTANCE_M = 50.0

#: OpenCelliD cells of one eNodeB (LTE) or NodeB (UMTS) farther apart than this (m), chained,
#: stay different sites. OpenCelliD positions are averages of where phones heard the cell, so
#: the sectors of one mast scatter by hundreds of metres (each towards its own azimuth, up to
#: about a cell radius); beyond 2 km — more than a rural cell radius in hilly terrain — the ids
#: are more likely reused by another site, or the estimate is bad, than one mast's.
OPENCELLID_SITE_SPREAD_M = 2000.0

#: UMTS cells of one RNC whose 16-bit C-Id differ only in the last decimal digit
#: (``C-Id // 10``) are taken as one NodeB. 3GPP's UTRAN cell id is only RNC id (12 bits) and
#: C-Id (16 bits, TS 25.401) — an RNC controls hundreds of NodeBs across a province, so the RNC
#: alone cannot name a site — and operators commonly number a NodeB's sectors and carriers in
#: the last digit (…1, …2, …3). 1 = no NodeB grouping (each UMTS cell alone, then distance).
UMTS_NODEB_CID_BLOCK = 10

# -- calibration --------------------------------------------------------------------------------
#: Transmitter antenna height above ground (m) of a measurement file that gives none: a rooftop
#: or short mast, typical of LoRaWAN gateways in a city.
CALIBRATION_TX_HEIGHT_M = 15.0

# -- [siting] -----------------------------------------------------------------------------------
#: Candidate (proposed) sites: mast height above ground (m) and technology.
CANDIDATE_MAST_HEIGHT_M = MAST_HEIGHT_M
CANDIDATE_TECH = "4G"
#: Spacing of the grid of candidate sites laid over the dead zones (m).
CANDIDATE_SPACING_M = 1500.0
#: Candidates farther than this from every uncovered household are dropped (km).
CANDIDATE_MAX_DISTANCE_KM = 5.0
#: How many sites to propose.
SITES = 10
#: Site-selection method.
SITING_METHOD = "greedy"
#: ``set_cover``: the share of uncovered households the fewest sites must reach.
TARGET_SHARE = 0.9
#: Time limit of the exact (MILP) solver, s.
TIME_LIMIT_S = 60.0
#: Microwave backhaul: link frequency (GHz) — 7 GHz is a common long-haul rural band — and the
#: longest hop considered (km).
BACKHAUL_FREQ_GHZ = 7.0
BACKHAUL_MAX_HOP_KM = 20.0
#: Plausible microwave backhaul frequencies (GHz): licensed bands from ~1 GHz to E-band (86 GHz).
BACKHAUL_FREQ_RANGE_GHZ = (1.0, 90.0)

# -- [output] -----------------------------------------------------------------------------------
#: Output folder (relative to the project file).
OUTPUT_DIR = Path("outputs/project")
#: Language of the map, report and sentences.
LANG = "vi"
#: Folder inside the outputs that holds the per-tower cache (kept across reruns).
CACHE_DIR = ".cache"
