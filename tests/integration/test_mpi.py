#!/usr/bin/env python3
"""Integration tests of the MPI sources (issue 9): smtp-source-mpi and qmqp-source-mpi under
Open MPI's mpirun, three ranks on this machine, against our sinks on loopback.

    python3 tests/integration/test_mpi.py --bindir DIR [unittest options]

DIR holds smtp-source-mpi, qmqp-source-mpi, smtp-sink and qmqp-sink (built when MPI is found:
CMake and Meson register this test only then).

1. -m split over the ranks: the sink counts exactly -m messages, the merged report's counts equal
   the sink's, every rank sent its share (the remainder one each to the first ranks);
   recipient numbers (-N) and Message-Ids have no duplicates across ranks (the sink's dump);
2. merged percentiles equal those of one histogram of every sample (the per-rank buckets of
   --per-rank, added up here and read by the report's rule), bucket for bucket;
3. --rate and --duration: the total rate within 5 % of the target, every rank ending together;
4. a rank given an unreachable target: the run ends, the report and the diagnostics name it, the
   other ranks' messages all arrive.

mpirun runs as root only with --allow-run-as-root; --oversubscribe lets three ranks share two
cores. Under ASan, LSAN_OPTIONS suppresses the leaks of Open MPI's own libraries (openmpi.supp). All load goes to 127.0.0.1 and is bounded by -m or --duration; the sinks are stopped by
their PIDs.
"""

import json
import os
import re
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import support  # noqa: E402

BINDIR = support.take_option(sys.argv, "--bindir")
MPIRUN = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "3"]
RANKS = 3
# Under AddressSanitizer (tools/test.sh step e) Open MPI's own leaks are suppressed, and only
# theirs (openmpi.supp); these settings mean nothing to a build without it.
os.environ["LSAN_OPTIONS"] = "suppressions=%s:print_suppressions=0:fast_unwind_on_malloc=0" % os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "openmpi.supp")

TMP = None


def setUpModule():
    global TMP
    TMP = support.TempDir("mailload-mpi-")


def tearDownModule():
    TMP.cleanup()


def tool(name):
    return os.path.join(BINDIR, name)


def start_sink(name, options):
    """Our sink on a free loopback port with --report=json; (ServerProcess, "127.0.0.1:port")."""
    server, port = support.start_listening_process(
        lambda p: [tool(name), "--report=json"] + options + ["127.0.0.1:%d" % p, "1024"],
        TMP.path, name=name)
    return server, "127.0.0.1:%d" % port


def stop_sink(test, sink):
    """SIGTERM the sink: its report."""
    test.assertEqual(sink.stop(), -signal.SIGTERM, sink.stderr())
    report = json.loads(sink.stdout().rstrip(b"\n").rsplit(b"\n", 1)[-1])
    test.assertEqual(report["stopped_by"], "SIGTERM")
    test.assertIsNone(report["error"])
    return report


def run_mpi(name, args, timeout=120):
    """mpirun -np 3 `name` --report=json `args`: (Result, the report rank 0 printed)."""
    res = support.run(MPIRUN + [tool(name), "--report=json"] + args, timeout=timeout)
    lines = [line for line in res.stdout.split(b"\n") if line.startswith(b"{")]
    if len(lines) != 1:
        raise AssertionError("not one report: %r" % res)
    return res, json.loads(lines[0])


def against_sink(test, tool, args, sink_options=(), more_targets=()):
    """mpirun -np 3 `tool` `args` against our sink of its protocol (then `more_targets`):
    (Result, rank 0's report, the sink's report, the sink's address)."""
    sink, target = start_sink("qmqp-sink" if tool.startswith("qmqp") else "smtp-sink", list(sink_options))
    try:
        res, rep = run_mpi(tool, list(args) + [target] + list(more_targets))
    finally:
        sink_rep = stop_sink(test, sink)
    return res, rep, sink_rep, target


def percentile(buckets, p):
    """The report's rule (report/histogram.hpp): the highest value of the bucket holding the
    round(p% x count)-th smallest value (at least the first), never above the maximum."""
    total = sum(n for _, n in buckets)
    rank = min(max(int(p / 100.0 * total + 0.5), 1), total)
    seen = 0
    for highest, n in sorted(buckets):
        seen += n
        if seen >= rank:
            return highest
    raise AssertionError("rank beyond the buckets")


class SplitTest(unittest.TestCase):
    """-m over three ranks: exact counts, every rank its share, no number or Message-Id twice."""

    M = 1000  # not a multiple of 3: ranks 0, 1, 2 send 334, 333, 333

    def test_smtp(self):
        dump = TMP.join("split.dump")
        res, rep, sink_rep, target = against_sink(self, "smtp-source-mpi",
                                                  ["-N", "-r", "2", "-s", "4", "-m", str(self.M), "--per-rank"],
                                                  sink_options=["-D", dump])
        self.assertEqual(res.returncode, 0, res)
        self.assertIsNone(rep["error"])
        self.assertEqual(sink_rep["messages"], self.M)
        self.assertEqual(sink_rep["recipients"], 2 * self.M)
        m = rep["messages"]
        self.assertEqual((m["asked"], m["sent"], m["accepted"]), (self.M, self.M, self.M))
        self.assertEqual(rep["recipients"], {"sent": 2 * self.M, "accepted": 2 * self.M})
        self.assertEqual(rep["replies"]["dot"], {"250": self.M})
        self.assertEqual(rep["connections"]["established"], sink_rep["connections"])

        mpi = rep["mpi"]
        self.assertEqual(mpi["ranks"], RANKS)
        self.assertEqual(mpi["failed"], [])
        rows = mpi["per_rank"]
        self.assertEqual([r["rank"] for r in rows], [0, 1, 2])
        self.assertEqual([r["messages_asked"] for r in rows], [334, 333, 333])
        self.assertEqual([r["messages_accepted"] for r in rows], [334, 333, 333])
        self.assertEqual({r["target"] for r in rows}, {target})

        with open(dump, "rb") as f:
            data = f.read()
        rcpts = re.findall(rb"^X-Rcpt-Args: <(\d+)foo@[^>]*>$", data, re.M)
        self.assertEqual(len(rcpts), 2 * self.M)
        self.assertEqual(len(set(rcpts)), 2 * self.M, "a recipient number went out twice")
        # Rank r numbers r+1, r+1+3, ...: every number's residue says which rank sent it.
        by_rank = [sum(1 for n in rcpts if (int(n) - 1) % RANKS == r) for r in range(RANKS)]
        self.assertEqual(by_rank, [2 * 334, 2 * 333, 2 * 333])
        ids = re.findall(rb"^Message-Id: <([^>]*)>$", data, re.M)
        self.assertEqual(len(ids), self.M)
        self.assertEqual(len(set(ids)), self.M, "a Message-Id went out twice")

    def test_merged_percentiles_are_those_of_every_sample(self):
        res, rep, sink_rep, _ = against_sink(self, "smtp-source-mpi", ["-s", "3", "-m", "600", "--per-rank"])
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(sink_rep["messages"], 600)
        rows = rep["mpi"]["per_rank"]
        every = {}
        for row in rows:
            self.assertEqual(sum(n for _, n in row["message_latency_buckets"]), row["messages_accepted"])
            for highest, n in row["message_latency_buckets"]:
                every[highest] = every.get(highest, 0) + n
        merged = {highest: n for highest, n in rep["mpi"]["message_latency_buckets"]}
        self.assertEqual(merged, every, "merged bucket for bucket")
        latency = rep["latency_ms"]["message"]
        self.assertEqual(latency["count"], 600)
        self.assertEqual(latency["max"], max(r["message_latency_ms"]["max"] for r in rows))
        for name, p in (("p50", 50), ("p90", 90), ("p99", 99), ("p99.9", 99.9)):
            expected = min(percentile(list(every.items()), p) / 1e6, latency["max"])
            self.assertEqual(latency[name], expected, name)

    def test_qmqp(self):
        res, rep, sink_rep, _ = against_sink(self, "qmqp-source-mpi", ["-s", "2", "-m", "200", "--per-rank"])
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(sink_rep["messages"], 200)
        self.assertEqual((rep["messages"]["sent"], rep["messages"]["accepted"]), (200, 200))
        self.assertEqual([r["messages_accepted"] for r in rep["mpi"]["per_rank"]], [67, 67, 66])

    def test_fewer_messages_than_ranks(self):
        res, rep, sink_rep, _ = against_sink(self, "smtp-source-mpi", ["-m", "2", "--per-rank"])
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(sink_rep["messages"], 2)
        self.assertEqual([r["messages_accepted"] for r in rep["mpi"]["per_rank"]], [1, 1, 0])
        self.assertEqual(rep["connections"]["established"], 2, "rank 2 had nothing to send: no connection")


class RateTest(unittest.TestCase):
    """--rate R --duration D over three ranks: R in all (R/3 each), every rank stops at D."""

    RATE = 300
    DURATION = 3

    def test_rate_and_duration(self):
        res, rep, sink_rep, _ = against_sink(self, "smtp-source-mpi", ["-s", "10", "--rate", str(self.RATE),
                                                                      "--duration", str(self.DURATION), "--per-rank"])
        self.assertEqual(res.returncode, 0, res)
        accepted = rep["messages"]["accepted"]
        self.assertIsNone(rep["messages"]["asked"], "--duration without -m: unbounded")
        self.assertEqual(sink_rep["messages"], accepted)
        self.assertAlmostEqual(accepted, self.RATE * self.DURATION, delta=0.05 * self.RATE * self.DURATION)
        self.assertAlmostEqual(rep["messages_per_s"], self.RATE, delta=0.05 * self.RATE)
        for row in rep["mpi"]["per_rank"]:
            self.assertAlmostEqual(row["messages_accepted"], self.RATE * self.DURATION / RANKS,
                                   delta=0.05 * self.RATE * self.DURATION / RANKS)
            self.assertGreaterEqual(row["elapsed_s"], self.DURATION - 1.0 / (self.RATE / RANKS))
        self.assertEqual(rep["pacing"], {"model": "rate", "value": self.RATE})


class FailedRankTest(unittest.TestCase):
    """Two targets over three ranks: rank 1's refuses connections."""

    def test_unreachable_target_is_named(self):
        dead = support.UnusedPort()
        self.addCleanup(dead.close)
        dead_target = "127.0.0.1:%d" % dead.port
        res, rep, sink_rep, target = against_sink(self, "smtp-source-mpi", ["-s", "2", "-m", "300", "--per-rank"],
                                                  more_targets=[dead_target])
        self.assertNotEqual(res.returncode, 0, res)
        self.assertEqual(sink_rep["messages"], 200, "ranks 0 and 2 sent all of theirs")
        self.assertEqual(rep["messages"]["accepted"], 200)
        rows = rep["mpi"]["per_rank"]
        self.assertEqual([r["target"] for r in rows], [target, dead_target, target])
        failed = rep["mpi"]["failed"]
        self.assertEqual(len(failed), 1)
        self.assertEqual((failed[0]["rank"], failed[0]["target"]), (1, dead_target))
        self.assertEqual((failed[0]["messages_asked"], failed[0]["messages_accepted"]), (100, 0))
        self.assertIn("Connection refused", failed[0]["error"])
        self.assertTrue(rep["error"].startswith("rank 1: "), rep["error"])
        self.assertRegex(res.stderr.decode(errors="replace"),
                         r"smtp-source-mpi: fatal: rank 1 \(%s\): .*Connection refused" % re.escape(dead_target))

    def test_text_report_names_the_rank(self):
        dead = support.UnusedPort()
        dead_target = "127.0.0.1:%d" % dead.port
        try:
            res = support.run(MPIRUN + [tool("smtp-source-mpi"), "-m", "3", dead_target], timeout=120)
        finally:
            dead.close()
        self.assertNotEqual(res.returncode, 0, res)
        out = res.stdout.decode(errors="replace")
        self.assertIn("smtp-source report", out)
        self.assertIn("ranks:       3, 3 failed", out)
        for rank in range(RANKS):
            self.assertIn("rank %d (" % rank, out)


def silent(sock, index, server):
    """A server that accepts and never answers: it waits until the client goes."""
    while sock.recv(4096):
        pass


def rank_pid(mpirun, rank):
    """The PID of rank `rank`: a child of our mpirun (by its PID) whose environment says the rank."""
    for pid in os.listdir("/proc"):
        try:
            with open("/proc/%s/stat" % pid) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid != mpirun.pid:
                continue
            with open("/proc/%s/environ" % pid, "rb") as f:
                if b"OMPI_COMM_WORLD_RANK=%d" % rank in f.read().split(b"\0"):
                    return int(pid)
        except (OSError, ValueError, IndexError):
            continue
    return None


class DyingRankTest(unittest.TestCase):
    """Rank 1 waits on a server that never answers, and is stopped (SIGTERM) or killed (SIGKILL)
    there; ranks 0 and 2 send theirs to our sink."""

    def run_and_signal(self, sig):
        sink, target = start_sink("smtp-sink", [])
        with support.FakeServer(silent) as hung:
            args = MPIRUN + [tool("smtp-source-mpi"), "--report=json", "--per-rank", "--timeout=60", "-m", "300",
                             target, hung.address]
            out, err = TMP.join("dying.%d.out" % sig), TMP.join("dying.%d.err" % sig)
            with open(out, "wb") as o, open(err, "wb") as e:
                mpirun = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=o, stderr=e)
            try:
                hung.wait_for(lambda srv: srv.accepted >= 1, what="rank 1's connection")
                support.wait_until(lambda: rank_pid(mpirun, 1) is not None, support.LISTEN_TIMEOUT, "rank 1's PID")
                os.kill(rank_pid(mpirun, 1), sig)
                returncode = mpirun.wait(60)
            finally:
                support.stop_process(mpirun)
        sink_rep = stop_sink(self, sink)
        with open(out, "rb") as o, open(err, "rb") as e:
            return returncode, o.read(), e.read(), sink_rep

    def test_a_stopped_rank_reports_and_the_others_finish(self):
        returncode, out, err, sink_rep = self.run_and_signal(signal.SIGTERM)
        self.assertNotEqual(returncode, 0)
        self.assertEqual(sink_rep["messages"], 200, "ranks 0 and 2 sent all of theirs")
        rep = json.loads([line for line in out.split(b"\n") if line.startswith(b"{")][0])
        self.assertEqual(rep["messages"]["accepted"], 200)
        failed = rep["mpi"]["failed"]
        self.assertEqual([(f["rank"], f["error"], f["messages_accepted"]) for f in failed],
                         [(1, "stopped by SIGTERM", 0)])
        self.assertIn(b"smtp-source-mpi: fatal: rank 1 (", err)

    def test_a_killed_rank_ends_the_run_named(self):
        returncode, out, err, _ = self.run_and_signal(signal.SIGKILL)
        self.assertNotEqual(returncode, 0)
        # Open MPI 4 ends the job at once and says which rank died (rank 0 has no report to give).
        self.assertRegex(err.decode(errors="replace"), r"process rank 1 .*exited on signal 9")


class UsageTest(unittest.TestCase):
    """The MPI sources' own options, and smtp-source's refusal of them."""

    def test_help_names_the_mpi_options(self):
        for name in ("smtp-source-mpi", "qmqp-source-mpi"):
            res = support.run([tool(name), "--help"])  # before MPI starts: no mpirun needed
            self.assertEqual(res.returncode, 0, res)
            self.assertIn(b"--per-rank", res.stdout)
            self.assertIn(b"See man smtp-source-mpi", res.stdout)
            self.assertLessEqual(len(res.stdout.splitlines()), 25, "one screen and a line")

    def test_bad_options_end_every_rank_before_mpi(self):
        res = support.run(MPIRUN + [tool("smtp-source-mpi"), "-m", "0", "127.0.0.1:1"], timeout=120)
        self.assertNotEqual(res.returncode, 0, res)
        # Each rank says it, unless mpirun ended it first (it ends the job when one rank fails).
        self.assertIn(res.stderr.count(b"smtp-source-mpi: fatal: bad message count: 0"), range(1, RANKS + 1), res)
        self.assertEqual(res.stdout.count(b"report"), 0, res)

    def test_single_process_tools_refuse_several_targets_and_per_rank(self):
        for name in ("smtp-source", "qmqp-source"):
            for args in (["127.0.0.1:1", "127.0.0.1:2"], ["--per-rank", "127.0.0.1:1"]):
                res = support.run([tool(name)] + args)
                self.assertEqual(res.returncode, 1, res)
                self.assertIn(b"usage:", res.stderr)


if __name__ == "__main__":
    unittest.main()
