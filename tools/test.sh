#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# tools/test.sh — run the whole test suite (what .ci/run does), from any directory:
#   (a) install packages         (b) tree consistency     (c) single_include/ up to date
#   (d) CMake + g++ + ctest, every example and test built against single_include/
#   (e) Meson + clang++ + meson test, against include/, all under ASan+UBSan
#   (f) the README's bare g++ command against single_include/
#   (g) the libFuzzer targets, FUZZ_SECONDS (10) each   (h) the threaded models under TSan
# Stops at the first failure. The last line is "N passed, N failed" (ctest + meson test results;
# a step that fails before its tests ran counts as one failure).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

passed=0
failed=0
step=""
step_start=$SECONDS

finish() {
    local rc=$?
    trap - EXIT
    if [ "$rc" -ne 0 ]; then
        echo >&2
        echo "test.sh: FAILED at step ${step:-?} (exit status $rc)" >&2
        [ "$failed" -gt 0 ] || failed=1
    else
        echo
        echo "test.sh: all steps passed"
    fi
    echo "$passed passed, $failed failed"
    exit "$rc"
}
trap finish EXIT

begin() {
    step=$1
    step_start=$SECONDS
    echo
    echo "==== test.sh ($1) $2"
}
done_step() { echo "---- ($step) ok in $((SECONDS - step_start)) s"; }

# Adds the counts of ctest's "NN% tests passed, F tests failed out of T" line.
count_ctest() {
    local line f t
    line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$1" | tail -n 1) || return 0
    f=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
    t=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
    passed=$((passed + t - f))
    failed=$((failed + f))
}

# Adds the counts of meson test's summary ("Ok: N", "Fail: N", ...).
count_meson() {
    local n
    meson_count() { sed -nE "s/^$1:[[:space:]]+([0-9]+).*/\1/p" "$2" | tail -n 1; }
    for k in 'Ok' 'Expected Fail'; do
        n=$(meson_count "$k" "$1"); passed=$((passed + ${n:-0}))
    done
    for k in 'Fail' 'Unexpected Pass' 'Timeout'; do
        n=$(meson_count "$k" "$1"); failed=$((failed + ${n:-0}))
    done
}

# Fails the step if directory $1 holds a sanitizer report (printing it).
sanitizer_reports() {
    local f found=0
    for f in "$1"/*; do
        [ -e "$f" ] || continue
        echo "test.sh: sanitizer report $f:" >&2
        cat "$f" >&2
        found=1
    done
    [ "$found" -eq 0 ] || { failed=$((failed + 1)); exit 1; }
}

mkdir -p build

begin a "install packages: tools/setup.sh"
if [ ! -f tools/setup.sh ]; then
    echo "test.sh: tools/setup.sh is missing" >&2
    exit 1
fi
bash tools/setup.sh
done_step

begin b "tree consistency: python3 tools/check_tree.py"
python3 tools/check_tree.py
done_step

begin c "single header up to date: python3 tools/amalgamate.py --check"
python3 tools/amalgamate.py --check
done_step

# Release at -O2 (no -g: debug information costs a third of the compile time of the tools, and
# -O3 another half; the sanitizer builds below keep -g). tools/demo.sh configures build/gcc the same way (test_readme
# runs it: it must find this build up to date).
begin d "CMake, g++, single_include/: configure, build, ctest (build/gcc)"
cmake -S . -B build/gcc -G Ninja -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG" \
    -DCMAKE_CXX_COMPILER=g++ -DMAILLOAD_SINGLE_HEADER=ON
cmake --build build/gcc
rc=0
ctest --test-dir build/gcc --output-on-failure --no-tests=error -j2 2>&1 | tee build/gcc/ctest.log || rc=$?
count_ctest build/gcc/ctest.log
[ "$rc" -eq 0 ] || exit "$rc"
done_step

# clang 14 cannot compile -fsanitize=function with coroutines ("Cannot represent a difference
# across sections"): that one check is off. Every sanitizer report is written under
# build/asan/sanitizers/, in whichever process it happens (a tool started by a test too); one
# report there fails the step, whatever the test that ran the process concluded. -O1 -g: a
# sixth less compile time than -O2, and the tests do not measure speed.
begin e "Meson, clang++, ASan+UBSan: setup, compile, meson test (build/asan)"
sanitize=(-Doptimization=1 -Ddebug=true -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false
    "-Dcpp_args=-fno-sanitize-recover=all -fno-sanitize=function")
if [ -f build/asan/meson-private/coredata.dat ]; then
    CXX=clang++ meson setup --reconfigure build/asan "${sanitize[@]}"
else
    rm -rf build/asan
    CXX=clang++ meson setup build/asan "${sanitize[@]}"
fi
meson compile -C build/asan
reports=$PWD/build/asan/sanitizers
rm -rf "$reports" && mkdir -p "$reports"
rc=0
ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:strict_string_checks=1:check_initialization_order=1:log_path=$reports/asan" \
UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:log_path=$reports/ubsan" \
    meson test -C build/asan --print-errorlogs 2>&1 | tee build/asan/meson-test.log || rc=$?
count_meson build/asan/meson-test.log
[ "$rc" -eq 0 ] || exit "$rc"
sanitizer_reports "$reports"
done_step

# Step d built every example against single_include/ through CMake; this is the README's
# build of a program with nothing but a compiler.
begin f "single header: the README's bare g++ command (build/single)"
mkdir -p build/single
g++ -std=c++20 -O2 -Wall -Wextra -Werror -I single_include examples/fixed-source/fixed_source.cpp \
    -o build/single/fixed-source -pthread
build/single/fixed-source --version
done_step

begin g "fuzzing: tools/fuzz.sh ${FUZZ_SECONDS:-10} (build/fuzz)"
bash tools/fuzz.sh "${FUZZ_SECONDS:-10}"
passed=$((passed + 1))
done_step

# The unit tests that run threads and the sources' threaded models (--threads,
# --thread-per-session) against our sinks (step d's: they run one thread), under ThreadSanitizer.
begin h "Meson, clang++, TSan: unit tests and the threaded models (build/tsan)"
tsan=(--buildtype=debugoptimized -Dwerror=true -Db_sanitize=thread -Db_lundef=false)
if [ -f build/tsan/meson-private/coredata.dat ]; then
    CXX=clang++ meson setup --reconfigure build/tsan "${tsan[@]}"
else
    rm -rf build/tsan
    CXX=clang++ meson setup build/tsan "${tsan[@]}"
fi
meson compile -C build/tsan mailload_thread_tests smtp-source qmqp-source
reports=$PWD/build/tsan/sanitizers
rm -rf "$reports" && mkdir -p "$reports"
export TSAN_OPTIONS="halt_on_error=1:abort_on_error=1:second_deadlock_stack=1:log_path=$reports/tsan"
build/tsan/mailload_thread_tests
passed=$((passed + 1))
python3 tests/integration/test_smtp_source.py --bindir build/tsan --sink-bindir build/gcc ModelsTest OpenLoopTest
python3 tests/integration/test_qmqp.py --bindir build/tsan --sink-bindir build/gcc ModelsTest
passed=$((passed + 1))
unset TSAN_OPTIONS
sanitizer_reports "$reports"
done_step
