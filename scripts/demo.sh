#!/usr/bin/env bash
# The demo: pg_bulk_ingest keeping a table up to date from an HTTP source, on a throwaway cluster.
#   - installs what is missing (apt), builds and installs the extension;
#   - starts a throwaway PostgreSQL 15 cluster and a local HTTP server with 250 sample orders (3 pages of NDJSON);
#   - registers the source `orders` as in the README and runs it; shows what landed, the run and the watermark;
#   - adds new and changed orders at the server, runs again, and shows that only they were fetched: the URL the
#     extension asked for carries the watermark;
#   - stops everything it started.
# Environment: SKIP_BUILD=1 (use the installed extension), DEMO_PORT (HTTP port, default 8080 or a free one).
set -euo pipefail

cd "$(dirname "$0")/.."
PY=/usr/bin/python3
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
CLUSTER="demo-$$"
WORK=$(mktemp -d /tmp/pg_bulk_ingest_demo.XXXXXX)
SERVER_PID=

SUDO=()
if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null; then SUDO=(sudo); fi

title() { printf '\n\033[1;34m### %s\033[0m\n' "$*"; }

cleanup() {
    set +e
    if [[ -n "$SERVER_PID" ]]; then
        kill "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    $PY test/lib/pgcluster.py destroy --name "$CLUSTER" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

if [[ -z "${SKIP_BUILD:-}" ]]; then
    title "Installing dependencies, building and installing pg_bulk_ingest"
    scripts/install-deps.sh
    make -s -j2 PG_CONFIG="$PG_CONFIG" >/dev/null
    "${SUDO[@]}" make -s install PG_CONFIG="$PG_CONFIG" >/dev/null
    echo "installed into $($PG_CONFIG --pkglibdir)"
fi

title "Starting a throwaway PostgreSQL cluster"
$PY test/lib/pgcluster.py init --name "$CLUSTER"
$PY test/lib/pgcluster.py start --name "$CLUSTER"
eval "$($PY test/lib/pgcluster.py env --name "$CLUSTER")"
export PGHOST PGPORT PGUSER PGDATABASE=postgres

title "Starting the sample HTTP server (250 orders, 100 per page)"
PORT=${DEMO_PORT:-8080}
if ! $PY -c "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1', $PORT))" 2>/dev/null; then
    echo "port $PORT is busy: using a free port"
    PORT=0
fi
$PY test/fixtures/server.py --port "$PORT" --port-file "$WORK/port" --dataset demo --page-size 100 &
SERVER_PID=$!
for _ in $(seq 100); do [[ -s "$WORK/port" ]] && break; sleep 0.1; done
PORT=$(cat "$WORK/port")
BASE="http://127.0.0.1:$PORT"
echo "first lines of $BASE/orders?since= :"
$PY - "$BASE" <<'EOF'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1] + "/orders?since=") as r:
    lines = r.read().decode().splitlines()
    print("\n".join("  " + l for l in lines[:2]))
    print("  ... (%d lines)\n  Link: %s" % (len(lines), r.headers.get("Link")))
EOF

psql_() { psql -X -v ON_ERROR_STOP=1 -P pager=off "$@"; }

title "Registering the source and running it"
SQL_REGISTER=$(cat <<EOF
CREATE EXTENSION pg_bulk_ingest;
CREATE SCHEMA shop;
SELECT bulk_ingest_register(
    source  => 'orders',
    url     => '$BASE/orders?since={high_watermark}',
    target  => 'shop.orders',
    columns => '[{"name": "id",         "type": "bigint", "primary_key": true},
                 {"name": "customer",   "type": "text",   "nullable": false},
                 {"name": "amount",     "type": "numeric(12,2)"},
                 {"name": "updated_at", "type": "timestamptz"},
                 {"name": "details",    "type": "jsonb",  "path": "/meta"}]',
    high_watermark_column => 'updated_at');
EOF
)
echo "$SQL_REGISTER"
psql_ -q -c "$SQL_REGISTER" >/dev/null
echo
echo "SELECT * FROM bulk_ingest_run('orders');"
psql_ -x -c "SELECT * FROM bulk_ingest_run('orders')"

title "What landed"
psql_ -c "SELECT count(*) AS orders, count(DISTINCT customer) AS customers, sum(amount) AS total_amount,
                 min(updated_at) AS first_update, max(updated_at) AS last_update FROM shop.orders"
psql_ -c "SELECT id, customer, amount, updated_at, details FROM shop.orders ORDER BY id LIMIT 5"
psql_ -c "SELECT details->>'channel' AS channel, count(*), sum(amount) FROM shop.orders GROUP BY 1 ORDER BY 2 DESC"
psql_ -c "SELECT source, value AS high_watermark, updated_at FROM bulk_ingest.watermarks"

title "New activity at the source: 12 new orders and 3 changed ones"
$PY - "$BASE" <<'EOF'
import datetime, json, sys, urllib.request
sys.path.insert(0, "test/fixtures")
from server import demo_orders
base = sys.argv[1]
with urllib.request.urlopen(base + "/_admin/orders") as r:
    existing = [json.loads(l) for l in r.read().decode().splitlines()]
last = max(datetime.datetime.fromisoformat(o["updated_at"]) for o in existing)
new = demo_orders(12, first_id=len(existing) + 1, start=last, seed=7)
t = max(datetime.datetime.fromisoformat(o["updated_at"]) for o in new)
changed = []
for i, oid in enumerate((3, 42, 117)):
    o = dict(next(e for e in existing if e["id"] == oid))
    o["amount"] = round(o["amount"] * 0.9, 2)
    o["updated_at"] = (t + datetime.timedelta(minutes=i + 1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    o["meta"] = dict(o["meta"], status="refunded 10%")
    changed.append(o)
body = "".join(json.dumps(o) + "\n" for o in new + changed).encode()
req = urllib.request.Request(base + "/_admin/orders/records", data=body, method="POST",
                             headers={"Content-Type": "application/x-ndjson"})
with urllib.request.urlopen(req) as r:
    print("server:", r.read().decode().strip())
print("new orders: ids %d..%d; changed orders: 3, 42, 117" % (new[0]["id"], new[-1]["id"]))
EOF

title "Running again: only what is new is fetched"
echo "SELECT * FROM bulk_ingest_run('orders');"
psql_ -x -c "SELECT * FROM bulk_ingest_run('orders')"
echo "The URLs the extension asked for (from the HTTP server's request log):"
$PY - "$BASE" <<'EOF'
import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1] + "/_admin/requests") as r:
    log = [e for e in json.load(r) if e["path"] == "/orders" and e["user_agent"].startswith("pg_bulk_ingest")]
for e in log:
    print("  GET %s" % e["target"])
EOF
psql_ -c "SELECT count(*) AS orders FROM shop.orders"
psql_ -c "SELECT id, customer, amount, updated_at, details->>'status' AS status FROM shop.orders
          WHERE id IN (3, 42, 117) OR id > 250 ORDER BY updated_at DESC LIMIT 8"

title "Run history and watermark"
psql_ -c "SELECT id, status, batches, rows, bytes, high_watermark_before, high_watermark_after,
                 finished_at - started_at AS duration FROM bulk_ingest.runs ORDER BY id"
psql_ -c "SELECT source, value AS high_watermark FROM bulk_ingest.watermarks"

title "Done: stopping the HTTP server and the cluster"
