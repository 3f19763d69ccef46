"""Settlements of the demo province: villages and household points.

* **villages**: Voronoi cells of village centres clipped to the land -- towns ("Tổ dân phố"),
  plain and coastal hamlets ("Thôn", "Xóm"), foothill and mountain-valley hamlets ("Làng",
  "Nước" …) and the island's hamlets (commune "An Bình", hamlet "Đảo Bé"), grouped into
  communes and districts, with household counts (dense plain, sparse mountains).
* **households**: weighted points inside their village, clustered near the village centre,
  along valleys and the coastal highway; weights add up to the village's households exactly.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiPoint, box

from lomsong.demo.frame import DEMO_CRS, Frame, Params, sample_at, to_world
from lomsong.demo.terrain import River


# ---------------------------------------------------------------------------------------------
# villages
# ---------------------------------------------------------------------------------------------
def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# syllables of hamlet names: Sino-Vietnamese on the plain, Hrê / Cor / Ca Dong in the mountains
_THON = _words(
    "An Phú Hòa Bình Thạnh Tân Long Mỹ Xuân Đông Tây Trung Phước Lộc Thọ Khánh Lợi Hưng Quang "
    "Thuận Vĩnh Hiệp Đức Nghĩa Hải Thạch Minh Thành Lâm Sơn Châu Điền Phong Hội Tường Văn Kỳ "
    "Thượng Hạ Nhơn Lạc Cát Thủy Định Trà Gia Ngọc Khương Yên Triều Liên"
)
_XOM = _words("Bãi Lưới Cát Chài Ghe Gành Lạch Cồn Dừa Mới Rớ Thuyền Đá Biển Vạn Giữa")
_LANG_PREFIX = ("Làng", "Nước", "Tà", "Gò", "Mang", "Đak", "Ba")
_LANG = _words(
    "Mâm Lăng Rêu Rá Mát Xuyên Nhà Ranh Krá Pơ Loa Bong Ui Giá Dinh Trê Vương Ren Xiêm Kon Manh "
    "Lế Lang Rinh Bói Trui Tang Nỏ Lay Bua Xoong Gia Hoa"
)
_COMMUNE_PREFIX = {
    "Trà Bồng": ("Trà", "Bùi Lâm Hiệp Tân Sơn Thủy Giang Bình Phú Xinh Tây Thanh Phong"),
    "Sơn Hà": ("Sơn", "Kỳ Ba Thượng Bao Cao Linh Giang Nham Trung Hải Thủy Thành"),
    "Ba Tơ": ("Ba", "Bích Điền Vì Tô Xa Lế Nam Trang Khâm Thành Dinh Giang Liên Cung Vinh Động"),
    "Bình Sơn": ("Bình", "Châu Hải Thạnh Dương Trị Đông Phước Hiệp Long Minh Chánh Nguyên Trung"),
    "Sơn Tịnh": ("Tịnh", "Hòa Kỳ Khê Long Châu Thiện An Ấn Bình Đông Hiệp Thọ Phong Hà Giang"),
    "Tư Nghĩa": ("Nghĩa", "Kỳ Thuận Điền Hiệp Phương Hòa Sơn Thắng Trung Thương Hà Mỹ Lâm Phú"),
    "Mộ Đức": ("Đức", "Lợi Thắng Chánh Minh Phong Hiệp Nhuận Tân Hòa Phú Lân Thạnh"),
    # the province variant's extra districts
    "Nghĩa Hành": ("Hành", "Thuận Dũng Minh Đức Thịnh Phước Thiện Tín Trung Nhân"),
    "Đức Phổ": ("Phổ", "An Phong Thuận Văn Quang Ninh Hòa Cường Khánh Nhơn Vinh Thạnh"),
    "Sơn Tây": ("Sơn", "Dung Mùa Bua Liên Lập Long Màu Tinh Tân"),
    "Minh Long": ("Long", "Hiệp Mai Sơn Môn Thanh"),
}
_TOWN = {
    "Bình Sơn": "Thị trấn Châu Ổ",
    "Sơn Tịnh": "Thị trấn Sơn Tịnh",
    "Tư Nghĩa": "Thị trấn La Hà",
    "Mộ Đức": "Thị trấn Mộ Đức",
    "Nghĩa Hành": "Thị trấn Chợ Chùa",
    "Đức Phổ": "Thị trấn Đức Phổ",
}
_ISLAND_DISTRICT, _ISLAND_COMMUNE = "Lý Sơn", "An Bình"
_ISLAND_NAMES = ("Đảo Bé", "Thôn Tây", "Thôn Đông")


def _dart(
    cand: np.ndarray,
    n: int,
    spacing: float,
    existing: np.ndarray,
) -> np.ndarray:
    """Accept candidates (in the given order) at least ``spacing`` from all accepted points and
    from ``existing``, until ``n`` are accepted: a Poisson-disc (dart-throwing) sample."""
    taken = [tuple(pt) for pt in existing]
    out: list[tuple[float, float]] = []
    arr = np.asarray(taken, dtype=float).reshape(-1, 2)
    for pt in cand:
        if len(out) >= n:
            break
        if arr.size and np.min(np.hypot(arr[:, 0] - pt[0], arr[:, 1] - pt[1])) < spacing:
            continue
        out.append((float(pt[0]), float(pt[1])))
        arr = np.vstack([arr, pt[None, :]])
    return np.asarray(out, dtype=float).reshape(-1, 2)


def village_centres(
    rng: np.random.Generator,
    frame: Frame,
    elev: np.ndarray,
    fields: dict[str, np.ndarray],
    rivers: list[River],
) -> pd.DataFrame:
    """Centres (u, v) and kind of every village, before names and households."""
    p = frame.p
    land = fields["land"]
    rows: list[tuple[float, float, str]] = []

    def on_land(pts: np.ndarray) -> np.ndarray:
        return sample_at(frame, land, pts[:, 0], pts[:, 1]) & (
            sample_at(frame, fields["d"], pts[:, 0], pts[:, 1]) > 2 * p.res
        )

    # towns: where the coastal highway crosses a main river (else mid-band)
    band = p.height / len(p.plain_districts)
    towns = []
    mains = [r for r in rivers if r.main]
    for i in range(len(p.plain_districts)):
        top, bot = p.height - i * band, p.height - (i + 1) * band
        vc = (top + bot) / 2.0
        for r in mains:
            d = frame.d_coast(r.u, r.v)
            j = int(np.argmin(np.abs(d - p.highway_d)))
            if bot + 0.2 * band < r.v[j] < top - 0.2 * band:
                vc = r.v[j] + rng.choice([-1.0, 1.0]) * 0.6 * p.plain_spacing
                break
        towns.append((float(frame.coast(vc)) - p.highway_d, vc))
    town_pts = np.empty((0, 2))
    for tu, tv in towns:
        ang = rng.uniform(0, 2 * np.pi, 200)
        rad = np.sqrt(rng.uniform(0, 1, 200)) * 0.55 * p.plain_spacing * math.sqrt(p.town_villages)
        cand = np.c_[tu + rad * np.cos(ang), tv + rad * np.sin(ang)]
        cand = np.r_[[[tu, tv]], cand[on_land(cand)]]
        pts = _dart(cand, p.town_villages, 0.45 * p.plain_spacing, town_pts)
        town_pts = np.r_[town_pts, pts]
        rows += [(a, b, "town") for a, b in pts]

    # plain and coastal hamlets: dart throwing over the plain, off the hills and river beds
    m = 40 * p.n_plain
    cand = np.c_[rng.uniform(0, frame.width, m), rng.uniform(0, p.height, m)]
    d = frame.d_coast(cand[:, 0], cand[:, 1])
    ok = on_land(cand) & (d > 250.0) & (d < p.mtn_start + 1_000.0)
    ok &= sample_at(frame, elev, cand[:, 0], cand[:, 1]) < 60.0
    ok &= sample_at(frame, fields["river_dist"], cand[:, 0], cand[:, 1]) > 150.0
    pts = _dart(cand[ok], p.n_plain, p.plain_spacing, town_pts)
    dd = frame.d_coast(pts[:, 0], pts[:, 1])
    rows += [
        (a, b, "coastal" if di < 1_500.0 else "plain") for (a, b), di in zip(pts, dd, strict=True)
    ]
    taken = np.r_[town_pts, pts]

    # foothill hamlets: low ground or near a river in the foothill band
    m = 60 * p.n_foothill
    cand = np.c_[rng.uniform(0, frame.width, m), rng.uniform(0, p.height, m)]
    d = frame.d_coast(cand[:, 0], cand[:, 1])
    ok = on_land(cand) & (d > p.mtn_start + 0.5 * p.plain_spacing)
    ok &= d < p.mtn_start + p.foothill_width
    z = sample_at(frame, elev, cand[:, 0], cand[:, 1])
    rd = sample_at(frame, fields["river_dist"], cand[:, 0], cand[:, 1])
    ok &= (rd < 700.0) & (rd > 60.0) | (z < 120.0)
    pts = _dart(cand[ok], p.n_foothill, p.foothill_spacing, taken)
    rows += [(a, b, "foothill") for a, b in pts]
    taken = np.r_[taken, pts]

    # mountain-valley hamlets: on the valley floors, spaced along every river
    cand_list = []
    for r in rivers:
        d = frame.d_coast(r.u, r.v)
        idx = np.flatnonzero(d > p.mtn_start + p.foothill_width)
        if idx.size == 0:
            continue
        idx = idx[:: max(1, int(0.25 * p.mtn_spacing / (p.res / 2)))]
        jitter = rng.normal(0.0, 60.0, (idx.size, 2))
        cand_list.append(np.c_[r.u[idx], r.v[idx]] + jitter)
    cand = np.concatenate(cand_list)
    cand = cand[rng.permutation(len(cand))]
    cand = cand[on_land(cand)]
    pts = _dart(cand, 10_000, p.mtn_spacing, taken)
    rows += [(a, b, "mountain") for a, b in pts]

    # the island's hamlets: "Đảo Bé" first
    isl = frame.island
    for i in range(p.n_island_villages):
        ang = math.pi + i * 2.0 * math.pi / max(p.n_island_villages, 1) + rng.uniform(-0.3, 0.3)
        off = 0.0 if p.n_island_villages == 1 else 0.45 * isl.r0
        rows.append((isl.cu + off * math.cos(ang), isl.cv + off * math.sin(ang), "island"))

    return pd.DataFrame(rows, columns=["u", "v", "kind"])


def _kmeans(rng: np.random.Generator, pts: np.ndarray, k: int) -> np.ndarray:
    """Labels of a few Lloyd iterations from random seeds (communes as compact groups)."""
    k = max(1, min(k, len(pts)))
    centres = pts[rng.choice(len(pts), k, replace=False)]
    labels = np.zeros(len(pts), dtype=int)
    for _ in range(12):
        dist = np.hypot(
            pts[:, None, 0] - centres[None, :, 0], pts[:, None, 1] - centres[None, :, 1]
        )
        labels = np.argmin(dist, axis=1)
        for j in range(k):
            if np.any(labels == j):
                centres[j] = pts[labels == j].mean(axis=0)
    # renumber north to south so that names read in order
    order = np.argsort(-np.array([pts[labels == j, 1].mean() if np.any(labels == j) else 0
                                  for j in range(k)]))  # fmt: skip
    rank = np.empty(k, dtype=int)
    rank[order] = np.arange(k)
    return rank[labels]


def admin(rng: np.random.Generator, frame: Frame, vil: pd.DataFrame) -> pd.DataFrame:
    """Districts (bands north to south, plain vs mountains), communes and hamlet names."""
    p = frame.p
    vil = vil.copy()
    d = frame.d_coast(vil["u"].to_numpy(), vil["v"].to_numpy())
    district = np.empty(len(vil), dtype=object)
    mtn = np.asarray(d > p.mtn_start + 0.5 * p.foothill_width)
    for names, sel in ((p.plain_districts, ~mtn), (p.mountain_districts, mtn)):
        band = p.height / len(names)
        i = np.clip(((p.height - vil["v"].to_numpy()) // band).astype(int), 0, len(names) - 1)
        district[sel] = np.asarray(names, dtype=object)[i[sel]]
    district[vil["kind"].to_numpy() == "island"] = _ISLAND_DISTRICT
    # a town belongs to the district it serves
    town = vil["kind"].to_numpy() == "town"
    for t_i, name in enumerate(p.plain_districts):
        sel = np.flatnonzero(town)[t_i * p.town_villages : (t_i + 1) * p.town_villages]
        district[sel] = name
    vil["district"] = district

    commune = np.empty(len(vil), dtype=object)
    for dist_name in pd.unique(vil["district"]):
        sel = (vil["district"] == dist_name).to_numpy()
        if dist_name == _ISLAND_DISTRICT:
            commune[sel] = _ISLAND_COMMUNE
            continue
        town_sel = sel & town
        commune[town_sel] = _TOWN.get(dist_name, f"Thị trấn {dist_name}")
        rest = sel & ~town
        if not rest.any():
            continue
        pts = vil.loc[rest, ["u", "v"]].to_numpy()
        k = math.ceil(rest.sum() / p.villages_per_commune)
        labels = _kmeans(rng, pts, k)
        prefix, seconds = _COMMUNE_PREFIX[dist_name]
        picks = rng.permutation(seconds.split())
        names = [f"{prefix} {picks[j % len(picks)]}" for j in range(labels.max() + 1)]
        commune[rest] = np.asarray(names, dtype=object)[labels]
    vil["commune"] = commune

    # hamlet names, unique within the commune
    names = np.empty(len(vil), dtype=object)
    used: dict[str, set[str]] = {}
    tdp: dict[str, int] = {}
    island_i = 0
    for i, row in enumerate(vil.itertuples()):
        taken = used.setdefault(row.commune, set())
        name = ""
        if row.kind == "island":
            name = _ISLAND_NAMES[island_i % len(_ISLAND_NAMES)]
            island_i += 1
        elif row.kind == "town":
            tdp[row.commune] = tdp.get(row.commune, 0) + 1
            name = f"Tổ dân phố {tdp[row.commune]}"
        for _ in range(200):
            if name and name not in taken:
                break
            if row.kind == "coastal" and rng.random() < 0.7:
                name = f"Xóm {rng.choice(_XOM)}"
            elif row.kind == "mountain" or (row.kind == "foothill" and rng.random() < 0.5):
                name = f"{rng.choice(_LANG_PREFIX)} {rng.choice(_LANG)}"
            else:
                a, b = rng.choice(_THON, 2, replace=False)
                name = f"Thôn {a} {b}"
        taken.add(name)
        names[i] = name
    vil["name"] = names
    return vil


def households_per_village(rng: np.random.Generator, p: Params, kind: np.ndarray) -> np.ndarray:
    """Households (int): dense towns and plain, 80-300 in the foothills, 20-150 in the
    mountains; the plain is scaled so that the total matches a drawn provincial total."""
    n = len(kind)
    hh = np.empty(n)
    draws = {
        "town": lambda m: rng.uniform(350, 800, m),
        "coastal": lambda m: rng.lognormal(math.log(450), 0.35, m),
        "plain": lambda m: rng.lognormal(math.log(380), 0.35, m),
        "foothill": lambda m: rng.uniform(80, 300, m),
        "mountain": lambda m: rng.uniform(20, 150, m),
        "island": lambda m: rng.uniform(90, 220, m),
    }
    for k, draw in draws.items():
        sel = kind == k
        hh[sel] = draw(int(sel.sum()))
    dense = np.isin(kind, ["town", "coastal", "plain"])
    target = rng.uniform(*p.households_total)
    hh[dense] *= (target - hh[~dense].sum()) / hh[dense].sum()
    hh[dense] = np.clip(hh[dense], 100, 1_500)
    return np.maximum(np.round(hh), 20).astype(np.int64)


def village_polygons(frame: Frame, vil: pd.DataFrame) -> list[shapely.Geometry]:
    """Voronoi cells of the centres, clipped to the mainland (or the island for its hamlets)."""
    geoms: list[shapely.Geometry | None] = [None] * len(vil)
    extent = box(-1_000.0, -1_000.0, frame.width + 1_000.0, frame.p.height + 1_000.0)
    for kinds, land in (
        (vil["kind"] != "island", frame.mainland()),
        (vil["kind"] == "island", frame.island.polygon()),
    ):
        idx = np.flatnonzero(kinds.to_numpy())
        pts = vil.loc[kinds, ["u", "v"]].to_numpy()
        if len(idx) == 1:
            cells = [land]
        else:
            vor = shapely.voronoi_polygons(MultiPoint(pts), extend_to=extent, ordered=True)
            cells = [shapely.intersection(c, land) for c in shapely.get_parts(vor)]
        for i, c in zip(idx, cells, strict=True):
            geoms[i] = shapely.make_valid(c) if not c.is_valid else c
    return [to_world(g, frame) for g in geoms]


# ---------------------------------------------------------------------------------------------
# households
# ---------------------------------------------------------------------------------------------
def household_points(
    rng: np.random.Generator,
    frame: Frame,
    vil: gpd.GeoDataFrame,
    elev: np.ndarray,
    fields: dict[str, np.ndarray],
) -> gpd.GeoDataFrame:
    """Weighted household points inside each village (one point per 5-20 households).

    Candidates are drawn around the village centre (and uniformly over the village) and
    chosen with a suitability that favours gentle slopes, valley floors and the highway.
    """
    p = frame.p
    out_x, out_y, out_w, out_id = [], [], [], []
    for row in vil.itertuples():
        poly = row.geometry
        hh = int(row.households)
        n = int(np.clip(round(hh / rng.uniform(5.0, 20.0)), 1, hh))
        cu, cv = row.u + frame.x0, row.v + frame.y0
        sigma = {"mountain": 450.0, "foothill": 500.0, "island": 350.0}.get(
            row.kind, 0.35 * p.plain_spacing
        )
        m = max(12 * n, 300)
        gx = cu + rng.normal(0.0, sigma, m)
        gy = cv + rng.normal(0.0, sigma, m)
        x0, y0, x1, y1 = poly.bounds
        ux = rng.uniform(x0, x1, m // 3)
        uy = rng.uniform(y0, y1, m // 3)
        x, y = np.r_[gx, ux], np.r_[gy, uy]
        ok = shapely.contains_xy(poly, x, y)
        lu, lv = x - frame.x0, y - frame.y0
        ok &= sample_at(frame, elev, lu, lv) > 0.0
        x, y, lu, lv = x[ok], y[ok], lu[ok], lv[ok]
        if len(x) == 0:
            pt = poly.representative_point()
            x, y = np.array([pt.x]), np.array([pt.y])
            lu, lv = x - frame.x0, y - frame.y0
        slope = sample_at(frame, fields["slope"], lu, lv)
        rdist = sample_at(frame, fields["river_dist"], lu, lv)
        road = np.abs(frame.d_coast(lu, lv) - p.highway_d)
        suit = np.exp(-slope / 0.12)
        if row.kind in ("mountain", "foothill"):
            suit *= np.exp(-rdist / 300.0) * (rdist > 40.0) + 1e-6
        else:
            suit *= 1.0 + 2.0 * np.exp(-road / 400.0)
            suit *= 1.0 - 0.8 * np.exp(-rdist / 80.0)  # not in the river bed
        suit = suit + 1e-12
        n = min(n, len(x))
        pick = rng.choice(len(x), n, replace=False, p=suit / suit.sum())
        # integer weights >= 1 that add up to the village's households exactly
        w = 1 + rng.multinomial(hh - n, np.full(n, 1.0 / n))
        out_x.append(x[pick])
        out_y.append(y[pick])
        out_w.append(w)
        out_id += [row.village_id] * n
    return gpd.GeoDataFrame(
        {"households": np.concatenate(out_w).astype(np.int64), "village_id": out_id},
        geometry=gpd.points_from_xy(np.concatenate(out_x), np.concatenate(out_y)),
        crs=DEMO_CRS,
    )
