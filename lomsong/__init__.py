"""lomsong: find mobile dead zones (lõm sóng) and rank the tower sites that fix them.

>>> import lomsong as ls
>>> villages = ls.read_villages("villages.gpkg")                       # doctest: +SKIP
>>> signal = ls.predict(towers, terrain, model="hata")                 # doctest: +SKIP
"""

import importlib
import logging
from typing import TYPE_CHECKING

from lomsong._version import __version__
from lomsong.errors import InputError, LomsongError

if TYPE_CHECKING:  # the lazy names below, for type checkers and editors
    from lomsong.config import ProjectConfig, load_config
    from lomsong.coverage.deadzones import DeadZones, dead_zones
    from lomsong.coverage.predict import predict
    from lomsong.coverage.rule import CoverageRule
    from lomsong.coverage.types import Coverage
    from lomsong.grid import Grid
    from lomsong.layers.households import read_households
    from lomsong.layers.landcover import read_landcover
    from lomsong.layers.terrain import read_terrain
    from lomsong.layers.towers import read_towers
    from lomsong.layers.villages import read_villages
    from lomsong.maps.build import build_map
    from lomsong.pipeline import run
    from lomsong.siting.candidates import candidate_sites, read_candidates
    from lomsong.siting.rank import rank_sites

__all__ = [
    "__version__",
    "Grid",
    "Coverage",
    "DeadZones",
    "CoverageRule",
    "ProjectConfig",
    "LomsongError",
    "InputError",
    "load_config",
    "read_villages",
    "read_towers",
    "read_terrain",
    "read_households",
    "read_landcover",
    "read_candidates",
    "candidate_sites",
    "predict",
    "dead_zones",
    "rank_sites",
    "build_map",
    "run",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())


#: Where each public name lives: loaded on first use (PEP 562), so that ``import lomsong`` —
#: and every ``import lomsong.<module>``, which imports this package first — costs only what
#: is used (importing every stage took ~1 s of a cold start: pandas, scipy, dask, folium…).
_LAZY = {
    "ProjectConfig": "lomsong.config",
    "load_config": "lomsong.config",
    "DeadZones": "lomsong.coverage.deadzones",
    "dead_zones": "lomsong.coverage.deadzones",
    "predict": "lomsong.coverage.predict",
    "CoverageRule": "lomsong.coverage.rule",
    "Coverage": "lomsong.coverage.types",
    "Grid": "lomsong.grid",
    "read_households": "lomsong.layers.households",
    "read_landcover": "lomsong.layers.landcover",
    "read_terrain": "lomsong.layers.terrain",
    "read_towers": "lomsong.layers.towers",
    "read_villages": "lomsong.layers.villages",
    "candidate_sites": "lomsong.siting.candidates",
    "read_candidates": "lomsong.siting.candidates",
    "rank_sites": "lomsong.siting.rank",
    "build_map": "lomsong.maps.build",
    "run": "lomsong.pipeline",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lomsong' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
