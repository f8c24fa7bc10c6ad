"""Leases on one clock: a server whose host clock runs 60 s off, beside a true one.

Each lease deadline (the database's instance heartbeat, Redis's stream lease)
is compared by the *other* server.  On host clocks, a server 60 s ahead takes
every lease of a true server as lapsed, and a true server takes every lease of
a server 60 s behind as lapsed: the live reply would be adopted and marked
``interrupted``, and a second send in its conversation would start a second
generation.  On the database's or Redis's clock neither happens (docs/protocol.md#upgrades).
"""

from __future__ import annotations

import httpx
import pytest

from tests.support.server_process import ServerProcess
from tests.support.services import REDIS_URL
from tests.support.skew import skewed_env

from .test_two_servers import read_events, text_of


@pytest.fixture(params=["memory", "redis"])
def streams(request, redis_prefix):
    if request.param == "memory":
        return {}
    return {"stream_backend": REDIS_URL, "redis_prefix": redis_prefix}


# (skew of server B, which server runs the reply): the pairing where the other one
# would take the owner's lease as lapsed if leases were compared on host clocks
CASES = [(60, "true"), (-60, "skewed")]


@pytest.mark.parametrize(("skew", "owner"), CASES, ids=["other-ahead", "owner-behind"])
def test_a_skewed_clock_adopts_nothing_alive(tmp_path, postgres_url, streams, skew, owner):
    # a lease of 5 s: far below the skew, so host clocks would lapse it at once, and
    # long enough that a loaded machine's slow tick does not lapse it for real
    traits = dict(db_url=postgres_url, owner_lease=5.0, checkpoint_interval=0.1, **streams)
    true = ServerProcess(tmp_path / "true", **traits)
    skewed = ServerProcess(tmp_path / "skewed", env=skewed_env(skew), **traits)
    try:
        true.start()
        skewed.start()
        runs, other = (true, skewed) if owner == "true" else (skewed, true)
        with httpx.Client(headers=runs.headers, timeout=60) as client:
            conv = client.post(runs.url("conversations"), json={}).json()
            # about 5 s of reply: many lease periods, sweeps and claims of the other server
            sent = client.post(
                runs.url(f"conversations/{conv['id']}/messages"),
                json={"content": "/pace 0.01 /repeat 500 ab"},
            ).json()
            first = read_events(client, runs.url(f"streams/{sent['stream_id']}/events"), last=0, stop_after=5)
            second = client.post(other.url(f"conversations/{conv['id']}/messages"), json={"content": "y"})
            assert second.status_code == 409, second.text  # the owner is alive: no second generation
            rest = read_events(client, runs.url(f"streams/{sent['stream_id']}/events"), last=first[-1]["id"])
            final = rest[-1]["data"]["message"]
            assert final["status"] == "complete", final  # nobody adopted the live reply
            assert text_of(first) + text_of(rest) == "ab" * 500
            stored = client.get(other.url(f"conversations/{conv['id']}/messages")).json()["messages"][1]
            assert stored["status"] == "complete" and stored["content"] == "ab" * 500
    finally:
        skewed.stop()
        true.stop()
