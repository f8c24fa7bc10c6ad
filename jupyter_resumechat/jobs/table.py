"""The table of running jobs: what the supervisor may see of the manager."""

from __future__ import annotations

from collections.abc import Iterator

from .job import Job

__all__ = ["JobTable"]


class JobTable:
    """Running jobs of this server by stream id; the manager adds and removes."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}

    def add(self, job: Job) -> None:
        self._jobs[job.stream_id] = job

    def remove(self, job: Job) -> None:
        if self._jobs.get(job.stream_id) is job:
            del self._jobs[job.stream_id]

    def get(self, stream_id: str) -> Job | None:
        return self._jobs.get(stream_id)

    def __iter__(self) -> Iterator[Job]:
        return iter(list(self._jobs.values()))  # a copy: callers may await while iterating

    def __len__(self) -> int:
        return len(self._jobs)

    def count_for(self, user: str) -> int:
        """How many jobs ``user`` runs here (the per-user cap)."""
        return sum(1 for job in self._jobs.values() if job.info.owner == user)

    def tokens(self) -> dict[str, int]:
        """Stream id -> lease token of every job: the leases to renew."""
        return {sid: job.info.token for sid, job in self._jobs.items()}
