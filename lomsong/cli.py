"""The ``lomsong`` command: ``demo``, ``run``, ``diff``.

Exit codes: 0 success, 2 bad input (the message names file, row/feature and reason), 1 other
failures.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from lomsong import __version__
from lomsong.errors import InputError, LomsongError

__all__ = ["main"]

logger = logging.getLogger("lomsong")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lomsong",
        description="Find mobile dead zones (lõm sóng) and rank the tower sites that fix them.",
    )
    p.add_argument("--version", action="version", version=f"lomsong {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

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
    c.add_argument("--model", default="fspl", help="fspl | hata | cost231 | itm")
    c.add_argument("--terrain", nargs="*", help="DEM file(s); required for itm")
    c.add_argument("--slope", default="none", help="distance slope: none | shared | per_tx")
    c.add_argument("--breakpoint", help="dual slope breakpoint (km) or 'fit'")
    c.add_argument("--env", default="suburban", help="Hata environment")
    c.add_argument("--h-tx", type=float, default=15.0, help="transmitter height above ground (m)")
    c.add_argument("--h-rx", type=float, default=1.5, help="receiver height above ground (m)")
    c.add_argument("--out", default="calibration.json", help="fitted parameters (JSON)")
    c.add_argument("--quiet", action="store_true")

    f = sub.add_parser("diff", help="what changed between two runs")
    f.add_argument("run_a")
    f.add_argument("run_b")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lomsong`` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    console = Console(stderr=True, quiet=getattr(args, "quiet", False))
    _configure_logging(console, quiet=getattr(args, "quiet", False))
    try:
        if args.command == "demo":
            return _demo(args, console)
        if args.command == "run":
            return _run(args, console)
        if args.command == "calibrate":
            return _calibrate(args, console)
        return _diff(args)
    except InputError as exc:
        _error(exc)
        return 2
    except (LomsongError, OSError) as exc:
        _error(exc)
        return 1
    except KeyboardInterrupt:
        return 130


def _error(exc: BaseException) -> None:
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


def _demo(args: argparse.Namespace, console: Console) -> int:
    from lomsong.config import load_config
    from lomsong.layers.demo import write_demo
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
    from lomsong.coverage.calibrate import calibrate_file

    bp = args.breakpoint
    breakpoint_km = None if bp is None else ("fit" if bp == "fit" else float(bp))
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
    from lomsong.report import diff_runs

    print(diff_runs(Path(args.run_a), Path(args.run_b)))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
