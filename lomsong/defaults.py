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
#: Building types of ``[coverage] indoor`` (ITU-R P.2109 Table 1); ``false`` = outdoor.
INDOOR_TYPES = ("traditional", "thermally_efficient")

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
#: Default coverage threshold of each technology, in the technology's OWN measured quantity at
#: RX_HEIGHT_M (dBm; ``[coverage] thresholds`` overrides it per technology; the conversion from
#: the total received power is :mod:`lomsong.propagation.service`):
#:
#: - 2G, RxLev −100 dBm: a standard plus a margin — the GSM MS reference sensitivity is
#:   −102 dBm (3GPP TS 45.005 §6.2, normal MS), + 2 dB;
#: - 3G, RSCP −105 dBm: common UMTS outdoor coverage planning practice, not a standard value;
#: - 4G, RSRP −110 dBm: common LTE cell-edge planning practice (and issue 16's example), not a
#:   standard value;
#: - 5G, SS-RSRP −110 dBm: the same planning level as LTE RSRP, by practice (no standard value).
#:
#: The levels of the Vietnamese regulation on service-area maps (QCVN 81:2019/BTTTT, Annex B)
#: could not be checked; where they differ, set them in ``[coverage] thresholds``.
SERVICE_THRESHOLDS_DBM: dict[str, float] = {"2G": -100.0, "3G": -105.0, "4G": -110.0,
                                            "5G": -110.0}  # fmt: skip

#: Share of a UMTS cell's total power on its CPICH (3G RSCP = total + 10·log10(share)):
#: operators set 5–10 %; 10 % is the common planning value.
CPICH_SHARE = 0.1
#: NR subcarrier spacing (kHz) for the 5G SS-RSRP resource blocks: 30 kHz, the usual numerology
#: of n78 (3.5 GHz TDD) deployments (n78 allows 15, 30 and 60 kHz: 3GPP TS 38.101-1
#: Table 5.3.5-1).
NR_SCS_KHZ = 30

#: Location probability at which coverage is judged "reliable" (0.5 ≤ p < 1; 0.5 = the model's
#: median). 0.9: the cell-edge probability of the US FCC's Broadband Data Collection coverage
#: maps (Second Report and Order FCC 20-94, 2020: 4G LTE maps at a 90 % cell-edge probability).
LOCATION_PROBABILITY = 0.9
#: Indoor coverage: False = outdoor, or a building type of INDOOR_TYPES (ITU-R P.2109 building
#: entry loss at the run's probability and each tower's frequency).
INDOOR: bool | str = False
#: Technologies that count for coverage (``[coverage] technologies``); empty = every technology
#: present in the tower list.
TECHNOLOGIES: tuple[str, ...] = ()

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

# -- land cover ([inputs] landcover) ------------------------------------------------------------
#: Clutter types of ITU-R P.2108-1 §3.1 Table 3: the values a land-cover class table may take
#: (``[inputs] landcover`` ``classes``; lomsong.propagation.clutter models each of them).
CLUTTER_TYPES = ("water_sea", "open_rural", "suburban", "urban", "trees_forest", "dense_urban")

#: The default land-cover classification, ESA WorldCover 10 m (2020 v100 / 2021 v200, Product
#: User Manual Table 1): class code → P.2108 clutter type. Trees and mangroves (closed canopies,
#: typically 10-20 m) are "trees_forest"; built-up is "urban"; permanent water "water_sea"; every
#: low-vegetation or bare class (shrubland, grassland, cropland, bare, snow, herbaceous wetland,
#: moss/lichen) is "open_rural". Code 0 is WorldCover's "no data" (lomsong's "unknown").
WORLDCOVER_CLUTTER: dict[int, str] = {
    10: "trees_forest",  # tree cover
    20: "open_rural",  # shrubland
    30: "open_rural",  # grassland
    40: "open_rural",  # cropland
    50: "urban",  # built-up
    60: "open_rural",  # bare / sparse vegetation
    70: "open_rural",  # snow and ice
    80: "water_sea",  # permanent water bodies
    90: "open_rural",  # herbaceous wetland
    95: "trees_forest",  # mangroves
    100: "open_rural",  # moss and lichen
}

#: The clutter type a land-cover clutter loss is counted from: the empirical models (Hata) and
#: ITM's median already hold the average ground clutter of the open, rural areas they were
#: measured or fitted in, so a receiver in open land loses nothing more, one under forest the
#: difference (None would count P.2108's absolute loss, ~17.7 dB even in open land at 900 MHz).
CLUTTER_REFERENCE = "open_rural"

# -- towers -------------------------------------------------------------------------------------
#: Mast height above ground (m) of a tower, a candidate or a fibre point whose file gives none: a
#: common self-supporting mast for rural sites in Vietnam is 30–45 m; 30 m is the cautious end.
MAST_HEIGHT_M = 30.0

#: Per-technology radio defaults: carrier (MHz), channel bandwidth (MHz), antenna height above
#: ground (m), EIRP per sector/antenna (dBm, the cell's total), horizontal beamwidth (deg) and
#: electrical downtilt (deg). Values are typical of Vietnamese rural macro sites: 2G on 900 MHz,
#: 3G on 2100 MHz, 4G on 1800 MHz, 5G on 3500 MHz (n78); EIRP = ~43–46 dBm PA + ~15–17 dBi
#: antenna − feeder loss. Bandwidths: GSM carrier 0.2 MHz (3GPP TS 45.005 §2), UMTS 5 MHz
#: (TS 25.104 §5.4.1), LTE 10 MHz (a common 1800 MHz carrier; TS 36.101 Table 5.6-1 allows
#: 1.4–20), NR 100 MHz (n78's widest channel, TS 38.101-1 Table 5.3.5-1); only the LTE and NR
#: ones change a prediction (RSRP/SS-RSRP per resource element, :mod:`lomsong.propagation.service`).
TECH_DEFAULTS: dict[str, dict[str, float]] = {
    "2G": {"freq_mhz": 900.0, "bandwidth_mhz": 0.2, "height_m": MAST_HEIGHT_M, "eirp_dbm": 58.0,
           "beamwidth_deg": 65.0, "tilt_deg": 3.0},
    "3G": {"freq_mhz": 2100.0, "bandwidth_mhz": 5.0, "height_m": MAST_HEIGHT_M, "eirp_dbm": 58.0,
           "beamwidth_deg": 65.0, "tilt_deg": 3.0},
    "4G": {"freq_mhz": 1800.0, "bandwidth_mhz": 10.0, "height_m": MAST_HEIGHT_M, "eirp_dbm": 60.0,
           "beamwidth_deg": 65.0, "tilt_deg": 3.0},
    "5G": {"freq_mhz": 3500.0, "bandwidth_mhz": 100.0, "height_m": MAST_HEIGHT_M,
           "eirp_dbm": 63.0, "beamwidth_deg": 65.0, "tilt_deg": 4.0},
}  # fmt: skip

#: LTE channel bandwidth (MHz) → N_RB, 3GPP TS 36.101 Table 5.6-1: the channel bandwidths a 4G
#: tower may declare. A standard's table, not a default: it lives here (beside TECH_ALIASES) so
#: that the towers reader checks ``bandwidth_mhz`` row by row without importing the physics;
#: :mod:`lomsong.propagation.service` converts with it.
LTE_N_RB: dict[float, int] = {1.4: 6, 3.0: 15, 5.0: 25, 10.0: 50, 15.0: 75, 20.0: 100}

#: NR FR1 subcarrier spacing (kHz) → {channel bandwidth (MHz) → N_RB}, 3GPP TS 38.101-1 (Rel-17)
#: Table 5.3.2-1; channel bandwidths the table marks N/A for a spacing are absent. A 5G tower
#: may declare the bandwidths of NR_SCS_KHZ (see LTE_N_RB for why the table lives here).
NR_N_RB: dict[int, dict[float, int]] = {
    15: {3.0: 15, 5.0: 25, 10.0: 52, 15.0: 79, 20.0: 106, 25.0: 133, 30.0: 160, 35.0: 188,
         40.0: 216, 45.0: 242, 50.0: 270},
    30: {5.0: 11, 10.0: 24, 15.0: 38, 20.0: 51, 25.0: 65, 30.0: 78, 35.0: 92, 40.0: 106,
         45.0: 119, 50.0: 133, 60.0: 162, 70.0: 189, 80.0: 217, 90.0: 245, 100.0: 273},
    60: {10.0: 11, 15.0: 18, 20.0: 24, 25.0: 31, 30.0: 38, 35.0: 44, 40.0: 51, 45.0: 58,
         50.0: 65, 60.0: 79, 70.0: 93, 80.0: 107, 90.0: 121, 100.0: 135},
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
