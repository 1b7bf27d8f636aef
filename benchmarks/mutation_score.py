"""Mutation score of the grader: how many output-changing mutants it catches.

Usage: python benchmarks/mutation_score.py [--workers N] [--function NAME ...]
       [--grade-equivalent] [--json FILE] [--keep DIR]

Every small mutant of the reference's layer functions (tests/mutants.py: an
operator, comparison, constant, index, axis or argument order changed, or a
part dropped) is called beside the reference on seeded probes. A mutant whose
outputs change is graded as a hand-in (`--quick`: functions only), and is
*killed* when some function does not pass. This prints the score (killed /
output-changing) overall and per function, the mutants that differ only in a
layout the README allows (and whether the grader accepted them), and every
survivor with the outputs it changes, so that a developer can decide whether
it needs a new case or is a judgement call.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import mutants  # noqa: E402
from mutants import Outcome  # noqa: E402

SHOWN_DIFFERENCES = 4


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workers", type=int, default=2, help="processes at once (default: 2)"
    )
    parser.add_argument(
        "--function",
        action="append",
        choices=(*mutants.LAYERS, *mutants.HELPERS),
        help="mutate only this function (repeatable; default: all)",
    )
    parser.add_argument(
        "--grade-equivalent",
        action="store_true",
        help="also grade equivalent mutants (a failure there is a false alarm)",
    )
    parser.add_argument(
        "--every-check",
        action="store_true",
        help="run all 13 function checks on each hand-in, not only the mutated ones",
    )
    parser.add_argument("--json", type=Path, help="write every outcome to this file")
    parser.add_argument(
        "--keep", type=Path, help="keep the hand-ins and reports in this folder"
    )
    return parser


def _percent(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f} %" if whole else "n/a"


def _table(outcomes: Sequence[Outcome]) -> list[str]:
    """Per function: mutants, equivalent, allowed, changing, killed, score."""
    header = (
        f"{'function':<28}{'mutants':>8}{'equiv':>7}{'allowed':>8}"
        f"{'changing':>9}{'killed':>7}{'score':>9}"
    )
    lines = [header, "-" * len(header)]
    names = dict.fromkeys(o.mutant.function for o in outcomes)
    for name in [*names, "all"]:
        mine = [o for o in outcomes if name in ("all", o.mutant.function)]
        verdicts = [o.classified.verdict for o in mine]
        changing = verdicts.count("changing")
        killed = sum(
            1
            for o in mine
            if o.classified.verdict == "changing" and o.graded and o.graded.killed
        )
        if name == "all":
            lines.append("-" * len(header))
        lines.append(
            f"{name:<28}{len(mine):>8}{verdicts.count('equivalent'):>7}"
            f"{verdicts.count('allowed'):>8}{changing:>9}{killed:>7}"
            f"{_percent(killed, changing):>9}"
        )
    return lines


def _allowed(outcomes: Sequence[Outcome]) -> list[str]:
    lines = []
    for o in outcomes:
        if o.classified.verdict != "allowed":
            continue
        graded = o.graded
        verdict = "not graded"
        if graded is not None:
            verdict = (
                f"FAILED BY THE GRADER: {graded.failing}" if graded.killed else "passes"
            )
        lines.append(f"  {o.mutant.description}")
        lines.append(f"      why allowed: {o.classified.reasons[0]}")
        lines.append(f"      grader: {verdict}")
    return lines


def _survivors(outcomes: Sequence[Outcome]) -> list[str]:
    lines = []
    for o in outcomes:
        if not o.survives:
            continue
        differences = o.classified.differences
        tags = sorted({d.tag or "ordinary values" for d in differences})
        lines.append(f"  {o.mutant.key}  {o.mutant.description}")
        lines.append(f"      differs on: {', '.join(tags)}")
        for difference in differences[:SHOWN_DIFFERENCES]:
            lines.append(f"      - {difference}")
        if len(differences) > SHOWN_DIFFERENCES:
            lines.append(f"      ... and {len(differences) - SHOWN_DIFFERENCES} more")
    return lines


def _to_json(outcomes: Sequence[Outcome]) -> list[dict[str, object]]:
    return [
        {
            "key": o.mutant.key,
            "function": o.mutant.function,
            "line": o.mutant.line,
            "change": o.mutant.change,
            "verdict": o.classified.verdict,
            "reasons": list(o.classified.reasons),
            "differences": [str(d) for d in o.classified.differences],
            "graded": None if o.graded is None else o.graded.failing,
            "grader_error": None if o.graded is None else o.graded.error,
            "survives": o.survives,
        }
        for o in outcomes
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Print the report; exit 1 when an output-changing mutant survives."""
    args = _parser().parse_args(argv)
    started = time.monotonic()
    chosen = [
        m
        for m in mutants.generate()
        if args.function is None or m.function in args.function
    ]
    with tempfile.TemporaryDirectory(prefix="mutation-score-") as scratch:
        root = args.keep or Path(scratch)
        root.mkdir(parents=True, exist_ok=True)
        control = mutants.grade([mutants.reference_text()], root / "control")[0]
        if control.killed or control.error:
            print(f"the unmutated reference does not pass: {control}")
            return 2
        outcomes = mutants.run(
            chosen, root, args.workers, args.grade_equivalent, args.every_check
        )
    seconds = time.monotonic() - started

    changing = [o for o in outcomes if o.classified.verdict == "changing"]
    killed = [o for o in changing if o.graded is not None and o.graded.killed]
    errors = [o for o in outcomes if o.graded is not None and o.graded.error]
    false_alarms = [
        o
        for o in outcomes
        if o.classified.verdict != "changing" and o.graded and o.graded.killed
    ]
    survivors = [o for o in outcomes if o.survives]
    print(
        f"mutation score: {len(killed)} / {len(changing)} output-changing mutants "
        f"killed ({_percent(len(killed), len(changing))})"
    )
    print(
        f"{len(outcomes)} mutants of {len({o.mutant.function for o in outcomes})} "
        f"functions; {len(survivors)} survive; {len(errors)} grader errors; "
        f"{len(false_alarms)} false alarms; {seconds:.0f} s with "
        f"{args.workers} workers\n"
    )
    print("\n".join(_table(outcomes)))
    print("\nequivalent under the allowed layouts (not counted):")
    print("\n".join(_allowed(outcomes)) or "  none")
    if errors:
        print("\ngrader errors (the grader itself failed on these hand-ins):")
        for o in errors:
            print(f"  {o.mutant.description}\n      {o.graded.error}")  # type: ignore[union-attr]
    if false_alarms:
        print("\nfalse alarms (equivalent or allowed, yet not passed):")
        for o in false_alarms:
            print(f"  {o.mutant.description}\n      {o.graded.failing}")  # type: ignore[union-attr]
    print("\nsurviving output-changing mutants:")
    print("\n".join(_survivors(outcomes)) or "  none")
    if args.json is not None:
        args.json.write_text(json.dumps(_to_json(outcomes), indent=1))
    return 1 if survivors or errors else 0


if __name__ == "__main__":
    sys.exit(main())
