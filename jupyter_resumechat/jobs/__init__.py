"""Generation jobs: the manager that runs them, the job itself, and the supervisor.

No HTTP and no SQL here: handlers call the manager; it calls the stores and
the provider.  Imports point one way: manager → runner, multiplex → fanout,
supervisor → recovery, conclusion → job, table, text.  See ARCHITECTURE.md for the races that end a job.
"""

from .fanout import Chunk
from .job import Ending, Job, JobSettings, JobState, Subscription
from .manager import JobManager
from .multiplex import Batch, Gone, Multiplex

__all__ = [
    "Batch",
    "Chunk",
    "Ending",
    "Gone",
    "Job",
    "JobManager",
    "JobSettings",
    "JobState",
    "Multiplex",
    "Subscription",
]
