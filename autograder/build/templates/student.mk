# The students' commands. `make test` creates .venv on first use, checks your code part by
# part and prints the points you will get for the visible checks. `make lab` opens the
# part notebooks in JupyterLab. `make submission` zips your modules for Gradescope.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_VERSION ?= 2.13.0
TORCH ?= pinned
PART ?=
STAMP := $(VENV)/.installed
LAB_STAMP := $(VENV)/.lab-installed

.PHONY: venv test lab submission

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

# Your score here is the score the grader gives for these checks: they draw the same
# examples as the grader does.
test: $(STAMP)
	$(PY) -m pytest $(if $(PART),-m part$(PART)) --impl assignments

# The notebook route: JupyterLab, and a kernel named "course" that finds the checks here.
$(LAB_STAMP): $(STAMP) requirements-lab.txt
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-lab.txt
	$(PY) -m ipykernel install --sys-prefix --name course --display-name "Python 3 (course)" \
		--env PYTHONPATH "$(CURDIR)"
	@touch $@

lab: $(LAB_STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

# The module route's hand-in: your modules, zipped (upload submission.zip to Gradescope).
submission:
	@rm -f submission.zip
	cd assignments && zip -q ../submission.zip *.py
	@echo "wrote submission.zip: upload it to the assignment on Gradescope"
