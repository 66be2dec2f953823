# The course's commands. `make demo` and `make test` are the two a new user needs; both
# create the virtual environment in .venv on first use.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_VERSION ?= 2.13.0
# TORCH=system keeps the torch already installed for $(PYTHON) (a GPU machine's CUDA build).
TORCH ?= pinned
PART ?=
IMPL ?= solutions
PYTEST_ARGS ?=

STAMP := $(VENV)/.installed

.PHONY: venv test lint stubs check-stubs mutants fairness score readme figures student-bundle gradescope grade batch gpu-check \
	demo clean
.PHONY: datasets train bench-tasks diagnoses similarity

venv: $(STAMP)

$(STAMP): requirements.txt
	@echo "Creating $(VENV) (first run only)..."
ifeq ($(TORCH),system)
	$(PYTHON) -m venv $(VENV)
	@# A .pth file rather than --system-site-packages: it also reaches a torch that lives in
	@# another virtual environment, as it does on many GPU images.
	$(PYTHON) -c "import site; print('\n'.join(site.getsitepackages()))" \
		> "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/system-torch.pth"
else
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check torch==$(TORCH_VERSION)
endif
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	@touch $@

test: $(STAMP)
	$(PY) -m pytest $(if $(PART),-m part$(PART)) --impl $(IMPL) $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

stubs: $(STAMP)
	$(PY) -m autograder stubs

# Every graded check fails on the stubs and on every trivial implementation, passes on the
# solution; mutants: the mistakes each check catches; fairness: correct code never fails.
check-stubs: $(STAMP)
	$(PY) -m autograder check-stubs

mutants: $(STAMP)
	$(PY) -m autograder mutants

fairness: $(STAMP)
	$(PY) -m autograder fairness

# The score of one implementation (IMPL=solutions|assignments|path), every check in-process.
score: $(STAMP)
	$(PY) -m autograder score $(IMPL) --verbose

# On a GPU machine: make gpu-check TORCH=system
gpu-check: $(STAMP)
	$(PY) -m autograder gpu-check

gradescope: $(STAMP)
	$(PY) -m autograder gradescope $(if $(PARTS),--parts $(PARTS))

# make grade SUBMISSION=path/to/folder-or.zip
grade: $(STAMP)
	@test -n "$(SUBMISSION)" || { echo "make grade needs SUBMISSION: make grade SUBMISSION=path/to/folder-or.zip" >&2; exit 2; }
	$(PY) -m autograder grade $(SUBMISSION) --out $(or $(OUT),results.json)

# make batch SUBMISSIONS=folder JOBS=2
batch: $(STAMP)
	@test -n "$(SUBMISSIONS)" || { echo "make batch needs SUBMISSIONS: make batch SUBMISSIONS=folder-of-submissions JOBS=2" >&2; exit 2; }
	$(PY) -m autograder batch $(SUBMISSIONS) --out $(or $(OUT),build/grades.csv) --jobs $(or $(JOBS),2)

# The known mistakes' outcomes on the diagnosis probes (tests/probes/expected.json); GRADER=1
# also diagnoses every mistake through the sandbox, as the grader does.
diagnoses: $(STAMP)
	$(PY) -m autograder diagnoses $(if $(PARTS),--parts $(PARTS)) $(if $(GRADER),--grader)

# make similarity SUBMISSIONS=folder: pairs of unusually similar submissions -> build/similarity.html
similarity: $(STAMP)
	@test -n "$(SUBMISSIONS)" || { echo "make similarity needs SUBMISSIONS: make similarity SUBMISSIONS=folder-of-submissions" >&2; exit 2; }
	$(PY) -m autograder similarity $(SUBMISSIONS) --out $(or $(OUT),build/similarity.html)

# One page per part for students, with its key figure (docs/parts/, docs/figures/)
figures: $(STAMP)
	$(PY) -m autograder figures $(if $(PAGES_ONLY),--pages-only)

# README.md's table of parts and points, from rubric.toml
readme: $(STAMP)
	$(PY) -m autograder readme

student-bundle: $(STAMP)
	$(PY) -m autograder student-bundle

demo: $(STAMP)
	$(PY) -m autograder demo

# Part 9: regenerate the frozen held-out sets (bit for bit), train one task, time the tasks.
TASK ?= addition
STEPS ?=
DEVICE ?= cpu
datasets: $(STAMP)
	$(PY) -m autograder datasets
	$(PY) -m autograder check-datasets

train: $(STAMP)
	$(PY) -m autograder train $(TASK) --device $(DEVICE) $(if $(STEPS),--steps $(STEPS))

bench-tasks: $(STAMP)
	$(PY) -m benchmarks.tasks

# The grader's speed: the full reference grade and batch --jobs 1 vs 2 (docs/benchmarks.md).
.PHONY: bench-grader bench
bench-grader: $(STAMP)
	$(PY) -m benchmarks.grader

bench: bench-tasks bench-grader

# The course's code against the textbook's (dldna 0.1.6, in build/textbook-venv), seed by
# seed and task by task: steps, seconds and the speed-up (docs/benchmarks.md).
.PHONY: bench-seed
bench-seed: $(STAMP)
	$(PY) -m benchmarks.seed $(if $(SEEDS),--seeds $(SEEDS)) $(if $(TASKS),--tasks $(TASKS))

clean:
	rm -rf build .pytest_cache .hypothesis

# nbgrader: generate the course directory, release, exchange, autograde, feedback, grades
# (docs/nbgrader.md). COURSE is the nbgrader course directory; ASSIGNMENTS groups parts, with
# due dates ("week1=1,2@2027-01-15 week2=3,4"; default one assignment per part, no due date);
# JOBS grades students in parallel.
COURSE ?= build/course
EXCHANGE ?= build/exchange
ASSIGNMENTS ?=
CELL_TIMEOUT ?= 120
JOBS ?= 1
NBG = $(PY) -m autograder nbgrader --course $(COURSE)
.PHONY: notebooks release publish collect zip-collect autograde feedback grades crosscheck students

notebooks: $(STAMP)
	$(NBG) notebooks --exchange $(abspath $(EXCHANGE)) --timeout $(CELL_TIMEOUT) \
		$(foreach group,$(ASSIGNMENTS),--assignment $(group))

release: $(STAMP)
	$(NBG) release

publish: $(STAMP)
	$(NBG) publish

collect: $(STAMP)
	$(NBG) collect

zip-collect: $(STAMP)
	$(NBG) zip-collect

autograde: $(STAMP)
	$(NBG) autograde --jobs $(JOBS)

feedback: $(STAMP)
	$(NBG) feedback

# make students ROSTER=students.csv (columns id, first_name, last_name[, email])
students: $(STAMP)
	@test -n "$(ROSTER)" || { echo "make students needs ROSTER: make students ROSTER=students.csv" >&2; exit 2; }
	$(NBG) students $(ROSTER)

grades: $(STAMP)
	$(NBG) grades

crosscheck: $(STAMP)
	$(NBG) crosscheck
