"""Per-tower prediction cache: a rerun predicts only new or changed towers.

An entry is one tower's :class:`~lomsong.coverage.predict.TowerPrediction`, stored as
``<key>.npz`` where the key is the SHA-256 of everything the prediction depends on: the tower's
radio parameters and position, the terrain's checksum, the model and its parameters, and the
engine version. Entries are written to a temporary file and renamed into place (atomic), and
carry a checksum of their array that is verified on read: a corrupt or truncated entry is
deleted and recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import tempfile
import zipfile
from collections.abc import Mapping
from os import PathLike
from pathlib import Path

import numpy as np

from lomsong.coverage.predict import TowerPrediction
from lomsong.grid import Grid

__all__ = ["TowerCache", "ENGINE_VERSION"]

logger = logging.getLogger(__name__)

#: Bump whenever the engine's numbers change, so old entries stop matching.
ENGINE_VERSION = "rays-1"
_TOWER_FIELDS = ("freq_mhz", "height_m", "eirp_dbm", "azimuth_deg", "beamwidth_deg", "tilt_deg")


class TowerCache:
    """A folder of per-tower predictions keyed by content.

    Parameters
    ----------
    folder
        Created when missing.
    """

    def __init__(self, folder: str | PathLike[str]) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self.misses = 0
        self.corrupt = 0
        self.used: set[str] = set()  # keys read or written by this run

    @staticmethod
    def terrain_digest(terrain: Grid) -> str:
        """SHA-256 of the terrain's values, transform and CRS."""
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(terrain.data).tobytes())
        h.update(repr(tuple(terrain.transform)[:6]).encode())
        h.update(terrain.crs.to_wkt().encode())
        return h.hexdigest()

    @staticmethod
    def key(tower: Mapping, *, terrain_digest: str, settings: Mapping) -> str:
        """Content key of one tower's prediction."""
        radio = {}
        for f in _TOWER_FIELDS:
            v = float(tower.get(f, math.nan))
            radio[f] = None if math.isnan(v) else round(v, 6)
        geom = tower["geometry"]
        payload = {
            "engine": ENGINE_VERSION,
            "terrain": terrain_digest,
            "settings": {k: settings[k] for k in sorted(settings)},
            "radio": radio,
            "xy": [round(geom.x, 3), round(geom.y, 3)],
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.npz"

    def get(self, key: str) -> TowerPrediction | None:
        """The stored prediction, or None when absent or corrupt (then it is deleted)."""
        self.used.add(key)
        path = self._path(key)
        if not path.exists():
            self.misses += 1
            return None
        try:
            # open the file ourselves: np.load leaks its handle when the zip is corrupt
            with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:
                power = z["power"]
                origin = z["origin"]
                digest = str(z["sha256"])
            if hashlib.sha256(power.tobytes()).hexdigest() != digest:
                raise ValueError("checksum mismatch")
            pred = TowerPrediction(int(origin[0]), int(origin[1]), power)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
            logger.warning("cache entry %s is corrupt (%s): recomputing", path.name, exc)
            self.corrupt += 1
            self.misses += 1
            path.unlink(missing_ok=True)
            return None
        self.hits += 1
        return pred

    def put(self, key: str, pred: TowerPrediction) -> None:
        """Store atomically: a temporary file in the same folder, then a rename."""
        self.used.add(key)
        power = np.ascontiguousarray(pred.power, dtype=np.float32)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(
                    f,
                    power=power,
                    origin=np.array([pred.row0, pred.col0], dtype=np.int64),
                    sha256=np.array(hashlib.sha256(power.tobytes()).hexdigest()),
                )
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self._path(key))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def prune(self, keep: set[str]) -> int:
        """Delete entries not in ``keep`` (towers removed or changed); returns how many."""
        n = 0
        for p in self.folder.glob("*.npz"):
            if p.stem not in keep:
                p.unlink(missing_ok=True)
                n += 1
        for p in self.folder.glob(".tmp-*"):
            p.unlink(missing_ok=True)
        return n
