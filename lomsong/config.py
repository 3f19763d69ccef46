"""The project file (TOML) → typed, validated dataclasses.

Every path in the file is relative to the file itself. Unknown keys and values of the wrong type
are errors that name the key (``model.nam: unknown key; expected one of …``); every problem of
the file is reported at once.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import lomsong.defaults as dflt
from lomsong.defaults import (
    ENVIRONMENTS,
    INDOOR_TYPES,
    LANGS,
    MODEL_NAMES,
    SERVICE_THRESHOLDS_DBM,
    SITING_METHODS,
    TECH_DEFAULTS,
    canonical_tech,
)
from lomsong.errors import ConfigError, InputError, Problem
from lomsong.layers.landcover import class_problems
from lomsong.propagation.service import QUANTITY

__all__ = [
    "LayerInput",
    "LandcoverInput",
    "Inputs",
    "ModelConfig",
    "CoverageConfig",
    "SitingConfig",
    "OutputConfig",
    "ProjectConfig",
    "load_config",
    "key_error",
    "MODEL_NAMES",
    "ENVIRONMENTS",
]


@dataclass(frozen=True)
class LayerInput:
    """One input file, with an optional mapping of standard column names to the file's columns.

    Attributes
    ----------
    path
        Absolute path of the file.
    columns
        ``{standard name: column in the file}``; e.g. ``{"village_id": "commune_id"}``.
    layer
        Layer name inside a multi-layer file (GeoPackage).
    population
        Column of persons; households = population / household_size when given.
    household_size
        Persons per household (Vietnam 2009 census: 3.8).
    """

    path: Path
    columns: dict[str, str] = field(default_factory=dict)
    layer: str | None = None
    population: str | None = None
    household_size: float = dflt.HOUSEHOLD_SIZE


@dataclass(frozen=True)
class LandcoverInput:
    """A land-cover raster of integer class codes (terminal clutter loss, ITU-R P.2108).

    Attributes
    ----------
    path
        Absolute path of the raster (any GDAL raster, any CRS).
    classes
        ``{class code: clutter type}`` (``water_sea``, ``open_rural``, ``suburban``, ``urban``,
        ``trees_forest``, ``dense_urban``); None: ESA WorldCover's codes. The project file's
        keys are strings (``{ 10 = "trees_forest" }``), read as integers.
    """

    path: Path
    classes: dict[int, str] | None = None


#: Inputs a project file may give as a bare path (``key = "file"``) as well as a table.
_FILE_INPUTS = (LayerInput, LandcoverInput)


@dataclass(frozen=True)
class Inputs:
    villages: LayerInput
    towers: LayerInput
    terrain: tuple[Path, ...] = ()
    households: LayerInput | None = None
    candidates: LayerInput | None = None  # None = "auto": generated from terrain and dead zones
    water: LayerInput | None = None  # water polygons; None: the DEM's sea (≤ 0 m, at the edge)
    landcover: LandcoverInput | None = None  # class codes → clutter loss; None: no clutter loss
    # field evidence: walk-test logs and reported-hamlet lists, told apart by their header
    evidence: tuple[Path, ...] = ()


@dataclass(frozen=True)
class ModelConfig:
    """Propagation model: ``name`` in fspl | hata | cost231 | itm (default itm with terrain,
    hata without); ``environment`` for Hata;
    ``calibration``: fitted parameters written by ``lomsong calibrate`` (JSON), applied to the
    existing towers and candidate sites: per transmitter (offset per tower id, else the mean
    offset, and the distance correction) or, fitted on walk tests, per operator/technology and
    tower added to the prediction (:mod:`lomsong.coverage.types`)."""

    name: str | None = None  # None: "itm" when the project has terrain, else "hata"
    environment: str = dflt.ENVIRONMENT
    rx_height_m: float = dflt.RX_HEIGHT_M
    max_radius_km: float = dflt.MAX_RADIUS_KM
    calibration: Path | None = None


@dataclass(frozen=True)
class CoverageConfig:
    """``thresholds``: per technology, in the technology's own quantity (2G RxLev, 3G RSCP,
    4G RSRP, 5G SS-RSRP; ``{ "4G" = -110 }``, dBm), technologies not given take
    :data:`~lomsong.defaults.SERVICE_THRESHOLDS_DBM`; ``location_probability``: p at which
    coverage is "reliable" (0.5 ≤ p < 1, 0.5 = the median); ``indoor``: False (outdoor) or a
    building type of :data:`~lomsong.defaults.INDOOR_TYPES` (ITU-R P.2109 entry loss);
    ``indoor_margin_db``: a manual indoor margin added to every threshold (dB);
    ``technologies``: the technologies that count, lomsong's names ("LTE" is read as "4G"),
    empty = every technology present; ``dead_share``: a village is dead when at least this
    share of households is uncovered; ``by_operator``: also report covered households per
    operator. The old ``threshold_dbm`` (total power, every technology) is refused with what to
    write instead (:data:`_REMOVED_KEYS`)."""

    thresholds: dict[str, float] = field(default_factory=dict)
    location_probability: float = dflt.LOCATION_PROBABILITY
    indoor: bool | str = dflt.INDOOR
    indoor_margin_db: float = dflt.INDOOR_MARGIN_DB
    technologies: tuple[str, ...] = dflt.TECHNOLOGIES
    dead_share: float = dflt.DEAD_SHARE
    by_operator: bool = False


@dataclass(frozen=True)
class SitingConfig:
    """``sites``: the most sites to propose; ``method``: greedy | exact | set_cover (the fewest
    sites reaching ``target_share`` of uncovered households; ``sites`` is then not used);
    ``budget``: most households within this total of the candidates' ``cost`` — with ``sites``
    both hold (at most ``sites`` sites within the budget), not with set_cover;
    ``require_backhaul``: every proposed site reaches the network by microwave line of sight
    (greedy proposes the relays it needs, exact/set_cover take sites with a direct hop only);
    ``backhaul_freq_ghz``, ``backhaul_max_hop_km``: the microwave links checked; candidate
    generation: ``mast_height_m``, ``candidate_spacing_m``, ``candidate_max_distance_km``."""

    sites: int = dflt.SITES
    method: str = dflt.SITING_METHOD
    target_share: float = dflt.TARGET_SHARE
    budget: float | None = None
    time_limit_s: float = dflt.TIME_LIMIT_S
    mast_height_m: float = dflt.CANDIDATE_MAST_HEIGHT_M
    candidate_spacing_m: float = dflt.CANDIDATE_SPACING_M
    candidate_max_distance_km: float = dflt.CANDIDATE_MAX_DISTANCE_KM
    require_backhaul: bool = False
    backhaul_freq_ghz: float = dflt.BACKHAUL_FREQ_GHZ
    backhaul_max_hop_km: float = dflt.BACKHAUL_MAX_HOP_KM


@dataclass(frozen=True)
class OutputConfig:
    """``[output]``: the folder, the language, and ``offline_map``: a ``map.html`` that
    carries its libraries, fonts and icons inline (opens without a network; see
    :mod:`lomsong.maps.offline`)."""

    dir: Path = dflt.OUTPUT_DIR
    lang: str = dflt.LANG
    offline_map: bool = dflt.OFFLINE_MAP
    #: The printable commune sheets (``sheets/``, :mod:`lomsong.report.sheets`).
    sheets: bool = dflt.SHEETS


@dataclass(frozen=True)
class ProjectConfig:
    """A whole project file. ``path`` is the file it was read from (None when built in code)."""

    inputs: Inputs
    model: ModelConfig = field(default_factory=ModelConfig)
    coverage: CoverageConfig = field(default_factory=CoverageConfig)
    siting: SitingConfig = field(default_factory=SitingConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    crs: str | None = None
    path: Path | None = None


# ---------------------------------------------------------------------------------------------
# strict, type-checked conversion of TOML tables to the dataclasses above


def _dbm_list(levels: dict[str, float]) -> str:
    return ", ".join(f"{t} {v:g}".replace("-", "−") for t, v in levels.items())


#: Keys that lomsong no longer reads, with what to write instead (instead of "unknown key").
_REMOVED_KEYS: dict[str, str] = {
    "coverage.threshold_dbm": (
        "no longer read — thresholds are per technology in its own quantity ("
        + ", ".join(f"{t} {q}" for t, q in QUANTITY.items())
        + f'): write thresholds = {{ "4G" = {SERVICE_THRESHOLDS_DBM["4G"]:g} }} (defaults: '
        + _dbm_list(SERVICE_THRESHOLDS_DBM)
        + " dBm)"
    ),
}


class _Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, key: str, reason: str) -> None:
        self.problems.append(Problem(key, reason))


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _convert(value: Any, tp: Any, key: str, base: Path, errs: _Collector) -> Any:
    """Check ``value`` against the annotation ``tp``; return the converted value."""
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        for arg in args:  # first matching branch wins; try the strict ones silently
            trial = _Collector()
            out = _convert(value, arg, key, base, trial)
            if not trial.problems:
                return out
        _convert(value, args[0], key, base, errs)
        return None
    if tp is Path:
        if not isinstance(value, str):
            errs.add(key, f"expected a path (string), got {type(value).__name__}")
            return None
        return (base / value).resolve()
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            errs.add(key, f"expected a number, got {value!r}")
            return None
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            errs.add(key, f"expected an integer, got {value!r}")
            return None
        return value
    if tp in (str, bool):
        if not isinstance(value, tp):
            errs.add(key, f"expected {_type_name(tp)}, got {value!r}")
            return None
        return value
    if origin is dict:
        if not isinstance(value, dict):
            errs.add(key, f"expected a table, e.g. {{ key = value }}, got {value!r}")
            return None
        key_tp, value_tp = typing.get_args(tp)
        out = {}
        for k, v in value.items():
            item = k
            if key_tp is int:  # TOML keys are strings: "10" is the integer 10
                try:
                    item = int(k)
                except ValueError:
                    errs.add(f"{key}.{k}", f"expected an integer key, got {k!r}")
                    continue
            out[item] = _convert(v, value_tp, f"{key}.{k}", base, errs)
        return out
    if origin is tuple:
        items = value if isinstance(value, list) else [value]
        (item_tp, _) = typing.get_args(tp)
        return tuple(_convert(v, item_tp, f"{key}[{i}]", base, errs) for i, v in enumerate(items))
    if dataclasses.is_dataclass(tp):
        if tp in _FILE_INPUTS and isinstance(value, str):
            value = {"path": value}
        if not isinstance(value, dict):
            errs.add(key, f"expected a table, got {value!r}")
            return None
        return _build(tp, value, key, base, errs)
    raise TypeError(f"unsupported annotation {tp!r} for {key}")  # programming error


def _build(cls: Any, table: dict, prefix: str, base: Path, errs: _Collector) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "path" or cls in _FILE_INPUTS}
    kwargs = {}
    for k, v in table.items():
        key = f"{prefix}.{k}" if prefix else k
        if k not in fields:
            errs.add(key, _REMOVED_KEYS.get(key)
                     or f"unknown key; expected one of {', '.join(sorted(fields))}")  # fmt: skip
            continue
        kwargs[k] = _convert(v, hints[k], key, base, errs)
    missing = [
        n
        for n, f in fields.items()
        if n not in kwargs
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    for n in missing:
        errs.add(f"{prefix}.{n}" if prefix else n, "required key is missing")
    if errs.problems:
        return None
    return cls(**kwargs)


def _check_techs(named: list[tuple[str, str]], errs: _Collector) -> None:
    """Technology names (key, name): known (lomsong's or the common aliases), each once."""
    first: dict[str, str] = {}
    for key, name in named:
        tech = canonical_tech(name)
        if tech is None:
            errs.add(key, f"unknown technology {name!r}; use {', '.join(TECH_DEFAULTS)} (or GSM, "
                     "UMTS, LTE, NR)")  # fmt: skip
        elif tech in first:
            errs.add(key, f"the same technology ({tech}) as {first[tech]}")
        else:
            first[tech] = key


def _check_values(cfg: ProjectConfig, errs: _Collector) -> None:
    def choice(key: str, value: str, allowed: tuple[str, ...]) -> None:
        if value not in allowed:
            errs.add(key, f"{value!r} is not one of {', '.join(allowed)}")

    choice("model.name", cfg.model.name, MODEL_NAMES)
    choice("model.environment", cfg.model.environment, ENVIRONMENTS)
    choice("siting.method", cfg.siting.method, SITING_METHODS)
    if not 0 < cfg.siting.target_share <= 1:
        errs.add("siting.target_share", f"must be in (0, 1], got {cfg.siting.target_share}")
    if cfg.siting.budget is not None and not cfg.siting.budget > 0:
        errs.add("siting.budget", f"must be > 0, got {cfg.siting.budget}")
    if cfg.siting.budget is not None and cfg.siting.method == "set_cover":
        errs.add("siting.budget", "set_cover (siting.method) finds the fewest sites reaching "
                 "siting.target_share and takes no budget: remove siting.budget or use greedy "
                 "or exact")  # fmt: skip
    lo, hi = dflt.BACKHAUL_FREQ_RANGE_GHZ
    if not lo <= cfg.siting.backhaul_freq_ghz <= hi:
        errs.add("siting.backhaul_freq_ghz", f"{cfg.siting.backhaul_freq_ghz} GHz is not a "
                 f"microwave link frequency ({lo:g}-{hi:g} GHz)")  # fmt: skip
    choice("output.lang", cfg.output.lang, LANGS)
    positive = {
        "model.rx_height_m": cfg.model.rx_height_m,
        "model.max_radius_km": cfg.model.max_radius_km,
        "siting.time_limit_s": cfg.siting.time_limit_s,
        "siting.mast_height_m": cfg.siting.mast_height_m,
        "siting.candidate_spacing_m": cfg.siting.candidate_spacing_m,
        "siting.candidate_max_distance_km": cfg.siting.candidate_max_distance_km,
        "siting.backhaul_max_hop_km": cfg.siting.backhaul_max_hop_km,
    }
    for key, v in positive.items():
        if not v > 0:
            errs.add(key, f"must be > 0, got {v}")
    if cfg.siting.sites < 0:
        errs.add("siting.sites", f"must be ≥ 0, got {cfg.siting.sites}")
    if not 0 < cfg.coverage.dead_share <= 1:
        errs.add("coverage.dead_share", f"must be in (0, 1], got {cfg.coverage.dead_share}")
    lo, hi = dflt.THRESHOLD_RANGE_DBM
    _check_techs([(f"coverage.thresholds.{n}", n) for n in cfg.coverage.thresholds], errs)
    for name, value in cfg.coverage.thresholds.items():
        key = f"coverage.thresholds.{name}"
        if value is not None and not lo < value < hi:
            errs.add(key, f"{value} dBm is not plausible (between {lo:g} and {hi:g} dBm)")
    margin, top = cfg.coverage.indoor_margin_db, dflt.INDOOR_MARGIN_MAX_DB
    if not 0 <= margin <= top:
        errs.add("coverage.indoor_margin_db", f"{margin} dB is not plausible: an indoor margin "
                 f"is 0 (outdoor) to {top:g} dB")  # fmt: skip
    p = cfg.coverage.location_probability
    if not 0.5 <= p < 1:
        errs.add("coverage.location_probability", f"must be in [0.5, 1) (0.5 = the median), "
                 f"got {p}")  # fmt: skip
    indoor = cfg.coverage.indoor
    if indoor is True or (isinstance(indoor, str) and indoor not in INDOOR_TYPES):
        shown = "true" if indoor is True else repr(indoor)
        errs.add("coverage.indoor", f"{shown} is not one of false, {', '.join(INDOOR_TYPES)}")
    techs = cfg.coverage.technologies
    _check_techs([(f"coverage.technologies[{i}]", n) for i, n in enumerate(techs)], errs)


def _check_landcover(landcover: LandcoverInput | None, errs: _Collector) -> None:
    """A land-cover class table names P.2108 clutter types, under codes other than 0."""
    if landcover is None or landcover.classes is None:
        return
    for code, reason in class_problems(landcover.classes):
        errs.add("inputs.landcover.classes" + ("" if code is None else f".{code}"), reason)


def key_error(exc: InputError, section: str, path: Path | None) -> InputError:
    """A stage's error about one of its options as an error about the project key.

    The stages name their options (``<target_share>``: no set of sites reaches it); when that
    option is a key of the project file's ``[section]``, the user's fix is that key, so the
    error names it (``siting.target_share``) and the project file. Any other error is returned
    unchanged.
    """
    name = exc.path[1:-1] if exc.path and exc.path.startswith("<") else None
    table = typing.get_type_hints(ProjectConfig).get(section)
    keys = {f.name for f in dataclasses.fields(table)} if dataclasses.is_dataclass(table) else ()
    if name not in keys:
        return exc
    return ConfigError(path or "<project config>", problems=[Problem(f"{section}.{name}",
                                                                     exc.reason)])  # fmt: skip


def load_config(path: str | PathLike[str]) -> ProjectConfig:
    """Read and validate a project file.

    Parameters
    ----------
    path
        The TOML file. Paths inside it are resolved relative to its folder.

    Raises
    ------
    ConfigError
        Naming the file and every bad key at once.
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(path, "project file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(path, f"not valid TOML: {exc}") from None
    return config_from_dict(raw, base=path.parent, path=path)


def config_from_dict(
    raw: dict, *, base: str | PathLike[str] = ".", path: Path | None = None
) -> ProjectConfig:
    """Build a :class:`ProjectConfig` from a parsed TOML table (paths relative to ``base``)."""
    base = Path(base).resolve()
    errs = _Collector()
    raw = dict(raw)
    inputs = raw.get("inputs")
    candidates = inputs.get("candidates") if isinstance(inputs, dict) else None
    if candidates == "auto":
        raw["inputs"] = {k: v for k, v in inputs.items() if k != "candidates"}
    cfg = _build(ProjectConfig, raw, "", base, errs)
    if cfg is not None:
        if cfg.model.name is None:  # the default model follows the inputs
            model = dataclasses.replace(cfg.model, name="itm" if cfg.inputs.terrain else "hata")
            cfg = dataclasses.replace(cfg, model=model)
        _check_values(cfg, errs)
        _check_landcover(cfg.inputs.landcover, errs)
        if cfg.model.name == "itm" and not cfg.inputs.terrain:
            errs.add("model.name", "itm needs terrain (inputs.terrain); without it use hata")
    if errs.problems:
        raise ConfigError(path or "<project config>", problems=errs.problems)
    # technologies under lomsong's names ("LTE" → "4G"), as the coverage rule takes them
    techs = tuple(canonical_tech(t) for t in cfg.coverage.technologies)
    coverage = dataclasses.replace(cfg.coverage, technologies=techs)
    return dataclasses.replace(cfg, coverage=coverage, path=path)
