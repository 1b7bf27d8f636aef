"""The grader as a Gradescope autograder: one container per submission.

`package` builds the autograder zip (`grade package-gradescope`); inside the
container, `run_autograder` calls `run`, which grades `/autograder/submission`
and writes `/autograder/results/results.json` in Gradescope's format
(`results`).
"""
