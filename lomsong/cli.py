"""The ``lomsong`` command: ``init``, ``demo``, ``run``, ``calibrate``, ``validate``, ``diff``.

Exit codes: 0 success, 2 bad input (the message names file, row/feature and reason), 1 other
failures.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from lomsong._version import __version__
from lomsong.defaults import (
    CALIBRATION_TX_HEIGHT_M,
    ENVIRONMENT,
    ENVIRONMENTS,
    MODEL_NAMES,
    RX_HEIGHT_M,
)
from lomsong.errors import InputError, LomsongError, capture_warnings

if TYPE_CHECKING:  # the commands import their modules when run: `lomsong --help` stays quick
    from lomsong.config import ProjectConfig

__all__ = ["main"]

logger = logging.getLogger("lomsong")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lomsong",
        description="Find mobile dead zones (lõm sóng) and rank the tower sites that fix them.",
    )
    p.add_argument("--version", action="version", version=f"lomsong {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    i = sub.add_parser("init", help="write a commented project file to start from")
    i.add_argument("dir", help="folder to write project.toml into (created if missing)")

    d = sub.add_parser("demo", help="build the demo province and run everything on it")
    d.add_argument("--out", default="outputs/demo", help="output folder (default outputs/demo)")
    d.add_argument("--seed", type=int, default=2023, help="demo generator seed")
    d.add_argument("--reduced", action="store_true", help="a small, fast demo (for tests)")
    d.add_argument("--quiet", action="store_true", help="no progress bars or info messages")
    d.add_argument("--offline-map", action="store_true",
                   help="a map.html that opens without a network (libraries inline)")  # fmt: skip

    r = sub.add_parser("run", help="the full pipeline on a project file")
    r.add_argument("project", help="project file (TOML)")
    r.add_argument("--out", help="output folder (default: [output] dir of the project)")
    r.add_argument("--towers", help="a new tower file replacing inputs.towers")
    r.add_argument("--workers", type=int, help="predict towers on N local processes")
    r.add_argument("--scheduler", help="dask.distributed scheduler, e.g. tcp://HOST:8786")
    r.add_argument("--force", action="store_true", help="run even when the outputs are up to date")
    r.add_argument("--quiet", action="store_true", help="no progress bars or info messages")
    r.add_argument("--offline-map", action="store_true",
                   help="a map.html that opens without a network (libraries inline)")  # fmt: skip

    c = sub.add_parser(
        "calibrate", help="fit a model to measured signal levels",
        description="With a project (--project P.toml, or P.toml first): fit offsets per "
        "operator/technology (and tower, and distance slopes) of the project's own prediction to "
        "walk-test logs, no-service rows censored; writes fit.json for [model] calibration. "
        "Without: fit per-transmitter offsets to one CSV of paths from known transmitters "
        "(rssi, positions, transmitter id).",
    )  # fmt: skip
    c.add_argument("measurements", nargs="+",
                   help="walk-test logs (with a project), or one CSV of paths")  # fmt: skip
    c.add_argument("--project", help="project file (TOML) whose prediction is calibrated")
    c.add_argument("--floor", action="append", default=[], type=_floor, metavar="TECH=DBM",
                   help="a phone's floor for a technology, e.g. 4G=-124 (repeatable)")  # fmt: skip
    c.add_argument("--model", choices=MODEL_NAMES,
                   help="propagation model (default fspl; with a project, its own)")  # fmt: skip
    c.add_argument("--terrain", nargs="*", help="DEM file(s); required for itm")
    c.add_argument("--slope", default="none", choices=("none", "shared", "per_tx"),
                   help="distance slope")  # fmt: skip
    c.add_argument("--breakpoint", type=_breakpoint,
                   help="dual slope breakpoint (km) or 'fit'; needs --slope shared")  # fmt: skip
    c.add_argument("--env", default=ENVIRONMENT, choices=ENVIRONMENTS, help="Hata environment")
    c.add_argument("--h-tx", type=_positive, default=CALIBRATION_TX_HEIGHT_M,
                   help="transmitter height above ground (m)")  # fmt: skip
    c.add_argument("--h-rx", type=_positive, default=RX_HEIGHT_M,
                   help="receiver height above ground (m)")  # fmt: skip
    c.add_argument("--out", help="fitted parameters, JSON (default fit.json with a project, "
                   "else calibration.json)")  # fmt: skip
    c.add_argument("--quiet", action="store_true")

    v = sub.add_parser("validate", help="the prediction against walk tests and reported hamlets")
    v.add_argument("project", help="project file (TOML)")
    v.add_argument("evidence", nargs="+",
                   help="walk-test logs, lists of reported hamlets (name, status)")  # fmt: skip
    v.add_argument("--out", help="output folder (default: [output] dir of the project)")
    v.add_argument("--quiet", action="store_true", help="no progress bars or info messages")

    f = sub.add_parser("diff", help="what changed between two runs")
    f.add_argument("run_a")
    f.add_argument("run_b")
    return p


def _positive(text: str) -> float:
    """argparse type: a finite number > 0 (argparse exits 2 with the message otherwise)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r} must be a number > 0")
    return value


def _floor(text: str) -> tuple[str, float]:
    """argparse type of ``--floor``: ``TECH=DBM``."""
    tech, sep, value = text.partition("=")
    try:
        level = float(value)
    except ValueError:
        level = math.nan
    if not sep or not tech.strip() or not math.isfinite(level):
        raise argparse.ArgumentTypeError(f"{text!r} is not TECH=DBM (e.g. 4G=-124)")
    return tech.strip(), level


def _breakpoint(text: str) -> float | str:
    return "fit" if text == "fit" else _positive(text)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lomsong`` console script; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "calibrate" and args.breakpoint is not None and args.slope != "shared":
        parser.error("--breakpoint needs --slope shared (a dual slope is shared by all)")
    console = Console(stderr=True, quiet=getattr(args, "quiet", False))
    _configure_logging(console, quiet=getattr(args, "quiet", False))
    try:
        # Python warnings become one log line each through the handler (silent with --quiet)
        with capture_warnings():
            return _command(args, console)
    except InputError as exc:
        _error(exc)
        return 2
    except (LomsongError, OSError) as exc:
        _error(exc)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug of lomsong's: no traceback for the user, the details logged
        logger.debug("internal error", exc_info=True)
        _error(f"internal error ({type(exc).__name__}: {exc}); please report it with the "
               "project file. Details: run again with LOMSONG_DEBUG=1")  # fmt: skip
        if os.environ.get("LOMSONG_DEBUG"):
            raise
        return 1


def _command(args: argparse.Namespace, console: Console) -> int:
    if args.command == "init":
        return _init(args, console)
    if args.command == "demo":
        return _demo(args, console)
    if args.command == "run":
        return _run(args, console)
    if args.command == "calibrate":
        return _calibrate(args, console)
    if args.command == "validate":
        return _validate(args, console)
    return _diff(args)


def _error(exc: BaseException | str) -> None:
    # the message may hold brackets ("[0, 360]"): escape it so rich prints it verbatim
    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(str(exc))}",
                                               highlight=False)  # fmt: skip


def _configure_logging(console: Console, *, quiet: bool) -> None:
    root = logging.getLogger("lomsong")
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, RichHandler)]
    handler = RichHandler(console=console, show_path=False, show_time=False)
    root.addHandler(handler)
    root.setLevel(logging.WARNING if quiet else logging.INFO)


def _progress_factory(progress: Progress) -> Callable[[str, int], Callable[[int, int], None]]:
    def factory(description: str, total: int) -> Callable[[int, int], None]:
        task = progress.add_task(description, total=max(total, 1))

        def advance(done: int, total_: int) -> None:
            progress.update(task, completed=done, total=max(total_, 1))

        return advance

    return factory


@contextmanager
def _bars(console: Console) -> Iterator[Callable[[str, int], Callable[[int, int], None]]]:
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=console, transient=False, disable=console.quiet,
    ) as progress:  # fmt: skip
        yield _progress_factory(progress)


def _report(console: Console, result) -> None:
    t = result.summary["totals"]
    console.print(
        f"[bold]{t['households']:,}[/] households in {t['villages']} villages; "
        f"[bold red]{t['households_uncovered']:,}[/] uncovered, "
        f"[bold red]{t['dead_villages']}[/] dead villages; the top {t['sites_proposed']} sites "
        f"reach [bold green]{t['households_reached_by_sites']:,}[/] households. "
        f"Outputs: {result.out_dir}"
    )


def _with_offline_map(config: ProjectConfig, args: argparse.Namespace) -> ProjectConfig:
    """``--offline-map`` turns ``[output] offline_map`` on (it never turns it off)."""
    if not args.offline_map:
        return config
    return dataclasses.replace(config, output=dataclasses.replace(config.output, offline_map=True))


def _init(args: argparse.Namespace, console: Console) -> int:
    target = Path(args.dir) / "project.toml"
    if target.exists():
        raise InputError(target, "already exists: lomsong init never overwrites a project file")
    target.parent.mkdir(parents=True, exist_ok=True)
    template = resources.files("lomsong").joinpath("data/project.toml").read_text(encoding="utf-8")
    target.write_text(template, encoding="utf-8")
    console.print(f"wrote {target}: set [inputs], then run `lomsong run {target}`",
                  markup=False, highlight=False)  # fmt: skip
    return 0


def _demo(args: argparse.Namespace, console: Console) -> int:
    from lomsong.config import load_config
    from lomsong.demo import write_demo
    from lomsong.pipeline import run

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".demo-inputs-", dir=out.parent))
    try:
        with console.status("Generating the demo province"):
            project = write_demo(staging, seed=args.seed, reduced=args.reduced)
        config = _with_offline_map(load_config(project), args)
        with _bars(console) as bars:
            result = run(config, out_dir=out, progress=bars, bundle={"inputs": staging})
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _report(console, result)
    return 0


def _run(args: argparse.Namespace, console: Console) -> int:
    from lomsong.config import load_config
    from lomsong.pipeline import run, up_to_date, with_towers

    config = _with_offline_map(load_config(args.project), args)
    if args.towers:
        config = with_towers(config, args.towers)
    target = Path(args.out) if args.out else config.output.dir
    if not args.force and up_to_date(config, target):
        console.print(f"{target} is up to date (same settings and inputs): nothing to do")
        return 0
    with _bars(console) as bars:
        result = run(config, out_dir=target, progress=bars, workers=args.workers,
                     scheduler=args.scheduler)  # fmt: skip
    _report(console, result)
    return 0


def _calibrate(args: argparse.Namespace, console: Console) -> int:
    files = list(args.measurements)
    project = args.project
    if project is None and len(files) > 1 and files[0].lower().endswith(".toml"):
        project, files = files[0], files[1:]  # lomsong calibrate PROJECT.toml EVIDENCE...
    if project is not None:
        return _calibrate_project(args, project, files, console)
    from lomsong.calibration.fit import calibrate_file

    if len(files) > 1:
        raise InputError(", ".join(files), "several measurement files need a project "
                         "(--project P.toml); without one, give one file of paths")  # fmt: skip
    out = args.out or "calibration.json"
    with console.status("Predicting the measured paths and fitting"):
        res = calibrate_file(
            files[0], model=args.model or "fspl", terrain=args.terrain or None,
            environment=args.env, h_tx_m=args.h_tx, h_rx_m=args.h_rx, slope=args.slope,
            breakpoint_km=args.breakpoint, validate=False,
        )  # fmt: skip
    res.to_json(out)
    console.print(res.summary_text(), highlight=False, markup=False)
    console.print(f"fitted parameters: {out}")
    return 0


def _calibrate_project(
    args: argparse.Namespace, project: str, files: list[str], console: Console
) -> int:
    """Walk-test logs against the project's prediction (relative calibration, fit.json)."""
    from lomsong.config import load_config
    from lomsong.pipeline import calibrate_evidence

    config = load_config(project)
    if args.model is not None and args.model != config.model.name:
        raise InputError(project, f"uses model {config.model.name!r}, not {args.model!r}: the "
                         "fit calibrates the project's own prediction")  # fmt: skip
    out = args.out or "fit.json"
    with _bars(console) as bars:
        res = calibrate_evidence(config, files, progress=bars, floors_dbm=dict(args.floor))
    res.to_json(out)
    console.print(res.summary_text(), highlight=False, markup=False)
    console.print(f"fitted parameters: {out} (set [model] calibration = \"{out}\")",
                  highlight=False, markup=False)  # fmt: skip
    return 0


def _validate(args: argparse.Namespace, console: Console) -> int:
    from lomsong.config import load_config
    from lomsong.pipeline import validate_evidence

    config = load_config(args.project)
    with _bars(console) as bars:
        result, files = validate_evidence(config, args.evidence, out_dir=args.out,
                                          progress=bars)  # fmt: skip
    n = {k: len(result.names(k)) for k in ("missed", "extra", "agreed", "unmatched")}
    console.print(
        f"{len(result.measurements):,} measurements; reported hamlets: {n['missed']} missed, "
        f"{n['extra']} extra, {n['agreed']} agreed, {n['unmatched']} not found. "
        f"Outputs: {', '.join(str(f) for f in files.values())}",
        markup=False, highlight=False,
    )  # fmt: skip
    return 0


def _diff(args: argparse.Namespace) -> int:
    from lomsong.report.changes import diff_runs

    print(diff_runs(Path(args.run_a), Path(args.run_b)))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
