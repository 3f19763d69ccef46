"""The ``lomsong`` command: ``init``, ``demo``, ``run``, ``calibrate``, ``diff``.

Exit codes: 0 success, 2 bad input (the message names file, row/feature and reason), 1 other
failures.
"""

from __future__ import annotations

import argparse
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

    r = sub.add_parser("run", help="the full pipeline on a project file")
    r.add_argument("project", help="project file (TOML)")
    r.add_argument("--out", help="output folder (default: [output] dir of the project)")
    r.add_argument("--towers", help="a new tower file replacing inputs.towers")
    r.add_argument("--workers", type=int, help="predict towers on N local processes")
    r.add_argument("--scheduler", help="dask.distributed scheduler, e.g. tcp://HOST:8786")
    r.add_argument("--force", action="store_true", help="run even when the outputs are up to date")
    r.add_argument("--quiet", action="store_true", help="no progress bars or info messages")

    c = sub.add_parser("calibrate", help="fit a model to measured signal levels")
    c.add_argument("measurements", help="CSV of measurements (rssi, positions, transmitter id)")
    c.add_argument("--model", default="fspl", choices=MODEL_NAMES, help="propagation model")
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
    c.add_argument("--out", default="calibration.json", help="fitted parameters (JSON)")
    c.add_argument("--quiet", action="store_true")

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
        config = load_config(project)
        with _bars(console) as bars:
            result = run(config, out_dir=out, progress=bars, bundle={"inputs": staging})
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _report(console, result)
    return 0


def _run(args: argparse.Namespace, console: Console) -> int:
    from lomsong.config import load_config
    from lomsong.pipeline import run, up_to_date, with_towers

    config = load_config(args.project)
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
    from lomsong.calibration.fit import calibrate_file

    breakpoint_km = args.breakpoint
    with console.status("Predicting the measured paths and fitting"):
        res = calibrate_file(
            args.measurements, model=args.model, terrain=args.terrain or None,
            environment=args.env, h_tx_m=args.h_tx, h_rx_m=args.h_rx, slope=args.slope,
            breakpoint_km=breakpoint_km, validate=False,
        )  # fmt: skip
    res.to_json(args.out)
    console.print(res.summary_text(), highlight=False, markup=False)
    console.print(f"fitted parameters: {args.out}")
    return 0


def _diff(args: argparse.Namespace) -> int:
    from lomsong.report.changes import diff_runs

    print(diff_runs(Path(args.run_a), Path(args.run_b)))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
