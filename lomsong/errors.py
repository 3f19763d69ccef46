"""Exceptions and warnings of lomsong.

Every exception derives from :class:`LomsongError`; input problems are
:class:`InputError`, which is also a :class:`ValueError` so ``except ValueError``
keeps working. An :class:`InputError` names the file, the row or feature and the
reason, and can carry *all* problems found in one file at once.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from os import PathLike

__all__ = [
    "LomsongError",
    "InputError",
    "Problem",
    "ConfigError",
    "LomsongWarning",
    "ModelValidityWarning",
    "InputWarning",
    "WarningLog",
    "capture_warnings",
    "log_warning",
]


class LomsongError(Exception):
    """Root of every error raised by lomsong."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where (``row``, 1-based, or feature) and why."""

    row: int | str | None
    reason: str

    def __str__(self) -> str:
        if self.row is None:
            return self.reason
        # an int is a 1-based data row / feature number; a str is an id or a config key
        where = f"row {self.row}" if isinstance(self.row, int) else str(self.row)
        return f"{where}: {self.reason}"


class InputError(LomsongError, ValueError):
    """An input file (or in-memory layer) cannot be used.

    Parameters
    ----------
    path
        The file at fault (or a label such as ``"<towers GeoDataFrame>"``).
    reason
        What is wrong, when there is a single problem.
    row
        1-based data row or feature number (or an id) of that single problem.
    problems
        Every problem found, when there are several; reported all at once.
    """

    def __init__(
        self,
        path: str | PathLike[str] | None,
        reason: str | None = None,
        *,
        row: int | str | None = None,
        problems: Iterable[Problem] = (),
    ) -> None:
        self.path = None if path is None else str(path)
        self.problems = list(problems)
        if reason is not None:
            self.problems.insert(0, Problem(row, reason))
        self.row = self.problems[0].row if len(self.problems) == 1 else row
        self.reason = "; ".join(str(p) for p in self.problems) if self.problems else ""
        super().__init__(self._message())

    def _message(self) -> str:
        where = self.path if self.path is not None else "input"
        if len(self.problems) <= 1:
            return f"{where}: {self.reason}"
        lines = [f"{where}: {len(self.problems)} problems"]
        lines += [f"  - {p}" for p in self.problems[:50]]
        if len(self.problems) > 50:
            lines.append(f"  … and {len(self.problems) - 50} more")
        return "\n".join(lines)


class ConfigError(InputError):
    """The project file is invalid: the message names the key."""


class LomsongWarning(UserWarning):
    """Root of lomsong's warnings, so users can filter them as one class."""


class ModelValidityWarning(LomsongWarning):
    """A propagation model is used outside its published validity range."""


class InputWarning(LomsongWarning):
    """An input was repaired or partly skipped (swapped lat/lon, invalid polygon, …)."""


# ---------------------------------------------------------------------------------------------
# warnings as log lines, collected for summary.json

#: The logger whose records (and whose children's) a :class:`WarningLog` collects.
_LOGGER = "lomsong"


class WarningLog(logging.Handler):
    """The warnings of a run, deduplicated, in the order first seen.

    A logging handler (WARNING and above) on the ``lomsong`` logger, fed as well by
    :func:`capture_warnings` with Python warnings. :attr:`records` is a live list of
    ``{"category", "message", "count"}``: it keeps growing while the capture lasts, so a
    summary holding it also lists warnings raised while the outputs are written. ``category``
    is the warning class name (``"InputWarning"``, ``"ModelValidityWarning"``, a third-party
    ``"RuntimeWarning"``, …) or ``"log"`` for a plain ``logger.warning``.
    """

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records: list[dict] = []
        self._index: dict[tuple[str, str], dict] = {}

    def add(self, category: str, message: str) -> bool:
        """Count one warning; True when it is the first of its category and message."""
        with self.lock:
            rec = self._index.get((category, message))
            if rec is not None:
                rec["count"] += 1
                return False
            rec = {"category": category, "message": message, "count": 1}
            self._index[(category, message)] = rec
            self.records.append(rec)
            return True

    def emit(self, record: logging.LogRecord) -> None:
        if record.__dict__.get("warning_log") is self:
            return  # a Python warning this log's own hook has counted already
        category = record.__dict__.get("warning_category", "log")
        self.add(category, record.__dict__.get("warning_text", record.getMessage()))


def log_warning(logger: logging.Logger, category: type[Warning], message: str) -> None:
    """Log ``message`` at WARNING as a warning of ``category`` (one line, listed as such).

    For what a run says once, as a fact about the run rather than about a call (e.g. which
    towers a model is applied to outside its published range): unlike ``warnings.warn`` it is
    neither hidden after its first time in a process nor turned into an exception by strict
    warning filters, and :class:`WarningLog` lists it under ``category``.
    """
    logger.warning(
        "%s", message, extra={"warning_category": category.__name__, "warning_text": message}
    )


@contextmanager
def capture_warnings() -> Iterator[WarningLog]:
    """Route Python warnings to the ``lomsong`` logger, one line each, and collect them.

    Inside the block every Python warning becomes one WARNING record of the
    ``lomsong.warnings`` logger (so the command line's handler prints it as one log line, and
    ``--quiet`` silences it) — the first time its category and message occur; repeats are only
    counted. lomsong's own warnings (:class:`LomsongWarning`) are always shown: a run reports
    them whatever the process's warning filters; other categories follow those filters (an
    ``"error"`` filter still raises). The yielded :class:`WarningLog` also collects the WARNING
    records of the ``lomsong`` loggers. Blocks may nest; the innermost collects.
    """
    root = logging.getLogger(_LOGGER)
    out = logging.getLogger(f"{_LOGGER}.warnings")
    caught = WarningLog()

    def show(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ARG001
        name, text = category.__name__, str(message)
        if not caught.add(name, text):
            return
        shown = text if issubclass(category, LomsongWarning) else f"{name}: {text}"
        extra = {"warning_category": name, "warning_text": text, "warning_log": caught}
        out.warning("%s", shown, extra=extra)

    root.addHandler(caught)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", LomsongWarning)
            warnings.showwarning = show
            yield caught
    finally:
        root.removeHandler(caught)
