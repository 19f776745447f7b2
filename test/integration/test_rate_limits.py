"""Rate limits (issue 12): options.rate_limit (requests per second to a host) and the limits servers announce
(X-RateLimit-Remaining/X-RateLimit-Reset, Retry-After), kept for the host across the runs and workers of the server
(shared memory, when the library is preloaded). The assertions are lower bounds on the time between requests:
pacing makes requests wait at least that long, whatever else the machine is doing."""

import psycopg
import pytest

from server import Fault
from testdata import ORDER_COLUMNS, orders


def gaps(requests):
    times = sorted(r.time for r in requests)
    return [b - a for a, b in zip(times, times[1:])]


def test_rate_limit_spaces_the_requests_of_a_run(db, server):
    server.add_dataset("rl", orders(range(1, 9)), page_size=2)
    db.register("rl", server.url("/rl"), "public.rl", ORDER_COLUMNS, options={"rate_limit": 5})
    assert db.run("rl")["rows"] == 8
    requests = server.requests_for("rl")
    assert len(requests) == 4
    assert min(gaps(requests)) >= 0.18, gaps(requests)   # 5 per second: 200 ms apart


def test_a_server_saying_nothing_remains_is_waited_for(db, server):
    server.add_dataset("xrl", orders(range(1, 5)), page_size=2, ratelimit_reset=1)
    db.register("xrl", server.url("/xrl"), "public.xrl", ORDER_COLUMNS)
    assert db.run("xrl")["rows"] == 4
    assert min(gaps(server.requests_for("xrl"))) >= 0.9, gaps(server.requests_for("xrl"))


def test_retry_after_holds_the_host_for_the_next_runs_of_the_server(bgdb, server):
    """A 429 with Retry-After that ends a run (no retries left) still holds the host: the next run, in another
    worker, waits for it (the pace is in shared memory)."""
    ds = server.add_dataset("ra", orders(range(1, 3)), page_size=10)
    ds.faults.append(Fault(page=1, status=429, headers={"Retry-After": "2"}, times=1))
    bgdb.register("ra", server.url("/ra"), "public.ra", ORDER_COLUMNS, options={"max_retries": 0})
    msg, _ = bgdb.run_fails("ra")
    assert "429" in msg
    assert bgdb.run("ra")["rows"] == 2
    first, second = server.requests_for("ra")
    assert second.time - first.time >= 1.8, second.time - first.time


def test_rate_limit_is_checked_at_registration(db, server):
    for value in (0, -1, "5", True):
        with pytest.raises(psycopg.Error, match="rate_limit"):
            db.register("rlb", server.url("/x"), "public.rlb", ORDER_COLUMNS, options={"rate_limit": value})


def test_every_worker_of_the_server_keeps_the_hosts_pace(bgdb, server):
    """Two sources on one host, run at once by two workers: with the pace in shared memory, their requests together
    keep the rate."""
    for name in ("rla", "rlb"):
        server.add_dataset(name, orders(range(1, 7)), page_size=2)
        bgdb.register(name, server.url("/" + name), "public." + name, ORDER_COLUMNS, options={"rate_limit": 2})
    ids = [bgdb.start(name) for name in ("rla", "rlb")]
    for run_id in ids:
        assert bgdb.wait_run(run_id, timeout=60)["status"] == "succeeded"
    requests = server.requests_for("rla") + server.requests_for("rlb")
    assert len(requests) == 6
    assert min(gaps(requests)) >= 0.45, gaps(requests)   # 2 per second for the host, whichever worker asks
