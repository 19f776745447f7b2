#!/usr/bin/env bash
# The load and soak run of issue 10 (not part of scripts/test.sh): bench/soak.py, by default 50 sources scheduled
# every second with bulk_ingest.max_workers = 4 for 10 minutes. Arguments go to bench/soak.py (--minutes, --sources,
# --workers, --keep).
#
#   scripts/soak.sh                                   # against the installed extension
#   PRIVATE_INSTALL=/tmp/pgpriv-me scripts/soak.sh    # against a private install made by scripts/test.sh
#
# Its cluster lives under $PG_BULK_INGEST_TEST_DIR (default /tmp/pg_bulk_ingest_test) and is deleted at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
if [[ -n "${PRIVATE_INSTALL:-}" ]]; then
    export PG_BINDIR="$PRIVATE_INSTALL$($PG_CONFIG --bindir)"
fi
exec /usr/bin/python3 bench/soak.py "$@"
