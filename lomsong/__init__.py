"""lomsong: find mobile dead zones (lõm sóng) and rank the tower sites that fix them.

>>> import lomsong as ls
>>> villages = ls.read_villages("villages.gpkg")                       # doctest: +SKIP
>>> signal = ls.predict(towers, terrain, model="hata")                 # doctest: +SKIP
"""

import logging

from lomsong._version import __version__
from lomsong.config import ProjectConfig, load_config
from lomsong.coverage.deadzones import DeadZones, dead_zones
from lomsong.coverage.predict import predict
from lomsong.coverage.rule import CoverageRule
from lomsong.coverage.types import Coverage
from lomsong.errors import InputError, LomsongError
from lomsong.grid import Grid
from lomsong.layers.households import read_households
from lomsong.layers.landcover import read_landcover
from lomsong.layers.terrain import read_terrain
from lomsong.layers.towers import read_towers
from lomsong.layers.villages import read_villages
from lomsong.siting.candidates import candidate_sites, read_candidates

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


def __getattr__(name: str):
    # later stages load lazily: `import lomsong` stays fast and the stage order stays one-way
    if name == "rank_sites":
        from lomsong.siting.rank import rank_sites

        return rank_sites
    if name == "build_map":
        from lomsong.maps.build import build_map

        return build_map
    if name == "run":
        from lomsong.pipeline import run

        return run
    raise AttributeError(f"module 'lomsong' has no attribute {name!r}")
