"""The whole pipeline for `lomsong run`: inputs → coverage → dead zones → sites → outputs.

Outputs are written into a temporary folder beside the target and renamed into place at the
end, so a failed run leaves the previous outputs untouched.
"""

from __future__ import annotations

import base64
import dataclasses
import fcntl
import hashlib
import json
import logging
import math
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from affine import Affine

from lomsong._version import __version__, code_digest
from lomsong.calibration.censored import fit_censored
from lomsong.calibration.validate import (
    EvidenceFiles,
    Validation,
    match_measurements,
    read_evidence_files,
    validate,
)
from lomsong.config import ProjectConfig, key_error
from lomsong.coverage.cache import TowerCache
from lomsong.coverage.clutter import clutter_loss_grid
from lomsong.coverage.deadzones import DeadZones, dead_zones
from lomsong.coverage.explain import (
    HELPER_COLUMNS,
    dark_sentence,
    explain_villages,
    profile_plot_png,
    village_profile,
)
from lomsong.coverage.predict import predict
from lomsong.coverage.rule import CoverageRule
from lomsong.coverage.types import CalibrationResult, Coverage
from lomsong.defaults import CACHE_DIR
from lomsong.errors import InputError, LomsongError, Problem, WarningLog, capture_warnings
from lomsong.grid import Grid
from lomsong.layers._io import Rejects
from lomsong.layers.households import read_households
from lomsong.layers.landcover import read_landcover
from lomsong.layers.terrain import read_terrain
from lomsong.layers.towers import read_towers
from lomsong.layers.villages import read_villages
from lomsong.layers.water import read_water, sea_mask
from lomsong.maps.build import build_map
from lomsong.maps.offline import ensure_assets, save_offline
from lomsong.propagation.itm import FREQ_RANGE_MHZ as ITM_FREQ_RANGE_MHZ
from lomsong.report import files as report
from lomsong.report.changes import changes_markdown, run_changes
from lomsong.report.html import write_report_html
from lomsong.report.qgis import write_qgis
from lomsong.report.sheets import write_sheets
from lomsong.report.validation import write_validation
from lomsong.siting.candidates import candidate_sites, read_candidates
from lomsong.siting.matrix import CoverageMatrix, coverage_matrix, covered_by_site
from lomsong.siting.rank import rank_sites

__all__ = ["Result", "run", "validate_evidence", "output_lock", "Progress", "NO_PROGRESS"]

logger = logging.getLogger(__name__)

#: ``progress(description, total)`` returns an ``advance(done, total)`` callable.
Progress = Callable[[str, int], Callable[[int, int], None]]


def _no_progress(_description: str, _total: int) -> Callable[[int, int], None]:
    return lambda _done, _total: None


NO_PROGRESS: Progress = _no_progress
#: Cell size of the flat grid used when a project has no terrain (m).
FLAT_GRID_RES_M = 100.0


@dataclass
class Result:
    """Everything a run computed (all layers in the project's metric CRS)."""

    config: ProjectConfig
    villages: gpd.GeoDataFrame
    towers: gpd.GeoDataFrame
    terrain: Grid
    households: gpd.GeoDataFrame
    signal: Coverage
    gaps: DeadZones
    candidates: gpd.GeoDataFrame
    ranking: gpd.GeoDataFrame
    rejects: gpd.GeoDataFrame
    summary: dict
    out_dir: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)
    #: The run's warnings, ``[{category, message, count}]`` (see :class:`WarningLog`).
    warnings: list[dict] = field(default_factory=list)
    #: The prediction against ``[inputs] evidence`` (None without evidence).
    validation: Validation | None = None


class _Timer:
    def __init__(self) -> None:
        self.times: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        yield
        self.times[name] = round(time.perf_counter() - t0, 3)


def run(
    config: ProjectConfig,
    *,
    out_dir: str | os.PathLike[str] | None = None,
    towers: str | os.PathLike[str] | None = None,
    progress: Progress = NO_PROGRESS,
    write: bool = True,
    bundle: dict[str, Path] | None = None,
    use_cache: bool = True,
    workers: int | None = None,
    scheduler: str | None = None,
) -> Result:
    """Run the whole pipeline on a project and write its outputs.

    Parameters
    ----------
    config
        From :func:`lomsong.load_config`.
    out_dir
        Output folder (default ``config.output.dir``).
    towers
        A new tower file replacing ``inputs.towers`` (same column mapping).
    progress
        Progress-bar factory (see :data:`Progress`); silent by default.
    write
        False computes without writing anything.
    bundle
        Folders to move into the output folder with the results (``{name: folder}``), e.g.
        the demo's generated inputs; moved only when the run succeeds.
    use_cache
        Keep per-tower predictions in ``<out_dir>/.cache`` and reuse them on reruns.
    workers, scheduler
        Predict towers on N local processes, or on a dask.distributed cluster
        (``"tcp://host:8786"``); see :func:`lomsong.predict`.

    Returns
    -------
    Result

    Notes
    -----
    Warnings of the run — Python warnings (bad input repaired, …) and the WARNING log lines of
    lomsong's loggers (rows rejected, a model outside its range, …) — are logged once each on
    the ``lomsong`` logger and listed, with how often they occurred, in ``Result.warnings``
    and ``summary.json``'s ``warnings`` (:func:`lomsong.errors.capture_warnings`).
    """
    target = Path(out_dir) if out_dir is not None else config.output.dir
    _refuse_inputs_inside(config, target, towers)
    if write and config.output.offline_map:
        # the map's libraries are fetched (once per machine) before the work, not after it:
        # without them and without network the run stops here, saying how to get them
        ensure_assets()
    parallel = {"workers": workers, "scheduler": scheduler}
    with capture_warnings() as caught:
        if not write:
            return _run(config, target, towers, progress, False, bundle, False, parallel, caught)
        with output_lock(target):
            return _run(config, target, towers, progress, True, bundle, use_cache, parallel,
                        caught)  # fmt: skip


def _coverage_rule(
    config: ProjectConfig, towers: gpd.GeoDataFrame, terrain: Grid, landcover: Grid | None
) -> CoverageRule:
    """The project's coverage rule for this network: σ and building loss at each technology's
    carrier, and the land cover's clutter loss per technology (P.2108, at that carrier)."""
    cc, mc = config.coverage, config.model
    rule = CoverageRule.for_network(
        towers=towers, environment=mc.environment, thresholds=cc.thresholds,
        location_probability=cc.location_probability, indoor=cc.indoor,
        indoor_margin_db=cc.indoor_margin_db, technologies=cc.technologies,
        dead_share=cc.dead_share, model=mc.name,
    )  # fmt: skip
    if landcover is None:
        return rule
    classes = config.inputs.landcover.classes
    clutter = {
        tech: terrain.with_data(clutter_loss_grid(landcover, f_mhz=f_mhz,
                                                  rx_height_m=mc.rx_height_m, classes=classes))
        for tech, f_mhz in rule.frequencies_mhz.items()
    }  # fmt: skip
    return dataclasses.replace(rule, clutter=clutter,
                               landcover=config.inputs.landcover.path.name)  # fmt: skip


def _refuse_inputs_inside(
    config: ProjectConfig, target: Path, towers: str | os.PathLike[str] | None
) -> None:
    """Refuse an output folder that holds an input: the run replaces that folder whole, and
    inputs are never deleted (``lomsong run D/inputs/project.toml --out D``)."""
    out = Path(target).resolve()
    files = [*input_paths(config), *([Path(towers)] if towers is not None else [])]
    if config.path is not None:
        files.append(Path(config.path))
    inside = [p for p in files if Path(p).resolve().is_relative_to(out)]
    if inside:
        raise InputError(
            out, f"holds the run's input {inside[0]}: a run replaces its output folder, so "
            "choose another output folder (--out) or move the inputs out of it",
        )  # fmt: skip


def _run(
    config: ProjectConfig,
    target: Path,
    towers: str | os.PathLike[str] | None,
    progress: Progress,
    write: bool,
    bundle: dict[str, Path] | None,
    use_cache: bool,
    parallel: dict,
    caught: WarningLog | None = None,
) -> Result:
    timer = _Timer()
    if towers is not None:
        config = with_towers(config, towers)
    inp, mc = config.inputs, config.model
    with timer("read_inputs"):
        layers = _read_inputs(config, progress)
    villages, tw, terrain, sea = layers.villages, layers.towers, layers.terrain, layers.sea
    terrain_info = layers.terrain_info
    cache = TowerCache(_cache_folder(target)) if write and use_cache else None
    signal, gaps = _coverage(config, layers, progress=progress, timer=timer, cache=cache,
                             parallel=parallel)  # fmt: skip
    validation = None
    if layers.evidence is not None:
        with timer("validate"):
            validation = _validate(layers.evidence, signal, gaps, terrain)
    sc = config.siting
    with timer("candidates"):
        if inp.candidates is not None:
            candidates = read_candidates(inp.candidates.path, columns=inp.candidates.columns,
                                         area=villages)  # fmt: skip
            _check_frequencies(candidates, mc.name, inp.candidates.path, "site_id")
        else:
            candidates = candidate_sites(
                terrain, gaps, spacing_m=sc.candidate_spacing_m,
                max_distance_km=sc.candidate_max_distance_km, height_m=sc.mast_height_m,
                sea=sea,
            )  # fmt: skip
    with timer("rank"):
        # one coverage matrix: the ranking chooses on it and the villages' "which proposed site
        # covers this village" reads it (never a second prediction of the candidates)
        matrix = coverage_matrix(
            candidates, gaps, terrain, progress=progress("Predicting candidates", len(candidates))
        )
        try:
            ranking = rank_sites(
                candidates, gaps, terrain, sites=sc.sites, method=sc.method, towers=tw,
                time_limit_s=sc.time_limit_s, require_backhaul=sc.require_backhaul,
                target_share=sc.target_share, budget=sc.budget, matrix=matrix,
                backhaul_freq_ghz=sc.backhaul_freq_ghz, backhaul_max_hop_km=sc.backhaul_max_hop_km,
                progress=progress,
            )  # fmt: skip
        except InputError as exc:  # an option the project sets (target_share): name its key
            raise key_error(exc, "siting", config.path) from None
    explaining = progress("Explaining dead villages", 1)
    with timer("explain"):
        plots = _cache_folder(target).parent / "plots" if cache is not None else None
        used_plots: set[str] = set()
        gaps.villages = _explain(
            signal, gaps, terrain, ranking, candidates, matrix, config, plots, used_plots, sea
        )
        explaining(1, 1)
    rejects = _rejects(tw, villages.crs)
    result = Result(
        config=config, villages=gaps.villages, towers=tw, terrain=terrain,
        households=gaps.households, signal=signal, gaps=gaps, candidates=candidates,
        ranking=ranking, rejects=rejects, summary={}, timings=timer.times,
        warnings=caught.records if caught is not None else [], validation=validation,
    )  # fmt: skip
    result.summary = summarise(result)
    result.summary["terrain"].update(terrain_info)
    result.summary["towers_predicted"] = signal.stats
    if write:
        with timer("write"):
            write_outputs(result, target, bundle=bundle, progress=progress)
        if cache is not None:
            cache.prune(cache.used)  # towers removed or changed drop out
            for png in plots.glob("*.png") if plots is not None and plots.exists() else []:
                if png.name not in used_plots:
                    png.unlink(missing_ok=True)
        result.out_dir = target
        result.summary["timings_s"] = timer.times
    return result


def _read_network(
    config: ProjectConfig, reading: Callable[[int, int], None]
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, Grid, dict]:
    """The project's villages, towers (checked against the model) and terrain (a flat grid
    over the villages without one), and the terrain's read info; ``reading(2, 4)`` after the
    towers, ``reading(3, 4)`` after the terrain."""
    inp, mc = config.inputs, config.model
    villages = read_villages(
        inp.villages.path, columns=inp.villages.columns, layer=inp.villages.layer,
        population=inp.villages.population, household_size=inp.villages.household_size,
        crs=config.crs,
    )  # fmt: skip
    tw = read_towers(
        inp.towers.path, columns=inp.towers.columns, layer=inp.towers.layer, area=villages,
        max_radius_km=mc.max_radius_km,
    )  # fmt: skip
    _check_frequencies(tw, mc.name, inp.towers.path, "tower_id")
    reading(2, 4)
    terrain_info: dict = {}
    if inp.terrain:
        terrain, info = read_terrain(
            list(inp.terrain), area=villages, max_radius_km=mc.max_radius_km, return_info=True,
        )  # fmt: skip
        terrain_info = info.to_dict()
    else:
        logger.warning("no terrain: predicting over flat ground (terrain-free model)")
        terrain = flat_grid(villages, margin_m=mc.max_radius_km * 1000.0)
    reading(3, 4)
    return villages, tw, terrain, terrain_info


def calibrate_evidence(
    config: ProjectConfig,
    evidence: list[str | os.PathLike[str]],
    *,
    progress: Progress = NO_PROGRESS,
    floors_dbm: dict[str, float] | None = None,
) -> CalibrationResult:
    """Fit ``[model] calibration`` to walk-test logs against the project's own prediction.

    Reads the project's inputs (the land cover gives the coverage rule's clutter), matches
    every measurement to its cell and predicts it there
    (:func:`~lomsong.calibration.validate.match_measurements`, uncalibrated: the project's
    own ``[model] calibration`` is ignored, the fit replaces it) and fits offsets per operator
    × technology, per tower and slopes with no-service rows censored
    (:func:`~lomsong.calibration.censored.fit_censored`). Reported-hamlet lists among the
    files are ignored (they carry no level).

    Returns
    -------
    CalibrationResult
        The relative calibration: ``to_json`` writes ``fit.json``.

    Raises
    ------
    InputError
        Unreadable inputs or evidence, no measurement file, no measurement with a prediction.
    """
    mc = config.model
    layers = _read_inputs(config, progress, evidence=[Path(p) for p in evidence])
    rule = _coverage_rule(config, layers.towers, layers.terrain, layers.landcover)
    files = layers.evidence
    if files is None or files.measurements is None:
        raise InputError(", ".join(map(str, evidence)),
                         "no measurement file among them (only reported hamlets)")  # fmt: skip
    matched = match_measurements(
        files.measurements, layers.towers, terrain=layers.terrain, rule=rule, model=mc.name,
        rx_height_m=mc.rx_height_m,
        params={"environment": mc.environment, "max_radius_km": mc.max_radius_km},
        villages=layers.villages,
    )  # fmt: skip
    source = ", ".join(sorted(k for k, v in files.files.items() if v == "measurements"))
    fit = fit_censored(matched, floors_dbm=floors_dbm, progress=progress, source=source)
    terrain_label = ", ".join(p.name for p in config.inputs.terrain) or None
    return fit.to_result(model=mc.name, environment=mc.environment, terrain=terrain_label,
                         rx_height_m=mc.rx_height_m, source=source)  # fmt: skip


@dataclass
class _Layers:
    """The project's inputs, read and checked: the layers every stage starts from."""

    villages: gpd.GeoDataFrame
    towers: gpd.GeoDataFrame
    terrain: Grid
    terrain_info: dict
    households: gpd.GeoDataFrame
    sea: Grid
    landcover: Grid | None
    evidence: EvidenceFiles | None


def _read_inputs(
    config: ProjectConfig, progress: Progress, evidence: list[Path] | None = None
) -> _Layers:
    """Read every input of the project (``evidence``: these evidence files instead of
    ``[inputs] evidence``); bad input raises before anything is predicted."""
    inp = config.inputs
    reading = progress("Reading inputs", 4)  # villages, towers, terrain, households
    villages, tw, terrain, terrain_info = _read_network(config, reading)
    hh_in = inp.households
    households = read_households(
        None if hh_in is None else hh_in.path, villages=villages,
        columns=None if hh_in is None else hh_in.columns,
        layer=None if hh_in is None else hh_in.layer,
        population=None if hh_in is None else hh_in.population,
        household_size=inp.villages.household_size if hh_in is None else hh_in.household_size,
    )  # fmt: skip
    reading(4, 4)
    # where the sea is, once: candidates avoid it and explanations name paths across it
    water = None
    if inp.water is not None:
        water = read_water(inp.water.path, crs=terrain.crs, layer=inp.water.layer)
    sea = sea_mask(terrain, water=water)
    landcover = None
    if inp.landcover is not None:
        landcover = read_landcover(inp.landcover.path, terrain=terrain,
                                   classes=inp.landcover.classes)  # fmt: skip
    files = list(inp.evidence) if evidence is None else list(evidence)
    found = read_evidence_files(files, crs=villages.crs) if files else None
    return _Layers(villages, tw, terrain, terrain_info, households, sea, landcover, found)


def _coverage(
    config: ProjectConfig,
    layers: _Layers,
    *,
    progress: Progress,
    timer: _Timer,
    cache: TowerCache | None,
    parallel: dict,
) -> tuple[Coverage, DeadZones]:
    """The project's coverage rule, prediction and dead zones."""
    cc, mc = config.coverage, config.model
    tw, terrain = layers.towers, layers.terrain
    # the one coverage rule of the run, for this network: every stage reads it
    rule = _coverage_rule(config, tw, terrain, layers.landcover)
    calibration = _load_calibration(config)
    with timer("predict"):
        signal = predict(
            tw, terrain, model=mc.name, environment=mc.environment, rx_height_m=mc.rx_height_m,
            max_radius_km=mc.max_radius_km, groups=True if cc.by_operator else "tech",
            progress=progress("Predicting towers", len(tw)), cache=cache, **parallel,
            calibration=calibration, location_probability=rule.location_probability,
        )  # fmt: skip
    with timer("dead_zones"):
        gaps = dead_zones(signal, layers.villages, layers.households, rule=rule,
                          by_operator=cc.by_operator)  # fmt: skip
    return signal, gaps


def _validate(
    evidence: EvidenceFiles, signal: Coverage, gaps: DeadZones, terrain: Grid
) -> Validation:
    """The prediction against the evidence (:func:`lomsong.calibration.validate.validate`)."""
    return validate(evidence.measurements, evidence.reported, signal=signal, gaps=gaps,
                    terrain=terrain, rejects=evidence.rejects)  # fmt: skip


def validate_evidence(
    config: ProjectConfig,
    evidence: list[str | os.PathLike[str]],
    *,
    out_dir: str | os.PathLike[str] | None = None,
    progress: Progress = NO_PROGRESS,
) -> tuple[Validation, dict[str, Path]]:
    """``lomsong validate``: the project's prediction against evidence files, written to a folder.

    Reads the project's inputs and the evidence files (walk-test logs and reported-hamlet
    lists, told apart by their header: :func:`~lomsong.calibration.validate.read_evidence_files`;
    bad evidence raises before anything is predicted), predicts and finds the dead zones as
    ``lomsong run`` does (reusing the tower predictions cached in ``out_dir`` when it holds a
    run), compares (:func:`~lomsong.calibration.validate.validate`) and writes
    ``validation.csv``, ``validation.json``, ``evidence.gpkg`` and ``validation.html`` into
    ``out_dir`` (default ``[output] dir``), beside whatever it holds. The files are written to
    a temporary folder first and moved in, under the output folder's lock.

    Returns
    -------
    (Validation, dict)
        The comparison, and the files written by name.
    """
    target = Path(out_dir) if out_dir is not None else config.output.dir
    files = [Path(p) for p in evidence]
    if not files:
        raise InputError("<evidence>", "no evidence file given")
    timer = _Timer()
    with output_lock(target):
        layers = _read_inputs(config, progress, evidence=files)
        cache = TowerCache(_cache_folder(target))
        signal, gaps = _coverage(config, layers, progress=progress, timer=timer, cache=cache,
                                 parallel={})  # fmt: skip
        found = layers.evidence if layers.evidence is not None else EvidenceFiles(None, None)
        validation = _validate(found, signal, gaps, layers.terrain)
        target.mkdir(parents=True, exist_ok=True)
        tmp = _new_folder(target)
        try:
            written = write_validation(validation, tmp, lang=config.output.lang,
                                       version=__version__)  # fmt: skip
            out = {}
            for name, path in written.items():
                os.replace(path, target / name)
                out[name] = target / name
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return validation, out


def _check_frequencies(sites: gpd.GeoDataFrame, model: str, path: Path, ids: str) -> None:
    """Towers or candidate sites on a frequency the model cannot compute (ITM: 20-20,000 MHz)
    are bad input, each named — not an engine error halfway through the run."""
    if model != "itm" or not len(sites):
        return
    lo, hi = ITM_FREQ_RANGE_MHZ
    f = sites["freq_mhz"].to_numpy(dtype=float)
    bad = ~((f >= lo) & (f <= hi))
    if bad.any():
        raise InputError(path, problems=[
            Problem(str(i), f"freq_mhz {v:g} is outside the {lo:g}-{hi:g} MHz that the itm model "
                            "computes (drop the cell, or use hata, cost231 or fspl)")
            for i, v in zip(sites[ids][bad], f[bad], strict=True)
        ])  # fmt: skip


def _explain(
    signal: Coverage,
    gaps: DeadZones,
    terrain: Grid,
    ranking: gpd.GeoDataFrame,
    candidates: gpd.GeoDataFrame,
    matrix: CoverageMatrix,
    config: ProjectConfig,
    plots: Path | None = None,
    used_plots: set[str] | None = None,
    sea: Grid | None = None,
) -> gpd.GeoDataFrame:
    """Why each village is dark, what would fix it, and a sentence to say so."""
    villages = explain_villages(signal, gaps, terrain, sea=sea)
    # the ranked sites' rows of the matrix the ranking chose on, in rank order
    row_of = pd.Index(candidates["site_id"].astype(str))
    rows = row_of.get_indexer(ranking["site_id"].astype(str))
    villages["covered_by_site"] = covered_by_site(
        villages["village_id"], matrix.demand["village_id"], matrix.weights,
        matrix.cover[rows] if len(rows) else matrix.cover[:0], ranks=ranking["rank"],
    )  # fmt: skip
    lang = config.output.lang
    villages["dark_sentence"] = [
        dark_sentence(row, lang=lang, max_radius_km=config.model.max_radius_km)
        for _, row in villages.iterrows()
    ]
    # a terrain profile (tower → village, obstruction, Fresnel zone) for the map's dead villages
    pngs = []
    for _, row in villages.iterrows():
        png = None
        if bool(row["dead"]):
            prof = village_profile(row, terrain, signal.towers, rx_height_m=signal.rx_height_m)
            if prof is not None:
                png = _profile_png(prof, lang, row["name"], plots, used_plots)
                png = base64.b64encode(png).decode()
        pngs.append(png)
    villages["profile_png"] = pngs
    return villages


def _profile_png(
    prof, lang: str, title: str, folder: Path | None, used: set[str] | None = None
) -> bytes:
    """The profile plot, from the plot cache when the same profile was drawn before.

    Drawing is ~0.1 s a plot (matplotlib); reruns redraw only the villages whose profile,
    tower or name changed.
    """
    if folder is None:
        return profile_plot_png(prof, lang=lang, title=title)
    h = hashlib.sha256(f"{lang}\x1f{title}\x1f".encode())
    for value in dataclasses.astuple(prof):
        h.update(np.asarray(value).tobytes() if isinstance(value, np.ndarray) else
                 repr(value).encode())  # fmt: skip
    path = folder / f"{h.hexdigest()}.png"
    if used is not None:
        used.add(path.name)
    if path.exists():
        return path.read_bytes()
    png = profile_plot_png(prof, lang=lang, title=title)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp-{os.getpid()}")
    tmp.write_bytes(png)
    os.replace(tmp, path)
    return png


def _load_calibration(config: ProjectConfig):
    """The project's calibration file, checked against its model (None without one)."""
    path = config.model.calibration
    if path is None:
        return None
    from lomsong.coverage.types import CalibrationResult
    from lomsong.errors import ConfigError

    if not path.exists():
        raise ConfigError(config.path, f"model.calibration: {path} not found")
    try:
        cal = CalibrationResult.from_json(path)
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(path, f"not a lomsong calibration file: {exc}") from None
    if cal.model != config.model.name:
        raise ConfigError(
            config.path,
            f"model.calibration was fitted for model {cal.model!r}, the project uses "
            f"{config.model.name!r}",
        )
    return cal


def _cache_folder(target: Path) -> Path:
    return Path(target).resolve() / CACHE_DIR / "towers"


@contextmanager
def output_lock(target: Path) -> Iterator[None]:
    """Hold an exclusive lock on the output folder for the whole run.

    The lock is an ``flock`` on ``.<name>.lock`` beside the folder: the kernel releases it when
    the process dies, even by SIGKILL, so a crashed run never blocks the next one.
    """
    target = Path(target).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    lock_path = target.parent / f".{target.name}.lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            raise LomsongError(
                f"another lomsong run (pid {owner}) is writing to {target}; wait for it to finish"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        _recover(target)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def flat_grid(area: gpd.GeoDataFrame, *, margin_m: float, res_m: float = FLAT_GRID_RES_M) -> Grid:
    """Sea-level flat terrain over the area plus a margin, for terrain-free projects."""
    minx, miny, maxx, maxy = area.total_bounds
    minx, miny = minx - margin_m, miny - margin_m
    w = int(math.ceil((maxx + margin_m - minx) / res_m))
    h = int(math.ceil((maxy + margin_m - miny) / res_m))
    # 1 m, not 0: sea level would read as "sea" to the candidate generator
    transform = Affine(res_m, 0, minx, 0, -res_m, miny + h * res_m)
    return Grid(np.ones((h, w), dtype=np.float32), transform, area.crs)


def _rejects(towers: gpd.GeoDataFrame, crs) -> gpd.GeoDataFrame:
    rows = list(towers.attrs.get("rejects", []))
    return Rejects("", rows).to_frame(crs=crs)


def with_towers(config: ProjectConfig, towers: str | os.PathLike[str]) -> ProjectConfig:
    """The project with another tower file (same column mapping), as ``--towers`` gives."""
    new_towers = replace(config.inputs.towers, path=Path(towers).resolve())
    return replace(config, inputs=replace(config.inputs, towers=new_towers))


def input_paths(config: ProjectConfig) -> list[Path]:
    """Every input file of a project (those that exist)."""
    paths = [config.inputs.villages.path, config.inputs.towers.path, *config.inputs.terrain]
    for extra in (config.inputs.households, config.inputs.candidates, config.inputs.water,
                  config.inputs.landcover):  # fmt: skip
        if extra is not None and hasattr(extra, "path"):
            paths.append(extra.path)
    if config.model.calibration is not None:
        paths.append(config.model.calibration)
    paths.extend(config.inputs.evidence)
    return [p for p in paths if Path(p).exists()]


def _without_paths(obj: Any) -> Any:
    """The settings with every file path replaced by a placeholder: the files count by their
    content (``inputs``), so a project moved or copied elsewhere is still up to date."""
    if isinstance(obj, Path):
        return "<file>"
    if isinstance(obj, dict):
        return {k: _without_paths(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_without_paths(v) for v in obj]
    return obj if isinstance(obj, str | int | float | bool | type(None)) else str(obj)


def fingerprint(config: ProjectConfig) -> str:
    """SHA-256 of everything a run's results depend on: the settings, the content of every
    input file, lomsong's version and a digest of its source code (so an upgrade or a code
    change is never "up to date"; not the output folder or the file names)."""
    settings = dataclasses.asdict(
        replace(config, path=None, output=replace(config.output, dir=Path(".")))
    )
    payload = {
        "version": __version__,
        "code": code_digest(),
        "settings": json.loads(json.dumps(_without_paths(settings))),
        "inputs": sorted(report.file_sha256(input_paths(config)).values()),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def up_to_date(config: ProjectConfig, out_dir: str | os.PathLike[str] | None = None) -> bool:
    """True when ``out_dir`` holds a complete run of exactly this project and these inputs."""
    target = Path(out_dir) if out_dir is not None else config.output.dir
    try:
        summary = json.loads((target / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    done = all((target / name).exists() for name in summary.get("outputs", ["?"]))
    return done and summary.get("fingerprint") == fingerprint(config)


def summarise(result: Result) -> dict:
    """The figures of ``summary.json``.

    Household totals are the sums of ``villages.csv``'s columns, which are the village sums of
    the household points' weights (census households, see :func:`read_households`): a
    reader adding up the villages finds the totals; the ranking's gains count the same points.
    """
    cfg = result.config
    v = result.gaps.villages
    hh_total = float(result.gaps.households["households"].sum())
    unc = float(result.gaps.uncovered["households"].sum())
    rk = result.ranking
    reached = int(rk["cumulative_households"].iloc[-1]) if len(rk) else 0
    reached_share = float(rk["cumulative_share"].iloc[-1]) if len(rk) else 0.0
    households = int(v["households"].sum())
    uncovered = int(v["households_uncovered"].sum())
    return {
        "lomsong_version": __version__,
        "code_digest": code_digest(),
        "project": str(cfg.path) if cfg.path else None,
        "crs": result.villages.crs.to_string(),
        "model": {
            "name": cfg.model.name,
            "environment": cfg.model.environment,
            "rx_height_m": cfg.model.rx_height_m,
            "max_radius_km": cfg.model.max_radius_km,
        },  # fmt: skip
        "rule": result.gaps.rule.to_dict(),
        "totals": {
            "villages": len(v),
            "dead_villages": int(v["dead"].sum()),
            "households": households,
            "households_covered": households - uncovered,
            "households_uncovered": uncovered,
            "households_no_signal": int(v["households_no_signal"].sum()),
            "households_weak": int(v["households_weak"].sum()),
            "villages_weak": int((v["status"] == "weak").sum()),
            "share_uncovered": round(unc / hh_total, 4) if hh_total else 0.0,
            "dead_zones": len(result.gaps.zones),
            "towers": len(result.towers),
            "tower_sites": int(result.towers["site_id"].nunique()) if len(result.towers) else 0,
            "candidates": len(result.candidates),
            "sites_proposed": len(rk),
            "households_reached_by_sites": reached,
            "share_of_uncovered_reached": round(reached_share, 4),
        },
        "dead_villages": [
            {
                "village_id": r.village_id,
                "name": r.name,
                "commune": r.commune,
                "households_uncovered": int(r.households_uncovered),
            }
            for r in v[v["dead"]].itertuples()
        ],  # fmt: skip
        "terrain": {
            "shape": list(result.terrain.shape),
            "res_m": result.terrain.res,
            "bounds": [round(b, 1) for b in result.terrain.bounds],
        },  # fmt: skip
        "defaults_used": result.towers.attrs.get("defaults_used", {}),
        "siting": {"sites": cfg.siting.sites, **result.ranking.attrs.get("solver", {})},
        "tower_file": {
            k: result.towers.attrs[k]
            for k in ("cells", "sites", "outside_area")
            if k in result.towers.attrs
        },
        "rejects": len(result.rejects),
        "validation": result.validation.summary() if result.validation is not None else None,
        "input_sha256": report.file_sha256(input_paths(cfg)),
        "fingerprint": fingerprint(cfg),
        "timings_s": dict(result.timings),
        # the live list of the run's WarningLog (not a copy): summary.json, written last,
        # also lists what writing the outputs warned about
        "warnings": result.warnings,
    }


def write_outputs(
    result: Result,
    target: Path,
    *,
    bundle: dict[str, Path] | None = None,
    progress: Progress = NO_PROGRESS,
) -> None:
    """Write every output file into a temporary folder, then rename it to ``target``.

    The folders and files are created as any other (0o777 / 0o666 minus the umask): a folder
    published on a web server is readable. Paths into the ``bundle`` folders recorded in
    ``summary.json`` become paths relative to ``target``: the bundled copies. ``progress``
    shows the long writers (the commune sheets).
    """
    target = Path(target).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_folder(target)
    try:
        _write_files(result, tmp, progress, previous=target if target.is_dir() else None)
        if (target / "summary.json").exists() and (target / "planning.gpkg").exists():
            # a rerun: say what changed since the previous outputs
            changes = run_changes(target, tmp)
            (tmp / "changes.md").write_text(changes_markdown(changes), encoding="utf-8")
            summary = json.loads((tmp / "summary.json").read_text(encoding="utf-8"))
            summary["changes"] = changes
            report.write_summary(summary, tmp / "summary.json")
            result.summary["changes"] = changes
        for name, folder in (bundle or {}).items():
            _copy_folder(Path(folder), tmp / name)
        if bundle:  # summary.json names the bundled copies (the originals are often temporary)
            summary = json.loads((tmp / "summary.json").read_text(encoding="utf-8"))
            report.write_summary(_bundled_paths(summary, bundle), tmp / "summary.json")
        _swap_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _new_folder(target: Path) -> Path:
    """A new empty folder ``.<name>.tmp-*`` beside ``target``, with the umask's mode.

    Not ``tempfile.mkdtemp``: its 0o700 survives the rename into place, and a web server (or
    a colleague) then cannot read the outputs.
    """
    while True:
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
        try:
            tmp.mkdir()  # 0o777 minus the umask
            return tmp
        except FileExistsError:
            continue


def _copy_folder(src: Path, dst: Path) -> None:
    """Copy a folder as new files and folders, with the modes of ``dst``'s parent folder and the
    umask: ``shutil.copytree`` keeps the source's, e.g. the 0o700 of a temporary folder."""
    shutil.copytree(src, dst, copy_function=shutil.copyfile)  # new files: the umask's mode
    mode = dst.parent.stat().st_mode & 0o777
    for folder in [dst, *(p for p in dst.rglob("*") if p.is_dir() and not p.is_symlink())]:
        folder.chmod(mode)


def _bundled_paths(value, bundle: dict[str, Path]):
    """``value`` (the summary) with every path into a bundled folder, alone or inside a
    sentence, made relative to the output folder: ``<staging>/terrain.tif`` →
    ``inputs/terrain.tif`` for ``bundle={"inputs": staging}``."""
    forms = {}
    for name, folder in bundle.items():
        for form in (str(folder), os.path.abspath(folder), str(Path(folder).resolve())):
            forms[form.rstrip(os.sep)] = name
    # longest first: an absolute form before a relative one it contains
    order = sorted(forms, key=len, reverse=True)

    def fix(v):
        if isinstance(v, dict):
            return {fix(k): fix(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [fix(x) for x in v]
        if isinstance(v, str):
            for form in order:
                v = forms[form] if v == form else v.replace(form + os.sep, forms[form] + "/")
        return v

    return fix(value)


def _swap_into_place(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` to ``target``; the previous folder's cache moves into the new one."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    try:
        os.replace(tmp, target)
    except BaseException:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        if (old / CACHE_DIR).exists():
            os.replace(old / CACHE_DIR, target / CACHE_DIR)
        shutil.rmtree(old, ignore_errors=True)


def _recover(target: Path) -> None:
    """Clean up after a run that was killed: half-written folders go, the outputs come back.

    Called under the output lock, so every temporary folder found belongs to a dead run.
    """
    for tmp in target.parent.glob(f".{target.name}.tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)
    for old in sorted(target.parent.glob(f".{target.name}.old-*")):
        if not target.exists():
            os.replace(old, target)  # killed between the two renames: restore the outputs
        elif (old / CACHE_DIR).exists() and not (target / CACHE_DIR).exists():
            os.replace(old / CACHE_DIR, target / CACHE_DIR)
        shutil.rmtree(old, ignore_errors=True)


def _write_files(
    result: Result, d: Path, progress: Progress = NO_PROGRESS, previous: Path | None = None
) -> None:
    # three independent writers in threads: the rasters and tables (GDAL and OGR release the
    # GIL), the map (folium; its image warp and PNG encoding release it) and the report (the
    # only matplotlib user, so no font state is shared between threads); about 2 s of a
    # province rerun's 6 s of writing overlap
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="lomsong-write") as pool:
        jobs = [pool.submit(_write_data, result, d), pool.submit(_write_map, result, d),
                pool.submit(_write_report, result, d, progress, previous)]  # fmt: skip
        for job in jobs:
            job.result()  # the first failure is raised (after every writer has stopped)
    if result.validation is not None:  # after the pool: matplotlib stays in one thread
        write_validation(result.validation, d, lang=result.config.output.lang,
                         version=__version__)  # fmt: skip
    summary = dict(result.summary)
    summary["outputs"] = sorted(p.name for p in d.iterdir())
    report.write_summary(summary, d / "summary.json")


def _write_report(
    result: Result, d: Path, progress: Progress, previous: Path | None = None
) -> None:
    """``report.html``, then the commune sheets: the matplotlib writers, one after the other in
    one thread (the sheets set matplotlib's PDF font settings while they draw). ``previous``:
    the output folder being replaced, whose unchanged sheets are copied."""
    lang = result.config.output.lang
    write_report_html(d / "report.html", gaps=result.gaps, ranking=result.ranking,
                      summary=result.summary, signal=result.signal, lang=lang)  # fmt: skip
    if result.config.output.sheets:
        write_sheets(d / "sheets", villages=result.gaps.villages, rule=result.gaps.rule,
                     summary=result.summary, towers=result.towers, ranking=result.ranking,
                     lang=lang, progress=progress("Commune sheets", 1),
                     previous=None if previous is None else previous / "sheets")  # fmt: skip


def _write_data(result: Result, d: Path) -> None:
    """The rasters, the CSV tables and the GeoPackage."""
    # the best server's level in its technology's own quantity (RxLev/RSCP/RSRP/SS-RSRP, dBm)
    # rasters as Cloud-Optimised GeoTIFFs: published as they are, opened at any zoom
    result.signal.power.to_file(d / "coverage.tif", cog=True)
    result.signal.serving.to_file(d / "serving.tif", cog=True)
    if result.gaps.margin is not None:  # best margin over the rule at the location probability
        m = result.gaps.margin.data
        margin = np.where(np.isfinite(m), m, np.nan).astype(np.float32)
        result.gaps.margin.with_data(margin).to_file(d / "margin.tif", cog=True)
    techs = sorted({t for _, t in result.signal.groups})
    if len(techs) > 1:  # each technology's best level apart: "no 4G" as well as "no signal"
        for tech in techs:
            best = np.full(result.signal.power.shape, -np.inf, dtype=np.float32)
            for (_, t), grid in result.signal.groups.items():
                if t == tech:
                    np.maximum(best, grid, out=best)
            level = np.where(np.isfinite(best), best, np.nan).astype(np.float32)
            result.signal.power.with_data(level).to_file(d / f"coverage_{tech}.tif", cog=True)
    # the explanation's working columns stay in memory (map, report); files get the contract
    villages = result.gaps.villages.drop(columns=[*HELPER_COLUMNS, "profile_png"], errors="ignore")
    report.write_villages_csv(villages, d / "villages.csv")
    report.write_ranking_csv(result.ranking, d / "ranking.csv")
    layers = {
        "villages": villages,
        "dead_zones": result.gaps.zones,
        "towers": result.towers,
        "candidates": result.candidates,
        "ranking": result.ranking,
        "backhaul": report.backhaul_links(result.ranking, result.candidates, result.towers),
        "rejects": result.rejects,
    }
    report.write_planning_gpkg(layers, d / "planning.gpkg")
    # styles (layer_styles, .qml beside the rasters) and planning.qgz over the files above
    write_qgis(d, layers=layers, rule=result.gaps.rule, towers=result.signal.towers,
               lang=result.config.output.lang)  # fmt: skip


def _write_map(result: Result, d: Path) -> None:
    cfg = result.config
    m = build_map(
        villages=result.gaps.villages, towers=result.towers, signal=result.signal,
        gaps=result.gaps, ranking=result.ranking, candidates=result.candidates,
        lang=cfg.output.lang, summary=result.summary["totals"], offline=cfg.output.offline_map,
        validation=result.validation,
    )  # fmt: skip
    if cfg.output.offline_map:
        save_offline(m, d / "map.html")
    else:
        m.save(str(d / "map.html"))
