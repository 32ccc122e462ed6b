#!/usr/bin/env python3
# SPDX-License-Identifier: BSL-1.0
"""Zero overhead, shown (issue 5): the dispatched smtp-source and fixed-source, a tool whose
policies are all fixed at compile time, run the same per-message code.

    python3 bench/zero_overhead.py [--bindir build/bench] [--messages 2000,4000] [--length 1000]
                                   [--tolerance 2] [--reps 3]

Builds nothing: --bindir (default build/bench, bench/run.py's Release build) must hold
smtp-source, fixed-source and smtp-sink, from one build (the same compiler and flags). Each
source runs under `valgrind --tool=callgrind`, which counts the instructions of that process
only, in user space: nearly deterministic, unlike time (whether a read finds its reply already
there still depends on timing, so repetitions differ by a few tenths of a percent). The
workload is `-d -s 1 -l LENGTH -m N` into our smtp-sink on 127.0.0.1, a fresh sink per run.
smtp-source gets -4, so that both instantiate source<smtp, inet4, single_thread, no_pacing>;
what differs is mailload::dispatch and smtp-source's observer. Instructions per message =
(Ir at the larger -m - Ir at the smaller) / the difference in -m: start-up and shutdown cancel
out.

A run counts only if the source exited 0 with nothing on stdout or stderr (valgrind's own
output goes to a log file) and the sink's -c counter reached -m. Exit status: 0 when the two
figures are within --tolerance percent of each other, 1 when they are not, 2 when a run was
invalid or something is missing. Only processes this script started are ever stopped, by PID.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import ROOT, PortPicker, last_counter, tail_text, tcp_listening  # noqa: E402

LISTEN_DEADLINE = 10.0  # seconds for the sink to listen
STOP_DEADLINE = 10.0    # seconds for the sink to end after SIGTERM (then SIGKILL)

# name, program, extra flags before the workload's
TOOLS = (
    ("dispatched", "smtp-source", ["-4"]),
    ("fixed", "fixed-source", []),
)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after STOP_DEADLINE: this process's own child, by its PID."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def callgrind_total(path: str) -> int:
    with open(path) as f:
        for line in f:
            if line.startswith(("totals:", "summary:")):
                return int(line.split()[1])
    raise RuntimeError("%s: no totals line" % path)


class Bench:
    def __init__(self, bindir: str, tmp: str, length: int, timeout: float, keep: bool) -> None:
        self.bindir, self.tmp, self.length, self.timeout, self.keep = bindir, tmp, length, timeout, keep
        self.ports = PortPicker()
        self.seq = 0
        self.problems: list[str] = []

    def command(self, program: str, extra: list[str], m: int, target: str) -> list[str]:
        return [os.path.join(self.bindir, program)] + extra + [
            "-d", "-s", "1", "-l", str(self.length), "-m", str(m), target]

    def run(self, program: str, extra: list[str], m: int):
        """Ir of one source run, or None (with a problem recorded) if the run is invalid."""
        self.seq += 1
        d = os.path.join(self.tmp, "run%02d-%s-%d" % (self.seq, program, m))
        os.mkdir(d)
        port = self.ports.pick()
        target = "127.0.0.1:%d" % port
        files = {k: open(os.path.join(d, k), "wb") for k in ("sink.out", "sink.err", "source.out", "source.err")}
        sink = subprocess.Popen([os.path.join(self.bindir, "smtp-sink"), "-c", target, "64"],
                                stdin=subprocess.DEVNULL, stdout=files["sink.out"], stderr=files["sink.err"])
        cmd = self.command(program, extra, m, target)
        out = os.path.join(d, "callgrind.out")
        problems = []
        try:
            deadline = time.monotonic() + LISTEN_DEADLINE
            while not tcp_listening(port) and sink.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            if not tcp_listening(port):
                problems.append("sink never listened: " + tail_text(os.path.join(d, "sink.err")))
            else:
                vg = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                      "--log-file=" + os.path.join(d, "valgrind.log")]
                src = subprocess.Popen(vg + cmd, stdin=subprocess.DEVNULL, stdout=files["source.out"],
                                       stderr=files["source.err"])
                try:
                    status = src.wait(self.timeout)
                except subprocess.TimeoutExpired:
                    src.kill()
                    src.wait()
                    status = None
                    problems.append("source killed after %g s" % self.timeout)
                if status is not None and status != 0:
                    problems.append("source exited %d: %s" % (status, tail_text(os.path.join(d, "source.err"))))
                if sink.poll() is not None:
                    problems.append("sink ended early (%d)" % sink.returncode)
        finally:
            stop(sink)
            for f in files.values():
                f.close()
        for name in ("source.out", "source.err"):
            if os.path.getsize(os.path.join(d, name)):
                problems.append("the source wrote on std%s: %s" % (name[7:], tail_text(os.path.join(d, name))))
        counter = last_counter(os.path.join(d, "sink.out"), "smtp")
        if counter != m:
            problems.append("sink counter %s, expected %d" % (counter, m))
        if problems or not os.path.exists(out):
            self.problems.append("%s (kept in %s): %s" % (" ".join(cmd), d, "; ".join(problems) or "no callgrind output"))
            return None
        ir = callgrind_total(out)
        log("  %-13s -m %-6d %15s Ir" % (program, m, "{:,}".format(ir)))
        if not self.keep:
            shutil.rmtree(d, ignore_errors=True)
        return ir


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bindir", default=os.path.join(ROOT, "build", "bench"),
                    help="smtp-source, fixed-source and smtp-sink of one build (default build/bench)")
    ap.add_argument("--messages", default="2000,4000", help="the two -m values (default 2000,4000)")
    ap.add_argument("--length", type=int, default=1000, help="-l (default 1000)")
    ap.add_argument("--tolerance", type=float, default=2.0, help="allowed difference, percent (default 2)")
    ap.add_argument("--reps", type=int, default=3, help="repetitions; the median counts (default 3)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds before a source is killed")
    ap.add_argument("--keep", action="store_true", help="keep every run's callgrind.out (for callgrind_annotate)")
    args = ap.parse_args()
    try:
        m1, m2 = sorted(int(x) for x in args.messages.split(","))
    except ValueError:
        ap.error("--messages takes two numbers, e.g. 2000,4000")
    if not 0 < m1 < m2 or args.reps < 1 or args.length < 1:
        ap.error("need 0 < first -m < second -m, --reps >= 1 and --length >= 1")
    if not shutil.which("valgrind"):
        log("valgrind is not installed (apt-get install valgrind, or tools/setup.sh)")
        return 2
    bindir = os.path.abspath(args.bindir)
    for t in ("smtp-source", "fixed-source", "smtp-sink"):
        if not os.access(os.path.join(bindir, t), os.X_OK):
            log("%s is not in %s; build it first: cmake -S . -B build/bench -G Ninja "
                "-DCMAKE_BUILD_TYPE=Release && cmake --build build/bench --target "
                "smtp-source fixed-source smtp-sink" % (t, bindir))
            return 2

    tmp = tempfile.mkdtemp(prefix="mailload-zero-overhead-")
    bench = Bench(bindir, tmp, args.length, args.timeout, args.keep)
    per_msg: dict[str, list[float]] = {name: [] for name, _, _ in TOOLS}
    totals: dict[tuple[str, int], list[int]] = {}
    for rep in range(args.reps):
        log("repetition %d of %d" % (rep + 1, args.reps))
        got = {}
        for m in (m1, m2):
            for name, program, extra in TOOLS:  # alternating, as bench/run.py does
                got[name, m] = bench.run(program, extra, m)
                if got[name, m] is not None:
                    totals.setdefault((name, m), []).append(got[name, m])
        for name, _, _ in TOOLS:
            if got[name, m1] is not None and got[name, m2] is not None:
                per_msg[name].append((got[name, m2] - got[name, m1]) / (m2 - m1))

    print("Instructions per message (callgrind Ir, the source process only), -d -s 1 -l %d, "
          "-m %d and %d, median of %d" % (args.length, m1, m2, args.reps))
    print()
    rows = [["", "command", "Ir at -m %d" % m1, "Ir at -m %d" % m2, "Ir/message", "start-up Ir"]]
    med = {}
    for name, program, extra in TOOLS:
        if not per_msg[name] or (name, m1) not in totals or (name, m2) not in totals:
            continue
        med[name] = statistics.median(per_msg[name])
        t1 = statistics.median(totals[name, m1])
        rows.append([name, " ".join([program] + extra + ["-d -s 1 -l %d -m N" % args.length]),
                     "{:,.0f}".format(t1), "{:,.0f}".format(statistics.median(totals[name, m2])),
                     "{:,.1f}".format(med[name]), "{:,.0f}".format(t1 - m1 * med[name])])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    if args.reps > 1:
        for name in med:
            print("%s Ir/message over the repetitions: %s" % (name, ", ".join("%.1f" % x for x in per_msg[name])))
    status = 0
    if len(med) == 2:
        ratio = med["fixed"] / med["dispatched"]
        ok = abs(ratio - 1) * 100 <= args.tolerance
        print()
        print("fixed ÷ dispatched: %.4f (%+.2f%%); within %g%%: %s" % (ratio, (ratio - 1) * 100, args.tolerance,
                                                                    "yes" if ok else "NO"))
        status = 0 if ok else 1
    if bench.problems:
        print()
        print("Invalid runs (left out):")
        for p in bench.problems:
            print("  " + p)
        status = 2
    elif args.keep:
        print()
        print("callgrind outputs kept in " + tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
