"""Terrain of the demo province: rivers and the elevation model.

A coastal plain in the east rising to mountains of ~1,500 m in the west, cut by meandering
rivers (with tributaries) that flow east to the sea; the coastline runs roughly north-south;
an island (~4 km², a hill of 60-100 m, like Lý Sơn / Đảo Bé) lies 20-25 km offshore. Sea cells
are exactly 0 m, as in SRTM. The relief is spectral-synthesis fractal noise (power spectrum
~ k^-beta) with a ridged component, shaped by an envelope that rises westward, and valleys
carved along the rivers so that valley hamlets sit low between ridges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from rasterio import features
from scipy import fft as sfft
from scipy import ndimage

from lomsong.demo.frame import Frame, Params, to_world


def _smoothstep(t: np.ndarray | float) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


@dataclass
class River:
    """A bed polyline (u, v) sampled every half cell, in the downstream direction.

    ``floor`` is the bed elevation (m), ``flat`` the half-width of the flat valley floor and
    ``reach`` the distance from its edge over which the valley sides climb to the full relief
    (m). ``level`` is 1 for a main river, 2 for a tributary.
    """

    u: np.ndarray
    v: np.ndarray
    floor: np.ndarray
    flat: np.ndarray
    reach: np.ndarray
    level: int

    @property
    def main(self) -> bool:
        return self.level == 1


def _spectral_noise(
    rng: np.random.Generator,
    shape: tuple[int, int],
    res: float,
    *,
    beta: float,
    lmin: float,
    lmax: float,
) -> np.ndarray:
    """Gaussian fractal noise of power spectrum ~ k^-beta between wavelengths lmin and lmax.

    White noise is filtered in the Fourier domain (spectral synthesis); the field is computed
    on a padded grid so that its periodic wrap-around does not show, then normalised to zero
    mean and unit standard deviation.
    """
    h, w = shape
    ph, pw = (
        sfft.next_fast_len(int(h * 1.15) + 8, real=True),
        sfft.next_fast_len(int(w * 1.15) + 8, real=True),
    )
    spec = np.fft.rfft2(rng.standard_normal((ph, pw)))
    fy = np.fft.fftfreq(ph, d=res)[:, None]
    fx = np.fft.rfftfreq(pw, d=res)[None, :]
    f = np.maximum(np.hypot(fy, fx), 1.0 / lmax)
    amp = f ** (-beta / 2.0) * np.exp(-((f * lmin) ** 2))
    amp[0, 0] = 0.0
    field = np.fft.irfft2(spec * amp, s=(ph, pw))[:h, :w]
    field -= field.mean()
    field /= field.std()
    return field


def _octaves(
    rng: np.random.Generator, shape: tuple[int, int], res: float, lams: list[float]
) -> list[np.ndarray]:
    """Band-pass noise fields (unit variance) centred on each wavelength in ``lams`` (m), from
    one white-noise spectrum: log-Gaussian filters of ~one octave width."""
    h, w = shape
    ph = sfft.next_fast_len(h + 64, real=True)
    pw = sfft.next_fast_len(w + 64, real=True)
    spec = np.fft.rfft2(rng.standard_normal((ph, pw)))
    f = np.hypot(np.fft.fftfreq(ph, d=res)[:, None], np.fft.rfftfreq(pw, d=res)[None, :])
    logf = np.log(np.maximum(f, 1e-12))
    out = []
    for lam in lams:
        band = np.exp(-0.5 * ((logf + math.log(lam)) / 0.45) ** 2)
        n = np.fft.irfft2(spec * band, s=(ph, pw))[:h, :w]
        out.append(n / n.std())
    return out


def _bed_gradient(p: Params) -> float:
    """Main-stem bed gradient in the mountains (m per m): the bed climbs ~250 m from the
    foothills to the west edge."""
    return 250.0 / max(p.land_width - p.mtn_start, 1.0)


def _floor_profile(d: np.ndarray, p: Params) -> np.ndarray:
    """Main-river bed elevation (m) at distance d (m) west of the coast: 0.5 m/km on the
    plain, then :func:`_bed_gradient` in the mountains."""
    d = np.asarray(d, dtype=float)
    return (
        1.5
        + 0.0005 * np.clip(d, 0.0, p.mtn_start)
        + _bed_gradient(p) * np.clip(d - p.mtn_start, 0.0, None)
    )


def _upstream_line(
    rng: np.random.Generator,
    u0: float,
    v0: float,
    heading: float,
    length: float,
    step: float,
    *,
    curl: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A gently curving line from a junction (u0, v0) upstream: (u, v, distance from the
    junction), junction first. The heading (radians) drifts by a smooth random curl."""
    s = np.arange(0.0, length, step)
    drift = curl * np.sin(np.pi * s / length * rng.uniform(0.5, 1.5) + rng.uniform(0, np.pi))
    ang = heading + drift
    u = u0 + np.r_[0.0, np.cumsum(np.cos(ang[:-1]) * step)]
    v = v0 + np.r_[0.0, np.cumsum(np.sin(ang[:-1]) * step)]
    return u, v, s


def make_rivers(rng: np.random.Generator, frame: Frame) -> list[River]:
    """Main rivers from the west edge to the sea (level 1) and tributaries (level 2)."""
    p = frame.p
    step = p.res / 2.0
    rivers: list[River] = []
    spacing = p.height / p.n_rivers
    for i in range(p.n_rivers):
        v0 = spacing * (i + 0.5 + rng.uniform(-0.1, 0.1))
        u = np.arange(0.0, p.land_width + 3.0 * max(p.coast_amps) + 1_000.0, step)
        waves = rng.uniform([0.9, 0.35], [1.3, 0.5]) * p.mtn_full / 2.5
        phase = rng.uniform(0.0, 2.0 * np.pi, 2)
        # meanders are wide in the mountains (the valley winds between spurs), tame on the plain
        d_approx = p.land_width - u
        amp = p.meander_amp * (0.25 + 0.75 * _smoothstep((d_approx - p.mtn_start) / 4_000.0))
        wiggle = np.sin(2 * np.pi * u / waves[0] + phase[0]) + 0.45 * np.sin(
            2 * np.pi * u / waves[1] + phase[1]
        )
        v = np.clip(v0 + amp * wiggle / 1.45, step, p.height - step)
        keep = frame.d_coast(u, v) > -800.0
        u, v = u[keep], v[keep]
        d = frame.d_coast(u, v)
        mtn = _smoothstep((d - p.mtn_start + 2_000.0) / 6_000.0)
        flat = 600.0 + (180.0 - 600.0) * mtn
        reach = 4_000.0 + (2_200.0 - 4_000.0) * mtn
        rivers.append(River(u, v, _floor_profile(d, p), flat, reach, 1))

    mains = list(rivers)
    for k, main in enumerate(mains):
        d = frame.d_coast(main.u, main.v)
        lo, hi = p.mtn_start + 0.2 * (p.mtn_full - p.mtn_start), p.land_width - 4_000.0
        cand = np.flatnonzero((d > lo) & (d < hi))
        for _ in range(rng.integers(p.n_tribs[0], p.n_tribs[1] + 1)):
            if cand.size == 0:
                break
            j = int(rng.choice(cand))
            side = 1.0 if rng.random() < 0.5 else -1.0
            heading = math.pi - side * math.radians(rng.uniform(35.0, 60.0))  # west-ish
            tu, tv, s = _upstream_line(
                rng, main.u[j], main.v[j], heading, rng.uniform(*p.trib_length), step, curl=0.35
            )
            ok = (tu > step) & (tv > step) & (tv < p.height - step)
            # stop short of the neighbouring main rivers (keep a ridge between the valleys)
            for m, other in enumerate(mains):
                if m != k:
                    pts = np.c_[other.u[::10], other.v[::10]]
                    gap = np.min(np.hypot(tu[:, None] - pts[:, 0], tv[:, None] - pts[:, 1]), 1)
                    ok &= gap > 2_500.0
            n = len(ok) if ok.all() else int(np.argmin(ok))
            if n < 20:
                continue
            cand = cand[np.abs(cand - j) > 2_000.0 / step]  # junctions apart
            tu, tv, s = tu[:n][::-1], tv[:n][::-1], s[:n][::-1]
            floor = main.floor[j] + 2.5 * _bed_gradient(p) * s
            rivers.append(River(tu, tv, floor, np.full(n, 110.0), np.full(n, 1_800.0), 2))
    return rivers


def _bed_fields(
    frame: Frame, beds: list[River]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distance (m) of every cell to the nearest bed, and that bed's floor, flat and reach."""
    shape = (frame.ny, frame.nx)
    floor = np.full(shape, np.inf)
    flat = np.zeros(shape)
    reach = np.zeros(shape)
    for r in beds:
        rows, cols = frame.rowcol(r.u, r.v)
        np.minimum.at(floor, (rows, cols), r.floor)
        np.maximum.at(flat, (rows, cols), r.flat)
        np.maximum.at(reach, (rows, cols), r.reach)
    dist, (ir, ic) = ndimage.distance_transform_edt(
        ~np.isfinite(floor), sampling=frame.p.res, return_indices=True
    )
    return dist, floor[ir, ic], flat[ir, ic], reach[ir, ic]


def _carve(
    h: np.ndarray, dist: np.ndarray, floor: np.ndarray, flat: np.ndarray, reach: np.ndarray
) -> np.ndarray:
    """Cut valleys: flat floors within ``flat`` of the bed, straight sides up to the full
    relief ``reach`` farther out (the sides meet in sharp ridges between valleys)."""
    t = np.clip((dist - flat) / reach, 0.0, 1.0) ** 0.9
    return np.where(h > floor, floor + (h - floor) * t, h)


def make_terrain(
    rng: np.random.Generator, frame: Frame, rivers: list[River]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Elevation (float32, m, sea = 0) and the fields used to place people (distance to the
    rivers and tributaries, slope, distance from the coast)."""
    p = frame.p
    shape = (frame.ny, frame.nx)
    u, v = frame.cell_uv()
    d = frame.coast(v)[:, None] - u[None, :]  # distance west of the coast (m)

    # land: cells whose centre lies inside the (smooth) mainland / island polygons
    land, isl = (
        features.rasterize(
            [(to_world(g, frame), 1)], out_shape=shape, transform=frame.transform, dtype="uint8"
        ).astype(bool)
        for g in (frame.mainland(), frame.island.polygon())
    )

    # relief: a smooth fBm (beta 3.8: massifs and spurs) plus "folded" octaves: sum(1 - |n_i|)
    # creases into sharp ridges (4 km down to 250 m) and sum(|n_i|) into gullies, as in
    # dissected mountains; kept positive by a soft floor, times an envelope rising westward
    broad = _spectral_noise(rng, shape, p.res, beta=3.8, lmin=2 * p.res, lmax=12_000.0)
    lams = [lam for lam in (4_000.0, 2_000.0, 1_000.0, 500.0, 250.0) if lam >= 2.5 * p.res]
    ridges = _octaves(rng, shape, p.res, lams)
    gullies = _octaves(rng, shape, p.res, lams[1:])
    fold = sum((1.0 - np.abs(n)) * 2.0**-i for i, n in enumerate(ridges))
    fold += sum(0.7 * np.abs(n) * 2.0 ** -(i + 1) for i, n in enumerate(gullies))
    fold = (fold - fold.mean()) / fold.std()
    m = 0.72 + 0.16 * broad + 0.24 * fold
    shape_f = 0.25 + np.logaddexp(0.0, 10.0 * (m - 0.25)) / 10.0  # softplus: stays >= 0.25
    env = _smoothstep((d - p.mtn_start) / (p.mtn_full - p.mtn_start))
    env = 0.08 * _smoothstep((d - p.mtn_start + 3_000.0) / 5_000.0) + 0.92 * env**1.2
    relief = env * shape_f

    # the gentle coastal plain, with a few isolated hills (like Núi Thiên Ấn)
    base = 3.0 + 0.002 * np.clip(d, 0.0, None) + 1.5 * broad
    uu, vv = np.meshgrid(u, v)
    for _ in range(max(2, int(p.height / 6_000.0))):
        hv = rng.uniform(0.05, 0.95) * p.height
        hu = float(frame.coast(hv)) - rng.uniform(0.2, 0.8) * p.mtn_start
        sig = rng.uniform(400.0, 900.0) * (p.res / 30.0) ** 0.5
        base += rng.uniform(50.0, 160.0) * np.exp(
            -((uu - hu) ** 2 + (vv - hv) ** 2) / (2.0 * sig**2)
        )

    # scale the relief so that the highest summit is near the drawn maximum before carving
    hmax = rng.uniform(*p.max_elev)
    k = int(np.argmax(np.where(land, relief, -np.inf)))
    elev = base + relief * ((hmax - base.flat[k]) / relief.flat[k])

    # valleys: the rivers, then the tributaries, each cut into the previous surface
    f1 = _bed_fields(frame, [r for r in rivers if r.level == 1])
    elev = _carve(elev, *f1)
    tribs = [r for r in rivers if r.level == 2]
    f2 = _bed_fields(frame, tribs) if tribs else f1
    elev = _carve(elev, *f2)
    river_dist = np.minimum(f1[0], f2[0])
    # carving lowers a few summits: bring the highest back to hmax (relief above the plain)
    k = int(np.argmax(np.where(land, elev, -np.inf)))
    gain = float(np.clip((hmax - base.flat[k]) / (elev.flat[k] - base.flat[k]), 1.0, 1.3))
    elev = base + (elev - base) * gain

    elev = np.where(land, np.maximum(elev, 1.0), 0.0)
    elev = np.where(isl, np.maximum(frame.island.elevation(uu, vv), 1.0), elev)
    elev = elev.astype(np.float32)

    gy, gx = np.gradient(elev.astype(np.float64), p.res)
    fields = {"d": d, "river_dist": river_dist, "slope": np.hypot(gx, gy), "land": land}
    return elev, fields
