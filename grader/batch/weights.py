"""Submitted weights: the `.mat` files the course driver saves, when handed in.

Each file is read (in a limited child, `matfile`), checked like a trainer's
answer and classifies the test set with the reference forward pass, without
training anything. Its accuracy is then compared with the same trainer's
weights as the grader retrained them: from the grading itself when it
trained, or, under `--quick` when the rubric sets `[weights] retrain = true`,
from one extra training run. A gap larger than the rubric's `max_gap` is
flagged: weights that do much better than the code that should have made
them deserve a look.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from grader import training
from grader.batch import matfile
from grader.batch.layouts import WEIGHT_FILES
from grader.discover import Dataset
from grader.grade import Options
from grader.homework.spec import EMBEDDED_TARGETS, trainer
from grader.result import GradeResult


@dataclass(frozen=True)
class SubmittedWeights:
    """The verdict on one submitted weights file."""

    file: str
    trainer: str
    accuracy: float | None = None
    problem: str = ""
    retrained: float | None = None
    retrained_note: str = ""
    gap: float | None = None
    flagged: bool = False
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(
    files: tuple[tuple[str, Path], ...],
    result: GradeResult,
    module: Path,
    data: Dataset,
    options: Options,
) -> list[SubmittedWeights]:
    """Every submitted weights file, read, evaluated and compared."""
    return [_one(name, path, result, module, data, options) for name, path in files]


def _one(
    name: str,
    path: Path,
    result: GradeResult,
    module: Path,
    data: Dataset,
    options: Options,
) -> SubmittedWeights:
    spec = trainer(WEIGHT_FILES[name])
    names = tuple(n for n, _ in spec.weights)
    arrays, problem = matfile.read(path, names)
    if not problem:
        canonical, _, problem, _ = training.validate_weights(
            spec, [arrays[n] for n in names]
        )
    if problem:
        return SubmittedWeights(
            name, spec.name, problem=problem, message=f"{name}: unusable: {problem}"
        )
    assert canonical is not None
    predicted = training.reference_predictions(spec, canonical, data.im_test)
    accuracy = float(np.mean(predicted == data.label_test.reshape(-1)))
    retrained, note = _retrained(spec.name, result, module, data, options)
    gap = None if retrained is None else abs(accuracy - retrained)
    flagged = gap is not None and gap > options.rubric.max_weights_gap
    message = f"{name}: {accuracy:.2%} on the test set (reference forward pass)"
    if retrained is not None:
        message += f"; {spec.name} as retrained by the grader: {retrained:.2%}"
    elif note:
        message += f"; {note}"
    if flagged:
        assert gap is not None
        message += (
            f"; the gap of {gap * 100:.1f} points is more than "
            f"{options.rubric.max_weights_gap * 100:g}: these weights do not come "
            f"from this {spec.name}"
        )
    if data.embedded:
        message += " (measured on the grader's embedded digits, not the course data)"
    return SubmittedWeights(
        name, spec.name, accuracy, "", retrained, note, gap, flagged, message
    )


def _retrained(
    name: str, result: GradeResult, module: Path, data: Dataset, options: Options
) -> tuple[float | None, str]:
    """The grader's own training of `name`: (accuracy, or why there is none)."""
    check = next((c for c in result.checks if c.name == name), None)
    if check is None or check.status == "missing":
        return None, f"{name} is not in the hand-in: nothing to compare with"
    if check.status != "skipped":
        accuracy = check.training.accuracy if check.training else None
        if accuracy is None:
            return None, f"{name} gave no weights to compare with ({check.status})"
        return accuracy, ""
    if not options.rubric.retrain_weights:
        return None, "not compared with a retraining (--quick)"
    batches_ok = any(
        c.name == "get_mini_batch" and c.status == "pass" for c in result.checks
    )
    targets = dict(EMBEDDED_TARGETS) if data.embedded else {}
    targets.update(options.targets or {})
    spec = trainer(name)
    outcome = training.run_trainer(
        module,
        spec,
        data,
        batches_ok,
        options.limits,
        options.train_seconds,
        targets.get(name, spec.target),
        options.hide,
    )
    if outcome.training.accuracy is None:
        return None, f"retraining {name} gave no weights: {outcome.message}"
    return outcome.training.accuracy, ""
