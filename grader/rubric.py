"""The rubric: points per check and the partial-credit rules, from TOML."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from grader.discover import UsageError
from grader.homework.spec import ALL_NAMES

DEFAULT = Path(__file__).resolve().parent / "data" / "rubric.toml"
PARTIAL_KEYS = ("function_cases", "trainer_own_forward", "trainer_below_target")
WEIGHTS_KEYS = ("retrain", "max_gap")


@dataclass(frozen=True)
class Rubric:
    points: dict[str, float]
    partial: dict[str, float]
    source: str
    # Submitted weights (slp.mat, ...), evaluated by class and Gradescope
    # grading: retrain their trainer under --quick too, and the gap in test
    # accuracy between submitted and retrained weights that gets flagged.
    retrain_weights: bool = False
    max_weights_gap: float = 0.05

    @property
    def total(self) -> float:
        return sum(self.points.values())


def _read(path: Path) -> dict[str, dict[str, object]]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise UsageError(f"--rubric {path}: cannot read it ({err.strerror})") from err
    except tomllib.TOMLDecodeError as err:
        raise UsageError(f"--rubric {path}: not valid TOML ({err})") from err


def load(path: Path | None = None) -> Rubric:
    """The default rubric, overridden key by key by the file at `path`."""
    base = _read(DEFAULT)
    points = {k: float(v) for k, v in base["points"].items()}  # type: ignore[arg-type]
    partial = {k: float(v) for k, v in base["partial"].items()}  # type: ignore[arg-type]
    weights = dict(base.get("weights", {}))
    if path is None:
        return _rubric(points, partial, "default", weights)
    override = _read(path)
    unknown = set(override) - {"points", "partial", "weights"}
    if unknown:
        raise UsageError(f"--rubric {path}: unknown section(s) {sorted(unknown)}")
    for section, allowed, target in (
        ("points", ALL_NAMES, points),
        ("partial", PARTIAL_KEYS, partial),
        ("weights", WEIGHTS_KEYS, weights),
    ):
        for key, value in override.get(section, {}).items():
            if key not in allowed:
                raise UsageError(
                    f"--rubric {path}: [{section}] {key} is not one of "
                    f"{', '.join(allowed)}"
                )
            if key == "retrain":
                if not isinstance(value, bool):
                    raise UsageError(
                        f"--rubric {path}: [weights] retrain = {value!r} "
                        "must be true or false"
                    )
                target[key] = value
                continue
            if (
                not isinstance(value, int | float)
                or isinstance(value, bool)
                or value < 0
            ):
                raise UsageError(
                    f"--rubric {path}: [{section}] {key} = {value!r} "
                    "must be a number >= 0"
                )
            if section != "points" and value > 1:
                raise UsageError(
                    f"--rubric {path}: [{section}] {key} = {value} must be <= 1"
                )
            target[key] = float(value)
    return _rubric(points, partial, str(path), weights)


def _rubric(
    points: dict[str, float],
    partial: dict[str, float],
    source: str,
    weights: dict[str, object],
) -> Rubric:
    return Rubric(
        points,
        partial,
        source,
        retrain_weights=bool(weights.get("retrain", False)),
        max_weights_gap=float(weights.get("max_gap", 0.05)),  # type: ignore[arg-type]
    )
