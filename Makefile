# The course's two commands: `make lab` (learners) and `make test` (CI and developers).
# Both create .venv with plain pip when it is missing and install the course into it.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.cnncourse-installed
PROFILE ?= $(or $(CNNCOURSE_PROFILE),smoke)
LAB_ARGS ?=
JOBS ?= 2
# One torch thread per test worker: JOBS workers, each with its own kernels, share the cores.
TEST_THREADS ?= 1

.PHONY: lab test unit site exercises benchmarks info clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

## lab: open JupyterLab on the notebooks (offline data by default); the flags live in `cnncourse lab`
lab: $(STAMP)
	$(PY) -m cnncourse lab $(LAB_ARGS)

## test: unit tests, exercise checks, then nbval on every notebook and solution (profile: $(PROFILE))
test: $(STAMP)
	$(PY) -m cnncourse.exercises --check
	CNNCOURSE_PROFILE=$(PROFILE) OMP_NUM_THREADS=$(TEST_THREADS) $(PY) -m pytest -n $(JOBS) --dist loadfile \
		-p no:cacheprovider --nbval-lax --nbval-current-env tests notebooks solutions

unit: $(STAMP)
	CNNCOURSE_PROFILE=smoke OMP_NUM_THREADS=$(TEST_THREADS) $(PY) -m pytest -n $(JOBS) --dist loadfile -p no:cacheprovider tests

## site: execute every chapter with papermill in PROFILE and write HTML pages + site/index.html
##       e.g. make site PROFILE=cpu  or  make site PROFILE=smoke SITE_ARGS='-p EPOCHS 3'
SITE_ARGS ?=
site: $(STAMP)
	$(PY) tools/render_course.py --profile $(PROFILE) --out site $(SITE_ARGS)

## exercises: regenerate exercises/ from solutions/
exercises: $(STAMP)
	$(PY) -m cnncourse.exercises

## benchmarks: run every script in benchmarks/ (each prints its figure last)
benchmarks: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

info: $(STAMP)
	$(PY) -m cnncourse info

clean:
	rm -rf $(VENV) outputs .pytest_cache
