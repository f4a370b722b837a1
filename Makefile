# Two commands do all set-up on a fresh machine (Python 3.10+):
#   make run    create .venv if missing, install, execute the notebook series (default profile)
#   make test   same set-up, then lint, unit tests and nbval over every notebook (quick profile)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PROFILE ?= default
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
BUILD  := build

.PHONY: install run test lint unit nbval lab outputs clean test-browser

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "Python 3.10+ is needed, found " + sys.version.split()[0]'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e ".[dev]"
	touch $@

install: $(VENV)/.installed

# Execute the whole series headless; executed copies go to build/ (the committed notebooks
# are left as they are). The last line printed is "test accuracy: NN.NN%".
run: install
	@mkdir -p $(BUILD)/notebooks
	MNIST_PROFILE=$(PROFILE) $(PY) -m mnist_helpers run-notebooks --out $(BUILD)/notebooks $(NOTEBOOKS)
	@MNIST_PROFILE=$(PROFILE) $(PY) -m mnist_helpers evaluate

test: install lint unit nbval

lint: install
	$(VENV)/bin/ruff check mnist_helpers tests notebooks benchmarks

unit: install
	$(PY) -m pytest tests

nbval: install
	MNIST_PROFILE=quick $(PY) -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider notebooks

# Notebook 07's widgets in a real browser: JupyterLab and headless Chromium driven by
# Playwright (runs all cells, clicks Train/Stop/Next, draws digits with the mouse). Installs
# Debian's chromium and the playwright package when missing; screenshots go to build/browser/.
test-browser: install
	@if [ ! -x /usr/bin/chromium ]; then \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$sudo apt-get update && $$sudo apt-get install -y chromium; \
	fi
	@$(PY) -c "import playwright" 2>/dev/null || $(PY) -m pip install "playwright>=1.40"
	MNIST_BROWSER_TEST=1 $(PY) -m pytest -p no:cacheprovider -v -s tests/browser

lab: install
	$(VENV)/bin/jupyter lab notebooks/

# Re-execute the notebooks in place (default profile) so the committed outputs are real.
outputs: install
	MNIST_PROFILE=$(PROFILE) $(PY) -m mnist_helpers run-notebooks --in-place $(NOTEBOOKS)

clean:
	rm -rf $(BUILD) .pytest_cache .ruff_cache
