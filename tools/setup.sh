#!/usr/bin/env bash
# tools/setup.sh — install everything mailload needs on a Debian 12 machine (idempotent).
# Compilers, build tools, Boost 1.81, and the real peers the tests talk to: Postfix's four test
# programs (package `postfix`; its mail system is never started), swaks (with libnet-ssleay-perl for
# its TLS), openssl and Python 3; valgrind
# for bench/zero_overhead.py; libclang-rt-14-dev for tools/fuzz.sh (libFuzzer: only a Recommends of clang);
# Open MPI for the optional MPI layer (include/mailload/mpi.hpp, smtp-source-mpi, qmqp-source-mpi).
set -euo pipefail

packages=(
    g++ clang cmake ninja-build meson pkg-config python3 git ca-certificates
    libboost1.81-dev libboost-test1.81-dev libssl-dev
    postfix swaks libnet-ssleay-perl openssl procps iproute2 netbase
    valgrind groff-base man-db libclang-rt-14-dev time
    openmpi-bin libopenmpi-dev
)

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: all packages present"
    exit 0
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Postfix is installed only for /usr/sbin/smtp-source & co.: no configuration, and no service start.
echo "postfix postfix/main_mailer_type select No configuration" | "${sudo_cmd[@]}" debconf-set-selections
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee "$policy" >/dev/null
    "${sudo_cmd[@]}" chmod 755 "$policy"
    made_policy=1
fi
trap '[ $made_policy -eq 1 ] && "${sudo_cmd[@]}" rm -f "$policy"' EXIT
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
