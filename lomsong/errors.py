"""Exceptions and warnings of lomsong.

Every exception derives from :class:`LomsongError`; input problems are
:class:`InputError`, which is also a :class:`ValueError` so ``except ValueError``
keeps working. An :class:`InputError` names the file, the row or feature and the
reason, and can carry *all* problems found in one file at once.
"""

from __future__ import annotations

from collections.abc import Iterable
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
