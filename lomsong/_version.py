"""The installed distribution's version, read from its metadata (no module imports the root)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lomsong")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
