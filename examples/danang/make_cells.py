"""Write planning cells for the Đà Nẵng example: 2 × 2 km squares over the city's land.

The shared data has real terrain and real gateways for Đà Nẵng but no village boundaries, so
the example plans over square cells (villages with no households count: the households are
spread evenly, 150 per km² of land — a placeholder density, stated as such).

    .venv/bin/python examples/danang/make_cells.py
"""

from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
from shapely.geometry import box

HERE = Path(__file__).resolve().parent
DEM = HERE.parents[2] / "shared" / "data" / "danang_lora" / "srtm_danang.tif"


def main() -> None:
    with rasterio.open(DEM) as src:
        bounds = src.bounds
    area = gpd.GeoSeries([box(*bounds)], crs=4326).to_crs(32649).buffer(-1500).iloc[0]
    x0, y0, x1, y1 = area.bounds
    cells = [box(x, y, x + 2000, y + 2000) for x in np.arange(x0, x1 - 2000, 2000)
             for y in np.arange(y0, y1 - 2000, 2000)]  # fmt: skip
    gdf = gpd.GeoDataFrame(
        {"village_id": [f"C{i + 1:03d}" for i in range(len(cells))],
         "name": [f"Ô {i + 1}" for i in range(len(cells))],
         "commune": "Đà Nẵng", "district": "", "households": 600},
        geometry=cells, crs=32649,
    )  # fmt: skip
    gdf.to_crs(4326).to_file(HERE / "cells.geojson", driver="GeoJSON")
    print(f"{len(gdf)} cells → {HERE / 'cells.geojson'}")


if __name__ == "__main__":
    main()
