#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# tools/demo.sh — the quick-start "main job": build mailload's examples, start an SMTP sink on a
# free loopback port, drive it with our smtp-source, and print both reports (--report=text).
# Runs from any directory.
#
# Both tools are mailload's: the sink is told (-n) to exit after the source's sessions end.
# Environment overrides: SESSIONS (10), MESSAGES (10000), LENGTH (1000), SOURCE_TIMEOUT (120 s).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

sessions=${SESSIONS:-10}
messages=${MESSAGES:-10000}
length=${LENGTH:-1000}
source_timeout=${SOURCE_TIMEOUT:-120}
listen_deadline=10 # seconds to wait for the sink's listening socket

echo "==== demo: install packages"
bash tools/setup.sh

echo "==== demo: build (CMake, g++, build/gcc)"
# The configuration of tools/test.sh's step d, so that either reuses the other's build.
cmake -S . -B build/gcc -G Ninja -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG" \
    -DCMAKE_CXX_COMPILER=g++ -DMAILLOAD_SINGLE_HEADER=ON
cmake --build build/gcc --target examples
source_bin=build/gcc/smtp-source
sink_bin=build/gcc/smtp-sink

work=$(mktemp -d)
sink_pid=""
cleanup() {
    if [ -n "$sink_pid" ] && kill -0 "$sink_pid" 2>/dev/null; then
        kill "$sink_pid" 2>/dev/null || true
        wait "$sink_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# A free port: bind port 0, read the port back, release it.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

sink_args=(-n "$sessions" --report=text "127.0.0.1:$port" 100)
echo "==== demo: sink: $sink_bin ${sink_args[*]}"
"$sink_bin" "${sink_args[@]}" >"$work/sink.out" 2>"$work/sink.err" &
sink_pid=$!

# Wait until 127.0.0.1:port is in LISTEN state (0A) in /proc/net/tcp.
want=$(printf '0100007F:%04X' "$port")
deadline=$((SECONDS + listen_deadline))
until awk -v a="$want" '$2 == a && $4 == "0A" { found = 1 } END { exit !found }' /proc/net/tcp; do
    if ! kill -0 "$sink_pid" 2>/dev/null; then
        echo "demo: the sink exited before listening:" >&2
        cat "$work/sink.err" >&2
        exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "demo: the sink is not listening on 127.0.0.1:$port after ${listen_deadline} s" >&2
        exit 1
    fi
    sleep 0.05
done

source_cmd=("$source_bin" -s "$sessions" -m "$messages" -l "$length" -d --report=text "127.0.0.1:$port")
echo "==== demo: source: timeout $source_timeout ${source_cmd[*]}"
status=0
timeout "$source_timeout" "${source_cmd[@]}" >"$work/source.out" 2>"$work/source.err" || status=$?

# The sink exits by itself once the source's sessions have ended (-n); give it 10 s, then stop it.
deadline=$((SECONDS + 10))
while kill -0 "$sink_pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.05; done
kill "$sink_pid" 2>/dev/null || true
wait "$sink_pid" 2>/dev/null || true
sink_pid=""

echo "==== demo: results"
cat "$work/source.out"
if [ -s "$work/source.err" ]; then
    echo "source stderr (last lines):"
    tail -n 5 "$work/source.err" | sed 's/^/  /'
fi
echo
cat "$work/sink.out"
[ "$status" -ne 124 ] || echo "source timed out after ${source_timeout} s"
echo "source exit status $status"
exit "$status"
