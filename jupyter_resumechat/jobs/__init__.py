"""Generation jobs: the manager that runs them, the job itself, and the supervisor.

No HTTP and no SQL here: handlers call the manager; it calls the stores and
the provider. See ARCHITECTURE.md for the races that end a job.
"""

from .job import JobSettings, SendResult, Subscription
from .manager import JobManager

__all__ = ["JobManager", "JobSettings", "SendResult", "Subscription"]
