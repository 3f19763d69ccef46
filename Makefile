# lomsong — two commands: `make demo` and `make test` (both set up .venv/ themselves).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test lint format bench clean browser qgis map-assets

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@# numba's one-time compile of the kernels, in two processes, so no run pays it
	$(PY) -m lomsong.warmup
	@touch $(STAMP)

install: $(STAMP) map-assets

# The offline map's libraries (Leaflet, plugins, fonts: npm tarballs checked against pinned
# sha512s) into the user cache, once per machine; `lomsong run` fetches them on first use too.
map-assets: $(STAMP)
	@$(PY) -m lomsong.maps.assets >/dev/null || echo "warning: could not fetch the offline map's libraries: offline maps and browser tests need them (python -m lomsong.maps.assets)"

demo: $(STAMP)
	$(VENV)/bin/lomsong demo --out outputs/demo

# Browser tests: Debian's Chromium (driven by Playwright from the dev extras, whose own browser
# download is never used) and the map's JavaScript from the npm registry, cached outside the repo.
browser: $(STAMP) map-assets
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null; } || echo "warning: could not install chromium: browser tests will be skipped"

# QGIS tests: Debian's QGIS opens the outputs through python3-qgis, which is built for the
# system Python (/usr/bin/python3), not for the venv; run headless (QT_QPA_PLATFORM=offscreen).
qgis:
	@/usr/bin/python3 -c "import qgis.core" >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qgis python3-qgis fonts-dejavu-core >/dev/null; } || echo "warning: could not install QGIS: QGIS tests will be skipped"

# Both cores: one test file per worker (--dist loadfile), so a module's fixtures are built once.
test: $(STAMP) browser qgis
	$(PY) -m pytest -q -n auto --dist loadfile

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
