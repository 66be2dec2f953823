"""The speedrun leaderboard of part 9 (a bonus): a student's training recipe, trained by the grader.

A student who wants a place on the leaderboard hands in ``speedrun.toml`` beside the part
modules. It is plain data, never code: the task and the settings the course's training
exposes. Whatever it leaves out is the course's recipe of that task (``recipes/<task>.toml``)::

    task = "copy-textbook"

    [model]                  # the Transformer's sizes (part 7's TransformerConfig)
    d_model = 64
    num_heads = 2

    [training]               # part 9's TrainSettings
    steps = 200
    batch_size = 40
    lr = 1e-2

The grader reads the file (at most :data:`MAX_BYTES`), checks every field against a closed
list of names, types and ranges (:data:`MODEL_FIELDS`, :data:`TRAINING_FIELDS`) and refuses
the recipe with a message naming the field when one is wrong. It then trains the recipe with
the course's own code (``solutions.training``: the student's code never runs here), one seed
after another from :data:`SEEDS`, each in a child process with one thread, float32, a memory
limit and the time left, and evaluates every few steps on the grader's frozen held-out set
with greedy decoding. A run stops at the first evaluation at or above 99% exact match.

What ranks is the median over the seeds of the training compute to 99%, estimated as
``6 x parameters x tokens`` (the usual count of a forward and a backward pass): it depends on
the recipe and the seed only, not on the machine, so a rerun gives the same number. Steps,
examples and seconds to 99% are reported too; seconds depend on the machine. A recipe whose
median run does not reach 99% within its budget is "not reached" and ranks nowhere. Each
task's budget (:data:`TASKS`) is a compute limit the recipe must fit before anything is
trained; the wall-clock limit :data:`WALL_S` is kept aside from the submission's budget, and
a seed still training when it ends counts as not reached (docs/benchmarks.md has the
measured times).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import resource
import signal
import statistics
import subprocess
import sys
import time
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from autograder.core.paths import ROOT

FILE_NAME = "speedrun.toml"
MAX_BYTES = 8192
"""The largest recipe file read (a real one takes a few hundred bytes)."""
SEEDS = (0, 1, 2)
"""The seeds every recipe is trained with (an odd count, so the median is one run's)."""
TARGET = 0.99
"""Exact match on the held-out set that ends a run."""
WALL_S = 240.0
"""Wall-clock seconds the whole speedrun of one submission may take (all seeds)."""
MAX_EVALUATIONS = 8
"""Evaluations per run at most: a tiny batch evaluates less often than every interval."""
MEMORY_MB = 3072
"""Address space of a training process beyond what it maps at start."""
MAX_PARAMETERS = 3_000_000
PART = 9


@dataclass(frozen=True)
class TaskBudget:
    """What a speedrun of one task may spend.

    Attributes:
        gflop: estimated training compute of the whole recipe (its ``steps``), in GFLOP.
        eval_examples: training examples between two evaluations on the held-out set.
    """

    gflop: float
    eval_examples: int


TASKS = {
    # The course's recipes need about 110 (copy) and 40 (parser) GFLOP for all their steps.
    "copy-textbook": TaskBudget(gflop=450.0, eval_examples=1000),
    "parser-textbook": TaskBudget(gflop=350.0, eval_examples=640),
}
"""The tasks a speedrun may name, and their budgets."""


class RecipeError(ValueError):
    """The recipe is refused; the message names the field and what it should be."""


@dataclass(frozen=True)
class Field:
    """One setting: its type (``int``, ``float``, ``str`` or ``pair``) and allowed values."""

    kind: str
    low: float = 0.0
    high: float = math.inf
    low_open: bool = False
    choices: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.kind == "str":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        bracket = "(" if self.low_open else "["
        what = {"int": "an integer", "float": "a number", "pair": "two numbers, each"}[self.kind]
        return f"{what} in {bracket}{self.low:g}, {self.high:g}]"

    def check(self, value: object) -> object:
        """``value`` as this field's type; ``RecipeError`` when it is not allowed."""
        if self.kind == "str":
            if isinstance(value, str) and value in self.choices:
                return value
            raise RecipeError(self.describe())
        if self.kind == "pair":
            if not isinstance(value, list) or len(value) != 2:
                raise RecipeError(self.describe())
            number = Field("float", self.low, self.high, self.low_open)
            try:
                return tuple(number.check(v) for v in value)
            except RecipeError:
                raise RecipeError(self.describe()) from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RecipeError(self.describe())
        if self.kind == "int" and not isinstance(value, int):
            raise RecipeError(self.describe())
        # NaN fails both comparisons, so it is refused here too.
        above = value > self.low if self.low_open else value >= self.low
        if not (above and value <= self.high):
            raise RecipeError(self.describe())
        return value if self.kind == "int" else float(value)


MODEL_FIELDS = {
    "d_model": Field("int", 8, 256),
    "num_heads": Field("int", 1, 16),
    "num_encoder_layers": Field("int", 1, 4),
    "num_decoder_layers": Field("int", 1, 4),
    "d_ff": Field("int", 8, 1024),
    "positional": Field("str", choices=("sinusoidal", "learned")),
    "activation": Field("str", choices=("gelu", "relu")),
    "dropout": Field("float", 0.0, 0.5),
}
"""The ``[model]`` settings a recipe may give (the others are the task's)."""
TRAINING_FIELDS = {
    "steps": Field("int", 1, 5000),
    "batch_size": Field("int", 1, 512),
    "lr": Field("float", 0.0, 1.0, low_open=True),
    "warmup": Field("int", 0, 5000),
    "final_lr_fraction": Field("float", 0.0, 1.0),
    "weight_decay": Field("float", 0.0, 1.0),
    "betas": Field("pair", 0.0, 0.9999),
    "label_smoothing": Field("float", 0.0, 0.5),
    "clip": Field("float", 0.0, 1000.0, low_open=True),
    "ema": Field("float", 0.0, 0.9999),
}
"""The ``[training]`` settings a recipe may give. Seeds, evaluation, stopping and precision
are the grader's."""


@dataclass(frozen=True)
class Recipe:
    """A checked speedrun recipe: the task and the settings that differ from its recipe."""

    task: str
    model: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)


def _section(data: dict, name: str, fields: dict[str, Field]) -> dict[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise RecipeError(f"[{name}] must be a table of settings")
    unknown = sorted(set(table) - set(fields))
    if unknown:
        shown = ", ".join(repr(k)[:40] for k in unknown[:5])
        raise RecipeError(
            f"[{name}] has no setting {shown}; the settings a speedrun may give are "
            + ", ".join(fields)
        )
    checked = {}
    for key, value in table.items():
        try:
            checked[key] = fields[key].check(value)
        except RecipeError as error:
            raise RecipeError(f"[{name}] {key} must be {error}, got {_shown(value)}") from None
    return checked


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse(text: str | bytes) -> Recipe:
    """Read and check a recipe; ``RecipeError`` names the first problem found.

    Checked: the size, the TOML, the section and setting names, each value's type and range,
    ``d_model`` divisible by ``num_heads``, ``warmup`` at most ``steps``. The budget is
    checked by :func:`check_budget` (it needs the model's size).
    """
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            raise RecipeError(f"{FILE_NAME} is larger than {MAX_BYTES} bytes")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise RecipeError(f"{FILE_NAME} is not UTF-8 text") from None
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise RecipeError(f"{FILE_NAME} is larger than {MAX_BYTES} bytes")
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as error:
        raise RecipeError(f"{FILE_NAME} is not valid TOML ({str(error)[:200]})") from None
    unknown = sorted(set(data) - {"task", "model", "training"})
    if unknown:
        shown = ", ".join(repr(k)[:40] for k in unknown[:5])
        raise RecipeError(
            f'{FILE_NAME} has no setting {shown}; it holds task = "...", [model] and [training]'
        )
    task = data.get("task")
    if task not in TASKS:
        raise RecipeError(
            f"task must be one of {', '.join(repr(t) for t in TASKS)}, got {_shown(task)}"
        )
    model = _section(data, "model", MODEL_FIELDS)
    training = _section(data, "training", TRAINING_FIELDS)
    recipe = Recipe(task, model, training)
    merged_model, merged_training = _merged(recipe)
    if merged_model["d_model"] % merged_model["num_heads"]:
        raise RecipeError(
            f"[model] d_model ({merged_model['d_model']}) must be divisible by num_heads "
            f"({merged_model['num_heads']})"
        )
    if merged_training["warmup"] > merged_training["steps"]:
        raise RecipeError(
            f"[training] warmup ({merged_training['warmup']}) must be at most steps "
            f"({merged_training['steps']})"
        )
    return recipe


def _merged(recipe: Recipe) -> tuple[dict[str, Any], dict[str, Any]]:
    """The task's course recipe with the speedrun's settings over it: (model, training)."""
    from solutions import recipes, training

    course = recipes.load(recipe.task)
    defaults = {f.name: f.default for f in dataclasses.fields(training.TrainSettings)}
    return {**course.model, **recipe.model}, {**defaults, **course.training, **recipe.training}


@dataclass(frozen=True)
class Plan:
    """What training a recipe costs: sizes, the compute of one step and of all steps."""

    parameters: int
    tokens_per_example: int
    steps: int
    batch_size: int
    eval_every: int

    @property
    def gflop_per_step(self) -> float:
        return 6 * self.parameters * self.batch_size * self.tokens_per_example / 1e9

    @property
    def gflop(self) -> float:
        return self.steps * self.gflop_per_step


def plan(recipe: Recipe) -> Plan:
    """The cost of ``recipe`` (it builds the model to count its parameters)."""
    from solutions import tasks, training

    _, training_settings = _merged(recipe)
    task = tasks.make_task(recipe.task)
    model = training.build_model(task, **recipe.model)
    parameters = sum(p.numel() for p in model.parameters())
    budget = TASKS[recipe.task]
    steps, batch = training_settings["steps"], training_settings["batch_size"]
    eval_every = max(math.ceil(budget.eval_examples / batch), math.ceil(steps / MAX_EVALUATIONS))
    return Plan(parameters, task.max_source_len + task.max_target_len, steps, batch, eval_every)


def check_budget(recipe: Recipe) -> Plan:
    """The recipe's :class:`Plan`; ``RecipeError`` when it does not fit its task's budget."""
    cost = plan(recipe)
    if cost.parameters > MAX_PARAMETERS:
        raise RecipeError(
            f"the model has {cost.parameters:,} parameters; a speedrun allows at most "
            f"{MAX_PARAMETERS:,} (make [model] d_model, d_ff or the layers smaller)"
        )
    budget = TASKS[recipe.task].gflop
    if cost.gflop > budget:
        most = int(budget / cost.gflop_per_step)
        raise RecipeError(
            f"[training] steps: {cost.steps} steps of this model and batch size cost about "
            f"{cost.gflop:.0f} GFLOP; the budget of {recipe.task} is {budget:g} GFLOP, that is "
            f"at most {most} steps (or a smaller model or batch_size)"
        )
    return cost


# ------------------------------------------------------------------------ training one seed


def train_one(recipe: Recipe, seed: int, eval_every: int) -> dict[str, Any]:
    """Train ``recipe`` with ``seed`` until 99% exact match or its last step (this process).

    Deterministic for a given recipe and seed on a given machine: one thread, float32,
    deterministic algorithms, seeded initialisation and data.
    """
    import torch

    from solutions import tasks, training

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    _, training_settings = _merged(recipe)
    settings = training.settings_for(
        recipe.task,
        **recipe.training,
        seed=seed,
        eval_every=eval_every,
        eval_size=10**9,
        stop_at=TARGET,
        precision="float32",
    )
    task = tasks.make_task(recipe.task)
    torch.manual_seed(seed)
    model = training.build_model(task, **recipe.model)
    history = training.train(model, task, settings, progress=False)
    final = history.evaluations[-1]
    reached = final["exact_match"] >= TARGET
    return {
        "seed": seed,
        "steps": int(final["step"]) if reached else None,
        "exact_match": float(final["exact_match"]),
        "seconds": float(final["train_seconds"]) if reached else None,
        "trained_steps": int(final["step"]),
        "batch_size": int(training_settings["batch_size"]),
        "last_loss": history.losses[-1],
    }


def _limit_child() -> None:
    """In the training process, before it starts: its own process group and a memory bound."""
    os.setsid()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_MB * 2**20 + 2**31, hard))


def _train_in_child(recipe: Recipe, seed: int, eval_every: int, timeout: float) -> dict[str, Any]:
    """:func:`train_one` in a child process; a run that fails or runs out of time says so."""
    command = [sys.executable, "-m", "autograder.grader.speedrun", str(seed), str(eval_every)]
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONHASHSEED": "0",
    }
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
        preexec_fn=_limit_child,
    )
    try:
        out, errors = process.communicate(json.dumps(asdict(recipe)).encode(), timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return {"seed": seed, "steps": None, "problem": "ran out of time"}
    if process.returncode != 0:
        tail = errors.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
        return {"seed": seed, "steps": None, "problem": f"training failed: {tail[0][:300]}"}
    return json.loads(out.decode().strip().splitlines()[-1])


# ------------------------------------------------------------------------ the result


@dataclass
class Speedrun:
    """The outcome of one submission's speedrun.

    ``problem`` says why nothing was trained (a refused recipe); otherwise ``runs`` holds
    one entry per seed trained (``steps`` None when that seed did not reach 99%).
    """

    task: str | None = None
    seeds: tuple[int, ...] = SEEDS
    runs: list[dict[str, Any]] = field(default_factory=list)
    problem: str | None = None
    gflop_per_step: float = 0.0
    seconds: float = 0.0

    def _median(self, key: str) -> float | None:
        """The median of ``key`` over the seeds, a seed that did not reach 99% counting as
        infinitely slow (None when the median seed did not reach it)."""
        values = sorted(math.inf if r.get(key) is None else r[key] for r in self.runs)
        # Seeds not trained (the median was already out of reach) count as not reached.
        values += [math.inf] * (len(self.seeds) - len(values))
        middle = statistics.median_low(values)
        return None if math.isinf(middle) else middle

    @property
    def median_steps(self) -> int | None:
        steps = self._median("steps")
        return None if steps is None else int(steps)

    @property
    def reached(self) -> bool:
        return self.problem is None and self.median_steps is not None

    @property
    def status(self) -> str:
        """``reached``, ``not reached`` or ``refused`` (nothing trained)."""
        if self.problem is not None:
            return "refused"
        return "reached" if self.reached else "not reached"

    def summary(self) -> dict[str, Any]:
        """The median steps, examples, GFLOP and seconds to 99% (None when not reached)."""
        steps = self.median_steps
        if not self.reached or steps is None:
            return {"steps": None, "examples": None, "gflop": None, "seconds": None}
        batch = self.runs[0]["batch_size"]
        return {
            "steps": steps,
            "examples": steps * batch,
            "gflop": round(steps * self.gflop_per_step, 2),
            "seconds": round(float(self._median("seconds") or 0.0), 2),
        }

    def leaderboard(self) -> list[dict[str, Any]]:
        """Gradescope's ``leaderboard`` array (empty when the recipe was refused)."""
        if self.problem is not None:
            return []
        numbers = self.summary()

        def entry(name: str, key: str) -> dict[str, Any]:
            value = "not reached" if numbers[key] is None else numbers[key]
            return {"name": name, "value": value, "order": "asc"}

        return [
            entry("GFLOP to 99% (median)", "gflop"),
            entry("steps to 99% (median)", "steps"),
            entry("examples to 99% (median)", "examples"),
            entry("seconds to 99% (median)", "seconds"),
            {"name": "task", "value": self.task},
        ]

    def message(self) -> str:
        """What the student reads about the speedrun."""
        if self.problem is not None:
            return f"speedrun.toml was not trained: {self.problem}"
        lines = []
        for run in self.runs:
            if run.get("steps") is not None:
                lines.append(
                    f"seed {run['seed']}: 99% after {run['steps']} steps "
                    f"({run['steps'] * self.gflop_per_step:.1f} GFLOP, {run['seconds']:.1f} s)"
                )
            elif run.get("problem"):
                lines.append(f"seed {run['seed']}: not reached ({run['problem']})")
            else:
                lines.append(
                    f"seed {run['seed']}: not reached (best exact match at the end: "
                    f"{run['exact_match']:.3f} after {run['trained_steps']} steps)"
                )
        numbers = self.summary()
        if self.reached:
            head = (
                f"{self.task}: median {numbers['steps']} steps, {numbers['examples']} examples, "
                f"{numbers['gflop']} GFLOP (estimated 6 x parameters x tokens), "
                f"{numbers['seconds']} s to 99% exact match on the held-out set"
            )
        else:
            head = (
                f"{self.task}: not reached - the median seed did not reach 99% exact match "
                "within the recipe's steps, so the recipe has no place on the leaderboard"
            )
        return "\n".join([head, *lines])

    def test_entry(self) -> dict[str, Any]:
        """A visible entry of Gradescope's ``tests`` worth no points, saying what happened."""
        return {
            "name": f"part {PART} · speedrun: leaderboard (bonus, no points)",
            "number": f"{PART}.speedrun",
            "score": 0.0,
            "max_score": 0.0,
            "output": self.message(),
            "visibility": "visible",
            "status": "passed" if self.reached else "failed",
            "tags": [f"part{PART}", "speedrun"],
            "extra_data": {
                "speedrun": {"task": self.task, "status": self.status, **self.summary()}
            },
        }


# ------------------------------------------------------------------------ the grader's side


def wanted(folder: Path, parts: list[int]) -> bool:
    """Whether a submission prepared in ``folder`` asks for a speedrun that is graded here."""
    return PART in parts and (folder / FILE_NAME).is_file()


def run(path: Path, deadline: float, seeds: tuple[int, ...] | None = None) -> Speedrun:
    """Check and train the recipe at ``path`` until ``deadline`` (``time.monotonic()``),
    with ``seeds`` (:data:`SEEDS` when None).

    Never raises: a refused recipe, a failed run or the end of the time become the result's
    ``problem`` or a run's note.
    """
    started = time.monotonic()
    seeds = SEEDS if seeds is None else tuple(seeds)
    result = Speedrun(seeds=seeds)
    try:
        with path.open("rb") as handle:
            recipe = parse(handle.read(MAX_BYTES + 1))
        result.task = recipe.task
        cost = check_budget(recipe)
        result.gflop_per_step = cost.gflop_per_step
        for seed in seeds:
            left = deadline - time.monotonic()
            if left <= 1:
                result.runs.append({"seed": seed, "steps": None, "problem": "ran out of time"})
                continue
            result.runs.append(_train_in_child(recipe, seed, cost.eval_every, left))
            if len(seeds) - sum(r["steps"] is None for r in result.runs) <= len(seeds) // 2:
                break  # more than half did not reach 99%: the median cannot either
    except RecipeError as error:
        result.problem = str(error)
    except Exception as error:  # the grader's own failure: the grade goes on
        result.problem = f"the grader could not train it ({type(error).__name__})"
    result.seconds = time.monotonic() - started
    return result


CSV_HEADER = (
    "speedrun task",
    "speedrun status",
    "speedrun steps",
    "speedrun GFLOP",
    "speedrun seconds",
)
"""The batch CSV's speedrun columns: medians over the seeds, empty when not reached."""


def csv_fields(results: dict[str, Any]) -> list[str]:
    """The batch CSV's speedrun columns from one ``results.json`` (empty without a speedrun)."""
    for test in results.get("tests", []):
        extra = test.get("extra_data") if isinstance(test, dict) else None
        summary = extra.get("speedrun") if isinstance(extra, dict) else None
        if isinstance(summary, dict):
            values = [summary.get(k) for k in ("steps", "gflop", "seconds")]
            shown = ["" if v is None else f"{v:g}" for v in values]
            return [str(summary.get("task") or ""), str(summary.get("status", "")), *shown]
    return [""] * len(CSV_HEADER)


def _child() -> None:
    """``python -m autograder.grader.speedrun SEED EVAL_EVERY`` with the recipe on stdin."""
    seed, eval_every = int(sys.argv[1]), int(sys.argv[2])
    data = json.loads(sys.stdin.read())
    recipe = Recipe(data["task"], data["model"], data["training"])
    if "betas" in recipe.training:
        recipe.training["betas"] = tuple(recipe.training["betas"])
    print(json.dumps(train_one(recipe, seed, eval_every)))


if __name__ == "__main__":
    _child()
