"""Running a batch on a dask.distributed cluster (the optional `dask` extra).

For a class larger than one machine: each hand-in's `work.grade_one` becomes
one dask task, and every worker grades in sandboxes of its own exactly as a
local worker does. With a scheduler address the batch joins that cluster
(its workers must see the hand-ins, the reports folder and the data at the
same paths: a shared file system); without one it starts a local cluster of
worker processes bound to 127.0.0.1.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from grader.batch.runner import Done, Tick
from grader.batch.work import grade_one
from grader.discover import UsageError

CONNECT_SECONDS = 10


class DaskExecutor:
    """Hand-ins graded as tasks on a dask.distributed cluster."""

    def __init__(self, workers: int, address: str | None = None) -> None:
        self.workers = max(1, workers)
        self.address = address

    def run(self, jobs: list[dict[str, Any]], done: Done, tick: Tick) -> None:
        try:
            from distributed import Client, LocalCluster, as_completed
        except ImportError:
            raise UsageError(
                "--executor dask needs dask.distributed: pip install 'hw4-grader[dask]'"
            ) from None
        cluster = None
        if self.address:
            try:
                client = Client(self.address, timeout=CONNECT_SECONDS)
            except (OSError, ValueError) as err:  # unreachable, or not an address
                raise UsageError(
                    f"--scheduler {self.address}: cannot connect ({err})"
                ) from err
        else:
            cluster = LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            client = Client(cluster)
        futures = []
        batch = uuid.uuid4().hex  # keys unique on a cluster other batches share
        try:
            futures = [
                client.submit(grade_one, job, key=f"grade-{batch}-{i}", pure=False)
                for i, job in enumerate(jobs)
            ]
            index = {future.key: i for i, future in enumerate(futures)}
            for future in as_completed(futures):
                try:
                    outcome = future.result()
                except Exception as err:  # a worker lost, a task killed
                    outcome = {"error": f"the dask task failed: {err!r}"}
                done(index[future.key], outcome)
                tick()
        except BaseException:
            client.cancel(futures)
            raise
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
