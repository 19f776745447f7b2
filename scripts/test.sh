#!/usr/bin/env bash
# All of pg_bulk_ingest's tests, on a fresh Debian 12 machine or a developer's:
#   1. dependencies (apt, only what is missing)           scripts/install-deps.sh
#   2. formatting of the C++ sources                      clang-format --dry-run --Werror (.clang-format)
#   3. the core's unit tests                              cmake in build/, ctest; again with ASan+UBSan and the
#      libFuzzer targets for 5 s each (build-sanitize/)  scripts/fuzz.sh
#   4. the extension, built and installed                 make && make install
#   5. pg_regress suites (sql/, expected/)                make installcheck against a throwaway cluster; its server
#                                                         log must have no crash or leak line (test/lib/serverlog.py)
#   6. integration tests                                  pytest test/integration (own cluster, own HTTP server)
# Every step runs even when an earlier independent one failed; a summary is printed; the exit status is non-zero
# when anything failed. Whatever it started (clusters, servers) is stopped on exit.
#
# Environment: JOBS (parallel build jobs, default 2), BUILD_DIR (the unit tests' CMake build directory, default
# build; the sanitized one is $BUILD_DIR-sanitize), CXX_FUZZ (default clang++-14), PYTEST_ARGS (extra pytest
# arguments, e.g. "-k watermark -x"),
# SKIP_DEPS=1 (do not check apt packages), KEEP_CLUSTER=1 (keep the pg_regress cluster and its log),
# PRIVATE_INSTALL=DIR (install the extension into a private copy of PostgreSQL under DIR instead of the system, and
# run the test clusters from there: no root needed, and a shared machine's installation is left alone).
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOBS=${JOBS:-2}
BUILD_DIR=${BUILD_DIR:-build}
PY=/usr/bin/python3
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
CLUSTER_NAME="installcheck-$$"
SUDO=()
if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null; then SUDO=(sudo); fi

declare -a SUMMARY=()
FAILED=0
START=$(date +%s)

note() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

# step NAME COMMAND...: run, time and record a step
step() {
    local name=$1; shift
    local t0=$(date +%s)
    note "$name"
    if "$@"; then
        SUMMARY+=("PASS  $name ($(( $(date +%s) - t0 ))s)")
        return 0
    else
        local rc=$?
        SUMMARY+=("FAIL  $name (exit $rc, $(( $(date +%s) - t0 ))s)")
        FAILED=1
        return $rc
    fi
}
skip() { SUMMARY+=("SKIP  $1 ($2)"); FAILED=1; }

cleanup() {
    if [[ -z "${KEEP_CLUSTER:-}" ]]; then
        $PY test/lib/pgcluster.py destroy --name "$CLUSTER_NAME" >/dev/null 2>&1 || true
    else
        $PY test/lib/pgcluster.py stop --name "$CLUSTER_NAME" >/dev/null 2>&1 || true
    fi
}
print_summary() {
    echo
    echo "================ pg_bulk_ingest test summary ($(( $(date +%s) - START ))s) ================"
    for line in "${SUMMARY[@]}"; do echo "  $line"; done
    if [[ $FAILED -eq 0 ]]; then echo "  ALL PASSED"; else echo "  FAILURES (see above)"; fi
}
trap 'cleanup; print_summary' EXIT
trap 'exit 130' INT TERM

# ---- 1. dependencies
if [[ -z "${SKIP_DEPS:-}" ]]; then
    step "dependencies (apt)" scripts/install-deps.sh || { echo "cannot continue without dependencies"; exit 1; }
fi

# ---- 2. formatting (clang-format, the repository's .clang-format): C++ that is not formatted fails the suite
format_check() {
    local files
    files=$(git ls-files 'src/*.cpp' 'src/*.h' 'test/*.cpp' 'test/*.h' 'bench/*.cpp' 'fuzz/*.cpp' 'fuzz/*.h' 2>/dev/null || find src test bench fuzz \( -name '*.cpp' -o -name '*.h' \))
    # shellcheck disable=SC2086
    clang-format --dry-run --Werror $files
}
step "formatting (clang-format)" format_check

# ---- 3. unit tests
unit_tests() {
    cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
    cmake --build "$BUILD_DIR" -j "$JOBS" &&
    ctest --test-dir "$BUILD_DIR" --output-on-failure --timeout 120
}
step "unit tests (cmake, ctest)" unit_tests

# ---- 3b. the unit tests again, built with AddressSanitizer and UndefinedBehaviorSanitizer (and assertions: no
# NDEBUG; -O1). With clang the build is the fuzzers' too (BULK_INGEST_FUZZ: the core compiled once for both steps);
# without it, g++ builds the sanitized unit tests alone. Two tests that stream hundreds of megabytes through a
# reader to prove its memory flat are left to the plain run (under ASan they take a minute and prove nothing more).
SANITIZE_DIR="$BUILD_DIR-sanitize"
CXX_FUZZ=${CXX_FUZZ:-clang++-14}
SANITIZER_ENV=(UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$ROOT/fuzz/ubsan.supp"
               ASAN_OPTIONS="detect_leaks=1:abort_on_error=1")
unit_tests_sanitized() {
    if command -v "$CXX_FUZZ" >/dev/null; then
        cmake -S . -B "$SANITIZE_DIR" -DBULK_INGEST_FUZZ=ON -DCMAKE_CXX_COMPILER="$CXX_FUZZ" \
            -DCMAKE_BUILD_TYPE=Debug >/dev/null || return 1
    else
        cmake -S . -B "$SANITIZE_DIR" -DBULK_INGEST_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null || return 1
    fi
    cmake --build "$SANITIZE_DIR" -j "$JOBS" --target core_tests &&
    env "${SANITIZER_ENV[@]}" "$SANITIZE_DIR/core_tests" --gtest_brief=1 --gtest_filter='-*InBoundedMemory'
}
step "unit tests under ASan and UBSan" unit_tests_sanitized

# ---- 3c. every libFuzzer target for a few seconds over its seed corpus (scripts/fuzz.sh 600 is the long run)
if command -v "$CXX_FUZZ" >/dev/null; then
    step "fuzz targets (5 s each)" env FUZZ_BUILD_DIR="$SANITIZE_DIR" CXX_FUZZ="$CXX_FUZZ" scripts/fuzz.sh 5
else
    skip "fuzz targets" "no $CXX_FUZZ (scripts/install-deps.sh installs clang-14)"
fi

# ---- 4. build and install the extension
private_prefix() {
    # A copy of PostgreSQL's bin/lib and share directories under $PRIVATE_INSTALL: the server finds its share and
    # lib directories relative to its binary, so an extension installed there with DESTDIR is seen by it only.
    local d
    for d in "$($PG_CONFIG --bindir)/.." "$($PG_CONFIG --sharedir)"; do
        d=$(realpath "$d")
        if [[ ! -d "$PRIVATE_INSTALL$d" ]]; then
            mkdir -p "$(dirname "$PRIVATE_INSTALL$d")" && cp -a "$d" "$PRIVATE_INSTALL$d" || return 1
        fi
    done
    export PG_BINDIR="$PRIVATE_INSTALL$($PG_CONFIG --bindir)"
}
build_install() {
    make -j"$JOBS" PG_CONFIG="$PG_CONFIG" || return 1
    if [[ -n "${PRIVATE_INSTALL:-}" ]]; then
        private_prefix && make install PG_CONFIG="$PG_CONFIG" DESTDIR="$PRIVATE_INSTALL"
    else
        "${SUDO[@]}" make install PG_CONFIG="$PG_CONFIG"
    fi
}
if step "extension build and install (make, make install)" build_install; then
    INSTALLED=1
else
    INSTALLED=0
fi

# ---- 5. pg_regress
installcheck() {
    $PY test/lib/pgcluster.py init --name "$CLUSTER_NAME" >/dev/null &&
    $PY test/lib/pgcluster.py start --name "$CLUSTER_NAME" || return 1
    eval "$($PY test/lib/pgcluster.py env --name "$CLUSTER_NAME")"
    export PGHOST PGPORT PGUSER
    local log
    log=$($PY test/lib/pgcluster.py log --name "$CLUSTER_NAME")
    if ! make installcheck PG_CONFIG="$PG_CONFIG"; then
        if [[ -s regression.diffs ]]; then echo "---- regression.diffs (first 200 lines)"; head -200 regression.diffs; fi
        echo "---- server log (last 60 lines)"
        tail -60 "$log"
        return 1
    fi
    # Matching output is not enough: a crash or a leak warning in the server log fails the step (test/lib/serverlog.py).
    $PY test/lib/serverlog.py check "$log"
}
installcheck_clean_env() { local rc=0; installcheck || rc=$?; unset PGHOST PGPORT PGUSER; return $rc; }
if [[ $INSTALLED -eq 1 ]]; then
    step "pg_regress (make installcheck)" installcheck_clean_env
else
    skip "pg_regress (make installcheck)" "extension not installed"
fi
cleanup

# ---- 6. integration tests
integration() {
    # shellcheck disable=SC2086
    timeout 1200 $PY -m pytest test/integration -v ${PYTEST_ARGS:-}
}
if [[ $INSTALLED -eq 1 ]]; then
    step "integration tests (pytest)" integration
else
    skip "integration tests (pytest)" "extension not installed"
fi

exit $FAILED
