#!/usr/bin/env bash
# The libFuzzer targets of fuzz/ (clang-14, AddressSanitizer and UndefinedBehaviorSanitizer), each run for a while
# over its seed corpus (fuzz/corpus/<target>) and a working corpus that grows between runs.
#
#   scripts/fuzz.sh              # every target for 5 s (what scripts/test.sh runs)
#   scripts/fuzz.sh 600          # every target for 10 minutes (a long run, on demand)
#   scripts/fuzz.sh 60 fuzz_csv  # one target
#
# Environment: FUZZ_BUILD_DIR (default build-fuzz), JOBS (build parallelism, default 2). A crash (or a broken
# invariant, or a sanitizer report) stops its target, leaves the input in $FUZZ_BUILD_DIR/crashes/, and makes the
# exit status non-zero. Every crash found so far is a unit test or a seed of fuzz/corpus (see fuzz/README.md).
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECONDS_PER_TARGET=${1:-5}
shift || true
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
JOBS=${JOBS:-2}
CXX_FUZZ=${CXX_FUZZ:-clang++-14}

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    for f in fuzz/fuzz_*.cpp; do targets+=("$(basename "$f" .cpp)"); done
fi

# Debug: assertions kept; CMakeLists.txt compiles sanitized builds at -O1 -g1. The same configuration as the
# sanitized unit tests of scripts/test.sh, which share this build directory (the core is compiled once).
cmake -S . -B "$BUILD" -DBULK_INGEST_FUZZ=ON -DCMAKE_CXX_COMPILER="$CXX_FUZZ" -DCMAKE_BUILD_TYPE=Debug >/dev/null ||
    exit 1
cmake --build "$BUILD" -j "$JOBS" --target "${targets[@]}" >/dev/null ||
    { cmake --build "$BUILD" -j 1 --target "${targets[@]}"; exit 1; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:suppressions=$ROOT/fuzz/ubsan.supp}
mkdir -p "$BUILD/crashes"
failed=0
for t in "${targets[@]}"; do
    mkdir -p "$BUILD/corpus/$t"
    log="$BUILD/$t.log"
    if "$BUILD/$t" -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -timeout=20 \
        -artifact_prefix="$BUILD/crashes/$t-" "$BUILD/corpus/$t" "fuzz/corpus/$t" >"$log" 2>&1; then
        printf '  %-18s ok    %s\n' "$t" "$(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$log" | tail -1)"
    else
        printf '  %-18s FAIL  (log: %s)\n' "$t" "$log"
        grep -E 'ERROR|runtime error|invariant broken|SUMMARY|Test unit written' "$log" | head -8 | sed 's/^/      /'
        failed=1
    fi
done
exit $failed
