"""The commented project template (`lomsong init`): the config's schema, defaults.py's values.

Its active keys hold every default; optional keys without a default are written commented out
(``# key = example``). Together they are exactly the config dataclasses' fields, so a key added to
the config and forgotten in the template (or the reverse) fails here; each active value equals
the dataclass default, which is taken from ``lomsong/defaults.py``.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from importlib import resources
from pathlib import Path

import pytest

import lomsong.config as config_module
import lomsong.defaults as dflt
from lomsong.cli import main
from lomsong.config import (
    CoverageConfig,
    Inputs,
    LayerInput,
    ModelConfig,
    OutputConfig,
    ProjectConfig,
    SitingConfig,
    load_config,
)

TEMPLATE = resources.files("lomsong").joinpath("data/project.toml").read_text(encoding="utf-8")
SECTIONS = {"inputs": Inputs, "model": ModelConfig, "coverage": CoverageConfig,
            "siting": SitingConfig, "output": OutputConfig}  # fmt: skip
COMMENTED_KEY = re.compile(r"^# ?([a-z_]+) = ")


def _commented_keys() -> dict[str, set[str]]:
    """Keys written as ``# key = …`` per section (top level: "")."""
    out: dict[str, set[str]] = {"": set()}
    section = ""
    for line in TEMPLATE.splitlines():
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            out.setdefault(section, set())
        elif m := COMMENTED_KEY.match(line):
            out[section].add(m.group(1))
    return out


def _fields(cls) -> set[str]:
    return {f.name for f in dataclasses.fields(cls) if f.name != "path"}


def test_template_keys_are_exactly_the_config_fields():
    active = tomllib.loads(TEMPLATE)
    commented = _commented_keys()
    top = {k for k, v in active.items() if not isinstance(v, dict)} | commented[""]
    assert top | set(SECTIONS) == _fields(ProjectConfig)
    for name, cls in SECTIONS.items():
        keys = set(active.get(name, {})) | commented.get(name, set())
        assert keys == _fields(cls), name


def _default(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def test_template_values_are_the_defaults():
    active = tomllib.loads(TEMPLATE)
    for name, cls in SECTIONS.items():
        if cls is Inputs:
            continue  # paths to the user's files: examples, not defaults
        for f in dataclasses.fields(cls):
            if f.name in active[name]:
                default = _default(f)
                value = active[name][f.name]
                if isinstance(default, Path):
                    value = Path(value)
                if isinstance(default, tuple):  # a TOML array is read as a list
                    value = tuple(value)
                assert value == default, f"{name}.{f.name}: template {value!r}, default {default!r}"
            else:  # only keys without a default may be left commented out
                assert _default(f) in (None, dataclasses.MISSING), f"{name}.{f.name}"


def test_config_defaults_come_from_defaults_py():
    """The dataclass defaults are defaults.py's values (one home for each default)."""
    pairs = {
        (ModelConfig, "environment"): dflt.ENVIRONMENT,
        (ModelConfig, "rx_height_m"): dflt.RX_HEIGHT_M,
        (ModelConfig, "max_radius_km"): dflt.MAX_RADIUS_KM,
        (CoverageConfig, "location_probability"): dflt.LOCATION_PROBABILITY,
        (CoverageConfig, "indoor"): dflt.INDOOR,
        (CoverageConfig, "technologies"): dflt.TECHNOLOGIES,
        (CoverageConfig, "indoor_margin_db"): dflt.INDOOR_MARGIN_DB,
        (CoverageConfig, "dead_share"): dflt.DEAD_SHARE,
        (SitingConfig, "sites"): dflt.SITES,
        (SitingConfig, "method"): dflt.SITING_METHOD,
        (SitingConfig, "target_share"): dflt.TARGET_SHARE,
        (SitingConfig, "time_limit_s"): dflt.TIME_LIMIT_S,
        (SitingConfig, "mast_height_m"): dflt.CANDIDATE_MAST_HEIGHT_M,
        (SitingConfig, "candidate_spacing_m"): dflt.CANDIDATE_SPACING_M,
        (SitingConfig, "candidate_max_distance_km"): dflt.CANDIDATE_MAX_DISTANCE_KM,
        (OutputConfig, "dir"): dflt.OUTPUT_DIR,
        (OutputConfig, "lang"): dflt.LANG,
        (LayerInput, "household_size"): dflt.HOUSEHOLD_SIZE,
    }
    for (cls, name), value in pairs.items():
        field = {f.name: f for f in dataclasses.fields(cls)}[name]
        assert _default(field) == value, f"{cls.__name__}.{name}"
    # and no literal default is typed in config.py itself: every scalar default is a defaults.py
    # value (a number or string typed twice would drift)
    source = Path(config_module.__file__).read_text(encoding="utf-8")
    literal = re.findall(r"^    \w+: [\w. |]+ = (-?[0-9.]+|\"[^\"]*\")$", source, flags=re.M)
    assert literal == [], f"defaults typed in config.py: {literal}"


def test_the_template_loads_as_a_project(tmp_path):
    (tmp_path / "project.toml").write_text(TEMPLATE, encoding="utf-8")
    cfg = load_config(tmp_path / "project.toml")
    assert cfg.model.name == "hata"  # no terrain in the template: the terrain-free default
    assert cfg.inputs.villages.path == (tmp_path / "data" / "villages.gpkg").resolve()


def test_init_writes_the_template_and_never_overwrites(tmp_path, capsys):
    assert main(["init", str(tmp_path / "p")]) == 0
    assert (tmp_path / "p" / "project.toml").read_text(encoding="utf-8") == TEMPLATE
    (tmp_path / "p" / "project.toml").write_text("# mine\n", encoding="utf-8")
    assert main(["init", str(tmp_path / "p")]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (tmp_path / "p" / "project.toml").read_text(encoding="utf-8") == "# mine\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--slope", "foo"], "invalid choice: 'foo'"),
        (["--model", "okumura"], "invalid choice: 'okumura'"),
        (["--breakpoint", "5"], "--breakpoint needs --slope shared"),
        (["--slope", "shared", "--breakpoint", "abc"], "'abc' is not a number"),
        (["--slope", "shared", "--breakpoint", "-3"], "must be a number > 0"),
        (["--h-tx", "nan"], "must be a number > 0"),
    ],
)
def test_calibrate_refuses_bad_options_with_exit_2_and_no_traceback(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["calibrate", "measurements.csv", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
