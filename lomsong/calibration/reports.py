"""Reported hamlets: a commune office's list of hamlets and their signal, matched to villages.

A commune office writes its hamlets as it says them — ``"lang mam"``, ``"Tây"`` for
``"Thôn Tây"``, ``"Nước Lăg"`` — and its status in Vietnamese words. :func:`read_reported`
reads such a table, :func:`normalise_name` turns a name into a key that survives missing
diacritics, case, punctuation and the administrative prefix, and :func:`match_reported` finds
the village of each reported row (exact key, else a unique close key), never dropping a row.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Mapping
from os import PathLike

import numpy as np
import pandas as pd

from lomsong.errors import InputError, Problem
from lomsong.layers._io import read_table, source_label

__all__ = [
    "REPORTED_COLUMNS",
    "STATUS_WORDS",
    "FUZZY_MIN_RATIO",
    "read_reported",
    "normalise_name",
    "match_reported",
]

#: Columns of :func:`read_reported`'s result.
REPORTED_COLUMNS = ["row", "name", "status", "commune", "district"]

#: Status words accepted in a report, as keys of :func:`_fold` (no diacritics, lower case,
#: punctuation as spaces) → the standard status. A commune office writes Vietnamese; the
#: English words are the standard statuses themselves.
STATUS_WORDS: dict[str, str] = {
    "no signal": "no_signal",
    "lom song": "no_signal",
    "lom": "no_signal",
    "khong co song": "no_signal",
    "khong song": "no_signal",
    "mat song": "no_signal",
    "weak": "weak",
    "song yeu": "weak",
    "yeu": "weak",
    "ok": "ok",
    "co song": "ok",
    "tot": "ok",
    "song tot": "ok",
}

#: Smallest :class:`difflib.SequenceMatcher` ratio of two normalised names taken as the same
#: hamlet. 0.85 accepts one dropped or wrong letter in a name of 7+ letters ("nuoc lag" vs
#: "nuoc lang": 16/17 = 0.94) but not a different number or word ("thon 1" vs "thon 2" never
#: reaches it once the prefix is gone: "1" vs "2" is 0).
FUZZY_MIN_RATIO = 0.85

# Leading words that say what kind of settlement a name is, not which one (folded). Longer
# prefixes first so "to dan pho 2" loses all three words, not just "to".
_VILLAGE_PREFIXES = (
    "to dan pho", "khu dan cu", "khu pho", "tdp", "thon", "lang", "xom", "ban", "buon", "ap",
    "khom", "khu", "to",
)  # fmt: skip
# The same for communes ("Xã Ba Bích", "Thị trấn Ba Tơ").
_COMMUNE_PREFIXES = ("thi tran", "phuong", "xa", "tt")
_NOT_ALNUM = re.compile(r"[\W_]+")


def _fold(text: object) -> str:
    """Lower case, no diacritics (đ → d), punctuation and runs of spaces as one space."""
    if text is None or (isinstance(text, float) and text != text):
        return ""
    # NFKD splits "ấ" into "a" + marks, but "đ" is a letter of its own: map it first
    s = str(text).replace("đ", "d").replace("Đ", "D")
    s = "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))
    return _NOT_ALNUM.sub(" ", s.lower()).strip()


def _drop_prefix(key: str, prefixes: tuple[str, ...]) -> str:
    for prefix in prefixes:
        if key == prefix:  # a name that is only a prefix ("Thôn", "Tổ dân phố") stays whole
            return key
        if key.startswith(prefix + " "):
            return key[len(prefix) + 1 :]
    return key


def normalise_name(text: object) -> str:
    """The matching key of a hamlet name, as a commune office might write it.

    Diacritics are removed (NFKD, and ``đ``/``Đ`` → ``d``, which NFKD does not decompose),
    the text is lower-cased, punctuation and runs of spaces become one space, and one leading
    administrative prefix (``thôn``, ``làng``, ``xóm``, ``bản``, ``buôn``, ``ấp``,
    ``tổ dân phố``/``tdp``, ``khu phố``, …, with or without diacritics) is dropped — unless
    nothing would be left (``"Thôn"`` stays ``"thon"``).

    Parameters
    ----------
    text
        A name; None or NaN give ``""``.

    Returns
    -------
    str
        The key, e.g. ``"Làng Mâm"`` → ``"mam"``, ``"thon Dao Be"`` → ``"dao be"``.
    """
    return _drop_prefix(_fold(text), _VILLAGE_PREFIXES)


def _normalise_commune(text: object) -> str:
    return _drop_prefix(_fold(text), _COMMUNE_PREFIXES)


def _accepted_words() -> str:
    by_status: dict[str, list[str]] = defaultdict(list)
    for word, status in STATUS_WORDS.items():
        by_status[status].append(f'"{word}"')
    return "; ".join(f"{status}: {', '.join(words)}" for status, words in by_status.items())


def _cells(values: pd.Series) -> pd.Series:
    """Cells as stripped strings, ``""`` where empty."""
    return values.map(lambda v: "" if pd.isna(v) else str(v)).str.strip()


def read_reported(
    path_or_frame: str | PathLike[str] | pd.DataFrame,
    *,
    columns: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Read a commune office's list of reported hamlets and their signal status.

    Parameters
    ----------
    path_or_frame
        A table (CSV and the other text formats, or XLSX, read by
        :func:`lomsong.layers._io.read_table`) or a DataFrame, one row per reported hamlet,
        with columns ``name`` and ``status`` and optionally ``commune`` and ``district``
        (header case ignored).
    columns
        Mapping standard name → column of the file, for other column names
        (``{"name": "ten_thon", "status": "tinh_trang"}``).

    Returns
    -------
    pandas.DataFrame
        Columns ``row`` (1-based data row), ``name`` (as written, stripped), ``status``
        (``"no_signal"``, ``"weak"`` or ``"ok"``), ``commune`` and ``district`` (``""`` when
        absent).

    Raises
    ------
    InputError
        Every problem at once: missing columns (named), rows with an empty name, rows with an
        empty or unknown status (the accepted words are listed); or a table without rows.

    Notes
    -----
    Status words are compared without diacritics, case or punctuation: ``"Lõm sóng"``,
    ``"lom song"``, ``"không có sóng"``, ``"mất sóng"`` are ``no_signal``; ``"sóng yếu"``,
    ``"yếu"`` are ``weak``; ``"có sóng"``, ``"tốt"``, ``"OK"`` are ``ok``
    (:data:`STATUS_WORDS`).
    """
    if isinstance(path_or_frame, pd.DataFrame):
        raw, label = path_or_frame, source_label(path_or_frame)
    else:
        raw, label = read_table(path_or_frame), str(path_or_frame)
    mapping = dict(columns or {})
    problems: list[Problem] = []
    unknown = sorted(set(mapping) - set(REPORTED_COLUMNS[1:]))
    if unknown:
        problems.append(
            Problem(None, f"unknown standard column(s) in the mapping: {', '.join(unknown)}")
        )
    lower = {str(c).strip().lower(): c for c in raw.columns}
    found: dict[str, object] = {}
    for std in REPORTED_COLUMNS[1:]:
        if std in mapping:
            if mapping[std] in raw.columns:
                found[std] = mapping[std]
            else:
                problems.append(
                    Problem(None, f"column {mapping[std]!r} (mapped to {std}) is not in the file")
                )
        elif std in lower:
            found[std] = lower[std]
        elif std in ("name", "status"):
            problems.append(Problem(None, f"missing column {std!r}"))
    if problems:
        have = ", ".join(map(str, raw.columns)) or "none"
        problems[-1] = Problem(None, f"{problems[-1].reason} (the file's columns: {have})")
        raise InputError(label, problems=problems)
    if raw.empty:
        raise InputError(label, "has no rows")

    names = _cells(raw[found["name"]])
    written = _cells(raw[found["status"]])
    status = written.map(lambda s: STATUS_WORDS.get(_fold(s)))
    for i in range(len(raw)):
        if not names.iloc[i]:
            problems.append(Problem(i + 1, "name is empty"))
        if pd.isna(status.iloc[i]):
            what = (
                "status is empty"
                if not written.iloc[i]
                else f"status {written.iloc[i]!r} is not known"
            )
            problems.append(Problem(i + 1, f"{what}; accepted words: {_accepted_words()}"))
    if problems:
        raise InputError(label, problems=problems)
    out = pd.DataFrame(
        {
            "row": range(1, len(raw) + 1),
            "name": names.to_numpy(),
            "status": status.to_numpy(dtype=object),
        }
    )
    for std in ("commune", "district"):
        out[std] = _cells(raw[found[std]]).to_numpy() if std in found else ""
    return out


def match_reported(reported: pd.DataFrame, villages: pd.DataFrame) -> pd.DataFrame:
    """Find the village of each reported hamlet by its normalised name.

    For each row: the villages whose :func:`normalise_name` equals the row's — among the
    villages of the row's commune when the row names a commune that is one of the villages'
    communes (compared without ``xã``/``phường``/``thị trấn`` and diacritics); one village is
    an ``"exact"`` match, several are ``"ambiguous"``. Without an exact key, the village key(s)
    with the highest :class:`difflib.SequenceMatcher` ratio, at least :data:`FUZZY_MIN_RATIO`,
    in the same commune restriction: one village is a ``"fuzzy"`` match, a tie between several
    is ``"ambiguous"``. Otherwise ``"none"``.

    Parameters
    ----------
    reported
        Rows with ``name`` and optionally ``commune`` (e.g. from :func:`read_reported`).
    villages
        Villages with ``village_id``, ``name`` and optionally ``commune`` (a GeoDataFrame of
        :func:`lomsong.layers.villages.read_villages` or any DataFrame).

    Returns
    -------
    pandas.DataFrame
        ``reported`` with every row kept, in order, plus ``village_id`` (None unless exact or
        fuzzy), ``matched_name`` (the village's name, None likewise), ``match`` (``"exact"``,
        ``"fuzzy"``, ``"ambiguous"`` or ``"none"``) and ``candidates`` (the tied village ids,
        ``", "``-joined, for ambiguous rows; ``""`` otherwise), so a report can print the
        rows that did not resolve.

    Raises
    ------
    InputError
        ``reported`` has no ``name`` column or ``villages`` no ``village_id``/``name``.
    """
    for frame, need, what in (
        (reported, ("name",), "reported hamlets"),
        (villages, ("village_id", "name"), "villages"),
    ):
        missing = [c for c in need if c not in frame.columns]
        if missing:
            raise InputError(f"<{what}>", f"missing column(s): {', '.join(missing)}")

    ids = villages["village_id"].astype(str).tolist()
    v_names = villages["name"].tolist()
    v_keys = [normalise_name(n) for n in v_names]
    v_communes = (
        [_normalise_commune(c) for c in villages["commune"]]
        if "commune" in villages.columns
        else [""] * len(villages)
    )
    # key → villages, over all communes and within each commune (positions into `villages`)
    by_key: dict[str, list[int]] = defaultdict(list)
    by_commune_key: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, (key, commune) in enumerate(zip(v_keys, v_communes, strict=True)):
        if key:
            by_key[key].append(i)
            by_commune_key[commune][key].append(i)
    # The ratio 2M/(a + b) of two keys (M matched characters) is at most 2C/(a + b), C the
    # characters they share counted with multiplicity (difflib's quick_ratio). That bound is
    # computed for every village key at once from a key × character count matrix, and only
    # the few keys that pass it get the real, slow ratio: 10⁴ rows × 10³ villages stay fast.
    key_list = list(by_key)
    key_pos = {k: i for i, k in enumerate(key_list)}
    alphabet = {ch: j for j, ch in enumerate(sorted({ch for k in key_list for ch in k}))}
    counts = np.zeros((len(key_list), max(len(alphabet), 1)), dtype=np.int32)
    for i, k in enumerate(key_list):
        for ch in k:
            counts[i, alphabet[ch]] += 1
    lengths = np.array([len(k) for k in key_list], dtype=np.int64)
    everywhere = np.arange(len(key_list))

    def fuzzy(key: str, pool: Mapping[str, list[int]], within: np.ndarray) -> list[int]:
        query = np.zeros(counts.shape[1], dtype=np.int32)
        for ch in key:
            if ch in alphabet:  # a character no village has matches nothing
                query[alphabet[ch]] += 1
        shared = np.minimum(counts[within], query).sum(axis=1)
        bound = 2.0 * shared / (len(key) + lengths[within])
        matcher = difflib.SequenceMatcher(None, autojunk=False)
        matcher.set_seq2(key)  # the matcher caches facts about seq2: the one compared to many
        best, hits = FUZZY_MIN_RATIO, []
        for i in within[bound >= FUZZY_MIN_RATIO]:
            other = key_list[i]
            matcher.set_seq1(other)
            r = matcher.ratio()
            if r > best:
                best, hits = r, list(pool[other])
            elif r == best:  # a tie: every tied village is a candidate
                hits += pool[other]
        return hits

    within_commune = {
        c: np.array([key_pos[k] for k in keys], dtype=np.int64)
        for c, keys in by_commune_key.items()
    }

    r_communes = (
        reported["commune"].tolist() if "commune" in reported.columns else [""] * len(reported)
    )
    cache: dict[tuple[str, str], tuple[str, list[int]]] = {}
    village_id, matched_name, match, candidates = [], [], [], []
    for name, commune in zip(reported["name"].tolist(), r_communes, strict=True):
        key = normalise_name(name)
        c = _normalise_commune(commune)
        restricted = bool(c) and c in by_commune_key
        cache_key = (key, c if restricted else "")
        if cache_key not in cache:
            pool = by_commune_key[c] if restricted else by_key
            hits = list(pool.get(key, ()))
            kind = "exact"
            if not hits and key:
                hits, kind = (
                    fuzzy(key, pool, within_commune[c] if restricted else everywhere),
                    "fuzzy",
                )
            if not hits:
                kind = "none"
            elif len(hits) > 1:
                kind = "ambiguous"
            cache[cache_key] = (kind, hits)
        kind, hits = cache[cache_key]
        one = kind in ("exact", "fuzzy")
        village_id.append(ids[hits[0]] if one else None)
        matched_name.append(v_names[hits[0]] if one else None)
        match.append(kind)
        candidates.append(", ".join(ids[i] for i in hits) if kind == "ambiguous" else "")
    out = pd.DataFrame(reported).copy()
    out["village_id"] = pd.Series(village_id, index=out.index, dtype=object)
    out["matched_name"] = pd.Series(matched_name, index=out.index, dtype=object)
    out["match"] = match
    out["candidates"] = candidates
    return out
