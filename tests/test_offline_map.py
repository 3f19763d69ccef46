"""The offline map: ``map.html`` with every library inline, opened with the network cut off.

A reduced demo is run with ``offline_map = true`` (the Hata model: the map, not the physics,
is under test, and Hata predicts the reduced demo in under a second); its ``map.html`` is
served from 127.0.0.1 and opened in Debian's Chromium (Playwright) with EVERY other request
aborted and recorded. Checked: no console error, no request at all beyond the page; it starts
on the "no basemap" layer; the layer control switches a layer off and on; a village's popup
opens on a click; the legend shows; Font Awesome's font and Leaflet's default marker decode
from their data: URIs. The page names no CDN in any ``src``, ``href`` or ``url()``.

Without a network the machinery is tested with hand-made packages: the stylesheet rewriting
(fonts once, WOFF2 only, nothing outside the package), refusals (unknown address, ``<!--``),
the download (a local registry on 127.0.0.1: pin checked, only kept files unpacked), and the
command line when the libraries are missing and cannot be fetched (exit 1, no traceback, the
way to fetch them named, before any work).

Needs: the map's npm packages in the user cache (``python -m lomsong.maps.assets``, run by
``make install``), and for the browser tests Chromium and Playwright, as ``test_browser.py``.
A screenshot is kept in ``outputs/browser/offline_map.png``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import http.server
import io
import re
import socket
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import require, require_module
from PIL import Image
from test_browser import CHROMIUM_ARGS, TIMEOUT_MS, VIEWPORT, _chromium, _map_name, _QuietHandler

from lomsong.cli import main
from lomsong.config import load_config
from lomsong.defaults import MAP_ASSETS_ENV, NPM_REGISTRY_ENV
from lomsong.demo import write_demo
from lomsong.errors import ConfigError
from lomsong.maps.assets import (
    PACKAGES,
    MapAssetsError,
    NpmPackage,
    assets_dir,
    fetch_assets,
    missing_packages,
    resolve,
)
from lomsong.maps.build import STATUS_COLORS, build_map
from lomsong.maps.offline import CDN_HOSTS, inline_assets
from lomsong.pipeline import Result, run
from lomsong.text import LABELS

REPO = Path(__file__).resolve().parents[1]
SCREENSHOT = REPO / "outputs" / "browser" / "offline_map.png"
LAB = LABELS["vi"]
FA_URL = "https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@6.2.0/css/all.min.css"
FA_FOLDER = "@fortawesome+fontawesome-free@6.2.0"
LEAFLET_JS_URL = "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"
# what a folium page loads: the src/href of its scripts and stylesheets
_LOADS = re.compile(r"""<(script|link)\b[^>]*\b(?:src|href)\s*=\s*["']([^"']*)["']""",
                    re.IGNORECASE)  # fmt: skip
_CSS_URLS = re.compile(r"""url\(\s*["']?([^"')]*)""", re.IGNORECASE)


def _require_packages() -> Path:
    root = assets_dir()
    missing = missing_packages(root)
    require(not missing, f"the map's libraries are not in {root}: run `python -m "
                         f"lomsong.maps.assets` (missing {[p.spec for p in missing]})")  # fmt: skip
    return root


# -- a real offline run ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def offline_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    """A reduced demo run with ``offline_map = true`` (Hata model) and its result."""
    _require_packages()
    base = tmp_path_factory.mktemp("offline")
    config = load_config(write_demo(base / "inputs", reduced=True))
    config = replace(config, model=replace(config.model, name="hata"),
                     output=replace(config.output, offline_map=True))  # fmt: skip
    out = base / "run"
    return out, run(config, out_dir=out)


@pytest.fixture(scope="module")
def page_html(offline_run: tuple[Path, Result]) -> str:
    return (offline_run[0] / "map.html").read_text(encoding="utf-8")


class _Elements(HTMLParser):
    """The page as a browser's parser sees it: every start tag's attributes, the text of
    every ``<style>`` element."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.styles: list[str] = []
        self._in_style = False
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def test_offline_page_loads_nothing_from_a_cdn(page_html: str) -> None:
    """No script, stylesheet, font or image is loaded from outside the page: no ``src`` of a
    script, no ``href`` of a link, no ``url()`` in a stylesheet but data: URIs, no CDN named."""
    page = _Elements(page_html)
    scripts = [t for t in page.tags if t[0] == "script"]
    assert len(scripts) >= 10  # the 8 libraries, Leaflet's default icon, folium's code
    assert [a for tag, a in page.tags if tag == "script" and a.get("src")] == []
    assert [a for tag, a in page.tags if tag == "link"] == []
    assert [a["src"] for tag, a in page.tags
            if a.get("src") and not a["src"].startswith("data:")] == []  # fmt: skip
    assert len(page.styles) > 10
    urls = [u for u in _CSS_URLS.findall("".join(page.styles)) if not u.startswith("data:")]
    assert set(urls) <= {"#default#VML"}  # Leaflet's rule for old Internet Explorer
    for host in CDN_HOSTS:
        assert host not in page_html
    # the only servers still named are the basemaps a user may switch to (and links)
    tile_urls = set(re.findall(r'"(https://[^"]*\{z\}[^"]*)"', page_html))
    assert tile_urls == {
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "https://{s}.basemaps.cartocdn.com/light_all/{z}/{x}/{y}{r}.png",
    }


def test_every_library_of_the_map_is_inline(offline_run: tuple[Path, Result],
                                            page_html: str) -> None:  # fmt: skip
    """Each address the same map names when saved online is inline (by its package label),
    but Bootstrap 3's glyphicons, which the map does not use."""
    r = offline_run[1]
    online = build_map(villages=r.gaps.villages, towers=r.towers, signal=r.signal, gaps=r.gaps,
                       ranking=r.ranking, candidates=r.candidates, lang="vi",
                       offline=True).get_root().render()  # fmt: skip
    urls = [u for _, u in _LOADS.findall(online) if u.startswith("https://")]
    assert len(urls) >= 15  # Leaflet, jQuery, Bootstrap, Font Awesome, plugins
    root = assets_dir()
    for url in urls:
        asset = resolve(url, root)
        assert asset is not None, url
        if asset.body.strip():
            assert f"/* {asset.label}, inlined by lomsong */" in page_html, url
        else:
            assert "glyphicons" in url
    assert "Control.MiniMap" not in page_html  # no mini-map: its tiles need the network


def test_the_libraries_add_under_a_megabyte_and_a_half(page_html: str) -> None:
    """The inlined libraries weigh ≈ 1.36 MB (Leaflet, jQuery, Bootstrap, Font Awesome's fonts
    once each in WOFF2, marker sprites): Font Awesome's solid font embedded twice, as its
    stylesheet names it three times, would add 0.2 MB, its TrueType copies 0.5 MB."""
    blocks = re.findall(r"<(script|style)>/\* (.*?), inlined by lomsong \*/\n(.*?)\n</\1>",
                        page_html, flags=re.S)  # fmt: skip
    sizes = {label: len(body.encode()) for _, label, body in blocks}
    assert len(sizes) == len(blocks) >= 15
    assert 1.2e6 < sum(sizes.values()) < 1.45e6, sizes  # 1.35 MB with the pinned packages
    assert 0.3e6 < sizes["@fortawesome/fontawesome-free@6.2.0/css/all.min.css"] < 0.5e6


# -- the page in a browser, with the network cut off -------------------------------------------
class _Offline:
    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        self.blocked: list[str] = []
        self.failed: list[str] = []


@pytest.fixture(scope="module")
def offline_page(offline_run: tuple[Path, Result], tmp_path_factory: pytest.TempPathFactory):
    sync_api = require_module(
        "playwright.sync_api", "the playwright package is not installed (pip install playwright)"
    )
    executable = _chromium()
    require(executable, "no Chromium found: install Debian's chromium (apt-get install chromium)")
    handler = functools.partial(_QuietHandler, directory=str(offline_run[0]))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    page_url = f"http://127.0.0.1:{httpd.server_address[1]}/map.html"
    profile = tmp_path_factory.mktemp("chromium-offline")
    try:
        with sync_api.sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                str(profile), executable_path=executable, headless=True, args=CHROMIUM_ARGS,
                viewport=VIEWPORT, locale="vi-VN",
            )  # fmt: skip
            try:
                page = context.new_page()
                s = _Offline(page)

                def route(r: Any) -> None:
                    if r.request.url == page_url:  # the file itself, and nothing else
                        r.continue_()
                    else:
                        s.blocked.append(r.request.url)
                        r.abort()

                context.route("**/*", route)
                page.on("requestfailed", lambda q: s.failed.append(q.url))
                page.on("console", lambda m: s.errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: s.errors.append(f"uncaught: {e}"))
                page.set_default_timeout(TIMEOUT_MS)
                page.goto(page_url, wait_until="load")
                page.wait_for_selector(".leaflet-marker-icon.ls-rank-icon")
                page.wait_for_load_state("networkidle")
                yield s
            finally:
                context.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _base_layer(page: Any) -> str:
    return page.locator(".leaflet-control-layers-base label").filter(
        has=page.locator("input:checked")).inner_text().strip()  # fmt: skip


def test_offline_page_renders_with_every_request_blocked(offline_page: _Offline) -> None:
    page = offline_page.page
    assert offline_page.errors == []
    assert offline_page.blocked == []  # not one request beyond the page itself
    assert offline_page.failed == []
    # data-complete: the coverage image, the village and zone polygons, the ranked sites
    assert page.locator(".leaflet-image-layer").count() == 1
    assert page.locator("path.leaflet-interactive").count() > 10
    assert page.locator(".ls-rank-icon").count() >= 1
    # it starts on the basemap that needs no network; the others stay to switch to
    assert _base_layer(page) == LAB["basemap_none"]
    bases = [t.strip() for t in
             page.locator(".leaflet-control-layers-base label").all_inner_texts()]  # fmt: skip
    assert bases == [LAB["basemap_osm"], LAB["basemap_light"], LAB["basemap_none"]]
    assert page.locator(".leaflet-control-minimap").count() == 0


def _village_count(page: Any) -> int:
    """Village polygons on the map now (the features with a status)."""
    return page.evaluate(
        """name => { let n = 0; window[name].eachLayer(l => {
               if (l.feature && l._path && 'status' in l.feature.properties) n += 1; });
           return n; }""",
        _map_name(page),
    )


def test_layer_control_switches_the_villages(offline_page: _Offline,
                                             offline_run: tuple[Path, Result]) -> None:  # fmt: skip
    page = offline_page.page
    villages = len(pd.read_csv(offline_run[0] / "villages.csv"))
    assert _village_count(page) == villages
    toggle = page.locator(".leaflet-control-layers-overlays label").filter(
        has_text=LAB["layer_villages"]).locator("input")  # fmt: skip
    toggle.click()
    assert not toggle.is_checked()
    assert _village_count(page) == 0
    toggle.click()
    assert _village_count(page) == villages
    assert offline_page.errors == [] and offline_page.blocked == []


def test_a_village_popup_opens_on_click(offline_page: _Offline) -> None:
    page = offline_page.page
    # a pixel where a village polygon is the topmost element (zones and markers lie above some)
    hit = page.evaluate(
        """name => {
            const map = window[name];
            for (const l of Object.values(map._layers)) {
                if (!(l.feature && l._path && 'status' in l.feature.properties)) continue;
                const box = l._path.getBoundingClientRect();
                for (let i = 1; i < 8; i++) for (let j = 1; j < 8; j++) {
                    const x = box.left + box.width * i / 8, y = box.top + box.height * j / 8;
                    if (document.elementFromPoint(x, y) === l._path) {
                        const tip = String(l.feature.properties.tip);
                        return {x, y, name: (tip.match(/<b>([^]*?)<[/]b>/) || ['', ''])[1]};
                    }
                }
            }
            return null;
        }""",
        _map_name(page),
    )
    assert hit is not None, "no village polygon can be clicked"
    page.mouse.click(hit["x"], hit["y"])
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert hit["name"] and hit["name"] in popup.inner_text()
    page.evaluate("name => window[name].closePopup()", _map_name(page))
    assert offline_page.errors == [] and offline_page.blocked == []


def test_legend_shows(offline_page: _Offline) -> None:
    page = offline_page.page
    legend = page.locator(".ls-legend")
    assert legend.is_visible()
    keys = legend.locator(".ls-legend-status > div:not(.ls-legend-title)")
    assert [k.strip() for k in keys.all_inner_texts()] == [
        LAB["no_signal"], LAB["weak_signal"], LAB["reliable_signal"]]  # fmt: skip
    colours = keys.locator(".ls-class").evaluate_all(
        "els => els.map(e => getComputedStyle(e).backgroundColor)")  # fmt: skip
    assert colours == ["rgb({}, {}, {})".format(*(int(c[i:i + 2], 16) for i in (1, 3, 5)))
                       for c in STATUS_COLORS.values()]  # fmt: skip


def test_fonts_and_icons_decode_from_the_page(offline_page: _Offline) -> None:
    """Font Awesome's solid font (the towers' glyph) loads from its data: URI; Leaflet's
    default marker image, set by lomsong after Leaflet, loads too."""
    page = offline_page.page
    faces = page.evaluate(
        """async () => (await document.fonts.load('900 16px "Font Awesome 6 Free"', '\\uf519'))
                       .map(f => f.status)"""
    )
    assert faces == ["loaded"]
    marker = page.evaluate(
        """name => new Promise(done => {
            const map = window[name];
            const m = L.marker(map.getCenter()).addTo(map);
            const img = m.getElement();
            const report = () => { const out = [img.src.slice(0, 22), img.naturalWidth];
                                   map.removeLayer(m); done(out); };
            if (img.complete) report(); else img.onload = img.onerror = report;
        })""",
        _map_name(page),
    )
    assert marker == ["data:image/png;base64,", 25]  # marker-icon.png is 25 × 41 px
    # a tower marker drawn with its Font Awesome glyph
    glyph = page.evaluate(
        """name => new Promise(done => {
            const map = window[name];
            map.eachLayer(l => {
                if (!(l instanceof L.MarkerClusterGroup)) return;
                const first = l.getLayers()[0];
                l.zoomToShowLayer(first, () => {
                    const i = first.getElement().querySelector('i.fa-tower-cell');
                    done(i ? getComputedStyle(i, '::before').fontFamily : null);
                });
            });
        })""",
        _map_name(page),
    )
    assert glyph is not None and "Font Awesome 6 Free" in glyph
    assert offline_page.errors == [] and offline_page.blocked == [] and offline_page.failed == []


def test_offline_screenshot(offline_page: _Offline) -> None:
    """A picture for a person (outputs/browser/offline_map.png): the fitted view with the
    coverage, villages and sites over the blank basemap."""
    page = offline_page.page
    page.reload(wait_until="load")  # the initial view, as a reader opens it
    page.wait_for_selector(".leaflet-marker-icon.ls-rank-icon")
    page.wait_for_timeout(500)
    page.mouse.move(5, VIEWPORT["height"] // 2)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    rgb = np.asarray(Image.open(SCREENSHOT).convert("RGB"))
    # drawn, not an empty page: the blank basemap's grey covers well under the map's area and
    # the coverage colours, village fills and markers give hundreds of distinct colours
    blank = (np.abs(rgb.astype(int) - (245, 245, 243)) <= 2).all(axis=2).mean()
    assert blank < 0.6, blank
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > 300
    assert offline_page.errors == [] and offline_page.blocked == []


# -- the machinery, with hand-made packages ----------------------------------------------------
def _fake_package(root: Path, folder: str, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = root / folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _decode(uri: str) -> bytes:
    return base64.b64decode(uri.split(",", 1)[1])


def test_stylesheet_fonts_are_embedded_once_and_woff2_only(tmp_path: Path) -> None:
    css = (b'@font-face{font-family:"A6";src:url(../webfonts/a.woff2) format("woff2"),'
           b'url(../webfonts/a.ttf) format("truetype")}'
           b'@font-face{font-family:"A5";src:url(../webfonts/a.woff2) format("woff2"),'
           b'url(../webfonts/a.ttf) format("truetype")}'
           b'@font-face{font-family:"B";src:url("../webfonts/b.ttf?v=1#iefix")}'
           b'.x{background:url(\'../img/x.png\')}.y{filter:url(#f)}')  # fmt: skip
    _fake_package(tmp_path, FA_FOLDER, {"css/all.min.css": css, "webfonts/a.woff2": b"W2",
                                        "webfonts/a.ttf": b"TT", "webfonts/b.ttf": b"BB",
                                        "img/x.png": b"PNG"})  # fmt: skip
    page = inline_assets(f'<head><link rel="stylesheet" href="{FA_URL}"/></head>', root=tmp_path)
    uris = re.findall(r'url\("(data:[^"]*)"\)', page)
    # a.woff2 once (the A5 rule repeats it: dropped), no a.ttf; b.ttf (no WOFF2 offered); x.png
    assert [_decode(u) for u in uris] == [b"W2", b"BB", b"PNG"]
    assert uris[0].startswith("data:font/woff2;base64,")
    assert uris[1].startswith("data:font/ttf;base64,") and uris[2].startswith("data:image/png")
    assert '"A5"' not in page and '"A6"' in page and "url(#f)" in page
    assert "<link" not in page


@pytest.mark.parametrize("ref", ["../../../../etc/passwd", "https://example.org/a.png",
                                 "//example.org/a.png", "../img/missing.png"])  # fmt: skip
def test_stylesheet_urls_outside_the_package_are_refused(tmp_path: Path, ref: str) -> None:
    _fake_package(tmp_path, FA_FOLDER, {"css/all.min.css": f".x{{background:url({ref})}}".encode()})
    with pytest.raises(MapAssetsError, match="url"):
        inline_assets(f'<link rel="stylesheet" href="{FA_URL}">', root=tmp_path)


def test_unknown_addresses_are_refused_all_at_once(tmp_path: Path) -> None:
    page = ('<script src="https://cdn.example.org/a.js"></script>'
            '<link rel="stylesheet" href="https://cdn.example.org/b.css"/>'
            '<link rel="icon" href="https://cdn.example.org/c.ico"/>'
            '<script src="local.js"></script>')  # fmt: skip
    with pytest.raises(MapAssetsError) as caught:
        inline_assets(page, root=tmp_path)
    message = str(caught.value)
    assert all(f"cdn.example.org/{n}" in message for n in ("a.js", "b.css", "c.ico"))
    assert "local.js" not in message  # a file beside the page is not the network


def test_scripts_cannot_close_their_element(tmp_path: Path) -> None:
    images = {f"dist/images/{n}": b"\x89PNG" for n in
              ("marker-icon.png", "marker-icon-2x.png", "marker-shadow.png")}  # fmt: skip
    _fake_package(
        tmp_path,
        "leaflet@1.9.3",
        {"dist/leaflet.js": b'var s = "</script><b>"; var t = "</SCRIPT >";', **images},
    )
    page = inline_assets(f'<script src="{LEAFLET_JS_URL}"></script>', root=tmp_path)
    assert 'var s = "<\\/script><b>"; var t = "<\\/SCRIPT >";' in page
    assert page.lower().count("</script>") == 2  # the library's and the default icon's
    assert "L.Icon.Default.mergeOptions" in page
    _fake_package(tmp_path, "leaflet@1.9.3", {"dist/leaflet.js": b'var c = "<!--";'})
    with pytest.raises(MapAssetsError, match="<!--"):
        inline_assets(f'<script src="{LEAFLET_JS_URL}"></script>', root=tmp_path)


# -- the download, from a registry on 127.0.0.1 -----------------------------------------------
def _tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``http://127.0.0.1:PORT`` serving the folder it returns, as an npm registry would."""
    folder = tmp_path / "registry"
    folder.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", folder
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_fetch_checks_the_pin_and_unpacks_only_the_kept_files(tmp_path: Path, registry) -> None:
    url, folder = registry
    data = _tarball({"package/dist/a.js": b"A", "package/dist/sub/b.css": b"B",
                     "package/src/a.js": b"SRC", "package/LICENSE": b"MIT",
                     "package/package.json": b"{}", "package/../escape.js": b"X"})  # fmt: skip
    pkg = NpmPackage("@scope/fake", "1.2.3", _integrity(data), ("dist/",))
    assert pkg.tarball_path() == "@scope/fake/-/fake-1.2.3.tgz"
    (folder / "@scope/fake/-").mkdir(parents=True)
    (folder / pkg.tarball_path()).write_bytes(data)
    root = tmp_path / "cache"
    assert fetch_assets(root, packages=[pkg], registry=url) == root
    got = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert got == {"@scope+fake@1.2.3/" + n for n in
                   ("dist/a.js", "dist/sub/b.css", "LICENSE", "package.json")}  # fmt: skip
    assert missing_packages(root, packages=[pkg]) == []
    # a tarball that does not match its pin: refused, nothing written
    bad = NpmPackage("@scope/fake", "1.2.3", _integrity(b"other"), ("dist/",))
    with pytest.raises(MapAssetsError, match="does not match the pinned sha512"):
        fetch_assets(tmp_path / "cache2", packages=[bad], registry=url)
    assert not (tmp_path / "cache2" / bad.folder).exists()
    # a kept path the package lacks
    lacking = NpmPackage("@scope/fake", "1.2.3", _integrity(data), ("dist/", "css/x.css"))
    with pytest.raises(MapAssetsError, match="has no css/x.css"):
        fetch_assets(tmp_path / "cache3", packages=[lacking], registry=url)


def test_pinned_packages_are_the_ones_the_cache_holds() -> None:
    """Every pin is a sha512 in the registry's format, and each package's folder holds all
    the files the address rules can name (a keep list too short would fail a page late)."""
    root = _require_packages()
    for pkg in PACKAGES:
        assert re.fullmatch(r"sha512-[A-Za-z0-9+/]{86}==", pkg.integrity), pkg.spec
        files = [p for p in (root / pkg.folder).rglob("*") if p.is_file()]
        assert all(any(f.relative_to(root / pkg.folder).as_posix().startswith(k) for f in files)
                   for k in pkg.keep), pkg.spec  # fmt: skip


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def unreachable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No packages in the cache and a registry that refuses the connection."""
    empty = tmp_path / "no-assets"
    monkeypatch.setenv(MAP_ASSETS_ENV, str(empty))
    monkeypatch.setenv(NPM_REGISTRY_ENV, f"http://127.0.0.1:{_closed_port()}")
    return empty


def test_run_without_libraries_or_network_stops_at_once(tmp_path: Path, unreachable: Path,
                                                        capsys) -> None:  # fmt: skip
    project = write_demo(tmp_path / "inputs", reduced=True)
    out = tmp_path / "out"
    assert main(["run", str(project), "--out", str(out), "--offline-map", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "python -m lomsong.maps.assets" in err and str(unreachable) in err
    assert not (out / "summary.json").exists()  # stopped before any work
    # without the flag the same project runs as before: the flag is what asks for them
    assert load_config(project).output.offline_map is False


@pytest.mark.usefixtures("unreachable")
def test_demo_offline_map_flag_reaches_the_run(tmp_path: Path, capsys) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--reduced", "--offline-map", "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "python -m lomsong.maps.assets" in err and "Traceback" not in err
    assert not out.exists()
    assert not list(tmp_path.glob(".demo-inputs-*"))  # the demo's staging folder is removed


def test_offline_map_key_is_a_boolean(tmp_path: Path) -> None:
    head = '[inputs]\nvillages = "v.gpkg"\ntowers = "t.csv"\n[output]\n'
    (tmp_path / "p.toml").write_text(head + "offline_map = true\n", encoding="utf-8")
    assert load_config(tmp_path / "p.toml").output.offline_map is True
    (tmp_path / "p.toml").write_text(head + 'offline_map = "yes"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="output.offline_map"):
        load_config(tmp_path / "p.toml")
