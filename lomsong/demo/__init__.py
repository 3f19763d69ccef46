"""The built-in demo province: a synthetic Quảng Ngãi generated deterministically from a seed.

The demo stands in for real inputs when none are at hand (``lomsong demo``, notebooks, tests).
Everything is made here with numpy from the seed alone -- no downloaded data -- and placed
near the real province in UTM zone 49N (EPSG:32649). One module per stage:

* :mod:`~lomsong.demo.frame`: the parameters of each variant (full, reduced, province), the
  coastline and the island, and the local frame of the grid;
* :mod:`~lomsong.demo.terrain`: rivers and the elevation model (**terrain**);
* :mod:`~lomsong.demo.settlements`: **villages** (names, communes, districts, households,
  polygons) and **households** (weighted points);
* :mod:`~lomsong.demo.network`: **towers** of the three operators;
* :mod:`~lomsong.demo.province`: :func:`generate_demo` runs the stages, :func:`write_demo`
  writes the layers as a lomsong project.

``reduced=True`` runs the same code with smaller parameters (16 × 12 km of land, 90 m cells,
~30 villages, ~10 towers) for fast tests.
"""

from lomsong.demo.province import DemoProvince, generate_demo, write_demo

__all__ = ["DemoProvince", "generate_demo", "write_demo"]
