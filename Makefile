# Two commands do all set-up on a fresh machine (Python 3.11+); without make, the README gives
# the same jobs as plain commands (they are what these run).
#   make run    create .venv if missing, install, execute the notebook series (default profile)
#   make test   same set-up, then lint, types, import layers, unit tests and every notebook
#               under nbval (quick profile)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PROFILE ?= default

.PHONY: install run test test-slow lab outputs clean test-browser

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
test-browser: install
	@if [ ! -x /usr/bin/chromium ]; then \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$sudo apt-get update && $$sudo apt-get install -y chromium; \
	fi
	@$(PY) -c "import playwright" 2>/dev/null || $(PY) -m pip install "playwright>=1.40"
	MNIST_BROWSER_TEST=1 $(PY) -m pytest -v -s tests/browser

lab: install
	$(VENV)/bin/jupyter lab notebooks/

# Re-execute the notebooks in place (default profile) so the committed outputs are real.
outputs: install
	MNIST_PROFILE=$(PROFILE) $(PY) -m mnist_helpers run-notebooks --in-place

clean:
	rm -rf build .pytest_cache .ruff_cache
