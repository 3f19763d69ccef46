"""Write hypothetical towers for the Quảng Ngãi example (no real tower list is public).

One omni 4G site at the centre of every ward (phường) and township (thị trấn) of the 2009
communes, where real operators certainly have sites — enough to run the pipeline on the real
communes. The result illustrates the method; it is not the province's real coverage.

    .venv/bin/python examples/quang_ngai/make_towers.py
"""

from pathlib import Path

import geopandas as gpd

HERE = Path(__file__).resolve().parent
COMMUNES = HERE.parents[2] / "shared" / "data" / "quang_ngai" / "communes_2009.geojson"


def main() -> None:
    communes = gpd.read_file(COMMUNES)
    towns = communes[communes["commune_vn"].str.startswith(("Phường", "Thị trấn"))]
    centres = towns.to_crs(32649).geometry.representative_point().to_crs(4326)
    out = towns[["commune_id", "commune_vn"]].assign(
        tower_id=[f"H{i + 1:03d}" for i in range(len(towns))],
        operator="hypothetical",
        tech="4G",
        lon=centres.x.round(6).to_numpy(),
        lat=centres.y.round(6).to_numpy(),
    )
    cols = ["tower_id", "operator", "tech", "lon", "lat", "commune_vn"]
    out[cols].to_csv(HERE / "towers_hypothetical.csv", index=False)
    print(f"{len(out)} hypothetical towers → {HERE / 'towers_hypothetical.csv'}")


if __name__ == "__main__":
    main()
