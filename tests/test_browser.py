"""The map of a real run, opened in headless Chromium as a planner would open it.

A reduced demo is run into a temporary folder with a hostile village name injected into its
inputs; its ``map.html`` is served from a local HTTP server on 127.0.0.1 and opened in Debian's
Chromium driven by Playwright. The CDN libraries the page loads (Leaflet, plugins, jQuery, …)
are answered from their npm packages (``lomsong.maps.assets``, see ``browser_assets.py``): the
machine has no other network, and any request that no rule knows fails the test.

Checked: no JavaScript error; every layer listed in the layer control by its Vietnamese name;
clicking the numbered marker of rank 1 opens a popup with that site's figures from
``ranking.csv``; the towers layer holds a marker per tower position whose popup opens with
its sector table; the hostile strings show as text and no dialog opens. Screenshots are kept in
``outputs/browser/``: ``map.png`` (the whole map), ``rank1_popup.png``, ``hostile_tooltip.png``.

Needs: Chromium (``apt-get install chromium``), the ``playwright`` package (its own browser
download is never used) and the map's npm packages in the user cache (``python -m
lomsong.maps.assets``, run by ``make install``). Without Chromium, Playwright or the packages
the tests skip, saying why — and fail in CI (``CI=true``), where `make test` installs them.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import browser_assets
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import require, require_module
from PIL import Image

from lomsong.config import load_config
from lomsong.demo import write_demo
from lomsong.maps.build import DEAD_ZONE_COLOR, STATUS_COLORS, TECH_ORDER
from lomsong.pipeline import run
from lomsong.propagation.service import QUANTITY
from lomsong.text import LABELS, format_int, format_pct

REPO = Path(__file__).resolve().parents[1]
SCREENSHOT = REPO / "outputs" / "browser" / "map.png"
HOSTILE_NAME = "<script>alert(1)</script>"
# innerHTML does not run <script>, but it does run an <img> error handler: the stronger probe.
HOSTILE_COMMUNE = '<img src="x" onerror="alert(2)">'
LAB = LABELS["vi"]
OVERLAYS = ("layer_signal", "layer_villages", "layer_zones", "layer_candidates", "layer_towers",
            "layer_ranking")  # fmt: skip
BASEMAPS = ("basemap_osm", "basemap_light", "basemap_none")
#: Flags of a Chromium that never reaches for the network on its own (updates, sync, QUIC
#: probes): on a machine without internet those attempts fail loudly or stall.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
VIEWPORT = {"width": 1280, "height": 800}
TIMEOUT_MS = 20_000  # page load and element waits; a loaded page answers in well under 1 s
#: Per-channel distance (0-255) of a screenshot pixel from a drawn colour: anti-aliased edges
#: and the 0.9-opaque hatching over other layers shift it by up to ~20, while the villages'
#: nearest red (#e31a1c) stays 35 away from the dead zones' #c00000.
COLOR_TOLERANCE = 25


def _chromium() -> str | None:
    for candidate in (os.environ.get("LOMSONG_CHROMIUM"), "chromium", "chromium-browser"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib's name)
        pass


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A reduced demo run whose first village carries hostile name and commune."""
    base = tmp_path_factory.mktemp("browser")
    project = write_demo(base / "inputs", reduced=True)
    villages_path = project.parent / "villages.gpkg"
    villages = gpd.read_file(villages_path, layer="villages")
    villages.loc[0, "name"] = HOSTILE_NAME
    villages.loc[0, "commune"] = HOSTILE_COMMUNE
    villages.to_file(villages_path, layer="villages", driver="GPKG")
    out = base / "run"
    run(load_config(project), out_dir=out)
    return out


@pytest.fixture(scope="module")
def server(run_dir: Path) -> Iterator[str]:
    """``http://127.0.0.1:PORT/`` serving the run folder (port chosen by the OS)."""
    handler = functools.partial(_QuietHandler, directory=str(run_dir))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def assets() -> Path:
    root, why_not = browser_assets.packages_root()
    require(why_not is None, why_not or "")
    return root


class _Session:
    """One page with everything it reported: console errors, dialogs, unknown requests."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.unrouted: list[str] = []
        self.local_requests: list[str] = []
        self.load_s = float("nan")
        self.initial_view: list = []


@pytest.fixture(scope="module")
def session(server: str, assets: Path, tmp_path_factory: pytest.TempPathFactory):
    sync_api = require_module(
        "playwright.sync_api", "the playwright package is not installed (pip install playwright)"
    )
    executable = _chromium()
    require(executable, "no Chromium found: install Debian's chromium (apt-get install chromium)")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=executable, headless=True, args=CHROMIUM_ARGS,
            viewport=VIEWPORT, locale="vi-VN",
        )  # fmt: skip
        try:
            page = context.new_page()
            s = _Session(page)

            def route(r: Any) -> None:
                url = r.request.url
                if url.startswith(server):
                    s.local_requests.append(url[len(server) :])
                    r.continue_()
                    return
                asset = browser_assets.resolve(url, assets)
                if asset is None:
                    s.unrouted.append(url)
                    r.abort()
                    return
                r.fulfill(status=200, body=asset.body, content_type=asset.content_type,
                          headers={"Access-Control-Allow-Origin": "*"})  # fmt: skip

            def on_dialog(d: Any) -> None:
                s.dialogs.append(f"{d.type}: {d.message}")
                d.dismiss()

            page.route("**/*", route)
            page.on("console", lambda m: s.errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: s.errors.append(f"uncaught: {e}"))
            page.on("dialog", on_dialog)
            page.set_default_timeout(TIMEOUT_MS)
            t0 = time.perf_counter()
            page.goto(server + "map.html", wait_until="load")
            # the map is drawn when Leaflet has put the ranked-site markers in their pane
            page.wait_for_selector(".leaflet-marker-icon.ls-rank-icon")
            page.wait_for_load_state("networkidle")
            s.load_s = time.perf_counter() - t0
            s.initial_view = page.evaluate(
                "n => { const m = window[n]; return [m.getCenter(), m.getZoom()]; }",
                _map_name(page),
            )
            yield s
        finally:
            context.close()


def _map_name(page: Any) -> str:
    """The JavaScript name of the folium map object (``map_<hash>``)."""
    name = page.evaluate(
        "() => Object.keys(window)"
        ".find(k => /^map_[0-9a-f]+$/.test(k) && window[k] instanceof L.Map)"
    )
    assert name, "no Leaflet map object on the page"
    return name


def _keep_picture(page: Any, name: str) -> None:
    """A screenshot beside map.png, for a person to look at (outputs/ is git-ignored)."""
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(400)  # Leaflet fades popups and tooltips in over 200 ms
    page.screenshot(path=str(SCREENSHOT.parent / name))


def test_page_loads_without_errors(session: _Session) -> None:
    assert session.errors == []
    assert session.unrouted == []  # every outside request was answered locally
    assert session.dialogs == []
    # the map is data-complete: the coverage image and village polygons are drawn
    page = session.page
    assert page.locator(".leaflet-image-layer").count() == 1
    assert page.locator("path.leaflet-interactive").count() > 10  # ≈ 30 villages + zones


def test_layer_control_lists_every_layer_in_vietnamese(session: _Session) -> None:
    control = session.page.locator(".leaflet-control-layers")
    overlays = [t.strip() for t in control.locator(".leaflet-control-layers-overlays label")
                .all_inner_texts()]  # fmt: skip
    bases = [t.strip() for t in control.locator(".leaflet-control-layers-base label")
             .all_inner_texts()]  # fmt: skip
    assert overlays == [LAB[k] for k in OVERLAYS]
    assert bases == [LAB[k] for k in BASEMAPS]


def test_towers_layer_has_a_marker_per_site_with_its_sectors(
    session: _Session, run_dir: Path
) -> None:
    """The towers layer (one GeoJSON layer of points in a marker cluster) holds one marker per
    tower position; opening one shows its sectors' table."""
    towers = gpd.read_file(run_dir / "planning.gpkg", layer="towers")
    positions = {(round(p.x, 3), round(p.y, 3)) for p in towers.geometry}
    page = session.page
    popup_html = page.evaluate(
        """name => {
            const m = window[name];
            let markers = null;
            m.eachLayer(l => { if (l instanceof L.MarkerClusterGroup) markers = l.getLayers(); });
            if (markers === null) return null;
            const first = markers[0];
            return [markers.length, first.getPopup() ? String(first.getPopup().getContent())
                                                     : null];
        }""",
        _map_name(page),
    )
    assert popup_html is not None, "no marker cluster on the page"
    count, html = popup_html
    assert count == len(positions)
    assert html is not None, "the tower marker has no popup"
    assert LAB["operator"] in html and LAB["eirp"] in html  # the sector table's header
    # and it opens: zoom until the cluster shows that marker, open it, read the popup
    page.evaluate(
        """name => new Promise(done => {
            const m = window[name];
            m.eachLayer(l => {
                if (!(l instanceof L.MarkerClusterGroup)) return;
                const first = l.getLayers()[0];
                l.zoomToShowLayer(first, () => { first.openPopup(); done(); });
            });
        })""",
        _map_name(page),
    )
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert LAB["tower"] in popup.inner_text()
    page.evaluate(
        "([name, view]) => { const m = window[name]; m.closePopup();"
        " m.setView(view[0], view[1], {animate: false}); }",
        [_map_name(page), session.initial_view],
    )
    page.wait_for_timeout(300)
    assert session.errors == []


def test_rank_one_popup_shows_its_figures(session: _Session, run_dir: Path) -> None:
    ranking = pd.read_csv(run_dir / "ranking.csv", dtype={"site_id": str})
    first = ranking.loc[ranking["rank"] == 1].iloc[0]
    page = session.page
    marker = page.locator(".ls-rank-icon .ls-rank").filter(has_text=re.compile(r"^\s*1\s*$"))
    assert marker.count() == 1
    marker.click()  # Playwright clicks only if the marker is visible and not covered
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    page.mouse.move(5, VIEWPORT["height"] // 2)  # off the map's data: no stray tooltip
    text = popup.inner_text()
    assert text.startswith(f"{LAB['rank']} 1")
    # the popup table, label → value, against ranking.csv
    rows = dict(
        (part.strip() for part in line.split("\t", 1)) for line in text.splitlines() if "\t" in line
    )
    assert rows[LAB["site"]] == str(first["site_id"])
    assert rows[LAB["new_households"]] == format_int(first["new_households"], "vi")
    assert rows[LAB["cumulative_households"]] == format_int(first["cumulative_households"], "vi")
    assert rows[LAB["cumulative_share"]] == format_pct(first["cumulative_share"], "vi")
    _keep_picture(page, "rank1_popup.png")
    page.evaluate("name => window[name].closePopup()", _map_name(page))


def test_hostile_village_name_is_text(session: _Session, run_dir: Path) -> None:
    page = session.page
    map_name = _map_name(page)
    # Hover the hostile village with the mouse, as a planner would: zoom to it, then find a
    # pixel where its polygon is the topmost element (dead zones or markers may lie above).
    point = page.evaluate(
        """([mapName, needle]) => {
            const map = window[mapName];
            const hits = [];
            map.eachLayer(l => {
                // a village polygon: its tooltip's heading is the village name
                const tip = l.feature && l._path ? String(l.feature.properties.tip || '') : '';
                const heading = (tip.match(/<b>([^]*?)<[/]b>/) || ['', ''])[1];
                if (heading.includes(needle)) hits.push(l);
            });
            if (hits.length !== 1) return {count: hits.length};
            const village = hits[0];
            map.fitBounds(village.getBounds(), {animate: false, maxZoom: 15});
            const box = village._path.getBoundingClientRect();
            for (let i = 1; i < 12; i++) for (let j = 1; j < 12; j++) {
                const x = box.left + box.width * i / 12, y = box.top + box.height * j / 12;
                if (document.elementFromPoint(x, y) === village._path) return {count: 1, x, y};
            }
            return {count: 1};
        }""",
        [map_name, "alert(1)"],
    )
    assert point["count"] == 1  # exactly one village carries the hostile name
    assert "x" in point, "the hostile village is covered everywhere by other layers"
    page.mouse.move(point["x"], point["y"])
    tooltip = page.locator(".leaflet-tooltip", has_text=HOSTILE_NAME)
    tooltip.wait_for()
    text = tooltip.inner_text()
    assert HOSTILE_NAME in text and HOSTILE_COMMUNE in text  # shown verbatim, as text
    _keep_picture(page, "hostile_tooltip.png")
    assert tooltip.locator("script, img").count() == 0  # and never parsed as markup
    page.wait_for_timeout(300)  # an image error handler would fire within a few ms
    assert session.dialogs == []
    assert not any(r.split("?")[0] == "x" for r in session.local_requests)  # no <img src=x>
    assert session.errors == []
    # the same text reached the CSV untouched (the map escapes; the data keep the name)
    names = pd.read_csv(run_dir / "villages.csv")["name"].tolist()
    assert HOSTILE_NAME in names


def _dead_zone_box(page: Any) -> dict[str, float] | None:
    """Screen box (px) of the dead-zone polygons: the layers drawn in the dead-zone colour."""
    return page.evaluate(
        """([name, color]) => {
            const m = window[name];
            let box = null;
            m.eachLayer(l => {
                if (!l._path || !l.options || l.options.color !== color) return;
                const r = l._path.getBoundingClientRect();
                box = box === null ? {left: r.left, top: r.top, right: r.right, bottom: r.bottom}
                    : {left: Math.min(box.left, r.left), top: Math.min(box.top, r.top),
                       right: Math.max(box.right, r.right), bottom: Math.max(box.bottom, r.bottom)};
            });
            return box;
        }""",
        [_map_name(page), DEAD_ZONE_COLOR],
    )


def _rgb(color: str) -> str:
    return "rgb({}, {}, {})".format(*(int(color[i : i + 2], 16) for i in (1, 3, 5)))


def test_legend_shows_the_three_classes(session: _Session, run_dir: Path) -> None:
    """The legend, as drawn, lists no signal / weak / reliable in Vietnamese with the colours
    the villages are filled with; the villages carry those fills, by their status."""
    page = session.page
    keys = page.locator(".ls-legend .ls-legend-status > div:not(.ls-legend-title)")
    assert keys.count() == 3
    words = {"no_signal": "Lõm sóng", "weak": "Sóng yếu", "reliable": "Có sóng"}
    assert [LAB[k] for k in ("no_signal", "weak_signal", "reliable_signal")] == [*words.values()]
    for i, (status, word) in enumerate(words.items()):
        key = keys.nth(i)
        assert key.is_visible()
        assert key.inner_text().strip() == word
        colour = key.locator(".ls-class").evaluate("e => getComputedStyle(e).backgroundColor")
        assert colour == _rgb(STATUS_COLORS[status])
    # the villages on the map: each filled with its status's colour, as villages.csv says
    fills = page.evaluate(
        """name => {
            const out = {};
            window[name].eachLayer(l => {
                const p = l.feature && l._path ? l.feature.properties : null;
                if (p && 'status' in p) out[p.status] = (out[p.status] || new Set()).add(
                    l._path.getAttribute('fill'));
            });
            return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, [...v]]));
        }""",
        _map_name(page),
    )
    villages = pd.read_csv(run_dir / "villages.csv")
    assert set(fills) == set(villages["status"])
    assert fills == {k: [STATUS_COLORS[k]] for k in fills}


def test_screenshot(session: _Session, run_dir: Path) -> None:
    """The picture shows the dead zones in their colour where they are, the legends and the
    summary box with the run's figures."""
    page = session.page
    page.evaluate(
        """([name, view]) => {
            const m = window[name];
            m.closePopup();
            m.eachLayer(l => l.closeTooltip && l.closeTooltip());
            m.setView(view[0], view[1], {animate: false});
        }""",
        [_map_name(page), session.initial_view],
    )
    page.wait_for_timeout(500)  # let Leaflet finish placing markers after the view change
    page.mouse.move(5, VIEWPORT["height"] // 2)  # no hover highlight in the picture
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    rgb = np.asarray(Image.open(SCREENSHOT).convert("RGB"), dtype=np.int16)
    assert rgb.shape[:2] == (VIEWPORT["height"], VIEWPORT["width"])
    # the dead zones' outlines and hatching are drawn in their colour, inside their polygons'
    # box (the summary box's hatched key is the only other place)
    red = np.array([int(DEAD_ZONE_COLOR[i : i + 2], 16) for i in (1, 3, 5)])
    ys, xs = np.nonzero((np.abs(rgb - red) <= COLOR_TOLERANCE).all(axis=2))
    assert len(xs) > 500, "no dead zone is drawn"
    box = _dead_zone_box(page)
    assert box is not None, "no dead-zone polygon on the page"
    inside = ((xs >= box["left"] - 2) & (xs <= box["right"] + 2) & (ys >= box["top"] - 2)
              & (ys <= box["bottom"] + 2))  # fmt: skip
    assert inside.mean() > 0.9
    # the legend: the signal scale naming its quantities, the villages' classes
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    techs = set(gpd.read_file(run_dir / "planning.gpkg", layer="towers")["tech"])
    quantities = "/".join(QUANTITY[t] for t in TECH_ORDER if t in techs)
    legend = page.locator(".ls-legend").inner_text()
    assert LAB["legend_signal"].format(quantities=quantities) in legend
    assert LAB["legend_status"] in legend
    # the summary box holds the run's figures, as text a reader sees
    box_text = page.locator(".ls-summary").inner_text()
    t = summary["totals"]
    for label, value in ((LAB["sum_households"], t["households"]),
                         (LAB["sum_dead_villages"], t["dead_villages"])):  # fmt: skip
        assert re.search(rf"{re.escape(label)}\s+{re.escape(format_int(value, 'vi'))}\b",
                         box_text), box_text  # fmt: skip
    assert LAB["legend_dead_zone"] in box_text
    assert session.errors == []
