#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# tools/test.sh — run the whole test suite (what .ci/run does), from any directory:
#   (a) install packages         (b) tree consistency     (c) single_include/ up to date
#   (d) CMake + g++ + ctest      (e) Meson + clang++ + meson test
#   (f) every example built against single_include/ with a bare g++ command
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

begin d "CMake, g++: configure, build, ctest (build/gcc)"
cmake -S . -B build/gcc -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=g++
cmake --build build/gcc
rc=0
ctest --test-dir build/gcc --output-on-failure --no-tests=error -j2 2>&1 | tee build/gcc/ctest.log || rc=$?
count_ctest build/gcc/ctest.log
[ "$rc" -eq 0 ] || exit "$rc"
done_step

begin e "Meson, clang++: setup, compile, meson test (build/clang)"
if [ -f build/clang/meson-private/coredata.dat ]; then
    CXX=clang++ meson setup --reconfigure build/clang --buildtype=debugoptimized -Dwerror=true
else
    rm -rf build/clang
    CXX=clang++ meson setup build/clang --buildtype=debugoptimized -Dwerror=true
fi
meson compile -C build/clang
rc=0
meson test -C build/clang --print-errorlogs 2>&1 | tee build/clang/meson-test.log || rc=$?
count_meson build/clang/meson-test.log
[ "$rc" -eq 0 ] || exit "$rc"
done_step

begin f "single header: each example with g++ -I single_include (build/single)"
mkdir -p build/single
shopt -s nullglob
for src in examples/*/*.cpp; do
    name=$(basename "$(dirname "$src")")
    [ "$name" != common ] || continue
    echo "g++ ... $src -o build/single/$name"
    g++ -std=c++20 -O2 -Wall -Wextra -Werror -I single_include -I examples "$src" \
        -o "build/single/$name" -pthread
done
shopt -u nullglob
done_step
