"""`grade DIR` on a class: stage, grade what the cache lacks, write the outputs.

This is command-line code (it prints): the library modules it drives never
do. Exit status: 0 when every hand-in was graded (or had nothing to grade),
1 when the grader failed on some hand-in, 2 for a usage error or an
interruption (what was graded is cached: the same command resumes).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from grader import atomic, rubric, terminal
from grader.batch import cache, gradebook, overview, stage
from grader.batch.layouts import Handin, Roster
from grader.batch.progress import Progress
from grader.batch.records import (
    GRADER_ERROR,
    NO_MODULE,
    PASSED,
    Graded,
    status_of,
)
from grader.batch.runner import Executor, LocalExecutor
from grader.batch.work import Settings, job
from grader.discover import UsageError, load_data
from grader.grade import VERSION
from grader.homework.spec import ALL_NAMES
from grader.rubric import Rubric

log = logging.getLogger("grader")


@dataclass
class _Pending:
    """A hand-in waiting for its grading, and where its result will go."""

    index: int
    key: str
    staged: stage.Staged


def settings_from(args: argparse.Namespace, folder: Path) -> Settings:
    return Settings(
        rubric=str(args.rubric.resolve()) if args.rubric else None,
        data=str(args.data.resolve()) if args.data else None,
        quick=args.quick,
        train_seconds=args.train_seconds,
        call_seconds=args.call_seconds,
        memory_bytes=int(args.memory_mb) << 20,
        processes=args.processes,
        # a hand-in sees neither the reports (nor other staged hand-ins) nor
        # the class folder with everyone else's files
        hide=(str(args.out.resolve()), str(folder.resolve())),
    )


def executor_from(args: argparse.Namespace) -> Executor:
    jobs = args.jobs or os.cpu_count() or 1
    if args.executor == "dask":
        from grader.batch.dask_runner import DaskExecutor

        return DaskExecutor(jobs, args.scheduler)
    if args.scheduler:
        raise UsageError("--scheduler is for --executor dask")
    return LocalExecutor(jobs)


def run(args: argparse.Namespace, roster: Roster) -> int:
    """Grade the class in `args.path`; print a summary; the exit status."""
    folder: Path = args.path
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        if args.only:
            raise UsageError(
                "--only re-checks part of one hand-in; a class is graded whole "
                "(its cache already skips what has not changed)"
            )
        loaded = rubric.load(args.rubric)
        data_name = _check_data(args.data)
        settings = settings_from(args, folder)
        executor = executor_from(args)
        records = _grade_all(args, roster, settings, loaded, executor)
    except UsageError as err:
        print(f"grade: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "grade: interrupted; the hand-ins graded so far are cached: run the "
            "same command again to grade the rest",
            file=sys.stderr,
        )
        return 2
    except OSError as err:
        print(f"grade: cannot write the reports: {err}", file=sys.stderr)
        return 2
    except Exception:
        log.error("internal error, please report it:\n%s", traceback.format_exc())
        return 2
    finally:
        signal.signal(signal.SIGTERM, previous)
    info = overview.ClassInfo(
        folder=str(folder),
        layout=_LAYOUT_NAMES[roster.layout],
        max_score=loaded.total,
        data=data_name,
        quick=args.quick,
        rubric=loaded.source,
        grader_version=VERSION,
    )
    try:
        _write_outputs(args, records, info, roster.layout)
    except OSError as err:
        print(f"grade: cannot write the reports: {err}", file=sys.stderr)
        return 2
    print(_summary(records, roster, args.out))
    return 1 if any(r.status == GRADER_ERROR for r in records) else 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM (`kill`) stops the batch as Ctrl-C does: workers cleaned up."""
    raise KeyboardInterrupt


_LAYOUT_NAMES = {
    "folders": "a folder per student",
    "lms": "an LMS export, files prefixed by student",
    "gradescope": "a Gradescope export",
}


def _check_data(data: Path | None) -> str:
    """Reject bad --data once, before any hand-in is graded."""
    if data is None:
        return "the grader's embedded digits (no --data given)"
    return load_data(data, data).source


def _grade_all(
    args: argparse.Namespace,
    roster: Roster,
    settings: Settings,
    loaded: Rubric,
    executor: Executor,
) -> list[Graded]:
    out: Path = args.out.resolve()  # workers run in a folder of their own
    store = cache.Cache(out / ".cache")
    common = cache.settings_digest(
        loaded, args.data.resolve() if args.data else None, settings.verdict_options()
    )
    records: list[Graded | None] = [None] * len(roster.handins)
    pending: list[_Pending] = []
    for index, handin in enumerate(roster.handins):
        try:
            staged = stage.stage(handin, out / ".handins" / handin.student)
        except OSError as err:  # an unreadable file: this hand-in only
            message = f"cannot copy its files for grading: {err}"
            records[index] = Graded(handin, GRADER_ERROR, message=message)
            continue
        if staged.module is None:
            records[index] = Graded(
                handin, NO_MODULE, message=staged.problem, notes=staged.notes
            )
            continue
        key = cache.key(common, handin.student, staged.folder, staged.files)
        entry = None if args.regrade else store.get(key)
        if entry is not None:
            records[index] = _record(handin, staged, entry, cached=True)
            _write_report(out, records[index], entry)
        else:
            pending.append(_Pending(index, key, staged))

    stream = sys.stderr
    progress = Progress(
        len(roster.handins),
        len(roster.handins) - len(pending),
        sum(r is not None and r.cached for r in records),
        lambda text: (stream.write(text), stream.flush()),
        terminal=terminal.use_colour(stream),
    )
    progress.show(force=True)

    def done(position: int, outcome: dict[str, Any]) -> None:
        item = pending[position]
        handin = roster.handins[item.index]
        if "error" in outcome:
            record = Graded(
                handin,
                GRADER_ERROR,
                message=str(outcome["error"]).strip().splitlines()[-1],
                notes=item.staged.notes,
            )
            atomic.write_text(out / handin.student / "error.txt", outcome["error"])
        else:
            entry = {**outcome, "student": handin.student}
            store.put(item.key, entry)
            record = _record(handin, item.staged, entry, cached=False)
            _write_report(out, record, entry)
        records[item.index] = record
        progress.finished(record.status == GRADER_ERROR)

    jobs = [
        job(
            roster.handins[p.index].student,
            p.staged.module,  # type: ignore[arg-type]
            roster.handins[p.index].path,
            p.staged.weights,
            settings,
        )
        for p in pending
    ]
    try:
        if jobs:
            executor.run(jobs, done, progress.show)
    finally:
        progress.close()
    return [r for r in records if r is not None]


def _record(
    handin: Handin, staged: stage.Staged, entry: dict[str, Any], cached: bool
) -> Graded:
    result = dict(entry["result"])
    result["submission"] = str(handin.path)
    return Graded(
        handin,
        status_of(result),
        result,
        tuple(entry.get("weights", [])),
        cached,
        notes=staged.notes,
    )


def _write_report(out: Path, record: Graded, entry: dict[str, Any]) -> None:
    """The hand-in's page and JSON, as `grade PATH` writes them."""
    from html import escape

    assert record.result is not None
    html = entry["html"]
    graded_as = str(entry["result"]["submission"])
    if graded_as != record.result["submission"]:  # the class folder moved
        html = html.replace(escape(graded_as), escape(record.result["submission"]))
    folder = out / record.student
    atomic.write_text(folder / "index.html", html)
    atomic.write_text(folder / "result.json", json.dumps(record.result, indent=2))


def _write_outputs(
    args: argparse.Namespace,
    records: list[Graded],
    info: overview.ClassInfo,
    layout: str,
) -> None:
    names = list(ALL_NAMES)
    out: Path = args.out
    atomic.write_text(out / "gradebook.csv", gradebook.render(records, names))
    atomic.write_text(out / "index.html", overview.render(records, names, info))
    if args.json is not None:
        payload = {
            "class": info.folder,
            "layout": layout,
            "submissions": [r.to_json() for r in sorted(records, key=_by_student)],
        }
        atomic.write_text(args.json, json.dumps(payload, indent=2))


def _by_student(record: Graded) -> str:
    return record.student


def _summary(records: list[Graded], roster: Roster, out: Path) -> str:
    cached = sum(r.cached for r in records)
    errors = [r for r in records if r.status == GRADER_ERROR]
    missing = [r for r in records if r.status == NO_MODULE]
    graded = [r for r in records if r.result is not None]
    passed = sum(r.status == PASSED for r in records)
    lines = [
        f"{len(records)} hand-ins ({_LAYOUT_NAMES[roster.layout]}): "
        f"{len(graded) - cached} graded now, {cached} from the cache, "
        f"{len(missing)} without a module, {len(errors)} failed to grade"
    ]
    if graded:
        mean = sum(r.score or 0.0 for r in graded) / len(graded)
        lines.append(f"  mean score {mean:.1f}; {passed} passed every check")
    for record in missing + errors:
        lines.append(f"  {record.student}: {record.status}: {record.message}")
    if roster.ignored:
        shown = ", ".join(roster.ignored[:5])
        more = f" and {len(roster.ignored) - 5} more" if len(roster.ignored) > 5 else ""
        lines.append(f"  ignored (belongs to no student): {shown}{more}")
    lines.append(f"gradebook: {out / 'gradebook.csv'}")
    lines.append(f"overview: {out / 'index.html'}")
    return "\n".join(lines)
