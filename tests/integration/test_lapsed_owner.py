"""The SQL-only lapse, fenced: an owner whose lease lapsed but still runs writes nothing more.

Two servers share only PostgreSQL (memory streams).  A's process is paused
past its lease mid-reply; B recovers the reply (``interrupted``, the
checkpointed text) and a new turn starts and ends on B.  When A wakes up it
must not go on generating the old reply and commit it over B's ending: one
generation per conversation, and the recoverer's ending is final (docs/protocol.md#bounded-loss,
#upgrades).  A's readers get that ending as their final.
"""

from __future__ import annotations

import httpx

from .test_fault_servers import clusters, wait_for
from .test_two_servers import read_events


def test_a_woken_owner_cannot_commit_over_the_recoverers_ending(tmp_path, postgres_url) -> None:
    with clusters(tmp_path) as make:
        cluster = make(db_url=postgres_url, owner_lease=1.0, checkpoint_interval=0.1)
        woken_owner_case(cluster)


def woken_owner_case(cluster) -> None:
    a, b = cluster.start("a"), cluster.start("b")
    with httpx.Client(headers=a.headers, timeout=60) as client:
        conv = client.post(a.url("conversations"), json={}).json()["id"]
        sent = client.post(
            a.url(f"conversations/{conv}/messages"), json={"content": "/pace 0.01 /repeat 3000 ab"}
        ).json()
        seen = read_events(client, a.url(f"streams/{sent['stream_id']}/events"), last=0, stop_after=30)

        def on_b():
            return client.get(b.url(f"conversations/{conv}/messages")).json()["messages"]

        wait_for(on_b, lambda m: len(m[1]["content"]) >= 60, 30, "a checkpoint of A's reply")
        cluster.freeze(a)
        recovered = wait_for(on_b, lambda m: m[1]["status"] == "interrupted", 30, "B's recovery")[1]
        again = client.post(b.url(f"conversations/{conv}/messages"), json={"content": "/repeat 3 z"})
        assert again.status_code == 202, again.text
        read_events(client, b.url(f"streams/{again.json()['stream_id']}/events"), last=0)
        cluster.thaw(a)
        rest = read_events(client, a.url(f"streams/{sent['stream_id']}/events"), last=seen[-1]["id"])
        final = rest[-1]["data"]["message"]
        assert rest[-1]["event"] == "final" and final["status"] == "interrupted", final["status"]
        assert final["content"] == recovered["content"]  # B's ending, announced to A's readers
        stored = on_b()
        assert [m["status"] for m in stored] == ["complete", "interrupted", "complete", "complete"]
        assert stored[1]["content"] == recovered["content"] and stored[3]["content"] == "zzz"
