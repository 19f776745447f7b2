"""Records and column declarations shared by the integration tests."""

import datetime

UTC = datetime.timezone.utc
T0 = datetime.datetime(2024, 1, 1, 10, 0, tzinfo=UTC)


def ts(i):
    """The i-th timestamp of the test data: T0 + i hours, as the JSON string a source would send."""
    return (T0 + datetime.timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%SZ")


def tsval(i):
    """The same timestamp as a Python datetime (what psycopg returns for timestamptz)."""
    return T0 + datetime.timedelta(hours=i)


def orders(ids, **fixed):
    """One order per id, updated_at increasing with the id."""
    out = []
    for i in ids:
        rec = {"id": i, "customer": "customer %d" % i, "amount": "%d.%02d" % (i * 10, i % 100),
               "updated_at": ts(i), "meta": {"n": i, "tags": ["t%d" % i]}}
        rec.update(fixed)
        out.append(rec)
    return out


ORDER_COLUMNS = [
    {"name": "id", "type": "bigint", "primary_key": True},
    {"name": "customer", "type": "text", "nullable": False},
    {"name": "amount", "type": "numeric(12,2)"},
    {"name": "updated_at", "type": "timestamptz"},
    {"name": "details", "type": "jsonb", "path": "/meta"},
]


def wait_for(predicate, timeout=20.0, interval=0.05):
    """Poll predicate() until it returns something true or the timeout passes; returns its last value."""
    import time
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


_HELD_PORTS = []  # sockets kept bound for the whole session


def closed_port():
    """A port on 127.0.0.1 that refuses connections: bound and never listening, and kept bound until the end of the
    session, so that no other process can take it and answer (a port bound and released could be)."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    _HELD_PORTS.append(s)
    return s.getsockname()[1]
