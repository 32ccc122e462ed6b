#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# tools/fuzz.sh — build and run the libFuzzer targets of tests/fuzz/ (issue 6), from any directory:
#   tools/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]      (default: 20 s, every tests/fuzz/*.cpp)
# 1. builds each target with clang++ (CXX overrides) -fsanitize=fuzzer,address,undefined into
#    build/fuzz/ (JOBS=2 compilers at a time), unless it is newer than every file it includes
#    and was built with the same command (build/fuzz/<target>.d, .cmd); the options_* targets
#    (the four tools' option parsers, which include the tools' sources) also get -I examples;
# 2. replays tests/fuzz/regressions/<target>/* (inputs that once failed: they must pass now);
# 3. fuzzes each target (JOBS at a time, each a process of its own) for SECONDS on a copy of
#    tests/fuzz/corpus/<target>/ in build/fuzz/work/ (the committed corpus is never written),
#    with tests/fuzz/dict/ dictionaries; logs in build/fuzz/logs/. The options_* targets run
#    with -close_fd_mask=3 (the tools' diagnostics would fill the log): their crash reports
#    still print, but a failed invariant's message does not, so a reproducer is replayed.
# Fails (exit status 1) when a build, a regression or a target fails, printing the
# reproducer's path and the log's end (and the replay's).
# Reproduce with: build/fuzz/<target> <file>; minimise with
#   build/fuzz/<target> -minimize_crash=1 -runs=100000 -exact_artifact_path=min <file>
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=${1:-20}
[ $# -gt 0 ] && shift
case $seconds in
'' | *[!0-9]*)
    echo "usage: tools/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]" >&2
    exit 2
    ;;
esac
CXX=${CXX:-clang++}
JOBS=${JOBS:-2}
out=build/fuzz
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I include)
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

if [ $# -gt 0 ]; then
    targets=("$@")
else
    targets=()
    for src in tests/fuzz/*.cpp; do
        t=${src##*/}
        targets+=("${t%.cpp}")
    done
fi
for t in "${targets[@]}"; do
    [ -f "tests/fuzz/$t.cpp" ] || { echo "fuzz.sh: no target tests/fuzz/$t.cpp" >&2; exit 2; }
done

# Extra compiler flags: the tools' sources need examples/ (<common/...>) and threads; their
# Asio coroutines break clang 14's -fsanitize=function ("Cannot represent a difference across
# sections", llvm/llvm-project#49689), which is part of "undefined".
flags_of() {
    case $1 in
    options_*) echo -I examples -pthread -fno-sanitize=function ;;
    *) echo "" ;;
    esac
}

# Extra libFuzzer options: command lines are short, and the tools' stdout and stderr noise
# is dropped.
run_opts_of() {
    case $1 in
    options_*) echo -max_len=2048 -close_fd_mask=3 ;;
    *) echo -max_len=65536 ;;
    esac
}

dict_of() {
    case $1 in
    options_*) echo tests/fuzz/dict/options.dict ;;
    netstring | qmqp_*) echo tests/fuzz/dict/qmqp.dict ;;
    reply_parser | data_scanner | smtp_*) echo tests/fuzz/dict/smtp.dict ;;
    *) echo "" ;;
    esac
}

fail() {
    echo "fuzz.sh: FAILED: $*" >&2
    exit 1
}

mkdir -p "$out/logs"

# True if $out/$1 was built by the command "$2" and is newer than every file it includes.
up_to_date() {
    local bin=$out/$1 dep
    [ -x "$bin" ] && [ -f "$out/$1.d" ] && [ -f "$out/$1.cmd" ] || return 1
    [ "$(cat "$out/$1.cmd")" = "$2" ] || return 1
    # shellcheck disable=SC2013 # a depfile's words are paths, none with spaces
    for dep in $(sed -e 's/^[^:]*://' -e 's/\\$//' "$out/$1.d"); do
        [ "$dep" -ot "$bin" ] || return 1
    done
}

# 1. build, JOBS at a time
start=$SECONDS
echo "fuzz.sh: building ${#targets[@]} targets with $($CXX --version | head -n 1)"
# Background jobs, JOBS at a time: `reap` waits for the oldest and adds its name to $failed if it
# failed.
pids=()
names=()
failed=""
reap() {
    local pid=${pids[0]} name=${names[0]}
    pids=("${pids[@]:1}")
    names=("${names[@]:1}")
    wait "$pid" || failed="$failed $name"
}
built=0
for t in "${targets[@]}"; do
    # shellcheck disable=SC2207 # flags_of prints words without spaces or wildcards
    cmd=("$CXX" "${flags[@]}" $(flags_of "$t") "tests/fuzz/$t.cpp" -o "$out/$t")
    up_to_date "$t" "${cmd[*]}" && continue
    [ ${#pids[@]} -lt "$JOBS" ] || reap
    rm -f "$out/$t.cmd"
    { "${cmd[@]}" -MMD -MF "$out/$t.d" && echo "${cmd[*]}" >"$out/$t.cmd"; } >"$out/logs/$t.build.log" 2>&1 &
    pids+=($!)
    names+=("$t")
    built=$((built + 1))
done
while [ ${#pids[@]} -gt 0 ]; do reap; done
for t in $failed; do cat "$out/logs/$t.build.log" >&2; done
[ -z "$failed" ] || fail "build of$failed"
build_time=$((SECONDS - start))
echo "fuzz.sh: built $built in ${build_time} s ($((${#targets[@]} - built)) up to date)"

# 2. regressions
for t in "${targets[@]}"; do
    dir=tests/fuzz/regressions/$t
    [ -d "$dir" ] || continue
    files=("$dir"/*)
    [ -e "${files[0]}" ] || continue
    if ! "$out/$t" "${files[@]}" >"$out/logs/$t.regressions.log" 2>&1; then
        tail -n 40 "$out/logs/$t.regressions.log" >&2
        fail "$t: a regression input fails again (log: $out/logs/$t.regressions.log)"
    fi
    echo "fuzz.sh: $t: ${#files[@]} regression inputs pass"
done

# 3. fuzz, JOBS targets at a time (each a process of its own; a failure says why on stderr)
fuzz_one() {
    local t=$1 work=$out/work/$1 artifacts=$out/artifacts/$1 log=$out/logs/$1.log t0=$SECONDS dict repro runs cov
    rm -rf "$work" "$artifacts"
    mkdir -p "$work" "$artifacts"
    if [ -d "tests/fuzz/corpus/$t" ]; then
        cp tests/fuzz/corpus/"$t"/* "$work"/ 2>/dev/null || true
    fi
    # shellcheck disable=SC2207 # run_opts_of prints words without spaces or wildcards
    local opts=(-max_total_time="$seconds" $(run_opts_of "$t") -timeout=10 -rss_limit_mb=1024
        -artifact_prefix="$artifacts/" -print_final_stats=1)
    dict=$(dict_of "$t")
    [ -z "$dict" ] || opts+=(-dict="$dict")
    if ! "$out/$t" "${opts[@]}" "$work" >"$log" 2>&1; then
        {
            tail -n 60 "$log"
            repro=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
            [ -n "$repro" ] || repro=$(ls -1 "$artifacts" 2>/dev/null | head -n 1 | sed "s|^|$artifacts/|")
            if [ -n "$repro" ] && [ -f "$repro" ]; then  # without -close_fd_mask: the invariant's message
                "$out/$t" "$repro" >"$log.replay" 2>&1 || true
                grep -m 5 -e 'fuzz invariant failed' -e 'ERROR:' -e 'runtime error' "$log.replay" || true
            fi
            echo "fuzz.sh: $t: reproducer ${repro:-(none written)}; log $log"
        } >&2
        return 1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
    echo "fuzz.sh: $t: ok, ${runs:-?} runs in $((SECONDS - t0)) s, ${cov:-cov: ?}, corpus $(ls "$work" | wc -l) inputs"
}
start=$SECONDS
failed=""
for t in "${targets[@]}"; do
    [ ${#pids[@]} -lt "$JOBS" ] || reap
    fuzz_one "$t" &
    pids+=($!)
    names+=("$t")
done
while [ ${#pids[@]} -gt 0 ]; do reap; done
[ -z "$failed" ] || fail "fuzzing of$failed"
run_time=$((SECONDS - start))
echo "fuzz.sh: all ${#targets[@]} targets passed (build ${build_time} s, fuzzing ${run_time} s)"
