"""The SQL of the README, run as written (issue 12: the README's example failed when pasted); the getting-started
guide and the cookbook are run by test_docs.py. The only change is the address: the examples name http://127.0.0.1:8080, the test serves the demo orders
from the fixture server's port."""

import os
import re

import pytest

from server import demo_orders

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def sql_blocks(path):
    with open(os.path.join(ROOT, path)) as f:
        text = f.read()
    return re.findall(r"```sql\n(.*?)```", text, re.S)


def statements(block):
    """The statements of a block, split at the semicolons that end a line (comments kept with their statement)."""
    out, current = [], []
    for line in block.splitlines():
        current.append(line)
        code = line.split("--", 1)[0].rstrip()
        if code.endswith(";"):
            out.append("\n".join(current))
            current = []
    rest = "\n".join(current).strip()
    if rest and not all(l.strip().startswith("--") for l in rest.splitlines()):
        out.append(rest)
    return out


@pytest.fixture
def fresh_db(cluster, db):
    """A database without the extension (the examples create it), and the allowlist restored afterwards."""
    name = "doc_%d_%s" % (os.getpid(), db.name[:20])
    with cluster.connect() as admin:
        admin.execute('DROP DATABASE IF EXISTS "%s"' % name)
        admin.execute('CREATE DATABASE "%s"' % name)
    conn = cluster.connect(dbname=name, autocommit=True)
    yield conn
    conn.close()
    with cluster.connect() as admin:
        admin.execute("ALTER SYSTEM RESET bulk_ingest.allowed_hosts")
        admin.execute("SELECT pg_reload_conf()")
        admin.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)


def run_literally(conn, server, blocks):
    results = []
    for block in blocks:
        block = block.replace("127.0.0.1:8080", "127.0.0.1:%d" % server.port)
        for statement in statements(block):
            cur = conn.execute(statement)
            results.append((statement, cur.fetchall() if cur.description else None))
    return results


def test_the_readme_example_runs_as_written(fresh_db, server):
    server.add_dataset("orders", demo_orders(), field="updated_at", page_size=100)
    blocks = sql_blocks("README.md")
    assert blocks, "the README has no SQL example"
    results = run_literally(fresh_db, server, blocks)
    statement, rows = results[-1]
    assert "bulk_ingest_run('orders')" in statement
    assert len(rows) == 1
    summary = dict(zip([c.name for c in fresh_db.execute("SELECT * FROM bulk_ingest.runs LIMIT 0").description],
                       rows[0]))
    assert summary["status"] == "succeeded" and summary["rows"] == 250 and summary["batches"] == 3
    assert fresh_db.execute("SELECT count(*) FROM shop.orders").fetchone()[0] == 250
