"""Local copies of the JavaScript/CSS that folium's map.html loads from CDNs, for browser tests.

The test machine reaches package registries but no CDN, so the libraries the map needs (Leaflet
and its plugins, jQuery, Bootstrap, Font Awesome, d3) are fetched from the npm registry with
``npm pack`` into a cache folder outside the repository, once, and the browser's requests to the
CDN addresses are answered from those files. Tile servers get a blank tile: the test checks the
map's own layers, not OpenStreetMap.

Only what folium 0.20 asks for is mapped. An address that no rule knows is reported by
:func:`resolve` as None, so a test can fail on any request that would have gone to the network.
"""

from __future__ import annotations

import functools
import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

__all__ = [
    "NPM_PACKAGES",
    "AssetError",
    "Asset",
    "cache_dir",
    "ensure_packages",
    "resolve",
    "blank_tile_png",
]

#: npm packages (``name@version``) whose files stand in for the CDN ones. Versions are those
#: the map.html of folium 0.20 names. Leaflet.awesome-markers 2.0.2 is published on npm only
#: under the ``drmonty-`` name (the original package starts at 2.0.4).
NPM_PACKAGES: tuple[str, ...] = (
    "leaflet@1.9.3",
    "leaflet.markercluster@1.1.0",
    "drmonty-leaflet-awesome-markers@2.0.2",
    "leaflet-minimap@3.6.1",
    "d3@3.5.5",
    "jquery@3.7.1",
    "bootstrap@5.2.2",
    "@fortawesome/fontawesome-free@6.2.0",
    "leaflet.fullscreen@3.0.0",
    "leaflet-measure@2.1.7",
    "leaflet.pattern@0.1.0",
)

#: Hosts of basemap tiles: answered with a blank tile (the tests have no network).
TILE_HOSTS = re.compile(r"(^|\.)(tile\.openstreetmap\.org|basemaps\.cartocdn\.com)$")

#: Small stylesheets that no npm package ships at the CDN's version: folium's marker-rotation
#: rule (from folium's own repository) and Bootstrap 3's glyphicon font (only decorates icons
#: with the ``glyphicon`` prefix; the map uses Font Awesome). Empty CSS is a faithful stand-in
#: for what the tests check.
_STUB_CSS = {
    "cdn.jsdelivr.net/gh/python-visualization/folium/folium/templates/"
    "leaflet.awesome.rotate.min.css": b".awesome-marker i{transform-origin:center}\n",
    "netdna.bootstrapcdn.com/bootstrap/3.0.0/css/bootstrap-glyphicons.css": b"\n",
}

# cdnjs library folder → (npm package, folder inside the package)
_CDNJS = {
    "leaflet.markercluster": ("leaflet.markercluster", "dist"),
    "Leaflet.awesome-markers": ("drmonty-leaflet-awesome-markers", None),
    "leaflet-minimap": ("leaflet-minimap", "dist"),
    "d3": ("d3", ""),
}
# awesome-markers keeps its .js and .css in separate folders
_AWESOME_DIRS = {".js": "js", ".css": "css", ".png": "css/images"}
# cdnjs serves the minimap unminified under the plain name; npm ships only the .min files
_MINIMAP_NAMES = {"Control.MiniMap.js": "Control.MiniMap.min.js",
                  "Control.MiniMap.css": "Control.MiniMap.min.css"}  # fmt: skip

_CONTENT_TYPES = {
    ".js": "application/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
}


class AssetError(RuntimeError):
    """The npm packages could not be fetched (no npm, or the registry refused)."""


@dataclass(frozen=True)
class Asset:
    """What to answer for one request: a body and its content type."""

    body: bytes
    content_type: str


def cache_dir() -> Path:
    """Folder of the unpacked npm packages: ``$LOMSONG_BROWSER_ASSETS`` or a user cache."""
    env = os.environ.get("LOMSONG_BROWSER_ASSETS")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lomsong" / "browser-assets"


def _folder(spec: str, root: Path) -> Path:
    return root / spec.replace("/", "+")


def ensure_packages(root: Path | None = None, *, timeout_s: float = 300.0) -> Path:
    """Fetch and unpack every package of :data:`NPM_PACKAGES` not yet in ``root``.

    ``npm pack`` downloads the published tarball only: no dependencies, no install scripts.
    Each package is unpacked into ``root/<name@version>`` (``/`` of a scope becomes ``+``) via
    a temporary folder, so an interrupted run leaves no half-unpacked package.

    Raises
    ------
    AssetError
        When npm is missing or fails.
    """
    root = Path(root) if root is not None else cache_dir()
    missing = [s for s in NPM_PACKAGES if not _folder(s, root).is_dir()]
    if not missing:
        return root
    npm = shutil.which("npm")
    if npm is None:
        raise AssetError("npm is not installed: cannot fetch Leaflet and its plugins")
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        proc = subprocess.run(
            [npm, "pack", "--silent", "--json", "--pack-destination", tmp, *missing],
            capture_output=True, text=True, timeout=timeout_s, cwd=tmp,
        )  # fmt: skip
        if proc.returncode != 0:
            raise AssetError(f"npm pack failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
        tarballs = sorted(Path(tmp).glob("*.tgz"))
        if len(tarballs) != len(missing):
            raise AssetError(f"npm pack gave {len(tarballs)} tarballs for {len(missing)} packages")
        for spec in missing:
            name, version = spec.rsplit("@", 1)
            stem = f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"
            staging = Path(tmp) / ("x-" + stem)
            with tarfile.open(Path(tmp) / stem) as tar:
                tar.extractall(staging, filter="data")
            # npm tarballs hold one top folder, "package/" for almost all
            (top,) = list(staging.iterdir())
            os.replace(top, _folder(spec, root))
    return root


def _package_file(root: Path, spec: str, rel: str) -> Path | None:
    base = _folder(spec, root).resolve()
    # Some packages publish only the unminified file the CDN serves minified (leaflet-measure's
    # CSS, leaflet.fullscreen's JS): the same code, so it stands in.
    for candidate in (rel, rel.replace(".min.", ".")):
        path = (base / candidate).resolve()
        # never serve outside the package (``..`` in a URL)
        if base in path.parents and path.is_file():
            return path
    return None


def _npm_version(name: str) -> str | None:
    for spec in NPM_PACKAGES:
        n, v = spec.rsplit("@", 1)
        if n == name:
            return v
    return None


def _local_path(url: str, root: Path) -> Path | None:
    parts = urlsplit(url)
    host, path = parts.hostname or "", parts.path
    if host == "cdn.jsdelivr.net" and path.startswith("/npm/"):
        # /npm/<name or @scope/name>@<version>/<file>
        m = re.match(r"/npm/((?:@[^/]+/)?[^/@]+)@([^/]+)/(.+)", path)
        if m and _npm_version(m.group(1)) == m.group(2):
            return _package_file(root, f"{m.group(1)}@{m.group(2)}", m.group(3))
        return None
    if host == "cdn.jsdelivr.net" and path.startswith("/gh/ljagis/leaflet-measure@"):
        m = re.match(r"/gh/ljagis/leaflet-measure@([^/]+)/(.+)", path)
        if m and _npm_version("leaflet-measure") == m.group(1):
            return _package_file(root, f"leaflet-measure@{m.group(1)}", m.group(2))
        return None
    if host == "cdnjs.cloudflare.com" and path.startswith("/ajax/libs/"):
        m = re.match(r"/ajax/libs/([^/]+)/([^/]+)/(.+)", path)
        if not m or m.group(1) not in _CDNJS:
            return None
        name, folder = _CDNJS[m.group(1)]
        version, file = m.group(2), m.group(3)
        if _npm_version(name) != version:
            return None
        if folder is None:  # awesome-markers: by file type
            folder = _AWESOME_DIRS.get(Path(file).suffix, "")
            file = Path(file).name
        file = _MINIMAP_NAMES.get(file, file)
        return _package_file(root, f"{name}@{version}", f"{folder}/{file}".lstrip("/"))
    if host == "code.jquery.com":
        m = re.match(r"/jquery-([0-9.]+)\.min\.js$", path)
        if m and _npm_version("jquery") == m.group(1):
            return _package_file(root, f"jquery@{m.group(1)}", "dist/jquery.min.js")
        return None
    if host == "teastman.github.io" and path.startswith("/Leaflet.pattern/"):
        return _package_file(root, "leaflet.pattern@0.1.0", "dist/" + Path(path).name)
    return None


@functools.cache
def blank_tile_png() -> bytes:
    """A 256×256 light-grey PNG, the answer to every basemap tile request."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (256, 256), (236, 236, 232)).save(buffer, format="PNG")
    return buffer.getvalue()


def resolve(url: str, root: Path) -> Asset | None:
    """The local answer to a request for ``url``, or None when no rule knows the address."""
    parts = urlsplit(url)
    key = (parts.hostname or "") + parts.path
    if key in _STUB_CSS:
        return Asset(_STUB_CSS[key], "text/css")
    if TILE_HOSTS.search(parts.hostname or ""):
        return Asset(blank_tile_png(), "image/png")
    path = _local_path(url, root)
    if path is None:
        return None
    return Asset(path.read_bytes(), _CONTENT_TYPES.get(path.suffix, "application/octet-stream"))


if __name__ == "__main__":
    # `python tests/browser_assets.py`: fetch the packages ahead of the tests (make's setup)
    print(ensure_packages())
