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
#: vertical polarisation, 50 % time/location/situation. Mode of variability ``mdvar`` 3, the
#: broadcast mode of NTIA ITM v1.4 (README "mdvar"; Hufford et al., NTIA TR-82-100, 1982,
#: §3): time and location are two separate reliabilities — "at least a fraction q_T of the
#: time at a fraction q_L of locations", F(L, T) — so the location quantile can be set alone.
#: A coverage map asks exactly that: a level reached at p of the locations (the run's
#: location probability), at the median of time (hour-to-hour fading is not what a village
#: lives with) and of situations (the prediction's own median, no confidence margin). The
#: mobile mode (2) ties the location quantile to the time quantile (one "reliability" for
#: both), which would add time fading at p; the +10 flag (location variability eliminated)
#: would leave only the median. The coverage engine evaluates each cell at the location
#: median and at the location probability in one pass
#: (:func:`lomsong.propagation.itm_raster.itm_loss_pair`); at the medians the loss is the same
#: in every mode.
ITM_DEFAULTS = {"climate": 1, "n0": 350.0, "pol": 1, "epsilon": 15.0, "sigma": 0.005,
                "mdvar": 3, "time": 50.0, "location": 50.0, "situation": 50.0}  # fmt: skip
#: When the run's location probability is the median (0.5), the location quantile at which the
#: coverage engine still evaluates ITM, only to read each cell's location variability σ_L
#: (for the households' coverage probability): 0.9, the default probability, so that the
#: same cells' σ_L are read whatever the probability (ITM's deviation is σ_L · Q⁻¹(1 − q)).
ITM_SIGMA_LOCATION = 0.9

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
#: The Vietnamese regulation on service-area maps (QCVN 81:2019/BTTTT, issued by Circular
#: 09/2019/TT-BTTTT, Annex B "Vùng cung cấp dịch vụ dưới dạng bản đồ số") sets no signal level:
#: its service zones are defined by download rates (e.g. LTE zone 1: Vdmin ≥ 5 Mbit/s, zone 2:
#: Vdmin ≥ 2.5 Mbit/s; WCDMA zone 1: 1 Mbit/s, zone 2: 256 kbit/s — as published by VNPT under
#: it, vnpt.vn "Vùng phủ sóng của VNPT", 2020). A rate is not a received level (it depends on
#: load and interference), so the planning levels above stand; an operator that maps its
#: QCVN 81 zones to levels sets them in ``[coverage] thresholds``.
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
#: A phone's floor (dBm, in each technology's quantity): a walk-test row with no service says the
#: level there was below it (a censored value in the calibration's likelihood). It is the level
#: at which a 3GPP-compliant handset must still work — its reference sensitivity expressed in
#: the measured quantity — so "no service" bounds the level from above without claiming more:
#:
#: - 2G RxLev −102 dBm: GSM 900 MS reference sensitivity (3GPP TS 45.005 §6.2);
#: - 3G RSCP −115 dBm: TS 25.101 §7.3 REFSENS, DPCH_Ec −117 dBm at Îor −106.7 dBm (Band I) and
#:   −114 / −103.7 dBm (Band VIII), with the test's CPICH_Ec/Îor of −10 dB → CPICH RSCP
#:   −116.7 / −113.7 dBm;
#: - 4G RSRP −122 dBm: TS 36.101 Table 7.3.1-1 REFSENS for Band 3 (1800 MHz, Vietnam's main LTE
#:   band), 10 MHz: −94 dBm over 600 subcarriers → −94 − 10·log10(600) = −121.8 dBm per resource
#:   element (Band 1: −97 dBm → −124.8);
#: - 5G SS-RSRP −122 dBm: TS 38.101-1 Table 7.3.2-1a n1, 15 kHz, 20 MHz: −93.8 dBm over 1,272
#:   subcarriers → −124.8 dBm per RE; taken as LTE's −122 (TDD bands' tables not checked).
#:
#: Real phones are a few dB better than the requirement, and 3GPP's reporting ranges go lower
#: (RSRP to −140/−156 dBm, TS 36.133); a floor set too low would claim levels the phone never
#: saw. Override per file or in the call (``floors_dbm``).
PHONE_FLOOR_DBM: dict[str, float] = {"2G": -102.0, "3G": -115.0, "4G": -122.0, "5G": -122.0}
#: A tower gets its own (partially pooled) offset only with at least this many measurements:
#: with a 6-8 dB spread, 30 samples give a standard error of ~1.3 dB, the size of the effect
#: worth keeping.
CALIBRATION_TOWER_MIN_SAMPLES = 30
#: Significance of the likelihood-ratio test that keeps a distance slope for an operator ×
#: technology (χ² with 1 degree of freedom: 6.63 at 0.01).
CALIBRATION_SLOPE_ALPHA = 0.01
#: Leave-one-tower-out / leave-one-village-out: at most this many folds; with more towers or
#: villages, whole towers (villages) are dealt into this many folds (grouped K-fold).
CALIBRATION_MAX_FOLDS = 50
#: Validation: a village (or a village × operator) gets an observed status from a walk test
#: only with at least this many samples. With n samples the share without signal is known to
#: ±√(0.25 / n) (one standard error at a share of 0.5): ±0.22 at 5, enough to tell "mostly dark"
#: from "mostly lit"; fewer samples are counted (``samples``) but judge nothing.
VALIDATION_MIN_SAMPLES = 5
#: Time zone of a phone's clock, for walk-test logs that write local time without a zone
#: (G-NetTrack's ``Timestamp``): Vietnam, UTC+7 all year (IANA ``Asia/Ho_Chi_Minh``). A log
#: made elsewhere names its zone: ``read_evidence(..., local_tz="...")``.
PHONE_TIMEZONE = "Asia/Ho_Chi_Minh"

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
#: ``map.html`` loads Leaflet and its plugins from CDNs unless ``[output] offline_map`` (or
#: ``--offline-map``) asks for a self-contained file (see :mod:`lomsong.maps.offline`).
OFFLINE_MAP = False
#: Write the printable commune sheets (``sheets/``, :mod:`lomsong.report.sheets`): 0.5-1 s per
#: commune with villages without reliable signal; off for a quick look at a big province.
SHEETS = True

# -- the offline map's libraries (lomsong.maps.assets) --------------------------------------------
#: Environment variable naming the folder of the offline map's npm packages; without it they
#: live in the user cache, ``$XDG_CACHE_HOME`` (default ``~/.cache``; ``%LOCALAPPDATA%`` on
#: Windows) ``/`` :data:`MAP_ASSETS_SUBDIR` — outside any project, fetched once per machine.
MAP_ASSETS_ENV = "LOMSONG_MAP_ASSETS"
MAP_ASSETS_SUBDIR = "lomsong/map-assets"
#: npm registry the packages are downloaded from (HTTPS; each tarball is checked against the
#: sha512 pinned in lomsong.maps.assets, so a mirror is as safe as the registry itself) and the
#: environment variable that replaces it (a local mirror, e.g. ``https://registry.npmmirror.com``).
NPM_REGISTRY = "https://registry.npmjs.org"
NPM_REGISTRY_ENV = "LOMSONG_NPM_REGISTRY"
#: Timeout of one registry request, s: the largest tarball (Font Awesome, ≈ 4.9 MB) arrives in
#: well under a minute on a slow (1 Mbit/s) line.
DOWNLOAD_TIMEOUT_S = 120.0
#: Folder inside the outputs that holds the per-tower cache (kept across reruns).
CACHE_DIR = ".cache"
