"""The JavaScript, CSS, fonts and icons that folium's ``map.html`` loads from CDNs, kept locally.

folium writes a page that loads Leaflet, its plugins, jQuery, Bootstrap and Font Awesome from
four CDNs (jsDelivr, cdnjs, code.jquery.com, GitHub Pages). The same files are published as
npm packages; this module knows

* which packages, at the versions folium 0.20 names (:data:`PACKAGES`), each pinned to the
  sha512 of its tarball as the npm registry publishes it (``dist.integrity``, the Subresource
  Integrity format of https://www.w3.org/TR/SRI/);
* how to fetch them once into a user cache without npm (:func:`fetch_assets`): the tarball
  ``<registry>/<name>/-/<name>-<version>.tgz`` over HTTPS, checked against the pin, and only
  the files the map can ask for unpacked (the npm tarball layout: one top folder, usually
  ``package/``; https://docs.npmjs.com/cli/commands/npm-pack);
* which file answers which CDN address (:func:`resolve`).

:mod:`lomsong.maps.offline` uses it to write a self-contained map; the browser tests use it to
answer the online map's CDN requests without a network. ``python -m lomsong.maps.assets``
fetches the packages ahead of time (``make install`` does) and prints the folder.

Only the addresses folium 0.20 and its plugins use are mapped: an address no rule knows is
``None`` from :func:`resolve`, so a caller can refuse it rather than let the page go online.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import re
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from lomsong._version import __version__
from lomsong.defaults import (
    DOWNLOAD_TIMEOUT_S,
    MAP_ASSETS_ENV,
    MAP_ASSETS_SUBDIR,
    NPM_REGISTRY,
    NPM_REGISTRY_ENV,
)
from lomsong.errors import LomsongError

__all__ = [
    "NpmPackage",
    "PACKAGES",
    "Asset",
    "MapAssetsError",
    "assets_dir",
    "missing_packages",
    "fetch_assets",
    "how_to_fetch",
    "local_file",
    "resolve",
    "CONTENT_TYPES",
]

logger = logging.getLogger(__name__)


class MapAssetsError(LomsongError):
    """The offline map's libraries are missing and cannot be fetched, or do not match."""


@dataclass(frozen=True)
class NpmPackage:
    """One npm package the map needs.

    Attributes
    ----------
    name, version
        As published on the npm registry (``@scope/name`` for a scoped package).
    integrity
        ``sha512-<base64>`` of the tarball (the registry's ``dist.integrity``).
    keep
        Paths inside the package (folders end with ``/``) that the map can ask for; only these
        (and the licence files) are unpacked.
    """

    name: str
    version: str
    integrity: str
    keep: tuple[str, ...]

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def folder(self) -> str:
        """Its folder in the cache: ``name@version``, a scope's ``/`` written ``+``."""
        return self.spec.replace("/", "+")

    def tarball_path(self) -> str:
        """Path of its tarball on a registry (npm's layout: the bare name in the file name)."""
        return f"{self.name}/-/{self.name.rsplit('/', 1)[-1]}-{self.version}.tgz"

    def keeps(self, rel: str) -> bool:
        if _LICENCE.match(PurePosixPath(rel).name) or rel == "package.json":
            return True
        return any(_under(rel, k) for k in self.keep)


def _under(rel: str, keep: str) -> bool:
    """``rel`` is the kept file ``keep`` or lies in the kept folder ``keep`` (ends with /)."""
    return rel == keep or (keep.endswith("/") and rel.startswith(keep))


# Licence files travel with the code they cover (their names differ from package to package).
_LICENCE = re.compile(r"^(MIT-)?LICEN[CS]E", re.IGNORECASE)

#: The packages whose files stand in for the CDN ones: the versions the map.html of folium 0.20
#: names. Leaflet.awesome-markers 2.0.2 is on npm only under the ``drmonty-`` name (the original
#: package starts at 2.0.4); d3 3.5.5 is what branca's colour scales load.
PACKAGES: tuple[NpmPackage, ...] = (
    NpmPackage("leaflet", "1.9.3",
               "sha512-iB2cR9vAkDOu5l3HAay2obcUHZ7xwUBBjph8+PGtmW/2lYhbLizWtG7nTeYht36WfOslixQF9D/uSIzhZgGMfQ==",
               ("dist/leaflet.js", "dist/leaflet.css", "dist/images/")),
    NpmPackage("leaflet.markercluster", "1.1.0",
               "sha512-eI+XkCiLiHwCC3uZ4/n4+Vq3rXcqEHN2lhHRVG1WVziy/3Q0TTipWkzEa1zO0dKZI2AnI5ppFDWrOjnQ7MJLKQ==",
               ("dist/leaflet.markercluster.js", "dist/MarkerCluster.css",
                "dist/MarkerCluster.Default.css")),
    NpmPackage("drmonty-leaflet-awesome-markers", "2.0.2",
               "sha512-g508pdnnHQr9l4kU6McvJzcSd0w1FvHFlZZCYc4oT+zjwYJi1qtj0fFBFEWMKoNfHK4UcBya1eccyjKfu4chjQ==",
               ("js/", "css/")),
    NpmPackage("leaflet-minimap", "3.6.1",
               "sha512-6px8f6cfv1rKB6ACpL6bbUFGxipZOq4KsntJgBj9nOcW1RYa5+xFp8emOZwks9X+VtVVsQEwWwfgT1kTTL/LzA==",
               ("dist/",)),
    NpmPackage("d3", "3.5.5",
               "sha512-JPx0wEFxcYVcCZXgUbsy8NzVzD3zKat1KLtdCeOHPsmrpFlc09nr2/5Ls9ey7mo8SV6cWew0piLrmPVybj9I8w==",
               ("d3.min.js",)),
    NpmPackage("jquery", "3.7.1",
               "sha512-m4avr8yL8kmFN8psrbFFFmB/If14iN5o9nw/NgnnM+kybDJpRsAynV2BsfpTYrTRysYUdADVD7CkUUizgkpLfg==",
               ("dist/jquery.min.js",)),
    NpmPackage("bootstrap", "5.2.2",
               "sha512-dEtzMTV71n6Fhmbg4fYJzQsw1N29hJKO1js5ackCgIpDcGid2ETMGC6zwSYw09v05Y+oRdQ9loC54zB1La3hHQ==",
               ("dist/js/bootstrap.bundle.min.js", "dist/css/bootstrap.min.css")),
    NpmPackage("@fortawesome/fontawesome-free", "6.2.0",
               "sha512-CNR7qRIfCwWHNN7FnKUniva94edPdyQzil/zCwk3v6k4R6rR2Fr8i4s3PM7n/lyfPA6Zfko9z5WDzFxG9SW1uQ==",
               ("css/all.min.css", "webfonts/")),
    NpmPackage("leaflet.fullscreen", "3.0.0",
               "sha512-81wWSUXz1ZtdneR0v5eJDWXUSx+Zo5J50WXWeydG/UcILfIEAgz/iOjZSi3p00Z9MJ/FC/P5i3CgdYuEAos0yQ==",
               ("Control.FullScreen.js", "Control.FullScreen.css", "icon-fullscreen.svg")),
    NpmPackage("leaflet-measure", "2.1.7",
               "sha512-IvoHIoVTIQSXUgaNnAMF17qXFB+dF5ICdwmY8BHyq/Hh33/xeGqQUUYlz0pRMzFN9NUcjsT6JBhCr1ia0CG5ug==",
               ("dist/leaflet-measure.min.js", "dist/leaflet-measure.css", "dist/images/")),
    NpmPackage("leaflet.pattern", "0.1.0",
               "sha512-E4sxvvK0XHi1EhE1yUTG1bzafXZoXUPqWPjHz5fSpv/pOcT4CtS0qR1lhFSRtSUYios8OwlZmUGB9n91zQEgcw==",
               ("dist/leaflet.pattern.js",)),
)  # fmt: skip

#: Content types of the files the map loads (HTTP answers, data: URIs).
CONTENT_TYPES = {
    ".js": "application/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".eot": "application/vnd.ms-fontobject",
}

# cdnjs library folder → (npm package, folder inside the package; None: by file type)
_CDNJS = {
    "leaflet.markercluster": ("leaflet.markercluster", "dist"),
    "Leaflet.awesome-markers": ("drmonty-leaflet-awesome-markers", None),
    "leaflet-minimap": ("leaflet-minimap", "dist"),
    "d3": ("d3", ""),
}
# awesome-markers keeps its .js and .css (and the CSS's images) in separate folders
_AWESOME_DIRS = {".js": "js", ".css": "css", ".png": "css/images"}
# cdnjs serves the minimap unminified under the plain name; npm ships only the .min files
_MINIMAP_NAMES = {"Control.MiniMap.js": "Control.MiniMap.min.js",
                  "Control.MiniMap.css": "Control.MiniMap.min.css"}  # fmt: skip
#: folium's stylesheet of rotated marker icons (``Icon(angle=…)`` adds ``fa-rotate-<angle>``),
#: served from folium's GitHub repository and not in any npm package: written here instead.
ROTATE_CSS_URL = ("cdn.jsdelivr.net/gh/python-visualization/folium/folium/templates/"
                  "leaflet.awesome.rotate.min.css")  # fmt: skip
#: Bootstrap 3's glyphicon font, from a retired CDN: it only draws icons with the ``glyphicon``
#: prefix, and lomsong's map uses Font Awesome's. Nothing stands in for it (an empty sheet).
GLYPHICONS_CSS_URL = "netdna.bootstrapcdn.com/bootstrap/3.0.0/css/bootstrap-glyphicons.css"


@dataclass(frozen=True)
class Asset:
    """What answers one CDN address.

    Attributes
    ----------
    body
        The file's bytes.
    content_type
        Its MIME type.
    path
        The file in the cache (None for a stylesheet written here): the folder its relative
        ``url(...)`` references start from.
    package
        The package folder it belongs to (None for a stylesheet written here).
    label
        ``name@version/path`` for a file of a package, else a short description.
    """

    body: bytes
    content_type: str
    path: Path | None = None
    package: Path | None = None
    label: str = ""


def _user_cache() -> Path:
    if os.name == "nt" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def assets_dir() -> Path:
    """Folder of the unpacked packages: ``$LOMSONG_MAP_ASSETS``, else the user cache's
    ``lomsong/map-assets`` (see :data:`lomsong.defaults.MAP_ASSETS_ENV`)."""
    env = os.environ.get(MAP_ASSETS_ENV)
    return Path(env) if env else _user_cache() / MAP_ASSETS_SUBDIR


def missing_packages(
    root: Path | None = None, *, packages: Iterable[NpmPackage] = PACKAGES
) -> list[NpmPackage]:
    """The packages of ``packages`` not yet unpacked in ``root`` (default :func:`assets_dir`).

    A package's folder appears whole or not at all (it is renamed into place once unpacked),
    so its presence means it is complete.
    """
    root = Path(root) if root is not None else assets_dir()
    return [p for p in packages if not (root / p.folder).is_dir()]


def how_to_fetch(root: Path) -> str:
    """The sentence telling a user how to get the packages onto a machine."""
    return (
        f"fetch them once with `python -m lomsong.maps.assets` (or `make install`) on a "
        f"machine with internet and copy the folder it prints to {root} (or point "
        f"{MAP_ASSETS_ENV} at it); {NPM_REGISTRY_ENV} names another npm registry or mirror"
    )


def fetch_assets(
    root: Path | None = None,
    *,
    packages: Iterable[NpmPackage] = PACKAGES,
    registry: str | None = None,
    timeout_s: float = DOWNLOAD_TIMEOUT_S,
) -> Path:
    """Download and unpack every package of ``packages`` missing from ``root``; returns ``root``.

    Each tarball comes from ``registry`` (default ``$LOMSONG_NPM_REGISTRY``, else
    https://registry.npmjs.org) over HTTP(S) with the standard library, is checked against the
    package's pinned sha512 before anything is written, and only the files of
    :attr:`NpmPackage.keep` (and the licences) are unpacked, into a temporary folder beside the
    target that is then renamed into place: an interrupted fetch leaves no half package, and
    two processes fetching at once both end with the same files. No npm, no install scripts.

    Parameters
    ----------
    root
        Target folder (default :func:`assets_dir`); created if missing.
    packages
        The packages to have (default :data:`PACKAGES`).
    registry
        Base address of an npm registry.
    timeout_s
        Timeout of each request, s.

    Raises
    ------
    MapAssetsError
        A download failed, a tarball does not match its pin, or a kept path is missing; the
        message says how to fetch the packages otherwise.

    Notes
    -----
    About 8 MB are downloaded (Font Awesome's tarball is 4.9 MB); about 2.5 MB are kept.
    """
    root = Path(root) if root is not None else assets_dir()
    missing = missing_packages(root, packages=packages)
    if not missing:
        return root
    base = (registry or os.environ.get(NPM_REGISTRY_ENV) or NPM_REGISTRY).rstrip("/")
    logger.info("fetching the offline map's libraries (%d npm packages) from %s into %s",
                len(missing), base, root)  # fmt: skip
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MapAssetsError(
            f"cannot create {root} for the offline map's libraries ({exc}); {how_to_fetch(root)}"
        ) from None
    for pkg in missing:
        url = f"{base}/{pkg.tarball_path()}"
        data = _download(url, timeout_s=timeout_s, root=root)
        _check_integrity(data, pkg, url)
        _unpack(data, pkg, root)
        logger.debug("unpacked %s (%d bytes downloaded)", pkg.spec, len(data))
    return root


def _download(url: str, *, timeout_s: float, root: Path) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": f"lomsong/{__version__}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return response.read()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise MapAssetsError(
            f"the offline map's libraries are not in {root} and cannot be downloaded "
            f"({url}: {reason}); {how_to_fetch(root)}"
        ) from None


def _check_integrity(data: bytes, pkg: NpmPackage, url: str) -> None:
    algorithm, _, expected = pkg.integrity.partition("-")
    got = base64.b64encode(hashlib.new(algorithm, data).digest()).decode("ascii")
    if got != expected:
        raise MapAssetsError(
            f"{url}: the download does not match the pinned {algorithm} of {pkg.spec} "
            f"(got {algorithm}-{got}); nothing was written. A proxy or mirror may have altered "
            "it: try again, or another registry"
        )


def _safe_relative(name: str) -> str | None:
    """A tar member's path without its top folder, or None when it would leave the package."""
    parts = PurePosixPath(name).parts
    if len(parts) < 2 or any(p in ("..", "") for p in parts) or name.startswith("/"):
        return None
    return "/".join(parts[1:])


def _unpack(data: bytes, pkg: NpmPackage, root: Path) -> None:
    target = root / pkg.folder
    with tempfile.TemporaryDirectory(dir=root, prefix=".unpack-") as tmp:
        staging = Path(tmp) / pkg.folder
        found: set[str] = set()
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar:
                rel = _safe_relative(member.name)
                if not member.isfile() or rel is None or not pkg.keeps(rel):
                    continue
                out = staging / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                if source is None:
                    continue
                out.write_bytes(source.read())
                found.add(rel)
        absent = [k for k in pkg.keep if not any(_under(f, k) for f in found)]
        if absent:
            raise MapAssetsError(f"{pkg.spec}: the package has no {', '.join(absent)}")
        staging.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(staging, target)
        except OSError:
            if not target.is_dir():  # else another process unpacked the same package first
                raise


# -- CDN address → file ----------------------------------------------------------------------
def _package(name: str, version: str) -> NpmPackage | None:
    return next((p for p in PACKAGES if p.name == name and p.version == version), None)


def _package_file(root: Path, pkg: NpmPackage, rel: str) -> Path | None:
    base = (root / pkg.folder).resolve()
    # Some packages publish only the unminified file the CDN serves minified (leaflet-measure's
    # CSS, leaflet.fullscreen's JS): the same code, so it stands in.
    for candidate in (rel, rel.replace(".min.", ".")):
        path = (base / candidate).resolve()
        # never a file outside the package (``..`` in an address)
        if base in path.parents and path.is_file():
            return path
    return None


def local_file(url: str, root: Path | None = None) -> tuple[NpmPackage, Path] | None:
    """The package and the file in ``root`` that answer ``url``, or None when no rule knows it
    (or the package is not unpacked)."""
    root = Path(root) if root is not None else assets_dir()
    parts = urlsplit(url)
    host, path = parts.hostname or "", parts.path
    name = version = rel = None
    if host == "cdn.jsdelivr.net" and (m := re.match(r"/npm/((?:@[^/]+/)?[^/@]+)@([^/]+)/(.+)",
                                                     path)):  # fmt: skip
        name, version, rel = m.groups()
    elif host == "cdn.jsdelivr.net" and (m := re.match(r"/gh/ljagis/leaflet-measure@([^/]+)/(.+)",
                                                       path)):  # fmt: skip
        name, (version, rel) = "leaflet-measure", m.groups()
    elif host == "cdnjs.cloudflare.com" and (m := re.match(r"/ajax/libs/([^/]+)/([^/]+)/(.+)",
                                                           path)):  # fmt: skip
        library, version, file = m.groups()
        if library not in _CDNJS:
            return None
        name, folder = _CDNJS[library]
        if folder is None:  # awesome-markers: by file type
            folder = _AWESOME_DIRS.get(PurePosixPath(file).suffix, "")
            file = PurePosixPath(file).name
        rel = f"{folder}/{_MINIMAP_NAMES.get(file, file)}".lstrip("/")
    elif host == "code.jquery.com" and (m := re.match(r"/jquery-([0-9.]+)\.min\.js$", path)):
        name, version, rel = "jquery", m.group(1), "dist/jquery.min.js"
    elif host == "teastman.github.io" and path.startswith("/Leaflet.pattern/"):
        name, version, rel = "leaflet.pattern", "0.1.0", "dist/" + PurePosixPath(path).name
    if name is None or version is None or rel is None:
        return None
    pkg = _package(name, version)
    if pkg is None:
        return None
    file_path = _package_file(root, pkg, rel)
    return None if file_path is None else (pkg, file_path)


def rotate_css() -> bytes:
    """The rules of folium's rotated-icon classes: ``.fa-rotate-<n>`` turns by n degrees."""
    rules = (f".fa-rotate-{n}{{transform:rotate({n}deg)}}" for n in range(361))
    return ("\n".join(rules) + "\n").encode("ascii")


def resolve(url: str, root: Path | None = None) -> Asset | None:
    """What answers a request for ``url``, or None when no rule knows the address.

    Files come from the packages in ``root`` (default :func:`assets_dir`); folium's rotation
    stylesheet is written here; Bootstrap 3's glyphicon sheet is answered empty (see
    :data:`GLYPHICONS_CSS_URL`).
    """
    root = Path(root) if root is not None else assets_dir()
    parts = urlsplit(url)
    key = (parts.hostname or "") + parts.path
    if key == ROTATE_CSS_URL:
        return Asset(rotate_css(), "text/css", label="folium's rotated-icon classes")
    if key == GLYPHICONS_CSS_URL:
        return Asset(b"", "text/css", label="Bootstrap 3 glyphicons (not used)")
    found = local_file(url, root)
    if found is None:
        return None
    pkg, path = found
    package = (root / pkg.folder).resolve()
    return Asset(
        path.read_bytes(),
        CONTENT_TYPES.get(path.suffix, "application/octet-stream"),
        path=path,
        package=package,
        label=f"{pkg.spec}/{path.relative_to(package).as_posix()}",
    )


def main() -> None:
    """``python -m lomsong.maps.assets``: fetch the packages and print their folder."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        print(fetch_assets())
    except MapAssetsError as exc:
        raise SystemExit(f"error: {exc}") from None


if __name__ == "__main__":
    main()
