"""Training checks: run a student's trainer in its own sandbox, then measure.

As the course driver does: np.random.seed(0) before get_mini_batch and again
before the trainer, batch size 32, images divided by 255. The batches are the
student's own when their get_mini_batch passed its checks, else the
reference's. The returned weights are checked for count, shape and
finiteness, then classify the test set twice: with the reference forward pass
(this decides the verdict) and with the student's own functions (as the
driver would run them).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from grader import diagnose
from grader.compare import as_array, describe
from grader.discover import Dataset
from grader.homework import probes
from grader.homework.spec import BATCH_SIZE, TRAINING_SEED, TrainerSpec
from grader.result import Training
from grader.sandbox.runner import Failure, Limits, Sandbox


def reference_batches(data: Dataset) -> tuple[list[np.ndarray], list[np.ndarray]]:
    from reference import cnn as reference

    state = np.random.get_state()
    np.random.seed(TRAINING_SEED)
    try:
        return reference.get_mini_batch(data.im_train, data.label_train, BATCH_SIZE)
    finally:
        np.random.set_state(state)


def validate_weights(
    spec: TrainerSpec, value: object
) -> tuple[list[np.ndarray] | None, list[np.ndarray] | None, str, list[str]]:
    """(weights in the spec's shapes, weights as returned, problem, notes)."""
    names = ", ".join(n for n, _ in spec.weights)
    if not isinstance(value, list | tuple) or len(value) != len(spec.weights):
        return (
            None,
            None,
            f"expected {len(spec.weights)} arrays ({names}), got {describe(value)}",
            [],
        )
    canonical, raw, notes = [], [], []
    for (name, shape), item in zip(spec.weights, value, strict=True):
        array = as_array(item)
        if array is None:
            return None, None, f"{name} is {describe(item)}, not a numeric array", []
        raw.append(array)
        if array.shape != shape:
            vector_like = (
                sum(d > 1 for d in array.shape) <= 1 and sum(d > 1 for d in shape) <= 1
            )
            if array.size == int(np.prod(shape)) and vector_like:
                notes.append(f"{name} returned with shape {array.shape}")
                array = array.reshape(shape)
            else:
                return (
                    None,
                    raw,
                    f"{name} has shape {array.shape}, expected {shape}",
                    notes,
                )
        if not np.isfinite(array).all():
            return None, raw, f"{name} contains nan or inf", notes
        canonical.append(array.astype(np.float64))
    return canonical, raw, "", notes


def reference_predictions(
    spec: TrainerSpec,
    weights: list[np.ndarray],
    images: np.ndarray,
    overrides: dict[str, object] | None = None,
) -> np.ndarray:
    """Class predictions of the spec's model with the reference layers.

    `overrides` replaces some layers (by name) with other functions: the
    diagnosis uses it to read weights with a known faulty forward pass.
    """
    from reference import cnn as reference

    layers = {fn: getattr(reference, fn) for fn, _ in spec.steps}
    layers.update(overrides or {})
    labels = np.empty(images.shape[1], dtype=np.int64)
    for k in range(images.shape[1]):
        x = images[:, k].reshape(spec.image_shape, order=spec.image_order)
        prev: object = x
        for fn, arg_specs in spec.steps:
            args = [
                x if a == "x" else prev if a == "prev" else weights[a]
                for a in arg_specs
            ]
            prev = layers[fn](*args)  # type: ignore[operator]
        labels[k] = int(np.argmax(prev))
    return labels


def confusion(predicted: np.ndarray, true: np.ndarray) -> tuple[tuple[int, ...], ...]:
    """Counts with rows = predicted class, columns = true class."""
    matrix = np.zeros((10, 10), dtype=np.int64)
    np.add.at(matrix, (predicted, true), 1)
    return tuple(tuple(int(v) for v in row) for row in matrix)


@dataclass(frozen=True)
class Outcome:
    """A trainer's verdict before scoring, and what it printed."""

    status: str
    message: str
    training: Training
    notes: tuple[str, ...] = ()
    failure: Failure | None = None
    output: str = ""
    output_bytes: int = 0
    mistakes: tuple[str, ...] = ()


def run_trainer(
    module: Path,
    spec: TrainerSpec,
    data: Dataset,
    own_batches: bool,
    limits: Limits,
    seconds: float,
    target: float,
    hide: tuple[Path, ...] = (),
) -> Outcome:
    """Train in a fresh sandbox, check the weights, measure the accuracy."""
    batches = "own" if own_batches else "reference"
    pending = Training(target=target, limit=seconds, batches=batches)
    with Sandbox(module, limits, hide) as sandbox:
        hello = sandbox.start()
        if not hello.get("ok"):
            error = hello.get("error") or {}
            failure = Failure("import", str(error.get("message", "")))
            return Outcome("error", failure.message, pending, failure=failure)
        header = {
            "op": "train",
            "fn": spec.name,
            "batches": "own" if own_batches else "given",
            "seed": TRAINING_SEED,
        }
        if own_batches:
            args: list[object] = [data.im_train, data.label_train, BATCH_SIZE]
        else:
            args = list(reference_batches(data))
        reply = sandbox.request(header, args, seconds=seconds)
        trained = replace(pending, seconds=reply.seconds)
        if reply.failure is not None:
            return _lost(spec, reply.failure, trained, sandbox)
        weights, raw, problem, notes = validate_weights(spec, reply.value)
        if weights is None:
            return Outcome(
                "fail", problem, trained, tuple(notes), None, *_printed(sandbox)
            )

        predicted = reference_predictions(spec, weights, data.im_test)
        true = data.label_test.reshape(-1).astype(np.int64)
        accuracy = float(np.mean(predicted == true))
        own_accuracy, own_error = _own_forward(
            sandbox, spec, raw or weights, data, limits
        )
        trained = replace(
            trained,
            accuracy=accuracy,
            accuracy_own_forward=own_accuracy,
            own_forward_error=own_error,
            confusion=confusion(predicted, true),
        )
        passed = accuracy > target
        relation = ">" if passed else "<="
        message = f"test accuracy {accuracy:.2%} {relation} target {target:.0%}"
        if own_accuracy is not None and abs(own_accuracy - accuracy) > 0.005:
            message += f"; with your own forward functions {own_accuracy:.2%}"
        message += f"; trained in {reply.seconds:.1f} s of the {seconds:g} s limit"
        found: list[str] = []
        if not passed:
            for mistake, reached in diagnose.forward_mistakes(
                spec, weights, data.im_test, true, target, reference_predictions
            ):
                found.append(mistake)
                message += f"; read with the {mistake} forward pass: {reached:.2%}"
            found += _probe(sandbox, spec, data)
        printed = _printed(sandbox)
    status = "pass" if passed else "fail"
    return Outcome(status, message, trained, tuple(notes), None, *printed, tuple(found))


# A trainer stopped at the limit after fetching this many mini-batches was
# looping far beyond any training length (the course's trainers take at most
# a few tens of thousands of steps), not merely slow.
ENDLESS_FETCHES = 50_000


def _lost(
    spec: TrainerSpec, failure: Failure, trained: Training, sandbox: Sandbox
) -> Outcome:
    """The outcome of a trainer that raised, hung, exited or crashed."""
    text = failure.text()
    found = diagnose.trainer_mistakes(text)
    if failure.cause != "timeout":
        return Outcome(
            "error", text, trained, (), failure, *_printed(sandbox), tuple(found)
        )
    fetched = sandbox.progress
    if fetched is not None and fetched >= ENDLESS_FETCHES:
        found.append("never-returns")
        text += f"; it had fetched {fetched:,} mini-batches and was still going"
    else:
        found.append("too-slow")
        if fetched:
            pace = (trained.seconds or trained.limit) / fetched
            text += f"; it had fetched {fetched:,} mini-batches ({pace:.3g} s each)"
    return Outcome(
        "timeout", text, trained, (), failure, *_printed(sandbox), tuple(found)
    )


def _probe(sandbox: Sandbox, spec: TrainerSpec, data: Dataset) -> list[str]:
    """Mistakes in the training step, from the trainer's first recorded calls."""
    if spec.name not in probes.PROBES:
        return []
    watch, stop_after, tests = probes.PROBES[spec.name]
    mini_batch_x, mini_batch_y = reference_batches(data)
    header = {
        "op": "trace",
        "fn": spec.name,
        "watch": list(watch),
        "stop_fn": watch[0],
        "stop_after": stop_after,
        "seed": TRAINING_SEED,
    }
    reply = sandbox.request(header, [mini_batch_x[:2], mini_batch_y[:2]], seconds=60.0)
    if reply.failure is not None or not isinstance(reply.value, list):
        return []
    calls = [
        (str(c[0]), list(c[1]), c[2])
        for c in reply.value
        if isinstance(c, list) and len(c) == 3 and isinstance(c[1], list)
    ]
    return [name for name, test in tests if test(calls)]


def _printed(sandbox: Sandbox) -> tuple[str, int]:
    return sandbox.output.text(), sandbox.output.total


def _own_forward(
    sandbox: Sandbox,
    spec: TrainerSpec,
    weights: list[np.ndarray],
    data: Dataset,
    limits: Limits,
) -> tuple[float | None, str]:
    """Accuracy of the weights with the student's own layer functions."""
    steps = [[fn, list(arg_specs)] for fn, arg_specs in spec.steps]
    layout = {"shape": list(spec.image_shape), "order": spec.image_order}
    reply = sandbox.request(
        {"op": "predict", "steps": steps, "layout": layout},
        [data.im_test, *weights],
        seconds=max(limits.call_seconds, 120.0),
    )
    if reply.failure is not None:
        return None, reply.failure.message
    predicted = as_array(reply.value)
    true = data.label_test.reshape(-1)
    if predicted is None or predicted.shape != true.shape:
        return None, f"unusable predictions: {describe(reply.value)}"
    return float(np.mean(predicted == true)), ""
