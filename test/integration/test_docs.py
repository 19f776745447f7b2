"""The SQL of docs/getting-started.md and docs/cookbook.md, run as written (with psql, block after block) against
local servers that answer like the APIs described; only the host and port of their URLs are replaced. The outputs
the pages show are checked against what the blocks print."""

import datetime
import json
import os
import re
import time
import uuid

import pytest

from server import demo_orders
from testdata import wait_for

DOCS = os.path.join(os.path.dirname(__file__), "..", "..", "docs")


def sql_blocks(page, section=None):
    """The ```sql blocks of a page (of one '## ' section when given), in order."""
    with open(os.path.join(DOCS, page)) as f:
        text = f.read()
    if section is not None:
        text = text.split("\n## " + section + "\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", text, re.S)


def run_block(cluster, dbname, block, server):
    """Runs a block with psql (ON_ERROR_STOP), the doc's server replaced by the test's; returns what it printed."""
    sql = block.replace("http://127.0.0.1:8080", "http://127.0.0.1:%d" % server.port)
    out = cluster.psql("-q", dbname=dbname, input=sql).stdout
    print(out)
    return out


def squeeze(text):
    return re.sub(r"[ \t]+", " ", text)


# ---- getting started --------------------------------------------------------------------------------------------

def test_getting_started(make_cluster, server):
    blocks = sql_blocks("getting-started.md")
    assert len(blocks) == 9, len(blocks)
    c = make_cluster("docs", settings={"shared_preload_libraries": "pg_bulk_ingest"})  # as the page says
    with c.connect() as conn:
        conn.execute("CREATE DATABASE shop")
        conn.execute("CREATE ROLE alice LOGIN")  # the page grants bulk_ingest_user to an existing role
    orders = server.add_dataset("orders", demo_orders(), field="updated_at", page_size=100)

    create, decide, infer, register, preview, run, schedule, start, status = blocks
    run_block(c, "shop", create, server)
    run_block(c, "shop", decide, server)

    out = squeeze(run_block(c, "shop", infer, server))
    for line in ("id | bigint | true | bigint: integers; not null: present in all 100 records; primary key",
                 "customer | text | | text: strings; not null: present in all 100 records",
                 "amount | numeric | | numeric: numbers with a fraction or beyond bigint, or decimal strings",
                 "currency | text | | text: strings; not null: present in all 100 records",
                 "updated_at | timestamptz | | timestamptz: ISO 8601 timestamps; not null: present in all 100",
                 "meta | jsonb | | jsonb: objects (a column with \"path\": \"/meta/<key>\" extracts one of"):
        assert line in out, line

    run_block(c, "shop", register, server)
    out = squeeze(run_block(c, "shop", preview, server))
    assert "create | 3" in out
    first = orders.records[0]
    assert "1 | %s | %.2f | %s" % (first["customer"], first["amount"], first["meta"]["channel"]) in out
    assert "1 | Umbrella | 353.15 | web" in out  # as the page shows it

    out = squeeze(run_block(c, "shop", run, server))
    assert "succeeded | 3 | 250" in out

    with c.connect(dbname="shop") as conn:
        def scheduled():
            return conn.execute("SELECT status, rows FROM bulk_ingest.runs WHERE \"trigger\" = 'schedule'"
                                " AND status NOT IN ('queued', 'running')").fetchall()

        run_block(c, "shop", schedule, server)
        assert wait_for(scheduled, timeout=20) == [("succeeded", 0)], scheduled()

        new = demo_orders(n=12, first_id=251, start=datetime.datetime(2024, 3, 2, 14, 0,
                                                                      tzinfo=datetime.timezone.utc), seed=7)
        orders.add(new)
        run_block(c, "shop", start, server)

        def started():
            return conn.execute("SELECT status, rows FROM bulk_ingest.runs WHERE \"trigger\" = 'start'"
                                " AND status NOT IN ('queued', 'running')").fetchall()

        assert wait_for(started, timeout=20) == [("succeeded", 12)], started()
        assert conn.execute("SELECT count(*) FROM shop.orders").fetchone()[0] == 262

    out = squeeze(run_block(c, "shop", status, server))
    high = max(r["updated_at"] for r in orders.records).replace("T", " ").replace("Z", "+00")
    assert "orders | ok | succeeded | 0 | %s | 262" % high in out, out
    assert high == "2024-03-02 15:12:40+00"  # as the page shows it


# ---- the cookbook ------------------------------------------------------------------------------------------------

def test_cookbook_paginated_rest_api_with_a_bearer_token(db, server, cluster):
    [block] = sql_blocks("cookbook.md", "A paginated REST API with a bearer token and an `updated_at` watermark")
    tickets = [
        {"id": 17, "subject": "Printer on fire", "status": "open", "assignee": {"email": "moss@example.com"},
         "updated_at": "2024-05-01T10:00:00Z"},
        {"id": 18, "subject": "Password reset", "status": "closed", "assignee": None,
         "updated_at": "2024-05-01T11:00:00Z"},
        {"id": 19, "subject": "Is it plugged in?", "status": "open", "assignee": {"email": "roy@example.com"},
         "updated_at": "2024-05-01T12:00:00Z"},
    ]
    first = "/api/tickets?updated_since=&per_page=100"
    server.add_route(first, json.dumps({"data": tickets[:2], "links": {"next": server.url(first + "&page=2")}}),
                     content_type="application/json")
    server.add_route(first + "&page=2", json.dumps({"data": tickets[2:], "links": {"next": None}}),
                     content_type="application/json")
    out = squeeze(run_block(cluster, db.name, block, server))
    assert "succeeded | 3" in out
    assert [r.headers.get("Authorization") for r in server.requests if r.path == "/api/tickets"] == \
        ["Bearer the-api-token"] * 2
    assert db.query("SELECT id, assignee, status FROM support.tickets ORDER BY id") == [
        {"id": 17, "assignee": "moss@example.com", "status": "open"},
        {"id": 18, "assignee": None, "status": "closed"},
        {"id": 19, "assignee": "roy@example.com", "status": "open"}]
    assert db.watermark("tickets") == "2024-05-01 12:00:00+00"


def test_cookbook_a_large_csv_export_refreshed_only_when_it_changes(db, server, cluster):
    [block] = sql_blocks("cookbook.md", "A large CSV export, refreshed only when it changes")
    server.add_route("/exports/stations.csv",
                     "station_id,name,lat,lon,opened_on\nA1,Alpha,51.5,-0.12,2001-02-03\nB2,Beta,48.85,2.35,\n"
                     "C3,Gamma,52.52,13.4,1999-12-31\n", content_type="text/csv", headers={"ETag": '"v1"'})
    out = squeeze(run_block(cluster, db.name, block, server))
    assert "succeeded | 3" in out and "unchanged | 0" in out, out
    requests = [r for r in server.requests if r.path == "/exports/stations.csv"]
    assert [r.headers.get("If-None-Match") for r in requests] == [None, '"v1"']
    assert db.query("SELECT station_id, opened FROM ref.stations ORDER BY 1") == [
        {"station_id": "A1", "opened": datetime.date(2001, 2, 3)}, {"station_id": "B2", "opened": None},
        {"station_id": "C3", "opened": datetime.date(1999, 12, 31)}]


def test_cookbook_an_api_that_takes_from_to_windows(db, server, cluster):
    [block] = sql_blocks("cookbook.md", "An API that takes `from`/`to` windows")
    # The page starts its windows at 2024-01-01; this test starts them three days ago, so that a run walks three
    # windows (and not one a day since 2024) up to now.
    today = datetime.datetime.now(datetime.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    first = today - datetime.timedelta(days=3)
    assert '"start": "2024-01-01T00:00:00Z"' in block
    block = block.replace("2024-01-01T00:00:00Z", first.strftime("%Y-%m-%dT%H:%M:%SZ"))
    times = [first + datetime.timedelta(hours=h) for h in (5, 20, 27, 47, 60)]
    events = [{"id": str(uuid.UUID(int=i + 1)), "kind": "click", "occurred_at": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
               "payload": {"n": i}} for i, t in enumerate(times)]
    server.add_dataset("v1/events", events, field="occurred_at", since_param="from", until_param="to")
    out = run_block(cluster, db.name, block, server)
    assert "succeeded" in out, out
    windows = [(r.query["from"], r.query["to"]) for r in server.requests if r.path == "/v1/events"]
    iso = [(first + datetime.timedelta(days=d)).strftime("%Y-%m-%dT%H:%M:%SZ") for d in range(3)]
    assert [w[0] for w in windows[:3]] == iso, windows  # one day after another, contiguous
    assert all(windows[i][1] == windows[i + 1][0] for i in range(len(windows) - 1)), windows
    assert db.count("events.events") == 5
    assert db.scalar("SELECT max(occurred_at) FROM events.events") == times[-1]

