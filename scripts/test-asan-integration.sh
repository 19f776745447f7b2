#!/usr/bin/env bash
# A part of the integration tests against the extension built with AddressSanitizer and UndefinedBehaviorSanitizer
# (g++ -fsanitize=address,undefined), every test server started with g++'s ASan runtime preloaded (PostgreSQL
# itself is not instrumented). Not part of scripts/test.sh: it builds the extension a second time and the tests run
# about twice as slowly. See docs/testing.md for what it covers and what it does not.
#
#   scripts/test-asan-integration.sh                 # the subset below
#   scripts/test-asan-integration.sh test/integration/test_upsert.py -k composite   # other pytest arguments
#
# Environment: ASAN_INSTALL (the private install of the sanitized build, default /tmp/pg_bulk_ingest_asan/install),
# ASAN_BUILD (where the tree is copied and built, default /tmp/pg_bulk_ingest_asan/build), PG_BULK_INGEST_TEST_DIR
# (the test clusters, default /tmp/pg_bulk_ingest_asan/clusters), JOBS (default 2), PG_CONFIG.
#
# The ASan and UBSan reports of every server process go to files in $ASAN_REPORTS (log_path; default
# /tmp/pg_bulk_ingest_asan/reports): the run fails if pytest fails or if any report was written. Leak detection is
# off (PostgreSQL does not free its memory at exit: every process would report).
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOBS=${JOBS:-2}
PY=/usr/bin/python3
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
WORK=/tmp/pg_bulk_ingest_asan
ASAN_INSTALL=${ASAN_INSTALL:-$WORK/install}
ASAN_BUILD=${ASAN_BUILD:-$WORK/build}
ASAN_REPORTS=${ASAN_REPORTS:-$WORK/reports}
export PG_BULK_INGEST_TEST_DIR=${PG_BULK_INGEST_TEST_DIR:-$WORK/clusters}

# What runs by default: loading (formats, batching, streaming, types), upserts and merges, rebuilds and swaps
# (migrations, first loads, replace mode, indexes), rejects and bad data, network faults, retries and limits, the
# launcher and scheduled runs, cancels (the read-ahead thread runs in every run's worker). Not test_crash.py: its
# waits (statement_timeout, a connection right after crash recovery) are tuned to an uninstrumented server; under
# ASan on 2 shared cores some of its cases time out (run it by name to try).
SUBSET=(
    test/integration/test_formats.py test/integration/test_batching.py test/integration/test_streaming.py
    test/integration/test_types.py test/integration/test_values.py
    test/integration/test_upsert.py test/integration/test_merge.py test/integration/test_rebuild_upsert.py
    test/integration/test_migration.py test/integration/test_replace.py test/integration/test_indexes.py
    test/integration/test_rejects.py test/integration/test_bad_data.py test/integration/test_errors.py
    test/integration/test_network_faults.py test/integration/test_retries.py test/integration/test_limits.py
    test/integration/test_pagination.py test/integration/test_deletes.py test/integration/test_preview.py
    test/integration/test_scheduling.py test/integration/test_cancel.py
)

note() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

# ---- the sanitized library, built in a copy of the tree (the tree's own objects stay as they are)
note "build with -fsanitize=address,undefined in $ASAN_BUILD"
mkdir -p "$ASAN_BUILD"
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$ASAN_BUILD" || exit 1
# No LLVM bitcode (with_llvm=no): nothing of it would be sanitized, and it halves the build.
make -s -C "$ASAN_BUILD" -j"$JOBS" PG_CONFIG="$PG_CONFIG" SANITIZE=address,undefined with_llvm=no || exit 1

# ---- a private copy of PostgreSQL's directories with the sanitized library installed (as scripts/test.sh does)
note "install into $ASAN_INSTALL"
for d in "$($PG_CONFIG --bindir)/.." "$($PG_CONFIG --sharedir)"; do
    d=$(realpath "$d")
    if [[ ! -d "$ASAN_INSTALL$d" ]]; then
        mkdir -p "$(dirname "$ASAN_INSTALL$d")" && cp -a "$d" "$ASAN_INSTALL$d" || exit 1
    fi
done
make -s -C "$ASAN_BUILD" install PG_CONFIG="$PG_CONFIG" with_llvm=no DESTDIR="$ASAN_INSTALL" || exit 1
export PG_BINDIR="$ASAN_INSTALL$($PG_CONFIG --bindir)"
LIBRARY="$ASAN_INSTALL$($PG_CONFIG --pkglibdir)/pg_bulk_ingest.so"
if ! ldd "$LIBRARY" | grep -q libasan; then
    echo "$LIBRARY is not linked with libasan" >&2
    exit 1
fi

# ---- the servers' environment: the ASan runtime first in every server process, reports into files
RUNTIME=$(realpath "$(g++ -print-file-name=libasan.so)")
# The runtime must initialise before the first bindtextdomain() of the server's libraries: see the file.
SHIM="$ASAN_BUILD/asan_init_first.so"
gcc -shared -fPIC -O1 -Wall -Werror -o "$SHIM" test/lib/asan_init_first.c -ldl || exit 1
chmod 755 "$SHIM"
rm -rf "$ASAN_REPORTS"
mkdir -p "$ASAN_REPORTS"
chmod 1777 "$ASAN_REPORTS"
cp fuzz/ubsan.supp "$ASAN_BUILD/ubsan.supp"
chmod 644 "$ASAN_BUILD/ubsan.supp"
# detect_leaks=0: PostgreSQL leaves its memory to exit. abort_on_error=0, halt_on_error=1 (ASan's default): an error
# ends the process (the postmaster then restarts the others, which the server log watch of the test reports too).
# UBSan: print and go on, so that one run shows every report.
ASAN="detect_leaks=0:log_path=$ASAN_REPORTS/asan:print_legend=0:detect_stack_use_after_return=0"
UBSAN="print_stacktrace=1:log_path=$ASAN_REPORTS/ubsan:suppressions=$ASAN_BUILD/ubsan.supp"
export PG_BULK_INGEST_SERVER_ENV="LD_PRELOAD=$RUNTIME:$SHIM ASAN_OPTIONS=$ASAN UBSAN_OPTIONS=$UBSAN"

# A server with the runtime preloaded loads the sanitized library. (Without the preload, loading it fails with "ASan
# runtime does not come first in initial library list", and the pytest session stops at once.)
note "servers start with LD_PRELOAD=$RUNTIME:$SHIM"
$PY - <<'EOF' || { echo "the sanitized library does not load with the runtime preloaded" >&2; exit 1; }
import sys
sys.path.insert(0, "test/lib")
from pgcluster import Cluster
c = Cluster("asan-check").init()
try:
    c.start()
    with c.connect() as conn:
        conn.execute("LOAD 'pg_bulk_ingest'")
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        maps = open("/proc/%d/maps" % pid).read()
finally:
    c.destroy()
if "libasan" not in maps or "pg_bulk_ingest.so" not in maps:
    sys.exit("backend %d maps libasan: %s, pg_bulk_ingest.so: %s" % (pid, "libasan" in maps, "pg_bulk_ingest.so" in maps))
print("a backend maps %s and pg_bulk_ingest.so" % [l.split()[-1] for l in maps.splitlines() if "libasan" in l][0])
EOF
t0=$(date +%s)
# Memory-flatness checks are left out: ASan's quarantine and redzones are memory that grows with what was freed.
if [[ $# -eq 0 ]]; then
    set -- "${SUBSET[@]}" -k "not test_a_huge_json_array_streams_in_flat_memory"
fi
# shellcheck disable=SC2086
timeout 3600 $PY -m pytest -v -p no:cacheprovider "$@"
rc=$?
echo "pytest: exit $rc after $(( $(date +%s) - t0 )) s"

# ---- the reports
reports=$(find "$ASAN_REPORTS" -name 'asan.*' -o -name 'ubsan.*' | sort)
if [[ -n "$reports" ]]; then
    echo "==== sanitizer reports:"
    for f in $reports; do
        echo "---- $f"
        head -60 "$f"
    done
    rc=1
else
    echo "no sanitizer report"
fi
exit $rc
