# zfviz: the front door is `make site` (set up, render the committed book) and `make test`; `make all` reproduces.
PROFILE ?=
# empty PROFILE: the gpu profile when CUDA is present, else cpu (the command says which)
PROFILE_ARG := $(if $(PROFILE),--profile $(PROFILE),)
PYTHON ?= python3
VENV ?= .venv
# TORCH_INDEX: install torch and torchvision from this index first, e.g. https://download.pytorch.org/whl/cpu for the
# CPU-only wheels (about 1 GB of venv instead of 6 with the CUDA stack that PyPI's Linux torch brings)
TORCH_INDEX ?=
PY := $(VENV)/bin/python

# Data: $ZFVIZ_DATA if set; else the offline copy in ../shared/data when it sits beside the clone; else zfviz
# downloads Imagenette on first use (see README, Data).
ifeq ($(origin ZFVIZ_DATA), undefined)
ifneq ($(wildcard ../shared/data/imagenette-224),)
export ZFVIZ_DATA := $(abspath ../shared/data)
endif
endif

.PHONY: all setup book atlas site test test-fast test-paper nbval-references benchmark clean-site browser-check

all: book  ## set up, run every chapter for $(PROFILE) (training what is not cached), build the site

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
ifneq ($(TORCH_INDEX),)
	$(PY) -m pip install "torch>=2.11,<2.15" "torchvision>=0.26,<0.30" --index-url $(TORCH_INDEX)
endif
	$(PY) -m pip install -e ".[dev]"
	touch $@

setup: $(VENV)/.installed  ## create .venv and install zfviz with the pinned dev tools

book: setup  ## the atlas and every chapter for $(PROFILE), swapped in together at the end (an interruption keeps both)
	$(PY) -m zfviz book $(PROFILE_ARG) --atlas

atlas: setup  ## only regenerate the feature atlas pages (book/atlas) from the profile's ZF model
	$(PY) -m zfviz atlas $(PROFILE_ARG)

site: setup  ## only build the site from the committed executed notebooks (no training, about a minute), links checked
	$(PY) -m zfviz book --no-execute
	$(PY) tools/linkcheck.py _build/html

browser-check: site  ## the built pages in headless Chromium at 1366 and 390 px: no table scrolls sideways, verdicts fit
	$(PY) tools/browser_check.py _build/html

test: setup  ## unit tests + every chapter re-executed by nbval in the smoke profile
	ZFVIZ_RUNS=$${ZFVIZ_RUNS:-$(CURDIR)/.cache/test-runs} $(PY) -m pytest

test-fast: setup  ## the unit tests without the slow ones and without re-executing chapters (about 7 min on 2 cores)
	ZFVIZ_RUNS=$${ZFVIZ_RUNS:-$(CURDIR)/.cache/test-runs} $(PY) -m pytest -m "not slow" --ignore=tests/nbval

test-paper: setup  ## every chapter executed at paper geometry (the paper-smoke profile) on this machine's CPU
	ZFVIZ_RUNS=$${ZFVIZ_RUNS:-$(CURDIR)/.cache/test-runs} $(PY) -m zfviz book --profile paper-smoke --out .cache/paper-smoke --no-build

nbval-references: setup  ## after changing a chapter: regenerate tests/nbval (smoke profile)
	$(PY) -m zfviz book --nbval-references

benchmark: setup
	$(PY) benchmarks/train_throughput.py $(PROFILE_ARG)

clean-site:
	rm -rf _build
