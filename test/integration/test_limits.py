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


# ---- issue 10: the largest record (bulk_ingest.max_record_size) bounds a worker's memory -------------------------

def limit_records(db, size):
    """bulk_ingest.max_record_size for the runs of this test's database (a run's worker reads it when it connects)."""
    db.execute("ALTER DATABASE \"%s\" SET bulk_ingest.max_record_size = '%s'" % (db.name, size))


@pytest.mark.parametrize("fmt", ["ndjson", "json", "csv"])
def test_a_record_longer_than_max_record_size_fails_naming_source_batch_and_line(db, server, fmt):
    limit_records(db, "1MB")
    big = "x" * (2 * 1024 * 1024)
    if fmt == "ndjson":
        body, kw = '{"id": 1, "v": "a"}\n{"id": 2, "v": "%s"}\n' % big, {}
    elif fmt == "json":
        body, kw = '[{"id": 1, "v": "a"}, {"id": 2, "v": "%s"}]' % big, {"format": "json"}
    else:
        body, kw = 'id,v\n1,a\n2,%s\n' % big, {"format": "csv"}
    server.add_route("/long", body)
    db.register("long_" + fmt, server.url("/long"), "public.long", [{"name": "id", "type": "int"},
                {"name": "v", "type": "text"}], options={"max_retries": 0}, **kw)
    with pytest.raises(psycopg.Error) as e:
        db.run("long_" + fmt)
    msg = str(e.value)
    unit = {"ndjson": "line 2", "json": "record 2", "csv": "line 3"}[fmt]
    assert 'source "long_%s"' % fmt in msg and "batch 1" in msg and unit in msg, msg
    assert "bulk_ingest.max_record_size" in msg and "1 MB" in msg, msg
    assert db.count("public.long") == 0  # the batch in flight left nothing
    assert db.last_run("long_" + fmt)["status"] == "failed"


def test_records_up_to_max_record_size_load(db, server):
    limit_records(db, "1MB")
    value = "y" * (1024 * 1024 - 100)
    server.add_route("/fits", '{"id": 1, "v": "%s"}\n' % value)
    db.register("fits", server.url("/fits"), "public.fits", [{"name": "id", "type": "int"},
                {"name": "v", "type": "text"}])
    assert db.run("fits")["rows"] == 1
    assert db.scalar("SELECT length(v) FROM public.fits") == len(value)


def test_max_record_size_has_a_default_of_64_mb(db, server):
    db.execute("LOAD 'pg_bulk_ingest'")
    assert db.scalar("SHOW bulk_ingest.max_record_size") == "64MB"
    # A line just over it fails cleanly (the worker stops reading it at the limit).
    big = b'{"id": 1, "v": "' + b"z" * (64 * 1024 * 1024) + b'"}\n'
    server.add_route("/over", big)
    db.register("over", server.url("/over"), "public.over", [{"name": "id", "type": "int"},
                {"name": "v", "type": "text"}], options={"max_retries": 0})
    with pytest.raises(psycopg.Error) as e:
        db.run("over")
    assert "line 1" in str(e.value) and "bulk_ingest.max_record_size" in str(e.value), str(e.value)
