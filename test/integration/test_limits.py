"""Limits of each request (issue 5): a maximum response size and a request timeout, declared by the source."""

import time

import psycopg
import pytest

from server import Fault
from testdata import ORDER_COLUMNS, orders


def test_a_response_over_max_response_bytes_fails_the_batch_cleanly(db, server):
    server.add_dataset("big", orders(range(1, 200)), page_size=1000)
    db.register("big", server.url("/big"), "public.big", ORDER_COLUMNS, upsert="off",
                options={"max_response_bytes": 2000, "batch_rows": 1000})
    with pytest.raises(psycopg.Error) as e:
        db.run("big")
    assert "larger than the maximum of 2000 bytes" in str(e.value), str(e.value)
    assert db.count("public.big") == 0  # the batch in flight left nothing
    assert len(server.requests_for("big")) == 1  # not retried: it would only be as large again


def test_timeout_ms_bounds_a_slow_request(db, server):
    ds = server.add_dataset("slow", orders(range(1, 3)))
    ds.faults.append(Fault(delay_headers=5))
    db.register("slow", server.url("/slow"), "public.slow", ORDER_COLUMNS,
                options={"timeout_ms": 500, "max_retries": 0})
    started = time.monotonic()
    with pytest.raises(psycopg.Error) as e:
        db.run("slow")
    assert time.monotonic() - started < 4
    assert "timed out" in str(e.value).lower() or "timeout" in str(e.value).lower(), str(e.value)


def test_limits_are_checked_at_registration(db, server):
    with pytest.raises(psycopg.Error, match="connect_timeout_ms"):
        db.register("lim", server.url("/x"), "public.lim", ORDER_COLUMNS, options={"connect_timeout_ms": 0})
    with pytest.raises(psycopg.Error, match="max_response_bytes"):
        db.register("lim", server.url("/x"), "public.lim", ORDER_COLUMNS, options={"max_response_bytes": -1})
