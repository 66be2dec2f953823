"""Training and evaluation of the Transformer on the tasks of part 9 (given code).

One loop serves every task: fresh examples from the task's seeded generator (never one of
the held-out set), teacher forcing, cross-entropy on the target tokens, AdamW with a linear
warmup and a cosine decay, gradient clipping, mixed precision on CUDA, and a moving average
of the weights that evaluations use. Evaluation decodes greedily on a frozen set and reports
exact match (plus per-digit accuracy for addition and the share of well-formed trees for
the parser).

Checkpoints hold only tensors and plain Python values, so they load with
``torch.load(path, weights_only=True)``; loading one into a model of another configuration
fails with a message that lists the differences.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import plots, recipes, tasks
from .decoding import greedy_decode
from .model import Transformer, TransformerConfig


@dataclass
class TrainSettings:
    """How to train: optimisation, schedule, evaluation and stopping.

    Attributes:
        steps: optimiser steps at most.
        batch_size: examples per step.
        lr: peak learning rate, reached after ``warmup`` steps, then decayed along a cosine
            to ``lr * final_lr_fraction`` at ``steps``.
        weight_decay: AdamW's decoupled weight decay, on matrices only (not on biases,
            norms or other vectors).
        betas: AdamW's decay rates of the first and second moment estimates.
        label_smoothing: of the cross-entropy.
        clip: maximum gradient norm.
        ema: decay of an exponential moving average of the weights (0: none). When set,
            evaluations use the average and ``train`` leaves the average in the model: the
            average of the last few dozen steps is more accurate than the last step's
            weights. The decay ramps up as ``min(ema, (1 + t) / (10 + t))`` after step
            ``t``, so the first steps' random weights do not linger in the average.
        eval_every: evaluate on the held-out set every this many steps (0: only at the end).
        eval_size: how many held-out examples the periodic evaluations use (all at the end).
        stop_at: stop as soon as a periodic evaluation reaches this exact match (None: never).
        precision: ``"auto"`` (bfloat16 autocast on CUDA and on CPUs with native bfloat16
            arithmetic, float32 elsewhere), ``"float32"`` or ``"bfloat16"``.
    """

    steps: int = 2000
    batch_size: int = 64
    lr: float = 1e-3
    warmup: int = 100
    final_lr_fraction: float = 0.1
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.95)
    label_smoothing: float = 0.0
    clip: float = 1.0
    ema: float = 0.95
    eval_every: int = 0
    eval_size: int = 1000
    stop_at: float | None = None
    seed: int = 0
    precision: str = "auto"

    def __post_init__(self) -> None:
        if not 0.0 <= self.ema < 1.0:
            raise ValueError(f"ema must be in [0, 1) (0 turns it off), got {self.ema}")
        pair = isinstance(self.betas, tuple | list) and len(self.betas) == 2
        if not pair or not all(0.0 <= beta < 1.0 for beta in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas}")


@dataclass
class History:
    """What happened during training: per-step losses and the periodic evaluations.

    ``train_seconds`` counts only the time spent in training steps (not in evaluations).
    """

    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    token_accuracies: list[float] = field(default_factory=list)
    evaluations: list[dict[str, float]] = field(default_factory=list)
    train_seconds: float = 0.0


def settings_for(name: str, **overrides: object) -> TrainSettings:
    """The training settings of task ``name``'s recipe, with ``overrides`` applied."""
    fields = {**recipes.load(name).training, **overrides}
    unknown = sorted(set(fields) - {f.name for f in dataclasses.fields(TrainSettings)})
    if unknown:
        raise ValueError(f"recipe {name}: [training] has no setting {', '.join(unknown)}")
    return TrainSettings(**fields)


def build_model(task: tasks.Task, **overrides: object) -> Transformer:
    """The task's Transformer (its recipe's ``[model]`` with ``overrides`` applied),
    initialised by :func:`initialise_for_training`."""
    fields = {
        **recipes.load(task.name).model,
        "dropout": 0.0,
        "src_vocab_size": len(task.vocabulary),
        "tgt_vocab_size": len(task.vocabulary),
        "max_len": max(task.max_source_len, task.max_target_len) + 8,
        "pad_id": task.vocabulary.pad_id,
        **overrides,
    }
    return initialise_for_training(Transformer(TransformerConfig(**fields)))


def initialise_for_training(model: Transformer) -> Transformer:
    """Start every layer as the identity and scale token embeddings like the positions.

    The last projection of every attention and feed-forward branch (``w_o`` and
    ``linear2``) starts at zero. Its gradient is not zero, so the branches switch on in the
    first steps while the signal meanwhile reaches every layer undisturbed. Token
    embeddings start at standard deviation ``(2 * d_model) ** -0.5``: after the
    ``sqrt(d_model)`` scaling each component has standard deviation ``1 / sqrt(2)``, the
    root mean square of a sinusoidal component, so tokens and positions start equally
    loud. On the addition task these cut the steps to 99% by about 40%
    (docs/benchmarks.md).
    """
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if ".w_o." in name or ".linear2." in name:
                parameter.zero_()
            elif name.endswith("embeddings.token.weight"):
                parameter.normal_(0.0, (2 * parameter.shape[-1]) ** -0.5)
    return model


def _lr_factor(step: int, settings: TrainSettings) -> float:
    """Linear warmup to 1, then a cosine down to ``final_lr_fraction``."""
    if step < settings.warmup:
        return (step + 1) / settings.warmup
    progress = min(1.0, (step - settings.warmup) / max(1, settings.steps - settings.warmup))
    low = settings.final_lr_fraction
    return low + (1 - low) * 0.5 * (1 + math.cos(math.pi * progress))


def _cpu_has_native_bfloat16() -> bool:
    """Whether the CPU multiplies bfloat16 in hardware (AVX-512 BF16 or AMX), on Linux."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _autocast_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device`` (None: plain float32)."""
    if precision not in ("auto", "float32", "bfloat16"):
        raise ValueError(f"precision must be 'auto', 'float32' or 'bfloat16', got {precision!r}")
    if precision == "float32":
        return None
    if device.type == "cuda":
        # float16 where the GPU has no bfloat16; the loss is then scaled (see train).
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and (precision == "bfloat16" or _cpu_has_native_bfloat16()):
        return torch.bfloat16
    return None


def available_device(name: str | torch.device) -> torch.device:
    """``name`` as a device, or a ValueError saying why it cannot be used here."""
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ValueError(f"device {str(name)!r} is not a torch device ({error})") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {str(name)!r} is not available: torch {torch.__version__} sees no CUDA "
            "GPU here; train with --device cpu (make train DEVICE=cpu)"
        )
    return device


def train(
    model: Transformer,
    task: tasks.Task,
    settings: TrainSettings,
    device: str | torch.device = "cpu",
    progress: bool = True,
    eval_examples: Sequence[tasks.Example] | None = None,
) -> History:
    """Train ``model`` on fresh examples of ``task``; evaluate on ``eval_examples``.

    Args:
        model: a :class:`Transformer` whose vocabulary is the task's.
        task: what to learn; its held-out set is excluded from the training examples.
        settings: optimisation, schedule, evaluation and stopping.
        device: where to train (``"cpu"``, ``"cuda"``, ...).
        progress: show a tqdm progress bar.
        eval_examples: the set for periodic evaluations (default: the task's held-out set).

    Returns:
        The :class:`History` of the run; ``model`` is trained in place (and holds the
        moving average of its weights at the end if ``settings.ema`` is set).
    """
    device = available_device(device)
    torch.manual_seed(settings.seed)
    model.to(device).train()
    averaged = copy.deepcopy(model) if settings.ema else model
    heldout = tasks.load_eval_set(task.heldout)
    if eval_examples is None:
        eval_examples = heldout
    batches = tasks.training_batches(
        task, settings.batch_size, settings.seed, exclude={source for source, _ in heldout}
    )
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": settings.weight_decay}, {"params": no_decay}],
        lr=settings.lr,
        betas=settings.betas,
        eps=1e-9,
        weight_decay=0.0,
        # One fused kernel for all parameters: on a small model the per-tensor loop of the
        # default implementation costs as much as the arithmetic.
        fused=device.type in ("cpu", "cuda"),
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, settings))
    autocast_dtype = _autocast_dtype(device, settings.precision)
    # Loss scaling is needed only for float16 autocast; bfloat16 and float32 do without.
    scaler = torch.amp.GradScaler(device.type, enabled=autocast_dtype == torch.float16)
    history = History()
    bar = tqdm(range(settings.steps), desc=task.name, disable=not progress, leave=False)
    for step in bar:
        started = time.perf_counter()
        source, target = (t.to(device, non_blocking=True) for t in next(batches))
        inputs, labels = tasks.teacher_forcing(target, task.vocabulary.pad_id)
        with torch.autocast(device.type, autocast_dtype, enabled=autocast_dtype is not None):
            logits = model(source, inputs)
        loss = F.cross_entropy(
            logits.float().flatten(0, 1),
            labels.flatten(),
            ignore_index=-100,
            label_smoothing=settings.label_smoothing,
        )
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings.clip)
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        with torch.no_grad():
            if settings.ema:
                weight = 1.0 - min(settings.ema, (1 + step) / (10 + step))
                for mean, parameter in zip(averaged.parameters(), model.parameters(), strict=True):
                    mean.lerp_(parameter, weight)
            real = labels != -100
            accuracy = (logits.argmax(-1)[real] == labels[real]).float().mean()
        history.steps.append(step + 1)
        history.losses.append(loss.item())
        history.token_accuracies.append(accuracy.item())
        history.train_seconds += time.perf_counter() - started
        bar.set_postfix(loss=f"{history.losses[-1]:.3f}")
        last = step + 1 == settings.steps
        if settings.eval_every and ((step + 1) % settings.eval_every == 0 or last):
            scores = evaluate(averaged, task, eval_examples[: settings.eval_size], device)
            scores.update(step=step + 1, train_seconds=history.train_seconds)
            history.evaluations.append(scores)
            bar.set_postfix(loss=f"{history.losses[-1]:.3f}", exact=f"{scores['exact_match']:.3f}")
            if settings.stop_at is not None and scores["exact_match"] >= settings.stop_at:
                break
    bar.close()
    if settings.ema:
        model.load_state_dict(averaged.state_dict())
    return history


@torch.no_grad()
def predict(
    model: Transformer,
    task: tasks.Task,
    sources: Sequence[Sequence[str]],
    device: str | torch.device = "cpu",
    max_len: int | None = None,
    batch_size: int = 500,
) -> list[tuple[str, ...]]:
    """Greedy predictions (target symbols in natural order) for source symbol sequences.

    ``max_len`` bounds the generated ids, BOS and EOS included (default: the task's
    longest target).
    """
    was_training = model.training
    model.eval()
    vocabulary = task.vocabulary
    predictions: list[tuple[str, ...]] = []
    for start in range(0, len(sources), batch_size):
        chunk = sources[start : start + batch_size]
        source = tasks.pad_batch([vocabulary.encode(s) for s in chunk], vocabulary.pad_id).to(
            device
        )
        generated = greedy_decode(
            model,
            source,
            max_len or task.max_target_len,
            vocabulary.bos_id,
            vocabulary.eos_id,
            pad_id=vocabulary.pad_id,
        )
        predictions.extend(task.decode_target(row.tolist()) for row in generated.cpu())
    model.train(was_training)
    return predictions


def evaluate(
    model: Transformer,
    task: tasks.Task,
    examples: Sequence[tasks.Example] | None = None,
    device: str | torch.device = "cpu",
) -> dict[str, float]:
    """Greedy-decoding scores on ``examples`` (default: the task's frozen held-out set).

    Returns:
        ``exact_match`` always; ``digit_accuracy`` for addition; ``well_formed`` (share of
        predicted trees that are statement trees) for the parser.
    """
    if examples is None:
        examples = tasks.load_eval_set(task.heldout)
    expected = [target for _, target in examples]
    # Room for the longest expected answer (longer operands than trained on need more).
    longest = max(len(target) for target in expected) + 2
    predicted = predict(model, task, [source for source, _ in examples], device, longest)
    scores = {"exact_match": tasks.exact_match(predicted, expected)}
    if task.name.startswith("addition"):
        scores["digit_accuracy"] = tasks.digit_accuracy(predicted, expected)
    if task.name.startswith("parser"):
        scores["well_formed"] = sum(map(tasks.is_well_formed, predicted)) / len(predicted)
    return scores


# ---------------------------------------------------------------------------- checkpoints


def _config_dict(model: Transformer) -> dict:
    return dataclasses.asdict(model.config)


def save_checkpoint(
    path: str | Path, model: Transformer, task: tasks.Task, history: History | None = None
) -> Path:
    """Save the weights, the configuration and the task (plain values only) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "config": _config_dict(model),
            "task": task.name,
            "reverse_target": task.reverse_target,
            "model": {name: value.detach().cpu() for name, value in model.state_dict().items()},
            "losses": list(history.losses) if history else [],
            "evaluations": list(history.evaluations) if history else [],
        },
        path,
    )
    return path


def load_checkpoint(path: str | Path, model: Transformer | None = None) -> tuple[Transformer, dict]:
    """Load a checkpoint saved by :func:`save_checkpoint` (with ``weights_only=True``).

    Args:
        path: the checkpoint file.
        model: load into this model; its configuration must be the checkpoint's. None
            builds a new model from the checkpoint's configuration.

    Returns:
        ``(model, checkpoint)``: the model with the weights, and the whole checkpoint dict.

    Raises:
        ValueError: ``model`` has another configuration (the message lists the differences).
    """
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if model is None:
        model = Transformer(TransformerConfig(**checkpoint["config"]))
    else:
        ours = _config_dict(model)
        differences = [
            f"{key}: checkpoint {checkpoint['config'].get(key)!r}, model {ours.get(key)!r}"
            for key in sorted(set(ours) | set(checkpoint["config"]))
            if ours.get(key) != checkpoint["config"].get(key)
        ]
        if differences:
            raise ValueError(
                f"checkpoint {path} was saved from a model with another configuration ("
                + "; ".join(differences)
                + ")"
            )
    model.load_state_dict(checkpoint["model"])
    return model, checkpoint


# ---------------------------------------------------------------------------- command line


def run_task(
    name: str,
    steps: int | None = None,
    device: str = "cpu",
    seed: int = 0,
    reverse: bool = False,
    out: Path = Path("runs"),
    progress: bool = True,
) -> dict[str, float]:
    """Train on task ``name``, evaluate on its held-out set, save checkpoint and plots in
    ``out/<name>/``; returns the final scores (printed too)."""
    task = tasks.make_task(name, reverse=reverse)
    settings = settings_for(name, seed=seed, eval_every=200, eval_size=200)
    if steps is not None:
        settings.steps = steps
    torch.manual_seed(seed)
    model = build_model(task)
    history = train(model, task, settings, device=device, progress=progress)
    scores = evaluate(model, task, device=device)
    folder = Path(out) / name
    save_checkpoint(folder / "checkpoint.pt", model, task, history)
    plots.plot_history(history, folder / "curves.png", title=name)
    source, _ = tasks.load_eval_set(task.heldout)[0]
    plots.plot_attention(model, task, source, folder / "attention.png", device=device)
    print(
        f"{name}: {settings.steps} steps in {history.train_seconds:.1f} s; "
        + ", ".join(f"{key} {value:.4f}" for key, value in scores.items())
        + f"; wrote {folder}/checkpoint.pt, curves.png, attention.png"
    )
    return scores
