#!/bin/sh
# SPDX-License-Identifier: BSL-1.0
# bench/compile_time.sh — wall time of compiling each example main with g++ -O2 (STYLE.md §3.10).
#
#   bench/compile_time.sh [--reps N]     (run from anywhere; prints seconds per tool)
#
# One translation unit per tool, compiled (and linked) alone, as the build does it but at -O2
# and without warnings-as-errors: what a user pays when a header changes. Issue 5's target:
# under 60 s each on the 2-core benchmark machine. With --reps N each tool is compiled N times
# and the fastest and median times printed. Exits 1 if a compile fails.
set -eu

reps=1
while [ $# -gt 0 ]; do
    case "$1" in
    --reps) reps="$2"; shift 2 ;;
    --reps=*) reps="${1#--reps=}"; shift ;;
    -h|--help) sed -n '3,10p' "$0"; exit 0 ;;
    *) echo "usage: $0 [--reps N]" >&2; exit 2 ;;
    esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
cxx=${CXX:-g++}
out=$(mktemp -d "${TMPDIR:-/tmp}/mailload-compile.XXXXXX")
trap 'rm -rf "$out"' EXIT INT TERM

echo "# $($cxx --version | head -n 1); $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $cxx -std=c++20 -O2 -I include -I examples -pthread <main.cpp> -o <tool>"
printf '%-14s %10s %10s  %s\n' tool "best s" "median s" "target < 60 s"
status=0
for main in examples/smtp-source/smtp_source.cpp examples/smtp-sink/smtp_sink.cpp \
            examples/qmqp-source/qmqp_source.cpp examples/qmqp-sink/qmqp_sink.cpp; do
    tool=$(basename "$(dirname "$main")")
    times=""
    i=0
    while [ "$i" -lt "$reps" ]; do
        start=$(date +%s.%N)
        if ! timeout 600 "$cxx" -std=c++20 -O2 -I"$root/include" -I"$root/examples" -pthread \
                "$root/$main" -o "$out/$tool" 2>"$out/$tool.err"; then
            echo "$tool: compile failed:" >&2
            head -n 20 "$out/$tool.err" >&2
            status=1
            times=""
            break
        fi
        end=$(date +%s.%N)
        times="$times $(echo "$end $start" | awk '{printf "%.2f", $1 - $2}')"
        i=$((i + 1))
    done
    [ -n "$times" ] || continue
    echo "$times" | tr ' ' '\n' | grep . | sort -n | awk -v tool="$tool" '
        { t[NR] = $1 }
        END {
            med = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
            printf "%-14s %10.2f %10.2f  %s\n", tool, t[1], med, (t[1] < 60 ? "yes" : "NO")
        }'
done
exit $status
