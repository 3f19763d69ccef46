"""The installed distribution's version, read from its metadata (no module imports the root),
and digests of the package's source code (what a version string does not change with)."""

from __future__ import annotations

import functools
import hashlib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

__all__ = ["__version__", "code_digest"]

try:
    __version__ = version("lomsong")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

#: The package folder: the source the running code was imported from.
PACKAGE_ROOT = Path(__file__).resolve().parent


@functools.cache
def code_digest(parts: tuple[str, ...] = ("",), *, root: Path | None = None) -> str:
    """SHA-256 of the source of lomsong's modules: every ``*.py`` file under ``parts``.

    The version string stays the same through a code change (an editable install, a patched
    module, a development build): results computed by other code are recognised by this.
    Read once per process (memoised; about 1 ms for the whole package).

    Parameters
    ----------
    parts
        Folders or module files relative to the package folder, e.g. ``("propagation",
        "grid.py")``; the default, ``("",)``, is the whole package.
    root
        Package folder (default: the installed one).

    Returns
    -------
    str
        Hex digest of each file's path (relative to ``root``) and content, in path order.

    Raises
    ------
    FileNotFoundError
        When a part does not exist (a renamed module must be renamed in the list too).
    """
    root = PACKAGE_ROOT if root is None else Path(root)
    files: set[Path] = set()
    for part in parts:
        path = root / part
        if path.is_dir():
            files.update(path.rglob("*.py"))
        elif path.is_file():
            files.add(path)
        else:
            raise FileNotFoundError(f"lomsong source {path} not found")
    h = hashlib.sha256()
    for path in sorted(files):
        name = path.relative_to(root).as_posix().encode()
        data = path.read_bytes()
        # lengths first: no two different file sets hash the same byte stream
        h.update(b"%d:%d:" % (len(name), len(data)) + name + data)
    return h.hexdigest()
