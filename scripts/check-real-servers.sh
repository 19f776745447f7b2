#!/usr/bin/env bash
# A separate check of issue 12 against real servers nobody here wrote (not part of scripts/test.sh): Debian's nginx
# and the npm registry's json-server 0.17, both on 127.0.0.1 only, driven by test/integration/test_real_servers.py.
#
# - nginx: the system's when installed, else the Debian package fetched with `apt-get download` and unpacked into a
#   temporary directory (nothing installed, no service started).
# - json-server: installed with npm into $JSON_SERVER_DIR (default /tmp/pg_bulk_ingest_json_server, outside the tree);
#   when the npm registry cannot be reached, its tests are skipped and say why.
#
# The extension must be installed (make install, or PRIVATE_INSTALL as for scripts/test.sh: then PG_BINDIR points at
# the private copy). Environment: JSON_SERVER_DIR, PYTEST_ARGS, PG_BINDIR, PG_BULK_INGEST_TEST_DIR.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/pg_bulk_ingest_real_servers.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

if [[ -n "${PRIVATE_INSTALL:-}" && -z "${PG_BINDIR:-}" ]]; then
    export PG_BINDIR="$PRIVATE_INSTALL$(/usr/lib/postgresql/15/bin/pg_config --bindir)"
fi

nginx_bin=$(command -v nginx || true)
[[ -z "$nginx_bin" && -x /usr/sbin/nginx ]] && nginx_bin=/usr/sbin/nginx
if [[ -z "$nginx_bin" ]]; then
    echo "check-real-servers: fetching Debian's nginx package (apt-get download, unpacked in $WORK)"
    if (cd "$WORK" && apt-get download -q nginx >/dev/null 2>&1) && dpkg -x "$WORK"/nginx_*.deb "$WORK/nginx"; then
        nginx_bin="$WORK/nginx/usr/sbin/nginx"
    else
        echo "check-real-servers: no nginx (not installed, apt-get download failed): its tests are skipped"
    fi
fi
[[ -n "$nginx_bin" ]] && export PG_BULK_INGEST_NGINX="$nginx_bin"

JSON_SERVER_DIR=${JSON_SERVER_DIR:-/tmp/pg_bulk_ingest_json_server}
script="$JSON_SERVER_DIR/node_modules/json-server/lib/cli/bin.js"
if [[ ! -f "$script" ]] && command -v npm >/dev/null; then
    echo "check-real-servers: installing json-server 0.17.4 with npm into $JSON_SERVER_DIR"
    mkdir -p "$JSON_SERVER_DIR"
    timeout 300 npm install --no-audit --no-fund --prefix "$JSON_SERVER_DIR" json-server@0.17.4 >/dev/null 2>&1 ||
        echo "check-real-servers: npm could not install json-server (is the npm registry reachable?): its tests are skipped"
fi
if [[ -f "$script" ]] && command -v node >/dev/null; then
    export PG_BULK_INGEST_JSON_SERVER="$script"
fi

# shellcheck disable=SC2086
$PY -m pytest test/integration/test_real_servers.py -v -rs ${PYTEST_ARGS:-}
