# Two commands do all set-up on a fresh machine (Python 3.11+); without make, the README gives
# the same jobs as plain commands (they are what these run).
#   make run    create .venv if missing, install, execute the notebook series (default profile)
#   make test   same set-up, then lint, types, import layers, unit tests and every notebook
#               under nbval (quick profile)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PROFILE ?= default

.PHONY: install run test test-slow lab outputs clean test-browser web serve-web

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed, found " + sys.version.split()[0]'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e ".[dev]"
	touch $@

install: $(VENV)/.installed

# Execute the whole series headless; the executed copies go to build/notebooks/ (the committed
# notebooks are left as they are). One line per notebook, then "test accuracy: NN.NN%".
run: install
	MNIST_PROFILE=$(PROFILE) $(PY) -m mnist_helpers run-notebooks

test: install
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest

# The slow tier: the package built as a wheel and installed in a fresh environment, where the
# setup cell installs it and the series runs from another folder (several minutes).
test-slow: install
	$(PY) -m pytest -m slow tests

# The widgets in a real browser: JupyterLab and headless Chromium driven by Playwright.
# Installs Debian's chromium and the playwright package when missing; screenshots go to
# build/browser/.
test-browser: install web
	@if [ ! -x /usr/bin/chromium ]; then \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$sudo apt-get update && $$sudo apt-get install -y chromium; \
	fi
	@$(PY) -c "import playwright" 2>/dev/null || $(PY) -m pip install "playwright>=1.40"
	MNIST_BROWSER_TEST=1 $(PY) -m pytest -v -s tests/browser

# The model in a static web page (web/): onnxruntime-web pinned by web/package-lock.json, the
# shipped model exported beside the page (float and int8, each with its .json), and
# onnxruntime's .wasm and .mjs copied next to it, so the folder is all a static host needs.
# The export checks the ONNX file against PyTorch on MNIST's test images (downloaded if
# MNIST_DATA_DIR does not name them).
WEB_PORT ?= 8000
web: install
	cd web && npm ci --no-audit --no-fund && npm run build
	$(PY) -m mnist_helpers export --onnx web/model.onnx --int8 web/model_int8.onnx

# Serve web/ on http://127.0.0.1:$(WEB_PORT)/ (only this machine can reach it); builds it first
# when it has not been built.
serve-web: install
	@test -f web/model_int8.onnx -a -f web/ort-wasm-simd-threaded.wasm || $(MAKE) web
	$(PY) -m http.server $(WEB_PORT) --bind 127.0.0.1 --directory web

lab: install
	$(VENV)/bin/jupyter lab notebooks/

# Re-execute the notebooks in place (default profile) so the committed outputs are real.
outputs: install
	MNIST_PROFILE=$(PROFILE) $(PY) -m mnist_helpers run-notebooks --in-place

clean:
	rm -rf build .pytest_cache .ruff_cache
