# The students' commands. `make test` creates .venv on first use, checks your code part by
# part and prints the points you will get for the visible checks.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_VERSION ?= 2.13.0
TORCH ?= pinned
PART ?=
STAMP := $(VENV)/.installed

.PHONY: venv test

venv: $(STAMP)

$(STAMP): requirements.txt
	@echo "Creating $(VENV) (first run only)..."
ifeq ($(TORCH),system)
	$(PYTHON) -m venv --system-site-packages $(VENV)
else
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check torch==$(TORCH_VERSION)
endif
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	@touch $@

# The grading profile makes hypothesis draw the grader's examples: your score here is the
# score the grader gives for these checks.
test: $(STAMP)
	HYPOTHESIS_PROFILE=grading $(PY) -m pytest $(if $(PART),-m part$(PART)) --impl assignments
