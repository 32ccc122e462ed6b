#!/usr/bin/env python3
# SPDX-License-Identifier: BSL-1.0
"""mailload against Postfix's test tools, side by side (issue 5, STYLE.md section 3.10).

    python3 bench/run.py [--reps N] [--quick] [--only W2,W7] [--bindir DIR] [--micro]

Builds our four tools in Release (unless --bindir names a directory that has them), then
runs the workloads W1-W7 with identical flags on both sides. Within each repetition of a
workload the pairings alternate: Postfix's source into Postfix's sink, ours into ours, our
source into Postfix's sink, Postfix's source into our sink, and the workload's variants (VARIANTS:
ours with --pipelining into ours and into Postfix's sink; ours with STARTTLS or BDAT into ours,
which Postfix's tools cannot do), when our tools have their flags. Every run is verified (source
exit status 0, the sink's -c counter equal to -m; for TLS, a handshake on every connection; for
BDAT, one chunk per message); a run that fails is reported as invalid and left out of the
medians, never counted silently.

Results: a table on stdout, and bench/results/<date>-<hostname>.{json,md} (with -quick in
the name for --quick or --only runs). python3 standard library only.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
TOOLS = ("smtp-source", "smtp-sink", "qmqp-source", "qmqp-sink")

# name: protocol, transport, source flags (without -m), -m, -l, sink flags (both sinks),
# quick -m, issue-5 target, variants (suffix: target, None = no target yet; see VARIANTS)
WORKLOADS = {
    "W1": dict(title="new connection per message", proto="smtp", unix=False,
               flags=["-s", "10"], m=30000, l=1000, quick_m=3000, sink=[],
               target=1.3, variants={"p": 1.8, "t": None}),
    "W2": dict(title="connection reuse", proto="smtp", unix=False,
               flags=["-d", "-s", "10"], m=100000, l=1000, quick_m=10000, sink=[],
               target=1.5, variants={"p": 5.0, "t": None, "b": None}),
    "W3": dict(title="large messages", proto="smtp", unix=False,
               flags=["-s", "10"], m=600, l=1000000, quick_m=60, sink=[],
               target=10.0, variants={"b": None}),
    "W4": dict(title="many recipients", proto="smtp", unix=False,
               flags=["-d", "-s", "10", "-r", "100"], m=5000, l=1000, quick_m=500, sink=[],
               target=1.3, variants={"p": 50.0}),
    "W5": dict(title="LMTP", proto="smtp", unix=False,
               flags=["-L", "-d", "-s", "10"], m=60000, l=1000, quick_m=6000, sink=["-L"],
               target=1.5, variants={}),
    "W6": dict(title="unix socket", proto="smtp", unix=True,
               flags=["-d", "-s", "10"], m=100000, l=1000, quick_m=10000, sink=[],
               target=2.0, variants={}),
    "W7": dict(title="QMQP", proto="qmqp", unix=False,
               flags=["-s", "10"], m=60000, l=1000, quick_m=6000, sink=[],
               target=1.5, variants={}),
}

# A variant of a workload: our source with extra flags into our sink with extra flags (row
# <workload><suffix>, pairing `pairing`), compared with the Postfix pair's ordinary run of the
# same repetition. pf_sink: Postfix's sink can take that source (then also `pairing`>pf).
# A variant runs when our smtp-source's and smtp-sink's --help name all of its flags; a source
# with --report=json has its report checked against the run (check_report).
VARIANTS = {
    "p": dict(what="pipelined", pairing="ours+pl", source=["--pipelining"], sink=[], pf_sink=True),
    "t": dict(what="TLS", pairing="ours+tls", source=["--starttls", "--report=json"], sink=["--starttls"],
              pf_sink=False),
    "b": dict(what="BDAT", pairing="ours+bdat", source=["--chunking", "--report=json"], sink=["--chunking"],
              pf_sink=False),
}

# pairing: (source side, sink side, variant suffix or None)
PAIRINGS = {
    "pf": ("postfix", "postfix", None),
    "ours": ("ours", "ours", None),
    "ours>pf": ("ours", "postfix", None),
    "pf>ours": ("postfix", "ours", None),
}
for _suffix, _v in VARIANTS.items():
    PAIRINGS[_v["pairing"]] = ("ours", "ours", _suffix)
    if _v["pf_sink"]:
        PAIRINGS[_v["pairing"] + ">pf"] = ("ours", "postfix", _suffix)


def variant_flags(pairing: str) -> tuple[list[str], list[str]]:
    """The variant's extra flags of a pairing: (for the source, for the sink). Only our sink
    gets sink flags; a Postfix sink takes only variants that need none from it."""
    src_side, sink_side, suffix = PAIRINGS[pairing]
    v = VARIANTS.get(suffix, {"source": [], "sink": []})
    return v["source"], v["sink"] if sink_side == "ours" else []


def pairing_text(pairing: str) -> str:
    src_side, sink_side, _ = PAIRINGS[pairing]
    src_extra, sink_extra = variant_flags(pairing)
    side = {"postfix": "Postfix", "ours": "our"}
    return " ".join([side[src_side] + " source"] + src_extra + ["->", side[sink_side] + " sink"] + sink_extra)


PAIRING_TEXT = {pairing: pairing_text(pairing) for pairing in PAIRINGS}

SINK_SESSIONS = "1000"  # smtp-sink -m (sessions at once); our qmqp-sink --max-sessions
BACKLOG = "1024"
LISTEN_DEADLINE = 10.0  # seconds for a sink to be listening
STOP_DEADLINE = 10.0    # seconds for a sink to end after SIGTERM (then SIGKILL)

_live: set[int] = set()  # pids this script started and has not reaped


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Processes: started here, bounded in time, stopped by pid, reaped with their rusage
# ---------------------------------------------------------------------------------------------

def set_subreaper() -> None:
    """Makes this process the reaper of its orphaned descendants (see start())."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
        sys.exit("prctl(PR_SET_CHILD_SUBREAPER): " + os.strerror(ctypes.get_errno()))


class Started:
    """A tool forked and waiting at a gate: go() lets it exec."""

    def __init__(self, pid: int, gate: int) -> None:
        self.pid = pid
        self.gate = gate

    def go(self) -> int:
        os.write(self.gate, b"\n")
        os.close(self.gate)
        return self.pid


def start(cmd: list[str], stdout: str, stderr: str, cwd: str) -> Started:
    """Forks cmd (stdout, stderr to those files), an orphan that this script reaps; it runs
    once go() is called.

    A child forked straight from Python would report Python's resident size as its own
    ru_maxrss (the kernel keeps the high-water mark of the memory image exec replaced). So a
    small /bin/sh forks a subshell and exits at once; the subshell, orphaned, comes to this
    process (a child subreaper), waits at a gate (a pipe) and then execs the tool, which this
    script reaps with os.wait4 for the tool's own rusage. The gate also keeps the tool from
    ending before it is this script's child, and the shell's start-up out of the timing."""
    r, w = os.pipe()
    try:
        sh = subprocess.run(
            ["/bin/sh", "-c",
             'o=$1 e=$2; shift 2; exec 3<&0; { read x <&3 && exec "$@" 3<&- </dev/null; } >"$o" 2>"$e" & echo $!',
             "sh", stdout, stderr] + cmd,
            stdin=r, capture_output=True, text=True, cwd=cwd, timeout=30)
    except BaseException:
        os.close(w)
        raise
    finally:
        os.close(r)
    text = sh.stdout.strip()
    if sh.returncode != 0 or not text.isdigit():
        os.close(w)
        raise RuntimeError("could not start %s: %s" % (" ".join(cmd), sh.stderr.strip()))
    pid = int(text)
    _live.add(pid)
    return Started(pid, w)


def reap(pid: int, timeout: float):
    """Waits for pid with os.wait4 (the child's own rusage); SIGKILLs it at the deadline.
    Returns (wait status, rusage, killed by us)."""
    killed = []

    def kill():
        try:
            os.kill(pid, signal.SIGKILL)
            killed.append(True)
        except ProcessLookupError:
            pass

    timer = threading.Timer(timeout, kill)
    timer.daemon = True
    timer.start()
    try:
        while True:
            try:
                _, status, ru = os.wait4(pid, 0)
                break
            except InterruptedError:
                continue
    finally:
        timer.cancel()
    _live.discard(pid)
    return status, ru, bool(killed)


def try_reap(pid: int):
    """Reaps pid if it has already ended: (status, rusage) or None."""
    got, status, ru = os.wait4(pid, os.WNOHANG)
    if got == 0:
        return None
    _live.discard(pid)
    return status, ru


def kill_all_live() -> None:
    for pid in list(_live):
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        _live.discard(pid)


def describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return "signal " + signal.Signals(os.WTERMSIG(status)).name
    return "exit %d" % os.WEXITSTATUS(status)


# ---------------------------------------------------------------------------------------------
# Listening sockets, from /proc (no fixed sleeps)
# ---------------------------------------------------------------------------------------------

def tcp_listening(port: int) -> bool:
    want = ":%04X" % port
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if len(fields) > 3 and fields[1].endswith(want) and fields[3] == "0A":
                        return True
        except FileNotFoundError:
            pass
    return False


def tcp_in_use(port: int) -> bool:
    want = ":%04X" % port
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if len(fields) > 2 and (fields[1].endswith(want) or fields[2].endswith(want)):
                        return True
        except FileNotFoundError:
            pass
    return False


def unix_listening(path: str) -> bool:
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            fields = line.split()
            # Num RefCount Protocol Flags Type St Inode Path; Flags 0x10000 = accepting
            if len(fields) >= 8 and fields[7] == path and int(fields[3], 16) & 0x10000:
                return True
    return False


class PortPicker:
    """A fresh TCP port for every run, below the ephemeral range so that no source's
    connection can already hold it."""

    def __init__(self) -> None:
        lo = 32768
        try:
            with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
                lo = int(f.read().split()[0])
        except OSError:
            pass
        self.hi = max(lo, 12000)
        self.next = 10000 + (os.getpid() % 1000) * 2

    def pick(self) -> int:
        for _ in range(20000):
            port = self.next
            self.next = self.next + 1 if self.next + 1 < self.hi else 10000
            if tcp_in_use(port):
                continue
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            finally:
                s.close()
            return port
        raise RuntimeError("no free TCP port")


# ---------------------------------------------------------------------------------------------
# One run
# ---------------------------------------------------------------------------------------------

COUNTER_SMTP = re.compile(rb"sess=(\d+) quit=(\d+) mesg=(\d+)")
COUNTER_QMQP = re.compile(rb"(\d+)")


def last_counter(path: str, proto: str):
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - 4096))
        tail = f.read()
    parts = [p for p in re.split(rb"[\r\n]", tail) if p.strip()]
    for p in reversed(parts):
        if proto == "smtp":
            m = COUNTER_SMTP.fullmatch(p.strip())
            if m:
                return int(m.group(3))
        else:
            m = COUNTER_QMQP.fullmatch(p.strip())
            if m:
                return int(m.group(1))
    return None


def cpu_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal: busy = user + nice + system + steal.
    # irq and softirq stay out: loopback traffic is mostly processed there, for the tools.
    busy = v[0] + v[1] + v[2] + (v[7] if len(v) > 7 else 0)
    return busy, sum(v[:8])  # guest time is already in user


HZ = os.sysconf("SC_CLK_TCK")
NCPU = len(os.sched_getaffinity(0))


def wait_quiet(limit: float, busy_max: float = 0.2, sample: float = 0.25) -> float:
    """Waits (at most `limit` seconds) until the machine is busy less than busy_max of its CPUs
    over a `sample`-second window; returns the last busy fraction seen."""
    deadline = time.monotonic() + max(limit, 0.0)
    while True:
        b0, t0 = cpu_jiffies()
        time.sleep(sample)
        b1, t1 = cpu_jiffies()
        busy = (b1 - b0) / max(1, t1 - t0)
        if busy < busy_max or time.monotonic() >= deadline:
            return busy


def cpu_seconds(ru) -> float:
    return ru.ru_utime + ru.ru_stime


class Runner:
    def __init__(self, ours: str, postfix: str, tmp: str, source_timeout: float, quiet_wait: float) -> None:
        self.quiet_wait = quiet_wait
        self.waited = 0.0
        self.bins = {"ours": ours, "postfix": postfix}
        self.tmp = tmp
        self.ports = PortPicker()
        self.source_timeout = source_timeout
        self.seq = 0

    def sink_cmd(self, side: str, w: dict, addr: str, extra: list[str]) -> list[str]:
        b = self.bins[side]
        if w["proto"] == "smtp":
            cmd = [os.path.join(b, "smtp-sink")]
            if side == "postfix":
                cmd += ["-u", "nobody"]  # required as root; ours does not need it
            cmd += ["-c", "-m", SINK_SESSIONS] + w["sink"] + extra + [addr, BACKLOG]
        else:
            cmd = [os.path.join(b, "qmqp-sink"), "-c"]
            if side == "ours":
                cmd += ["--max-sessions=" + SINK_SESSIONS]  # Postfix's has no limit at all
            cmd += w["sink"] + extra + [addr, BACKLOG]
        return cmd

    def source_cmd(self, side: str, w: dict, m: int, target: str, extra: list[str]) -> list[str]:
        tool = "smtp-source" if w["proto"] == "smtp" else "qmqp-source"
        return [os.path.join(self.bins[side], tool)] + w["flags"] + extra + ["-m", str(m), "-l", str(w["l"]),
                                                                              target]

    def run(self, wname: str, w: dict, pairing: str, m: int, rep: int) -> dict:
        src_side, sink_side, variant = PAIRINGS[pairing]
        src_extra, sink_extra = variant_flags(pairing)
        self.seq += 1
        rundir = os.path.join(self.tmp, "run%04d" % self.seq)
        os.mkdir(rundir)
        os.chmod(rundir, 0o777)  # Postfix's sink runs as nobody after listening
        if w["unix"]:
            path = os.path.join(rundir, "sink.sock")
            sink_addr = target = "unix:" + path
            listening = lambda: unix_listening(path)  # noqa: E731
        else:
            port = self.ports.pick()
            sink_addr = target = "127.0.0.1:%d" % port
            listening = lambda: tcp_listening(port)  # noqa: E731

        res = {
            "workload": wname, "pairing": pairing, "rep": rep, "source": src_side,
            "sink": sink_side, "pipelining": "--pipelining" in src_extra, "variant": variant,
            "m": m, "l": w["l"], "problems": [],
        }
        sink_cmd = self.sink_cmd(sink_side, w, sink_addr, sink_extra)
        src_cmd = self.source_cmd(src_side, w, m, target, src_extra)
        res["sink_cmd"] = " ".join(sink_cmd)
        res["source_cmd"] = " ".join(src_cmd)

        sink_out = os.path.join(rundir, "sink.out")
        sink_err = os.path.join(rundir, "sink.err")
        src_out = os.path.join(rundir, "source.out")
        src_err = os.path.join(rundir, "source.err")
        busy_before = None
        if self.quiet_wait > 0:  # at most 5 s before each run, quiet_wait seconds in all
            t = time.monotonic()
            busy_before = wait_quiet(min(5.0, self.quiet_wait - self.waited))
            self.waited += time.monotonic() - t
        sink = start(sink_cmd, sink_out, sink_err, rundir).go()
        sink_end = None
        deadline = time.monotonic() + LISTEN_DEADLINE
        while not listening():
            sink_end = try_reap(sink)
            if sink_end or time.monotonic() > deadline:
                break
            time.sleep(0.002)
        if sink_end or time.monotonic() > deadline:
            if not sink_end:
                os.kill(sink, signal.SIGKILL)
                sink_end = reap(sink, STOP_DEADLINE)[:2]
            res["problems"].append("sink never listened (%s): %s" % (
                describe_status(sink_end[0]), tail_text(sink_err)))
            res["valid"] = False
            return res

        gated = start(src_cmd, src_out, src_err, rundir)
        busy0 = cpu_jiffies()[0]
        t0 = time.perf_counter()
        src = gated.go()
        src_status, src_ru, src_killed = reap(src, self.source_timeout)
        wall = time.perf_counter() - t0
        busy1 = cpu_jiffies()[0]

        early = try_reap(sink)  # the sink should still be there
        if early:
            sink_status, sink_ru = early
            res["problems"].append("sink ended before it was stopped (%s)" % describe_status(sink_status))
            sink_killed = False
        else:
            os.kill(sink, signal.SIGTERM)
            sink_status, sink_ru, sink_killed = reap(sink, STOP_DEADLINE)
            if sink_killed:
                res["problems"].append("sink ignored SIGTERM for %g s" % STOP_DEADLINE)
            elif not ((os.WIFSIGNALED(sink_status) and os.WTERMSIG(sink_status) == signal.SIGTERM)
                      or (os.WIFEXITED(sink_status) and os.WEXITSTATUS(sink_status) == 0)):
                res["problems"].append("sink ended with %s after SIGTERM" % describe_status(sink_status))

        if src_killed:
            res["problems"].append("source killed after %g s" % self.source_timeout)
        elif not (os.WIFEXITED(src_status) and os.WEXITSTATUS(src_status) == 0):
            res["problems"].append("source ended with %s: %s" % (describe_status(src_status), tail_text(src_err)))
        counter = last_counter(sink_out, w["proto"])
        if counter != m:
            res["problems"].append("sink counter %s, expected %d" % (counter, m))
        if "--report=json" in src_cmd:
            figures, problems = check_report(src_out, src_cmd, m)
            res.update(figures)
            res["problems"] += problems

        payload = m * w["l"]
        # CPU that neither tool used while the source ran: other processes on the machine
        others = (busy1 - busy0) / HZ - cpu_seconds(src_ru) - cpu_seconds(sink_ru)
        res.update({
            "machine_busy_before": busy_before,
            "others_cpu_pct": max(0.0, others) / (wall * NCPU) * 100,
            "wall_s": wall,
            "msg_per_s": m / wall,
            "mb_per_s": payload / wall / 1e6,
            "sink_counter": counter,
            "src_status": describe_status(src_status),
            "sink_status": describe_status(sink_status),
            "src_cpu_s": cpu_seconds(src_ru),
            "src_user_s": src_ru.ru_utime,
            "src_sys_s": src_ru.ru_stime,
            "src_cpu_us_per_msg": cpu_seconds(src_ru) / m * 1e6,
            "src_maxrss_kib": src_ru.ru_maxrss,
            "sink_cpu_s": cpu_seconds(sink_ru),
            "sink_user_s": sink_ru.ru_utime,
            "sink_sys_s": sink_ru.ru_stime,
            "sink_cpu_us_per_msg": cpu_seconds(sink_ru) / m * 1e6,
            "sink_maxrss_kib": sink_ru.ru_maxrss,
        })
        res["valid"] = not res["problems"]
        if res["valid"]:
            shutil.rmtree(rundir, ignore_errors=True)
        else:
            res["kept"] = rundir  # the outputs stay for a look
        return res


REPORT_KEYS = ("connections", "tls_handshakes", "tls_resumed", "tls_handshake_p50_ms", "tls_handshake_p99_ms",
               "bdat_chunks")


def check_report(path: str, cmd: list[str], m: int) -> tuple[dict, list[str]]:
    """Our source's --report=json (its stdout): the figures (REPORT_KEYS, those it has) and
    what contradicts the run asked for: with TLS, a connection without a handshake; with
    --chunking and no --chunk-size, other than one BDAT chunk per message."""
    try:
        with open(path) as f:
            rep = json.load(f)
    except (OSError, ValueError) as e:
        return {}, ["no JSON report on the source's stdout (%s)" % e]
    conns, msgs = rep.get("connections", {}), rep.get("messages", {})
    hs = rep.get("latency_ms", {}).get("tls_handshake", {})
    figures = {"connections": conns.get("established"), "tls_handshakes": conns.get("tls_handshakes"),
               "tls_resumed": conns.get("tls_resumed"), "tls_handshake_p50_ms": hs.get("p50"),
               "tls_handshake_p99_ms": hs.get("p99"), "bdat_chunks": msgs.get("bdat_chunks")}
    problems = []
    if rep.get("error"):
        problems.append("source report: error " + str(rep["error"]))
    if ("--starttls" in cmd or "--tls-on-connect" in cmd) and not (
            figures["connections"] and figures["tls_handshakes"] == figures["connections"]):
        problems.append("%s TLS handshakes for %s connections" % (figures["tls_handshakes"],
                                                                  figures["connections"]))
    if "--chunking" in cmd and not any(x.startswith("--chunk-size") for x in cmd) and figures["bdat_chunks"] != m:
        problems.append("%s BDAT chunks for %d messages" % (figures["bdat_chunks"], m))
    return {k: v for k, v in figures.items() if v is not None}, problems


def tail_text(path: str, n: int = 300) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return ""
    return data[-n:].decode("utf-8", "replace").strip().replace("\n", " | ")


# ---------------------------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------------------------

def median_of(runs: list[dict], key: str):
    vals = [r[key] for r in runs if r.get("valid") and key in r]
    return statistics.median(vals) if vals else None


def summarize_pairing(runs: list[dict]) -> dict:
    keys = ("msg_per_s", "mb_per_s", "wall_s", "src_cpu_us_per_msg", "sink_cpu_us_per_msg",
            "src_maxrss_kib", "sink_maxrss_kib", "others_cpu_pct")
    s = {k: median_of(runs, k) for k in keys}
    s.update({k: median_of(runs, k) for k in REPORT_KEYS if any(k in r for r in runs)})
    s["runs"] = len(runs)
    s["valid"] = sum(1 for r in runs if r.get("valid"))
    s["problems"] = [p for r in runs for p in r["problems"]]
    return s


NOISY_PCT = 10


def noisy_pairings(summary: dict) -> list[str]:
    out = []
    for wname, pairings in summary.items():
        for pairing, s in pairings.items():
            if pairing != "m" and (s.get("others_cpu_pct") or 0) > NOISY_PCT:
                out.append("%s %s (%.0f%%)" % (wname, pairing, s["others_cpu_pct"]))
    return out


def ratio(a, b):
    return a / b if a is not None and b else None


def build_rows(summary: dict) -> list[dict]:
    """One row per workload and per variant that ran: the figures of the tables."""
    rows = []
    for wname, w in WORKLOADS.items():
        if wname not in summary:
            continue
        p = summary[wname]
        # (row, our pair's pairing, our source into Postfix's sink, target)
        variants = [(wname, "ours", "ours>pf", w["target"])]
        for suffix, target in w["variants"].items():
            v = VARIANTS[suffix]
            if v["pairing"] in p:
                cross = v["pairing"] + ">pf" if v["pf_sink"] else None
                variants.append((wname + suffix, v["pairing"], cross, target))
        for rname, ours_key, cross_key, target in variants:
            pf, ours = p.get("pf", {}), p.get(ours_key, {})
            cross_src, cross_sink = p.get(cross_key, {}), p.get("pf>ours", {})
            src_extra, sink_extra = variant_flags(ours_key)
            r = ratio(ours.get("msg_per_s"), pf.get("msg_per_s"))
            rows.append({
                "row": rname,
                "workload": wname,
                "title": w["title"] + (" (%s)" % src_extra[0] if src_extra else ""),
                "source_flags": " ".join(w["flags"] + src_extra + ["-m", str(p["m"]), "-l", str(w["l"])]),
                "sink_flags": " ".join(w["sink"] + sink_extra),
                "transport": "unix" if w["unix"] else "tcp",
                "ours_pairing": ours_key,
                "postfix_msg_per_s": pf.get("msg_per_s"),
                "ours_msg_per_s": ours.get("msg_per_s"),
                "ratio": r,
                "target": target,
                "meets_target": (r >= target) if (r is not None and target) else None,
                "postfix_mb_per_s": pf.get("mb_per_s"),
                "ours_mb_per_s": ours.get("mb_per_s"),
                "ours_src_to_pf_sink_msg_per_s": cross_src.get("msg_per_s"),
                "pf_src_to_ours_sink_msg_per_s": cross_sink.get("msg_per_s") if ours_key == "ours" else None,
                # each side judged against the same peer: our source and Postfix's both into
                # Postfix's sink; our sink and Postfix's both fed by Postfix's source
                "src_cpu_ratio": ratio(cross_src.get("src_cpu_us_per_msg"), pf.get("src_cpu_us_per_msg")),
                "sink_cpu_ratio": ratio((cross_sink if ours_key == "ours" else ours).get("sink_cpu_us_per_msg"),
                                        pf.get("sink_cpu_us_per_msg")),
                "src_rss_ratio": ratio(ours.get("src_maxrss_kib"), pf.get("src_maxrss_kib")),
                "sink_rss_ratio": ratio(ours.get("sink_maxrss_kib"), pf.get("sink_maxrss_kib")),
                "valid": "/".join("%d" % x for x in (pf.get("valid", 0), ours.get("valid", 0))),
                "complete": all(x.get("valid") == x.get("runs") and x.get("runs")
                                for x in (pf, ours) + ((cross_src,) if cross_key else ())
                                + ((cross_sink,) if ours_key == "ours" else ())),
                # our source's report (variants whose source gives one): TLS handshakes, BDAT chunks
                **{k: ours[k] for k in REPORT_KEYS if k in ours},
            })
    return rows


def fmt(v, spec="{:,.0f}", none="—"):
    return none if v is None else spec.format(v)


def fmt_ratio(v):
    return fmt(v, "{:.2f}×")


def tables(summary: dict, rows: list[dict]) -> list[tuple[str, list[str], list[list[str]]]]:
    t1 = []
    for r in rows:
        ok = {True: "yes", False: "NO", None: "—"}[r["meets_target"]]
        t1.append([
            r["row"] + ("" if r["complete"] else " *"), r["source_flags"] + ("  (sink " + r["sink_flags"] + ")" if r["sink_flags"] else "")
            + ("  [unix]" if r["transport"] == "unix" else ""),
            fmt(r["postfix_msg_per_s"]), fmt(r["ours_msg_per_s"]), fmt_ratio(r["ratio"]),
            fmt(r["target"], "≥ {:g}×"), ok,
            fmt(r["ours_src_to_pf_sink_msg_per_s"]), fmt(r["pf_src_to_ours_sink_msg_per_s"]),
            fmt(r["postfix_mb_per_s"], "{:,.1f}"), fmt(r["ours_mb_per_s"], "{:,.1f}"),
        ])
    h1 = ["workload", "source flags", "Postfix msg/s", "ours msg/s", "ours÷PF", "target", "met",
          "our src→PF sink", "PF src→our sink", "PF MB/s", "ours MB/s"]

    t2 = []
    for r in rows:
        t2.append([r["row"], fmt_ratio(r["src_cpu_ratio"]), fmt_ratio(r["sink_cpu_ratio"]),
                   fmt_ratio(r["src_rss_ratio"]), fmt_ratio(r["sink_rss_ratio"])])
    h2 = ["workload", "source CPU/msg ours÷PF", "sink CPU/msg ours÷PF",
          "source peak RSS ours÷PF", "sink peak RSS ours÷PF"]

    t3 = []
    for wname in WORKLOADS:
        if wname not in summary:
            continue
        for pairing, s in summary[wname].items():
            if pairing == "m":
                continue
            t3.append([
                wname, pairing, fmt(s["msg_per_s"]), fmt(s["mb_per_s"], "{:,.1f}"), fmt(s["wall_s"], "{:.2f}"),
                fmt(s["src_cpu_us_per_msg"], "{:,.1f}"), fmt(s["sink_cpu_us_per_msg"], "{:,.1f}"),
                fmt(s["src_maxrss_kib"] and s["src_maxrss_kib"] / 1024, "{:,.1f}"),
                fmt(s["sink_maxrss_kib"] and s["sink_maxrss_kib"] / 1024, "{:,.1f}"),
                fmt(s["others_cpu_pct"], "{:.0f}%"),
                "%d/%d" % (s["valid"], s["runs"]),
            ])
    h3 = ["workload", "pairing", "msg/s", "MB/s", "source wall s", "source CPU µs/msg",
          "sink CPU µs/msg", "source RSS MiB", "sink RSS MiB", "others' CPU", "valid runs"]
    t4 = []
    for r in rows:
        if "connections" in r:  # our source's report: the rows of the variants that give one
            t4.append([r["row"], VARIANTS[PAIRINGS[r["ours_pairing"]][2]]["what"], fmt(r["ours_msg_per_s"]),
                       fmt_ratio(r["ratio"]), fmt(r["connections"]), fmt(r.get("tls_handshakes")),
                       fmt(r.get("tls_resumed")), fmt(r.get("tls_handshake_p50_ms"), "{:.3f}"),
                       fmt(r.get("tls_handshake_p99_ms"), "{:.3f}"), fmt(r.get("bdat_chunks"))])
    h4 = ["workload", "variant", "ours msg/s", "ours÷PF", "connections", "TLS handshakes", "resumed",
          "TLS handshake p50 ms", "p99 ms", "BDAT chunks"]
    note = "" if all(r["complete"] for r in rows) else " (* = some runs invalid: see below)"
    return [("Throughput (medians; ratio = ours pair ÷ Postfix pair, same run)" + note, h1, t1),
            ("Each side alone (CPU: against the same peer; RSS: pair against pair)", h2, t2),
            ("Every pairing (medians of the valid runs)", h3, t3)] + (
        [("TLS and BDAT (our source → our sink; Postfix's tools have neither: ratio against the Postfix "
          "pair's ordinary run, no target yet; from our source's report, medians)", h4, t4)] if t4 else [])


def text_table(header: list[str], body: list[list[str]]) -> str:
    widths = [max(len(x) for x in col) for col in zip(header, *body)]
    numeric = [i > 0 and all(re.match(r"^[\d,.≥ ×—/%]+$", row[i]) for row in body) for i in range(len(header))]

    def line(cells):
        return "  ".join(c.rjust(w) if numeric[i] else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in body])


def md_table(header: list[str], body: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |",
           "| " + " | ".join("---" if i == 0 or i == 1 and header[1] in ("source flags", "pairing", "variant")
                             else "---:" for i in range(len(header))) + " |"]
    for r in body:
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# Machine, build, micro-benchmarks
# ---------------------------------------------------------------------------------------------

def command_output(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine(ours: str, postfix: str) -> dict:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split(":", 1)[1].split()[0])
            mem = "%.1f GiB" % (kib / 1024 / 1024)
    except (OSError, ValueError, IndexError):
        pass
    commit = command_output(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    dirty = command_output(["git", "-C", ROOT, "status", "--porcelain", "--", "include", "examples", "CMakeLists.txt"])
    return {
        "hostname": socket.gethostname(),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "memory": mem,
        "kernel": platform.release(),
        "os": command_output(["sh", "-c", ". /etc/os-release && echo \"$PRETTY_NAME\""]),
        "gxx": command_output(["g++", "--version"]).splitlines()[0] if shutil.which("g++") else "",
        "postfix": command_output(["dpkg-query", "-W", "postfix"]).replace("\t", " "),
        "python": platform.python_version(),
        "loadavg_at_start": os.getloadavg(),
        "mailload_commit": commit + ("+uncommitted changes in include/ or examples/" if dirty else ""),
        "uncommitted": dirty.splitlines(),
        "ours_bindir": ours,
        "postfix_bindir": postfix,
        "ours_version": command_output([os.path.join(ours, "smtp-source"), "--version"]).replace(
            os.path.join(ours, ""), ""),
    }


def variants_available(ours: str) -> dict[str, bool]:
    """Which variants our tools can run: their smtp-source's and smtp-sink's --help name every
    flag the variant gives them."""
    helps = {}
    for tool in ("smtp-source", "smtp-sink"):
        p = subprocess.run([os.path.join(ours, tool), "--help"], capture_output=True, text=True, timeout=30)
        helps[tool] = p.stdout + p.stderr
    available = {}
    for suffix, v in VARIANTS.items():
        missing = [f for tool, flags in (("smtp-source", v["source"]), ("smtp-sink", v["sink"]))
                   for f in flags if f.split("=")[0] not in helps[tool]]
        available[suffix] = not missing
        log("%s variants (%s): %s" % (v["what"], v["pairing"], "our tools lack " + " ".join(missing)
                                      if missing else "yes"))
    return available


def build_ours(clean: bool) -> str:
    bindir = os.path.join(ROOT, "build", "bench")
    steps = [
        ["cmake", "-S", ROOT, "-B", bindir, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
         "-DMAILLOAD_BUILD_TESTS=ON"],
        ["cmake", "--build", bindir] + (["--clean-first"] if clean else []) + ["--target"] + list(TOOLS),
    ]
    for cmd in steps:
        log("+ " + " ".join(cmd))
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
        if p.returncode != 0:
            sys.exit("build failed:\n" + p.stdout[-4000:] + p.stderr[-4000:])
    return bindir


def run_micro(results_dir: str) -> dict:
    bdir = os.path.join(ROOT, "build", "micro")
    for cmd in (["cmake", "-S", BENCH, "-B", bdir, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release"],
                ["cmake", "--build", bdir]):
        log("+ " + " ".join(cmd))
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
        if p.returncode != 0:
            sys.exit("micro-benchmark build failed:\n" + p.stdout[-4000:] + p.stderr[-4000:])
    out = os.path.join(tempfile.gettempdir(), "mailload-micro-%d.json" % os.getpid())
    cmd = [os.path.join(bdir, "micro"), "--benchmark_out=" + out, "--benchmark_out_format=json"]
    log("+ " + " ".join(cmd))
    p = subprocess.run(cmd, timeout=900)
    if p.returncode != 0:
        sys.exit("micro-benchmarks failed")
    with open(out) as f:
        data = json.load(f)
    os.unlink(out)
    return data


def micro_table(data: dict) -> tuple[list[str], list[list[str]]]:
    body = []
    for b in data.get("benchmarks", []):
        if b.get("run_type") == "aggregate":
            continue
        unit = b.get("time_unit", "ns")
        extra = ""
        if "bytes_per_second" in b:
            extra = "%.2f GB/s" % (b["bytes_per_second"] / 1e9)
        elif "items_per_second" in b:
            extra = "%.1f M items/s" % (b["items_per_second"] / 1e6)
        body.append([b["name"], "%.1f %s" % (b["real_time"], unit), "%.1f %s" % (b["cpu_time"], unit), extra])
    return ["benchmark", "time", "CPU", "rate"], body


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=None, help="repetitions per pairing (default 3; 1 with --quick)")
    ap.add_argument("--quick", action="store_true", help="one repetition, -m divided by 10")
    ap.add_argument("--only", default="", help="comma-separated workloads, e.g. W2,W7 (W1 includes its "
                    "variants; W1p or W1t means W1); 'none' runs no workload (with --micro)")
    ap.add_argument("--bindir", help="directory with our four tools (default: build them in build/bench)")
    ap.add_argument("--rebuild", action="store_true", help="rebuild our tools from scratch (--clean-first)")
    ap.add_argument("--postfix-bindir", default="/usr/sbin", help="Postfix's tools (default /usr/sbin)")
    ap.add_argument("--micro", action="store_true", help="also build and run the micro-benchmarks")
    ap.add_argument("--no-pipelining", action="store_true", help="skip the --pipelining variants")
    ap.add_argument("--source-timeout", type=float, default=300.0, help="seconds before a source is killed")
    ap.add_argument("--quiet-wait", type=float, default=120.0,
                    help="before each run wait (at most 5 s) for other processes to use less than 20%% of "
                    "the CPUs, at most this many seconds in all (default 120; 0: don't look)")
    ap.add_argument("--out", help="results path without extension (default bench/results/<date>-<host>[-quick])")
    ap.add_argument("--render", metavar="JSON", help="only rewrite the .md (and print the tables) of a results file")
    args = ap.parse_args()
    if args.render:
        return render(args.render)

    reps = args.reps if args.reps is not None else (1 if args.quick else 3)
    if reps < 1:
        ap.error("--reps must be at least 1")
    only = [x.strip().upper() for x in args.only.split(",") if x.strip()]
    if only == ["NONE"]:
        selected = []
    else:
        only = [x[:-1] if x[-1:].lower() in VARIANTS and x[:-1] in WORKLOADS else x for x in only]
        bad = [x for x in only if x not in WORKLOADS]
        if bad:
            ap.error("unknown workload(s): " + ", ".join(bad))
        selected = [w for w in WORKLOADS if not only or w in only]

    for t in TOOLS:
        if not os.access(os.path.join(args.postfix_bindir, t), os.X_OK):
            sys.exit("Postfix's %s is not in %s (apt-get install postfix)" % (t, args.postfix_bindir))
    set_subreaper()
    t_start = time.monotonic()
    ours = os.path.abspath(args.bindir) if args.bindir else (build_ours(args.rebuild) if selected else None)
    if ours:
        for t in TOOLS:
            if not os.access(os.path.join(ours, t), os.X_OK):
                sys.exit("%s is not in %s" % (t, ours))
    t_built = time.monotonic()

    available = variants_available(ours) if ours else {suffix: False for suffix in VARIANTS}
    if args.no_pipelining:
        available["p"] = False

    info = machine(ours or "", args.postfix_bindir)
    date = datetime.date.today().isoformat()
    quick = args.quick or bool(only) or args.reps is not None and args.reps < 3
    out = args.out or os.path.join(BENCH, "results", "%s-%s%s" % (date, info["hostname"], "-quick" if quick else ""))

    runs: list[dict] = []
    summary: dict = {}
    tmp = tempfile.mkdtemp(prefix="mailload-bench-")
    os.chmod(tmp, 0o755)
    try:
        runner = Runner(ours or "", args.postfix_bindir, tmp, args.source_timeout, args.quiet_wait)
        for wname in selected:
            w = WORKLOADS[wname]
            m = w["quick_m"] if args.quick else w["m"]
            pairings = [pairing for pairing, (_, _, suffix) in PAIRINGS.items()
                        if suffix is None or suffix in w["variants"] and available[suffix]]
            log("== %s %s: source %s -m %d -l %d%s%s" % (
                wname, w["title"], " ".join(w["flags"]), m, w["l"],
                "; sinks " + " ".join(w["sink"]) if w["sink"] else "", " (unix socket)" if w["unix"] else ""))
            wruns = []
            for rep in range(1, reps + 1):
                for pairing in pairings:  # alternating, every repetition
                    r = runner.run(wname, w, pairing, m, rep)
                    wruns.append(r)
                    runs.append(r)
                    if "msg_per_s" in r:
                        log("  rep %d %-10s %9.0f msg/s %7.1f MB/s  %6.2f s  CPU µs/msg src %7.1f sink %7.1f"
                            "  RSS KiB src %6d sink %6d  others %3.0f%%  %s" % (
                                rep, pairing, r["msg_per_s"], r["mb_per_s"], r["wall_s"],
                                r["src_cpu_us_per_msg"], r["sink_cpu_us_per_msg"],
                                r["src_maxrss_kib"], r["sink_maxrss_kib"], r["others_cpu_pct"],
                                "ok" if r["valid"] else "INVALID: " + "; ".join(r["problems"])))
                    else:
                        log("  rep %d %-10s INVALID: %s" % (rep, pairing, "; ".join(r["problems"])))
            summary[wname] = {"m": m}
            for pairing in pairings:
                summary[wname][pairing] = summarize_pairing([r for r in wruns if r["pairing"] == pairing])
    except KeyboardInterrupt:
        kill_all_live()
        raise
    finally:
        kill_all_live()
        if not any(not r.get("valid") for r in runs):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log("outputs of invalid runs kept under " + tmp)
    t_runs = time.monotonic()

    micro = run_micro(os.path.dirname(out)) if args.micro else None

    rows = build_rows(summary)
    tabs = tables(summary, rows) if rows else []
    invalid = [r for r in runs if not r.get("valid")]

    text = []
    for title, h, b in tabs:
        text += ["", title, text_table(h, b)]
    if micro:
        h, b = micro_table(micro)
        text += ["", "Micro-benchmarks", text_table(h, b)]
    noisy = noisy_pairings(summary)
    if noisy:
        text += ["", "NOISY: other processes used more than %d%% of the CPUs during these pairings (median); "
                 "their figures are low: %s" % (NOISY_PCT, ", ".join(noisy))]
    if invalid:
        text += ["", "INVALID RUNS (left out of the medians):"]
        text += ["  %s rep %d %s: %s" % (r["workload"], r["rep"], r["pairing"], "; ".join(r["problems"])) for r in invalid]
    timing = {"build_s": t_built - t_start, "workloads_s": t_runs - t_built, "total_s": time.monotonic() - t_start}
    text += ["", "time: build %.0f s, workloads %.0f s, total %.0f s" % (timing["build_s"], timing["workloads_s"],
                                                                           timing["total_s"])]
    print("\n".join(text))

    os.makedirs(os.path.dirname(out), exist_ok=True)
    doc = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "command": " ".join(["python3", "bench/run.py"] + sys.argv[1:]),
        "machine": info,
        "reps": reps,
        "quick": args.quick,
        "pipelining_variants": available["p"],
        "variants": {suffix: dict(v, ran=available[suffix]) for suffix, v in VARIANTS.items()},
        "pairings": PAIRING_TEXT,
        "sink_flags": {"smtp-sink": "-c -m %s <addr> %s (Postfix's also -u nobody)" % (SINK_SESSIONS, BACKLOG),
                       "qmqp-sink": "-c <addr> %s (ours also --max-sessions=%s)" % (BACKLOG, SINK_SESSIONS)},
        "rows": rows,
        "summary": summary,
        "runs": runs,
        "timing": timing,
        "loadavg_at_end": os.getloadavg(),
    }
    if micro:
        doc["micro"] = micro
    with open(out + ".json", "w") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")
    with open(out + ".md", "w") as f:
        f.write(markdown(doc, tabs, micro, invalid))
    log("wrote %s.json and %s.md" % (out, out))
    return 1 if invalid else 0


def render(path: str) -> int:
    with open(path) as f:
        doc = json.load(f)
    rows = build_rows(doc["summary"])
    tabs = tables(doc["summary"], rows) if rows else []
    invalid = [r for r in doc["runs"] if not r.get("valid")]
    for title, h, b in tabs:
        print("\n" + title + "\n" + text_table(h, b))
    out = path[:-5] if path.endswith(".json") else path
    with open(out + ".md", "w") as f:
        f.write(markdown(doc, tabs, doc.get("micro"), invalid))
    log("wrote %s.md" % out)
    return 0


def markdown(doc: dict, tabs, micro, invalid) -> str:
    m = doc["machine"]
    lines = [
        "# mailload vs Postfix: %s" % doc["date"],
        "",
        "`%s` — %d repetition(s) per pairing, pairings alternating within each repetition; "
        "medians of the valid runs." % (doc["command"], doc["reps"]),
        "",
        "| machine | |",
        "| --- | --- |",
        "| host | %s |" % m["hostname"],
        "| CPUs (nproc) | %d × %s |" % (m["nproc"], m["cpu_model"]),
        "| memory | %s |" % m["memory"],
        "| OS, kernel | %s, %s |" % (m["os"], m["kernel"]),
        "| compiler | %s |" % m["gxx"],
        "| Postfix | %s (%s) |" % (m["postfix"], m["postfix_bindir"]),
        "| mailload | %s, %s (Release) |" % (m["mailload_commit"], m["ours_version"].splitlines()[0] if m["ours_version"] else "?"),
        "| load average at start, end | %s; %s |" % (" ".join("%.2f" % x for x in m["loadavg_at_start"]),
                                                   " ".join("%.2f" % x for x in doc["loadavg_at_end"])),
        "",
        "Sinks: smtp-sink `%s`; qmqp-sink `%s`. Loopback TCP (W6: a unix socket)." % (
            doc["sink_flags"]["smtp-sink"], doc["sink_flags"]["qmqp-sink"]),
        "Pairings: " + "; ".join("`%s` = %s" % kv for kv in doc["pairings"].items()) + ".",
    ]
    others = [r["others_cpu_pct"] for r in doc["runs"] if "others_cpu_pct" in r]
    if others:
        lines += ["", "Other processes used %.0f%% of the CPUs during the median run (%.0f%%–%.0f%%); "
                  "above %d%% the figures are lower than on an idle machine." % (
                      statistics.median(others), min(others), max(others), NOISY_PCT)]
    variants = doc.get("variants") or {"p": dict(VARIANTS["p"], ran=doc["pipelining_variants"])}
    for v in variants.values():
        if not v["ran"]:
            lines += ["", "No %s variants: our tools did not accept `%s` (or they were skipped)." % (
                v["what"], " ".join(v["source"] + v["sink"]))]
    for title, h, b in tabs:
        lines += ["", "## " + title, "", md_table(h, b)]
    if micro:
        h, b = micro_table(micro)
        lines += ["", "## Micro-benchmarks", "", md_table(h, b)]
    noisy = noisy_pairings(doc["summary"])
    if noisy:
        lines += ["", "**Noisy:** other processes used more than %d%% of the CPUs (median) during: %s. "
                  "Those figures are lower than on a quiet machine." % (NOISY_PCT, ", ".join(noisy))]
    if invalid:
        lines += ["", "## Invalid runs (left out of the medians)", ""]
        lines += ["- %s rep %d `%s`: %s" % (r["workload"], r["rep"], r["pairing"], "; ".join(r["problems"]))
                  for r in invalid]
    t = doc["timing"]
    lines += ["", "Time: build %.0f s, workloads %.0f s, total %.0f s." % (t["build_s"], t["workloads_s"], t["total_s"]), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
