# first1000: the two commands a user needs.
#   make demo  - set up .venv, run the workflow on the bundled demo cohort, build the report
#   make test  - set up .venv, run the whole test suite (the SLURM tier last; it skips
#                without root and the slurm-wlm/munge packages: `make slurm-deps` installs them)
#   make test-fast - the unit tests only (no workflow runs, no slow calibrations), on both cores
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= 2
# Byte-compile the package before a run: environments that set PYTHONDONTWRITEBYTECODE=1 (many
# container images, and this project's development machine) never cache first1000's bytecode,
# so every job of the workflow compiled its modules again (~0.1-0.3 s per job; #19). Python
# ignores a .pyc whose source changed since, so a stale one is never used.
COMPILE = $(BIN)/python -m compileall -q src

.PHONY: browser-deps demo test test-fast setup report lint format clean slurm-deps

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "first1000 needs Python 3.11, found " + sys.version.split()[0]'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { \
	  echo "Could not create a virtual environment. On Debian/Ubuntu: apt-get install python3.11-venv"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade "pip==26.3"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	@touch $(STAMP)

# The report is rebuilt only when a result is newer than it (a no-op rerun leaves it alone).
demo: $(STAMP)
	@$(COMPILE)
	@$(BIN)/first1000 run --cores $(CORES) && \
	if [ -f results/report.html ] && [ -z "$$(find results -type f -newer results/report.html -print -quit)" ]; then \
	  echo "first1000: the report is up to date: $(CURDIR)/results/report.html"; \
	else $(BIN)/first1000 report && echo "first1000: open $(CURDIR)/results/report.html"; fi

report: $(STAMP)
	$(BIN)/first1000 report

test: $(STAMP)
	@$(COMPILE)
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	@$(COMPILE)
	$(BIN)/python -m pytest -m "not e2e and not slow and not slurm" -n $(CORES)

# SLURM test tier (tests/workflow/test_slurm.py): as root with apt-get, install slurm-wlm, munge and
# slurm-client if missing; otherwise says why not (the tier then skips).
slurm-deps:
	@tests/slurm/install.sh

# Browser test of the report (tests/workflow/test_report_browser.py): Debian's chromium, as root.
browser-deps:
	@tests/browser_install.sh

lint: $(STAMP)
	$(BIN)/snakefmt --check Snakefile workflow/Snakefile workflow/rules
	$(BIN)/snakemake --lint

format: $(STAMP)
	$(BIN)/snakefmt Snakefile workflow/Snakefile workflow/rules

clean:
	rm -rf results logs .snakemake
