"""The suite's skips for missing install pieces (shared data, Chromium, npm assets, dev extras)
skip on a developer's machine and fail in CI, where a missing install step must not hide."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import require, require_module


def test_require_skips_outside_ci_and_fails_in_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    require(True, "present")  # nothing happens
    with pytest.raises(pytest.skip.Exception, match="shared data not found"):
        require(False, "shared data not found")
    with pytest.raises(pytest.skip.Exception, match="no_such_module"):
        require_module("no_such_module_lomsong")
    monkeypatch.setenv("CI", "true")
    require(True, "present")
    with pytest.raises(pytest.fail.Exception, match="CI: shared data not found"):
        require(False, "shared data not found")
    with pytest.raises(pytest.fail.Exception, match="no_such_module"):
        require_module("no_such_module_lomsong")
    assert require_module("json").dumps([]) == "[]"


def test_no_test_skips_around_require():
    """Every skip of the suite goes through ``require``: a bare ``pytest.skip``,
    ``importorskip`` or ``skipif`` would pass silently in CI."""
    here = Path(__file__).parent
    bare = re.compile(r"pytest\.skip\(|importorskip\(|mark\.skipif\b")
    offenders = [
        f"{path.name}:{no}"
        for path in sorted(here.glob("*.py"))
        if path.name != "conftest.py"
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if bare.search(line) and path.name != Path(__file__).name
    ]
    assert offenders == []
