"""Land cover: the reader (any raster, any CRS, onto the terrain's cells) and the clutter-loss grid.

Hand-built rasters whose answer is obvious: a forest half (ESA WorldCover 10, tree cover) beside
an open half (30, grassland). With the loss counted from open/rural, the forest cells lose the
P.2108 §3.1 trees/forest loss minus the open/rural one, open cells nothing, unknown cells
nothing.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio
from affine import Affine
from assertions import HAND_COMPUTED_DB
from conftest import CRS, X0, Y0, make_grid
from pyproj import Transformer

import lomsong.coverage.clutter as coverage_clutter
from lomsong import defaults
from lomsong.config import LandcoverInput, load_config
from lomsong.coverage.clutter import clutter_loss_grid
from lomsong.defaults import CLUTTER_TYPES
from lomsong.errors import ConfigError, InputError, InputWarning, ModelValidityWarning
from lomsong.layers.landcover import read_landcover
from lomsong.propagation.clutter import (
    CLUTTER_HEIGHT_M,
    WORLDCOVER_CLUTTER,
    terminal_clutter_loss_db,
)

FOREST, GRASS, BUILT = 10, 30, 50  # ESA WorldCover codes
F_MHZ, RX_M = 900.0, 1.5

# P.2108-1 §3.1 at 900 MHz, handset 1.5 m, Table 3 heights:
# trees/forest (R = 15 m, w_s = 27 m): h_dif = 13.5, θ = atan(13.5/27) = 26.565°,
#   ν = 0.342·√0.9·√(13.5·26.565) = 6.144, J(ν) = 6.9 + 20·log10(√(6.044² + 1) + 6.044) = 28.61,
#   A = J − 6.03 = 22.58 dB;
# open/rural (R = 10 m): K_h2 = 21.8 + 6.2·log10(0.9) = 21.52, A = −21.52·log10(0.15) = 17.73 dB;
# forest relative to open: 22.58 − 17.73 = 4.85 dB.
FOREST_ABS_DB, OPEN_ABS_DB, FOREST_REL_DB = 22.58, 17.73, 4.85


def terrain_grid(n: int = 10):
    """A flat n × n terrain of 100 m cells (UTM 49N) from (X0, Y0)."""
    return make_grid(np.zeros((n, n)))


def write_raster(path, data, transform, crs=CRS, nodata=None):
    profile = {"driver": "GTiff", "height": data.shape[0], "width": data.shape[1], "count": 1,
               "dtype": data.dtype.name, "transform": transform}  # fmt: skip
    if crs is not None:
        profile["crs"] = crs
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
    return path


def forest_west_open_east_10m(path, *, specks: bool = False):
    """10 m land cover over the 1 km terrain: columns 0-49 forest, 50-99 grassland.

    With ``specks``, the 2 × 2 pixels at the centre of every 100 m block of the forest half are
    grassland: the pixels a nearest-neighbour pick lands on, 4 % of the block.
    """
    data = np.full((100, 100), GRASS, dtype=np.uint8)
    data[:, :50] = FOREST
    if specks:
        for r0 in range(0, 100, 10):
            for c0 in range(0, 50, 10):
                data[r0 + 4 : r0 + 6, c0 + 4 : c0 + 6] = GRASS
    return write_raster(path, data, Affine(10.0, 0, X0, 0, -10.0, Y0), nodata=0)


def test_clutter_types_are_p2108s_and_worldcover_has_one_home():
    assert set(CLUTTER_TYPES) == set(CLUTTER_HEIGHT_M)
    assert WORLDCOVER_CLUTTER is defaults.WORLDCOVER_CLUTTER


def test_forest_beside_open_field_read_at_10m_and_the_loss_is_forest_minus_open(tmp_path):
    terrain = terrain_grid()
    lc = read_landcover(forest_west_open_east_10m(tmp_path / "wc.tif", specks=True),
                        terrain=terrain)  # fmt: skip
    assert lc.shape == terrain.shape
    assert lc.transform == terrain.transform and lc.crs == terrain.crs
    assert lc.data.dtype.kind == "i" and lc.nodata == 0
    # mode of each 100 m block: the grassland specks under the cell centres do not win
    assert (lc.data[:, :5] == FOREST).all()
    assert (lc.data[:, 5:] == GRASS).all()

    loss = clutter_loss_grid(lc, f_mhz=F_MHZ, rx_height_m=RX_M)
    assert loss.dtype == np.float32 and loss.shape == terrain.shape
    forest = float(terminal_clutter_loss_db(F_MHZ, RX_M, "trees_forest"))
    open_ = float(terminal_clutter_loss_db(F_MHZ, RX_M, "open_rural"))
    np.testing.assert_allclose(loss[:, :5], forest - open_, rtol=0, atol=1e-5)  # float32
    np.testing.assert_allclose(loss[:, :5], FOREST_REL_DB, rtol=0, atol=HAND_COMPUTED_DB)
    assert (loss[:, 5:] == 0.0).all()


def test_absolute_loss_on_request(tmp_path):
    lc = read_landcover(forest_west_open_east_10m(tmp_path / "wc.tif"), terrain=terrain_grid())
    data = lc.data.copy()
    data[0, 0] = 0  # unknown
    loss = clutter_loss_grid(lc.with_data(data, nodata=0), f_mhz=F_MHZ, rx_height_m=RX_M,
                             relative_to=None)  # fmt: skip
    np.testing.assert_allclose(loss[1:, :5], FOREST_ABS_DB, rtol=0, atol=HAND_COMPUTED_DB)
    np.testing.assert_allclose(loss[:, 5:], OPEN_ABS_DB, rtol=0, atol=HAND_COMPUTED_DB)
    assert loss[0, 0] == 0.0


def test_geographic_land_cover_is_reprojected_onto_the_terrain_cells(tmp_path):
    """A WorldCover-like tile in EPSG:4326 (1e-4° ≈ 11 m), forest west of the meridian through
    the terrain's middle (x = X0 + 500 m), grassland east of it."""
    terrain = terrain_grid()
    to_ll = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    lon0, lat0, lon1, lat1 = to_ll.transform_bounds(*terrain.bounds)
    lon_mid, _ = to_ll.transform(X0 + 500.0, Y0 - 500.0)
    res, pad = 1e-4, 2e-3
    west, north = lon0 - pad, lat1 + pad
    w = int(np.ceil((lon1 + pad - west) / res))
    h = int(np.ceil((north - (lat0 - pad)) / res))
    lon_centres = west + (np.arange(w) + 0.5) * res
    data = np.where(lon_centres < lon_mid, FOREST, GRASS).astype(np.uint8)
    data = np.broadcast_to(data, (h, w)).copy()
    path = write_raster(tmp_path / "wc4326.tif", data, Affine(res, 0, west, 0, -res, north),
                        crs="EPSG:4326", nodata=0)  # fmt: skip

    lc = read_landcover(path, terrain=terrain)
    assert (lc.data[:, :5] == FOREST).all()
    assert (lc.data[:, 5:] == GRASS).all()
    loss = clutter_loss_grid(lc, f_mhz=F_MHZ, rx_height_m=RX_M)
    np.testing.assert_allclose(loss[:, :5], FOREST_REL_DB, rtol=0, atol=HAND_COMPUTED_DB)
    assert (loss[:, 5:] == 0.0).all()


def test_coarser_land_cover_takes_the_nearest_class_never_a_blend(tmp_path):
    """A 300 m land cover over 100 m terrain: each terrain cell takes the class it lies in."""
    data = np.array([[FOREST, BUILT], [GRASS, FOREST]], dtype=np.uint8)
    path = write_raster(tmp_path / "coarse.tif", data, Affine(300.0, 0, X0, 0, -300.0, Y0))
    lc = read_landcover(path, terrain=terrain_grid(6))
    expected = np.kron(data, np.ones((3, 3), dtype=np.uint8))
    np.testing.assert_array_equal(lc.data, expected)
    assert set(np.unique(lc.data)) <= {FOREST, BUILT, GRASS}  # no code interpolated


def test_nodata_and_cells_outside_the_land_cover_are_unknown_and_lose_nothing(tmp_path):
    # 8 × 10 terrain cells of land cover over a 10 × 10 terrain: the bottom 2 rows are outside;
    # the raster's nodata (255) over the top-left 2 × 2 cells
    data = np.full((8, 10), FOREST, dtype=np.uint8)
    data[:2, :2] = 255
    path = write_raster(tmp_path / "lc.tif", data, Affine(100.0, 0, X0, 0, -100.0, Y0),
                        nodata=255)  # fmt: skip
    lc = read_landcover(path, terrain=terrain_grid())
    assert (lc.data[:2, :2] == 0).all() and (lc.data[8:] == 0).all()
    assert (lc.data[2:8] == FOREST).all()
    loss = clutter_loss_grid(lc, f_mhz=F_MHZ, rx_height_m=RX_M)
    assert (loss[:2, :2] == 0).all() and (loss[8:] == 0).all()
    np.testing.assert_allclose(loss[2:8], FOREST_REL_DB, rtol=0, atol=HAND_COMPUTED_DB)


def test_a_custom_classification_and_codes_it_lacks(tmp_path):
    # codes 1 forest, 2 dense urban, 3 open, 7 in no table (10 of 100 cells)
    data = np.full((10, 10), 3, dtype=np.int16)
    data[:, :3] = 1
    data[:, 3:5] = 2
    data[9, :] = 7
    path = write_raster(tmp_path / "custom.tif", data, Affine(100.0, 0, X0, 0, -100.0, Y0))
    classes = {1: "trees_forest", 2: "dense_urban", 3: "open_rural"}
    with pytest.warns(InputWarning) as caught:
        lc = read_landcover(path, terrain=terrain_grid(), classes=classes)
    lacking = [str(w.message) for w in caught if issubclass(w.category, InputWarning)]
    assert len(lacking) == 1  # once per read, every lacking code in it
    assert "7" in lacking[0] and "10.0 %" in lacking[0] and "open" in lacking[0]
    np.testing.assert_array_equal(lc.data, data)

    loss = clutter_loss_grid(lc, f_mhz=F_MHZ, rx_height_m=RX_M, classes=classes)
    ref = float(terminal_clutter_loss_db(F_MHZ, RX_M, "open_rural"))
    dense = float(terminal_clutter_loss_db(F_MHZ, RX_M, "dense_urban")) - ref
    np.testing.assert_allclose(loss[:9, :3], FOREST_REL_DB, rtol=0, atol=HAND_COMPUTED_DB)
    np.testing.assert_allclose(loss[:9, 3:5], dense, rtol=0, atol=1e-5)
    assert dense > FOREST_REL_DB  # R = 20 m against 15 m
    assert (loss[:9, 5:] == 0).all()
    assert (loss[9] == 0).all()  # the lacking code counts as open/rural
    # WorldCover's table knows none of these codes but 0: every cell open, no loss
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InputWarning)
        assert (clutter_loss_grid(lc, f_mhz=F_MHZ, rx_height_m=RX_M) == 0).all()


def test_a_class_table_naming_no_clutter_type_is_refused_naming_the_code(tmp_path):
    path = forest_west_open_east_10m(tmp_path / "wc.tif")
    with pytest.raises(InputError, match=r"10.*'forest'.*trees_forest") as exc:
        read_landcover(path, terrain=terrain_grid(), classes={10: "forest", 30: "open_rural"})
    assert "30" not in str(exc.value).replace(str(path), "")
    with pytest.raises(InputError, match="0.*unknown"):
        read_landcover(path, terrain=terrain_grid(), classes={0: "open_rural"})
    with pytest.raises(ValueError, match="forest"):
        clutter_loss_grid(terrain_grid().with_data(np.zeros((10, 10), dtype=np.int32), nodata=0),
                          f_mhz=F_MHZ, rx_height_m=RX_M, classes={10: "forest"})  # fmt: skip


def test_rasters_that_cannot_serve_are_input_errors(tmp_path):
    terrain = terrain_grid()
    text = tmp_path / "notes.tif"
    text.write_text("not a raster", encoding="utf-8")
    with pytest.raises(InputError, match="cannot be read as a raster") as exc:
        read_landcover(text, terrain=terrain)
    assert exc.value.path == str(text)
    with pytest.raises(InputError, match="not found"):
        read_landcover(tmp_path / "missing.tif", terrain=terrain)

    codes = np.full((10, 10), FOREST, dtype=np.uint8)
    no_crs = write_raster(tmp_path / "nocrs.tif", codes, Affine(100.0, 0, X0, 0, -100.0, Y0),
                          crs=None)  # fmt: skip
    with pytest.raises(InputError, match="no CRS"):
        read_landcover(no_crs, terrain=terrain)

    far = write_raster(tmp_path / "far.tif", codes,
                       Affine(100.0, 0, X0 + 50_000.0, 0, -100.0, Y0))  # fmt: skip
    with pytest.raises(InputError, match="does not overlap the terrain") as exc:
        read_landcover(far, terrain=terrain)
    assert exc.value.path == str(far)

    fractional = write_raster(tmp_path / "ndvi.tif", np.full((10, 10), 0.37, dtype=np.float32),
                              Affine(100.0, 0, X0, 0, -100.0, Y0))  # fmt: skip
    with pytest.raises(InputError, match="integer class codes"):
        read_landcover(fractional, terrain=terrain)


def test_integral_float_codes_are_accepted(tmp_path):
    data = np.full((10, 10), float(FOREST), dtype=np.float32)
    data[0, 0] = np.nan
    path = write_raster(tmp_path / "f.tif", data, Affine(100.0, 0, X0, 0, -100.0, Y0),
                        nodata=np.nan)  # fmt: skip
    lc = read_landcover(path, terrain=terrain_grid())
    assert lc.data[0, 0] == 0 and (lc.data.ravel()[1:] == FOREST).all()


def test_losses_are_computed_once_per_clutter_type_not_per_cell(monkeypatch):
    calls = []

    def counting(*args, **kwargs):
        calls.append(args[2] if len(args) > 2 else kwargs["clutter"])
        return terminal_clutter_loss_db(*args, **kwargs)

    monkeypatch.setattr(coverage_clutter, "terminal_clutter_loss_db", counting)
    rng = np.random.default_rng(0)
    big = rng.choice(np.array(list(WORLDCOVER_CLUTTER)), size=(300, 300)).astype(np.int32)
    clutter_loss_grid(make_grid(np.zeros((300, 300))).with_data(big, nodata=0), f_mhz=F_MHZ,
                      rx_height_m=RX_M)  # fmt: skip
    assert len(calls) == len(set(calls)) <= len(CLUTTER_TYPES)


def test_5g_frequencies_are_extrapolated_with_one_validity_warning(tmp_path):
    lc = read_landcover(forest_west_open_east_10m(tmp_path / "wc.tif"), terrain=terrain_grid())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loss = clutter_loss_grid(lc, f_mhz=3500.0, rx_height_m=RX_M)
    validity = [w for w in caught if issubclass(w.category, ModelValidityWarning)]
    assert len(validity) == 1 and "3000" in str(validity[0].message)
    assert float(loss[0, 0]) > FOREST_REL_DB  # the loss grows with frequency
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelValidityWarning)
        clutter_loss_grid(lc, f_mhz=1800.0, rx_height_m=RX_M)


def test_the_loss_is_never_negative_and_zero_above_the_clutter(tmp_path):
    lc = read_landcover(forest_west_open_east_10m(tmp_path / "wc.tif"), terrain=terrain_grid())
    # at 30 MHz P.2108 gives forest less loss than open land: counted as 0, not a gain
    low = clutter_loss_grid(lc, f_mhz=30.0, rx_height_m=RX_M)
    assert float(terminal_clutter_loss_db(30.0, RX_M, "trees_forest")) < float(
        terminal_clutter_loss_db(30.0, RX_M, "open_rural"))  # fmt: skip
    assert (low == 0).all()
    # a receiver above every representative height (20 m) loses nothing anywhere
    assert (clutter_loss_grid(lc, f_mhz=F_MHZ, rx_height_m=25.0, relative_to=None) == 0).all()
    assert abs(float(clutter_loss_grid(lc, f_mhz=F_MHZ, rx_height_m=RX_M).max())
               - FOREST_REL_DB) < HAND_COMPUTED_DB  # fmt: skip


# ------------------------------------------------------------------------------ project file

PROJECT = """
[inputs]
villages = "v.gpkg"
towers = "t.csv"
{landcover}
"""


def write_project(tmp_path, landcover: str):
    p = tmp_path / "project.toml"
    p.write_text(PROJECT.format(landcover=landcover), encoding="utf-8")
    return p


def test_project_landcover_as_a_path_or_a_table(tmp_path):
    cfg = load_config(write_project(tmp_path, 'landcover = "data/worldcover.tif"'))
    assert cfg.inputs.landcover == LandcoverInput((tmp_path / "data/worldcover.tif").resolve())
    assert cfg.inputs.landcover.classes is None  # ESA WorldCover
    cfg = load_config(write_project(tmp_path, 'landcover = { path = "lc.tif", classes = '
                                    '{ 10 = "trees_forest", "50" = "urban" } }'))  # fmt: skip
    assert cfg.inputs.landcover.path == (tmp_path / "lc.tif").resolve()
    assert cfg.inputs.landcover.classes == {10: "trees_forest", 50: "urban"}
    assert load_config(write_project(tmp_path, "")).inputs.landcover is None


def test_project_landcover_classes_are_checked_naming_each_key(tmp_path):
    # TOML keys are strings: codes that are not integers are refused, each named
    text = ('landcover = { path = "lc.tif", classes = { forest = "trees_forest", "1.5" = "urban", '
            '20 = "open_rural" } }')  # fmt: skip
    with pytest.raises(ConfigError) as exc:
        load_config(write_project(tmp_path, text))
    message = str(exc.value)
    assert "inputs.landcover.classes.forest: expected an integer key" in message
    assert "inputs.landcover.classes.1.5: expected an integer key" in message
    assert len(exc.value.problems) == 2
    # integer codes naming no clutter type, and code 0 (lomsong's "unknown")
    text = ('landcover = { path = "lc.tif", classes = { 10 = "trees_forest", 20 = "jungle", '
            '0 = "open_rural" } }')  # fmt: skip
    with pytest.raises(ConfigError) as exc:
        load_config(write_project(tmp_path, text))
    message = str(exc.value)
    assert "inputs.landcover.classes.20: 'jungle' is not a clutter type" in message
    assert "inputs.landcover.classes.0: 0 is lomsong's code for an unknown" in message
    assert len(exc.value.problems) == 2
