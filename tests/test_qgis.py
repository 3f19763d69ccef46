"""The QGIS outputs of a real run, opened in Debian's QGIS as a planner would open them.

A reduced demo is run (Vietnamese, with one tower row that must be rejected, so that every
layer of ``planning.gpkg`` has features), its output folder is moved elsewhere (the project's
paths are relative), and ``tests/qgis_probe.py`` opens it with QGIS's Python bindings —
``/usr/bin/python3`` (Debian's ``python3-qgis`` is built for the system Python, not for the
venv), headless (``QT_QPA_PLATFORM=offscreen``). The probe reports what QGIS made of
``planning.qgz`` and of each file loaded alone, and renders every layer alone and the whole
project to PNGs; this module checks them:

* the project opens, in the run's UTM CRS, with relative paths, every layer valid, named in
  Vietnamese, in the written order, with the style written (renderer, categories and labels,
  colour-ramp items and their labels, label fields);
* rendering the project's extent gives the layer's own colours for each layer alone (the
  villages' class colours, the dead zones' red hatching, the numbered blue sites, ...);
* a ``planning.gpkg`` layer loaded alone gets its default style from ``layer_styles`` and a
  GeoTIFF loaded alone its ``.qml``: the same renderer, and the same picture, as in the
  project.

The whole project's rendering is kept as ``outputs/qgis/project.png`` for a person to look at.
Without Debian's QGIS the QGIS tests skip, saying why — and fail in CI (``CI=true``), where
`make test` installs it (``make qgis``). The other tests (styles as written, ``layer_styles``,
backhaul lines) need no QGIS.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from conftest import CRS, require
from PIL import Image
from shapely.geometry import Point

from lomsong.config import load_config
from lomsong.coverage.rule import CoverageRule
from lomsong.demo import write_demo
from lomsong.maps.build import DEAD_ZONE_COLOR, STATUS_COLORS
from lomsong.pipeline import run
from lomsong.report import qgis
from lomsong.report.files import backhaul_links
from lomsong.text import QGIS, TERMS

REPO = Path(__file__).resolve().parents[1]
PROBE = Path(__file__).resolve().parent / "qgis_probe.py"
KEEP = REPO / "outputs" / "qgis" / "project.png"
#: Debian's Python, for which python3-qgis is built (LOMSONG_QGIS_PYTHON overrides it).
SYSTEM_PYTHON = os.environ.get("LOMSONG_QGIS_PYTHON", "/usr/bin/python3")
#: Opening, describing and rendering ~22 layers takes a few seconds; a minute is "hung".
PROBE_TIMEOUT_S = 300
VI = QGIS["vi"]
#: Per-channel distance (0-255) of a rendered pixel from a style's colour: antialiased edges,
#: the villages' 180/255 fill over white and label halos shift colours by up to ~20.
COLOR_TOLERANCE = 12
#: A layer "draws" when at least this many pixels of its colour appear on the 1000 × 700 image
#: (a 6 mm marker at 96 dpi is ~350 px; a village or a raster thousands).
MIN_PIXELS = 40
#: A file loaded alone and the same layer in the project: identical styles, identical images
#: but for label placement, which QGIS may settle differently (share of differing pixels).
SAME_IMAGE_SHARE = 0.01


def _qgis_available() -> tuple[bool, str]:
    if not Path(SYSTEM_PYTHON).exists():
        return False, f"{SYSTEM_PYTHON} not found"
    try:
        done = subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True,
                              text=True, timeout=120, env=_env())  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    return done.returncode == 0, done.stderr.strip()[-300:]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["QT_QPA_PLATFORM"] = "offscreen"
    # the venv's bin first on PATH would give QGIS's Python helpers the venv's tools
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if ".venv" not in p)  # fmt: skip
    return env


# -- a run --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A reduced demo run (Vietnamese) with one rejected tower row, moved after the run."""
    base = tmp_path_factory.mktemp("qgis")
    project = write_demo(base / "inputs", reduced=True)
    towers_csv = project.parent / "towers.csv"
    towers = pd.read_csv(towers_csv)
    bad = towers.iloc[[0]].copy()
    bad["tower_id"], bad["lat"] = "BAD-1", 95.0  # a latitude beyond the pole: rejected
    pd.concat([towers, bad]).to_csv(towers_csv, index=False)
    out = base / "run"
    run(load_config(project), out_dir=out)
    # the project must not depend on where it was written
    moved = base / "elsewhere" / "run"
    shutil.copytree(out, moved, ignore=shutil.ignore_patterns(".cache"))
    shutil.rmtree(out)
    return moved


@pytest.fixture(scope="module")
def summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def gpkg_layers(run_dir: Path) -> dict[str, gpd.GeoDataFrame]:
    names = [n for n, _ in pyogrio.list_layers(run_dir / "planning.gpkg") if n != "layer_styles"]
    return {n: gpd.read_file(run_dir / "planning.gpkg", layer=n) for n in names}


@pytest.fixture(scope="module")
def probe(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    ok, why = _qgis_available()
    require(ok, f"Debian's QGIS is not installed (apt-get install qgis python3-qgis): {why}")
    images = tmp_path_factory.mktemp("qgis-images")
    done = subprocess.run([SYSTEM_PYTHON, str(PROBE), str(run_dir), str(images)],
                          capture_output=True, text=True, timeout=PROBE_TIMEOUT_S,
                          env=_env())  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    report["images"] = images
    KEEP.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(images / "project.png", KEEP)
    return report


def _layer(report: dict, layer_id: str) -> dict:
    found = [lyr for lyr in report["layers"] if lyr["id"] == layer_id]
    assert found, f"{layer_id} not in the project: {[lyr['id'] for lyr in report['layers']]}"
    return found[0]


def _alone(report: dict, name: str) -> dict:
    found = [lyr for lyr in report["alone"] if lyr["file"] == name]
    assert found, name
    return found[0]


def _rgb(color: str) -> np.ndarray:
    c = color.lstrip("#")
    return np.array([int(c[i : i + 2], 16) for i in (0, 2, 4)], dtype=float)


def _over_white(color: str, alpha: float) -> np.ndarray:
    return _rgb(color) * alpha + 255.0 * (1.0 - alpha)


def _pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=float)


def _count(image: np.ndarray, rgb: np.ndarray, tol: float = COLOR_TOLERANCE) -> int:
    return int((np.abs(image - rgb).max(axis=2) <= tol).sum())


def _drawn(image: np.ndarray) -> int:
    """Pixels that are not the white background."""
    return int((image.min(axis=2) < 250).sum())


# -- what QGIS reads ----------------------------------------------------------------------------
EXPECTED_ORDER = ["ranking", "backhaul", "towers", "candidates", "dead_zones", "villages",
                  "rejects", "margin", "coverage", "coverage_2G", "coverage_3G", "coverage_4G",
                  "serving"]  # fmt: skip


def test_project_opens_in_the_run_crs_with_relative_paths(probe, summary, run_dir) -> None:
    assert probe["read"] is True
    assert probe["crs"] == summary["crs"] == "EPSG:32649"
    assert probe["absolute_paths"] is False
    assert probe["title"] == VI["title"]
    ids = [lyr["id"] for lyr in probe["layers"]]
    assert ids == [f"lomsong_{n}" for n in EXPECTED_ORDER]
    for lyr in probe["layers"]:
        assert lyr["valid"], lyr
        # resolved against where the project is now, not where it was written
        assert Path(lyr["source"].split("|")[0]).parent == run_dir, lyr["source"]
    # the initial view is the villages
    villages = gpd.read_file(run_dir / "planning.gpkg", layer="villages")
    np.testing.assert_allclose(probe["view"], villages.total_bounds, atol=0.01)


def test_layers_are_named_in_vietnamese(probe) -> None:
    names = {lyr["id"].removeprefix("lomsong_"): lyr["name"] for lyr in probe["layers"]}
    assert names["villages"] == "Thôn/bản — tình trạng sóng"
    assert names["dead_zones"] == "Vùng lõm sóng"
    assert names["ranking"] == "Vị trí trạm đề xuất"
    assert names["backhaul"] == VI["layer_backhaul"]
    assert names["margin"] == VI["layer_margin"]
    assert names["coverage"] == "Mức thu (RSRP/RSCP/RxLev, dBm)"
    assert names["coverage_4G"] == "Mức thu 4G (RSRP, dBm)"
    assert names["rejects"] == VI["layer_rejects"]


def test_every_vector_layer_holds_the_gpkg_features(probe, gpkg_layers) -> None:
    for name, frame in gpkg_layers.items():
        assert _layer(probe, f"lomsong_{name}")["features"] == len(frame), name
    # the rejected tower row: a table without geometry, listed but switched off
    rejects = _layer(probe, "lomsong_rejects")
    assert rejects["spatial"] is False and rejects["checked"] is False
    assert rejects["renderer"] is None


def test_villages_are_categorised_by_status_with_their_names(probe) -> None:
    r = _layer(probe, "lomsong_villages")["renderer"]
    assert r["type"] == "categorizedSymbol" and r["attr"] == "status"
    cats = {c["value"]: c for c in r["categories"]}
    assert {k: c["label"] for k, c in cats.items() if k} == {
        "no_signal": "Lõm sóng", "weak": "Sóng yếu", "reliable": "Có sóng"}  # fmt: skip
    for status, color in STATUS_COLORS.items():
        assert cats[status]["color"] == color
    assert r["label_field"] == "name"


def test_other_vector_styles_are_the_written_ones(probe, gpkg_layers) -> None:
    zones = _layer(probe, "lomsong_dead_zones")["renderer"]
    assert zones["categories"][0]["layers"] == ["LinePatternFill", "SimpleLine"]  # hatched
    assert zones["categories"][0]["label"] == "Vùng lõm sóng (không có sóng hoặc sóng yếu)"
    ranking = _layer(probe, "lomsong_ranking")["renderer"]
    assert ranking["label_field"] == "rank"
    assert ranking["categories"][0]["label"] == "Vị trí trạm đề xuất (số = thứ hạng)"
    towers = _layer(probe, "lomsong_towers")["renderer"]
    pairs = set(gpkg_layers["towers"]["operator"] + " " + gpkg_layers["towers"]["tech"])
    assert {c["value"] for c in towers["categories"]} == pairs
    # one colour per operator, one shape per technology
    by_op: dict[str, set] = {}
    for c in towers["categories"]:
        by_op.setdefault(c["value"].split()[0], set()).add(c["color"])
    assert all(len(colors) == 1 for colors in by_op.values())
    assert len({next(iter(c)) for c in by_op.values()}) == len(by_op)
    backhaul = _layer(probe, "lomsong_backhaul")["renderer"]
    assert backhaul["type"] == "singleSymbol" and backhaul["symbol"]["layers"] == ["SimpleLine"]


def test_signal_rasters_mark_the_rule_levels(probe, summary) -> None:
    rule = summary["rule"]
    # the demo runs ITM: "reliable" is judged per place with ITM's own σ, so no single level
    # is marked for it (P.1546's fade margin, threshold + fade_margin_db, is not the run's)
    assert rule["variability"] == "itm"
    for tech in ("2G", "3G", "4G"):
        items = _layer(probe, f"lomsong_coverage_{tech}")["renderer"]["items"]
        threshold = rule["threshold_dbm"][tech]
        q = rule["metric"][tech]
        weak = [i for i in items if i["label"].startswith(f"{q} ({tech}): sóng yếu từ")]
        assert len(weak) == 1 and weak[0]["value"] == pytest.approx(threshold, abs=1e-9)
        good = [i for i in items if i["label"].startswith(f"{q} ({tech}): có sóng từ")]
        assert good == []
        # below the threshold faded, from it on opaque
        assert all(i["alpha"] < 255 for i in items if i["value"] < threshold)
        assert all(i["alpha"] == 255 for i in items if i["value"] >= threshold)
    # the mixed raster marks every technology and fades nothing (thresholds differ)
    items = _layer(probe, "lomsong_coverage")["renderer"]["items"]
    assert {i["label"].split(":")[0] for i in items if ":" in i["label"]} == {
        "RxLev (2G)", "RSCP (3G)", "RSRP (4G)"}  # fmt: skip
    assert all(i["alpha"] == 255 for i in items)


def test_margin_raster_shows_the_three_classes(probe, summary) -> None:
    r = _layer(probe, "lomsong_margin")["renderer"]
    assert r["ramp"] == "DISCRETE"
    # the demo runs ITM: each place's margin is over its own σ, so below 0 dB no signal and
    # weak part at a margin that differs from place to place — one class there
    assert summary["rule"]["variability"] == "itm"
    bounds = [i["value"] for i in r["items"]]
    words = [i["label"].split(" (")[0] for i in r["items"]]
    assert words == ["Lõm sóng / sóng yếu", "Lõm sóng / sóng yếu", "Có sóng", "Có sóng"]
    assert bounds[0] == pytest.approx(-20.0, abs=1e-9)
    assert bounds[1] == pytest.approx(0.0, abs=1e-9) and bounds[1] < 0  # 0 dB is reliable
    assert r["nodata_color"] == "#a50026"  # no level at all: no signal


def test_margin_classes_under_the_fade_margin_split_no_signal_from_weak() -> None:
    # the closed-form models: no signal below −(fade margin), weak up to 0 (2G 6.46 dB,
    # 3G/4G 7.05 dB: a mixed band between)
    rule = CoverageRule.for_network(location_probability=0.9, model="hata")
    items = qgis._margin_items(rule, ["2G", "4G"], "vi")
    words = [label.split(" (")[0] for _, _, _, label in items]
    assert words == ["Lõm sóng", "Lõm sóng", "Lõm sóng / sóng yếu", "Sóng yếu", "Có sóng",
                     "Có sóng"]  # fmt: skip
    bounds = [v for v, *_ in items]
    # the bounds are the fade margins rounded to 1e-6 dB (FADE_EQUAL_DB groups them)
    assert bounds[1] == pytest.approx(-rule.fade_margin("4G"), abs=1e-6)
    assert bounds[2] == pytest.approx(-rule.fade_margin("2G"), abs=1e-6)


def test_serving_raster_names_each_cell(probe, run_dir) -> None:
    classes = _layer(probe, "lomsong_serving")["renderer"]["classes"]
    towers = gpd.read_file(run_dir / "planning.gpkg", layer="towers")
    assert [c["value"] for c in classes] == list(range(len(towers)))
    assert {c["label"].split(" · ")[0] for c in classes} == set(towers["tower_id"])


# -- what QGIS draws ----------------------------------------------------------------------------
def test_each_layer_draws_in_its_own_colours(probe, gpkg_layers) -> None:
    img = probe["images"]
    for lyr in probe["layers"]:
        if lyr["id"] == "lomsong_rejects":
            continue  # a rejected row has no position: a table, nothing to draw
        assert _drawn(_pixels(img / f"{lyr['id']}.png")) >= MIN_PIXELS, lyr["id"]
    villages = _pixels(img / "lomsong_villages.png")
    for status in set(gpkg_layers["villages"]["status"]):
        fill = _over_white(STATUS_COLORS[status], qgis.VILLAGE_FILL_ALPHA / 255)
        assert _count(villages, fill) >= MIN_PIXELS, status
    zones = _pixels(img / "lomsong_dead_zones.png")
    assert _count(zones, _rgb(DEAD_ZONE_COLOR)) >= MIN_PIXELS
    sites = _pixels(img / "lomsong_ranking.png")
    assert _count(sites, _rgb(qgis.RANK_COLOR)) >= MIN_PIXELS * len(gpkg_layers["ranking"])
    assert _count(sites, np.array([255.0, 255.0, 255.0]), tol=0) > 0  # the white numbers
    margin = _pixels(img / "lomsong_margin.png")
    for key in ("deep", "reliable", "strong"):
        assert _count(margin, _rgb(qgis.MARGIN_COLORS[key]), tol=2) >= MIN_PIXELS, key
    lines = _pixels(img / "lomsong_backhaul.png")
    assert _count(lines, _rgb(qgis.BACKHAUL_COLOR), tol=40) >= MIN_PIXELS


def test_files_loaded_alone_get_the_same_style(probe) -> None:
    img = probe["images"]
    for lyr in probe["layers"]:
        name = lyr["id"].removeprefix("lomsong_")
        alone = _alone(probe, name)
        assert alone["valid"], name
        assert alone["renderer"] == lyr["renderer"], name
        if name == "rejects":
            continue
        a, b = _pixels(img / f"alone_{name}.png"), _pixels(img / f"{lyr['id']}.png")
        differ = float((np.abs(a - b).max(axis=2) > COLOR_TOLERANCE).mean())
        assert differ <= SAME_IMAGE_SHARE, (name, differ)


def test_the_whole_project_renders(probe) -> None:
    project = _pixels(probe["images"] / "project.png")
    assert _drawn(project) > 0.3 * project.shape[0] * project.shape[1]
    assert _count(project, _rgb(qgis.RANK_COLOR)) >= MIN_PIXELS
    assert KEEP.exists()


# -- what is written (no QGIS needed) -----------------------------------------------------------
def test_layer_styles_table_is_the_one_qgis_reads(run_dir) -> None:
    table = pyogrio.read_dataframe(run_dir / "planning.gpkg", layer="layer_styles")
    assert list(table.columns) == [
        "f_table_catalog", "f_table_schema", "f_table_name", "f_geometry_column", "styleName",
        "styleQML", "styleSLD", "useAsDefault", "description", "owner", "ui", "update_time",
    ]  # fmt: skip
    assert set(table["f_table_name"]) == set(qgis.LAYER_ORDER)
    assert (table["f_geometry_column"] == "geom").all()
    assert (table["f_table_schema"] == "").all() and table["useAsDefault"].all()
    for qml in table["styleQML"]:
        assert ET.fromstring(qml.split("\n", 1)[1]).tag == "qgis"
    meta = pyogrio.read_info(run_dir / "planning.gpkg", layer="layer_styles")
    assert meta["fid_column"] == "id" and meta["geometry_type"] is None


def test_qml_beside_each_geotiff_and_one_qgs_in_the_qgz(run_dir) -> None:
    tifs = sorted(p.stem for p in run_dir.glob("*.tif"))
    assert tifs and sorted(p.stem for p in run_dir.glob("*.qml")) == tifs
    with zipfile.ZipFile(run_dir / "planning.qgz") as z:
        assert z.namelist() == ["planning.qgs"]
        root = ET.fromstring(z.read("planning.qgs").decode("utf-8").split("\n", 1)[1])
    sources = [e.text for e in root.iter("datasource")]
    assert all(s.startswith("./") for s in sources), sources


def test_styles_follow_the_language(gpkg_layers) -> None:
    villages = gpkg_layers["villages"]
    style = qgis.vector_style("villages", villages, lang="en")
    assert style.title == "Villages — coverage status"
    root = ET.fromstring(qgis.style_qml(style).split("\n", 1)[1])
    labels = {c.get("value"): c.get("label") for c in root.iter("category")}
    assert labels == {"no_signal": TERMS["en"]["no_signal"], "weak": "Weak signal",
                      "reliable": "Reliable signal", "": "Not determined"}  # fmt: skip
    aliases = {a.get("field"): a.get("name") for a in root.iter("alias")}
    assert aliases["households"] == "Households" and aliases["status"] == "Coverage status"
    with pytest.raises(ValueError, match="no style for layer"):
        qgis.vector_style("roads", villages, lang="en")


def test_backhaul_links_follow_the_hops() -> None:
    """Site C1 relays through plan site C2 to tower site S9: two hops, 3 km and 4 km."""
    ranking = gpd.GeoDataFrame(
        {"rank": [1, 2], "site_id": ["C1", "C2"], "backhaul_via": ["C2 > S9", "S9"]},
        geometry=[Point(0, 0), Point(3000, 0)], crs=CRS,
    )  # fmt: skip
    # a candidate named like the tower site: the last hop still ends at the tower
    candidates = gpd.GeoDataFrame({"site_id": ["C1", "C2", "S9"]},
                                  geometry=[Point(0, 0), Point(3000, 0), Point(0, -1)],
                                  crs=CRS)  # fmt: skip
    towers = gpd.GeoDataFrame({"site_id": ["S9", "S9"]},
                              geometry=[Point(3000, 4000), Point(3000, 4000)], crs=CRS)  # fmt: skip
    links = backhaul_links(ranking, candidates, towers)
    assert links[["rank", "hop", "from_id", "to_id"]].values.tolist() == [
        [1, 1, "C1", "C2"], [1, 2, "C2", "S9"], [2, 1, "C2", "S9"]]  # fmt: skip
    assert links["length_km"].tolist() == [3.0, 4.0, 4.0]  # the last hop ends at the tower
    none = backhaul_links(ranking.assign(backhaul_via=""), candidates, towers)
    assert len(none) == 0 and list(none.columns)[-1] == "geometry"
