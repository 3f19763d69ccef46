"""The rasters a department publishes are Cloud-Optimised GeoTIFFs: tiled, overviews, IFDs first."""

from __future__ import annotations

import numpy as np
import rasterio
from conftest import make_grid


def _is_cog(path) -> bool:
    with rasterio.open(path) as src:
        structure = src.tags(ns="IMAGE_STRUCTURE")
        # GDAL reports LAYOUT=COG only for a file whose ghost header says the IFDs (and the
        # overviews' IFDs) come before the data, as the COG driver writes it
        return (src.driver == "GTiff" and structure.get("LAYOUT") == "COG"
                and src.profile.get("tiled") and src.block_shapes[0] == (512, 512))  # fmt: skip


def test_a_grid_written_as_cog_is_tiled_with_overviews_and_round_trips(tmp_path):
    rng = np.random.default_rng(1)
    level = make_grid(rng.normal(-95.0, 8.0, (1500, 1300)).astype(np.float32), res=30.0)
    level.data[:10, :10] = np.nan  # no level: stays nodata
    level.to_file(tmp_path / "level.tif", cog=True)
    assert _is_cog(tmp_path / "level.tif")
    with rasterio.open(tmp_path / "level.tif") as src:
        assert src.overviews(1) == [2, 4]  # down to one 512-pixel tile
        np.testing.assert_array_equal(src.read(1), level.data)  # lossless, NaN included
        assert np.isnan(src.nodata)
        assert src.crs.to_epsg() == 32649 and src.transform == level.transform


def test_an_index_grid_keeps_its_values_in_the_overviews(tmp_path):
    serving = make_grid(np.zeros((1100, 1100)), res=30.0).with_data(
        np.repeat(np.arange(11, dtype=np.int32), 100)[None, :].repeat(1100, axis=0), nodata=-1
    )
    serving.to_file(tmp_path / "serving.tif", cog=True)
    assert _is_cog(tmp_path / "serving.tif")
    with rasterio.open(tmp_path / "serving.tif") as src:
        assert src.nodata == -1
        small = src.read(1, out_shape=(275, 275))  # read from an overview
        assert set(np.unique(small)) <= set(range(11))  # an index is never averaged


def test_a_plain_write_stays_a_plain_geotiff(tmp_path):
    make_grid(np.ones((600, 600), dtype=np.float32)).to_file(tmp_path / "plain.tif")
    assert not _is_cog(tmp_path / "plain.tif")
