"""Answers to the requests of folium's online ``map.html``, for the browser tests.

The test machine reaches package registries but no CDN. The libraries the map loads from CDNs
(Leaflet and its plugins, jQuery, Bootstrap, Font Awesome) are answered from lomsong's own
copies of their npm packages — :mod:`lomsong.maps.assets`, the same files and address rules
the offline map is built from, fetched once into the user cache by ``make install`` /
``make browser`` (``python -m lomsong.maps.assets``); the tests never download. Tile servers
get a blank tile: the tests check the map's own layers, not OpenStreetMap.

An address that no rule knows is None from :func:`resolve`, so a test can fail on any request
that would have gone to the network.
"""

from __future__ import annotations

import functools
import io
import re
from pathlib import Path
from urllib.parse import urlsplit

from lomsong.maps.assets import Asset, assets_dir, how_to_fetch, missing_packages
from lomsong.maps.assets import resolve as resolve_library

__all__ = ["TILE_HOSTS", "Asset", "packages_root", "resolve", "blank_tile_png"]

#: Hosts of basemap tiles: answered with a blank tile (the tests have no network).
TILE_HOSTS = re.compile(r"(^|\.)(tile\.openstreetmap\.org|basemaps\.cartocdn\.com)$")


def packages_root() -> tuple[Path, str | None]:
    """The folder of the map's npm packages, and why it cannot serve (None when complete)."""
    root = assets_dir()
    missing = missing_packages(root)
    if not missing:
        return root, None
    names = ", ".join(p.spec for p in missing)
    return root, f"the map's libraries ({names}) are not in {root}: {how_to_fetch(root)}"


@functools.cache
def blank_tile_png() -> bytes:
    """A 256×256 light-grey PNG, the answer to every basemap tile request."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (256, 256), (236, 236, 232)).save(buffer, format="PNG")
    return buffer.getvalue()


def resolve(url: str, root: Path) -> Asset | None:
    """The local answer to a request for ``url``, or None when no rule knows the address."""
    if TILE_HOSTS.search(urlsplit(url).hostname or ""):
        return Asset(blank_tile_png(), "image/png")
    return resolve_library(url, root)
