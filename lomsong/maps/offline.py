"""A ``map.html`` that opens without a network: every script, stylesheet, font and icon inline.

folium's page loads Leaflet, its plugins, jQuery, Bootstrap and Font Awesome from CDNs, so a
commune office in a dead zone — the reader the map is for — sees an empty page. With
``[output] offline_map = true`` (``--offline-map``) the page is rendered as usual and then
each ``<script src>`` becomes an inline ``<script>`` and each stylesheet ``<link>`` an inline
``<style>``, from the npm packages of :mod:`lomsong.maps.assets`; inside the stylesheets every
``url(...)`` (fonts, marker sprites, control icons) becomes a ``data:`` URI (RFC 2397). The map
built with ``build_map(offline=True)`` starts on the "no basemap" layer (tiles need the
network; the other basemaps stay in the layer control for when there is one) and has no
mini-map.

Choices, each to keep the file small or the page working:

* a font's WOFF2 file alone is embedded where the stylesheet offers it among others (every
  browser since 2016 reads WOFF2; the TrueType copies would double the fonts);
* a font file is embedded once: an ``@font-face`` rule whose files an earlier rule already
  embedded is dropped — Font Awesome 6 repeats its three fonts under the family names of its
  versions 4 and 5, for pages written for those; lomsong's map uses the version 6 names;
* Leaflet finds its default marker image from a stylesheet URL ending in ``marker-icon.png``,
  which a data: URI is not: the default icon's images are set explicitly after Leaflet;
* Bootstrap 3's glyphicon sheet (a retired CDN, for ``glyphicon`` icons, which the map does not
  use) is left out.

If the packages are missing they are fetched (once per machine); if that fails the run stops
with :class:`~lomsong.maps.assets.MapAssetsError`, saying how to fetch them, before any work
(``lomsong.pipeline.run`` checks first): an "offline" map that silently needs the network would
fail exactly where it is needed. An address no rule knows is an error too, never a link left in.
"""

from __future__ import annotations

import base64
import html
import logging
import os
import re
from pathlib import Path

import folium

from lomsong.maps.assets import (
    CONTENT_TYPES,
    Asset,
    MapAssetsError,
    assets_dir,
    fetch_assets,
    missing_packages,
    resolve,
)

__all__ = ["inline_assets", "save_offline", "ensure_assets", "CDN_HOSTS"]

logger = logging.getLogger(__name__)

#: Hosts that serve folium's libraries: an offline page must not name any of them in a
#: ``src``/``href``/``url()``.
CDN_HOSTS = (
    "cdn.jsdelivr.net",
    "cdnjs.cloudflare.com",
    "code.jquery.com",
    "netdna.bootstrapcdn.com",
    "teastman.github.io",
    "unpkg.com",
)

_SCRIPT_SRC = re.compile(
    r"""<script\b(?P<attrs>[^>]*?)\ssrc\s*=\s*(?P<q>["'])(?P<url>[^"']*)(?P=q)[^>]*>\s*</script\s*>""",
    re.IGNORECASE,
)
_LINK = re.compile(r"<link\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r"""([a-zA-Z_:][-\w:.]*)\s*=\s*(["'])(.*?)\2""", re.DOTALL)
_CSS_URL = re.compile(r"""url\(\s*(?P<q>["']?)(?P<url>[^"')]*?)(?P=q)\s*\)""", re.IGNORECASE)
_FONT_FACE = re.compile(r"@font-face\s*\{[^}]*\}", re.IGNORECASE)
_FONT_SRC = re.compile(r"(?P<head>\bsrc\s*:)(?P<list>[^;}]*)", re.IGNORECASE)
_IMPORT = re.compile(r"@import\b", re.IGNORECASE)
_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)


def ensure_assets(root: Path | None = None) -> Path:
    """The packages' folder, fetched first if any package is missing.

    Raises
    ------
    MapAssetsError
        Missing and cannot be fetched; the message says how to fetch them.
    """
    root = Path(root) if root is not None else assets_dir()
    if missing_packages(root):
        fetch_assets(root)
    return root


def _data_uri(path: Path) -> str:
    kind = CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _local(asset: Asset, ref: str) -> Path:
    """The file a stylesheet's relative ``url(ref)`` names, inside the stylesheet's package."""
    if _REMOTE.match(ref):
        raise MapAssetsError(f"{asset.label}: url({ref}) needs the network")
    clean = re.split(r"[?#]", ref, maxsplit=1)[0]  # "font.eot?#iefix", "font.svg#name"
    if asset.path is None or asset.package is None or not clean:
        raise MapAssetsError(f"{asset.label}: cannot inline url({ref})")
    path = (asset.path.parent / clean).resolve()
    if asset.package not in path.parents:
        raise MapAssetsError(f"{asset.label}: url({ref}) names a file outside its package")
    if not path.is_file():
        raise MapAssetsError(
            f"{asset.label}: url({ref}) is missing from {asset.package}; delete that folder "
            "and fetch the packages again (python -m lomsong.maps.assets)"
        )
    return path


def _font_files(asset: Asset, src: str) -> list[Path]:
    return [_local(asset, m["url"]) for m in _CSS_URL.finditer(src)
            if not m["url"].startswith("data:")]  # fmt: skip


def _woff2_only(src_list: str) -> str:
    """Of a ``src`` list, the WOFF2 entries alone when there are any."""
    if "data:" in src_list:  # an inline font: its base64 holds commas, keep the list as it is
        return src_list
    entries = [e.strip() for e in src_list.split(",")]
    woff2 = [e for e in entries if re.search(r"""format\(\s*["']woff2["']\s*\)""", e)]
    return ",".join(woff2) if woff2 else src_list


def _inline_css(asset: Asset, embedded_fonts: set[Path]) -> str:
    css = asset.body.decode("utf-8")
    if _IMPORT.search(css):
        raise MapAssetsError(f"{asset.label}: @import is not inlined")

    def font_face(m: re.Match) -> str:
        rule = _FONT_SRC.sub(lambda s: s["head"] + _woff2_only(s["list"]), m.group(0))
        files = _font_files(asset, rule)
        if files and all(f in embedded_fonts for f in files):
            return ""  # the same file under another family name: see the module docstring
        embedded_fonts.update(files)
        return rule

    css = _FONT_FACE.sub(font_face, css)
    uris: dict[Path, str] = {}

    def url(m: re.Match) -> str:
        ref = m["url"].strip()
        if ref.startswith(("data:", "#")):  # already inline; an SVG fragment or VML behaviour
            return m.group(0)
        path = _local(asset, ref)
        if path not in uris:
            uris[path] = _data_uri(path)
        return f'url("{uris[path]}")'

    return _CSS_URL.sub(url, css)


def _script_text(asset: Asset) -> str:
    js = asset.body.decode("utf-8")
    # Inside <script>, "</script" would end the element; "<\/script" is the same text to
    # JavaScript (in strings, regular expressions and comments alike). "<!--" could switch the
    # HTML parser into its escaped-script states: refused rather than guessed at.
    js = re.sub(r"</(script)", r"<\\/\1", js, flags=re.IGNORECASE)
    if "<!--" in js:
        raise MapAssetsError(f"{asset.label}: holds '<!--', which cannot be inlined safely")
    return js


def _leaflet_default_icon(asset: Asset) -> str:
    """Leaflet's default marker images as data: URIs, set where Leaflet reads them."""
    images = asset.path.parent / "images" if asset.path is not None else None
    names = {"iconUrl": "marker-icon.png", "iconRetinaUrl": "marker-icon-2x.png",
             "shadowUrl": "marker-shadow.png"}  # fmt: skip
    if images is None or not all((images / n).is_file() for n in names.values()):
        raise MapAssetsError(f"{asset.label}: Leaflet's marker images are missing")
    options = ", ".join(f'{k}: "{_data_uri(images / n)}"' for k, n in names.items())
    return f'L.Icon.Default.imagePath = "";\nL.Icon.Default.mergeOptions({{{options}}});\n'


def inline_assets(page: str, *, root: Path | None = None) -> str:
    """``page`` (a rendered folium map) with every CDN script and stylesheet inline.

    Parameters
    ----------
    page
        The HTML of ``Map.get_root().render()``.
    root
        Folder of the npm packages (default :func:`lomsong.maps.assets.assets_dir`); they must
        be there (:func:`ensure_assets`).

    Returns
    -------
    str
        The same page with ``<script>`` and ``<style>`` elements in place of the links; only
        the tile layers' addresses still name a server.

    Raises
    ------
    MapAssetsError
        An address no rule knows (all of them are listed), or a file that cannot be inlined.
    """
    root = Path(root) if root is not None else assets_dir()
    unknown: list[str] = []
    embedded_fonts: set[Path] = set()

    def asset_for(url: str) -> Asset | None:
        asset = resolve(html.unescape(url), root)
        if asset is None:
            unknown.append(url)
        return asset

    def script(m: re.Match) -> str:
        if not _REMOTE.match(html.unescape(m["url"])):
            return m.group(0)  # a file beside the page, or a data: URI
        asset = asset_for(m["url"])
        if asset is None:
            return m.group(0)
        text = f"<script>/* {asset.label}, inlined by lomsong */\n{_script_text(asset)}\n</script>"
        if asset.label.startswith("leaflet@") and asset.label.endswith("/dist/leaflet.js"):
            text += f"\n<script>\n{_leaflet_default_icon(asset)}</script>"
        return text

    def link(m: re.Match) -> str:
        attrs = {k.lower(): v for k, _, v in _ATTR.findall(m.group(0))}
        href = attrs.get("href", "")
        if not href or not _REMOTE.match(html.unescape(href)):
            return m.group(0)  # nothing to fetch
        if attrs.get("rel", "").lower() != "stylesheet":
            unknown.append(href)
            return m.group(0)
        asset = asset_for(href)
        if asset is None:
            return m.group(0)
        if not asset.body.strip():
            return f"<!-- {asset.label}: left out -->"
        css = _inline_css(asset, embedded_fonts)
        return f"<style>/* {asset.label}, inlined by lomsong */\n{css}\n</style>"

    page = _SCRIPT_SRC.sub(script, page)
    page = _LINK.sub(link, page)
    if unknown:
        raise MapAssetsError(
            "the offline map cannot inline " + ", ".join(unknown) + ": lomsong.maps.assets "
            "knows no local copy (a folium plugin lomsong does not map yet)"
        )
    return page


def save_offline(m: folium.Map, path: str | os.PathLike[str], *, root: Path | None = None) -> int:
    """Write ``m`` as a self-contained HTML file; returns its size in bytes.

    The packages are fetched first when missing (:func:`ensure_assets`). Build the map with
    ``build_map(offline=True)`` so that it starts on the basemap that needs no network.

    Raises
    ------
    MapAssetsError
        The packages are missing and cannot be fetched, or the page names an address no rule
        knows.
    """
    root = ensure_assets(root)
    page = inline_assets(m.get_root().render(), root=root)
    data = page.encode("utf-8")
    Path(path).write_bytes(data)
    logger.debug("offline map %s: %d bytes", path, len(data))
    return len(data)
