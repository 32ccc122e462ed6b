#!/usr/bin/env python3
"""Fault injection against smtp-source (issue 6): a server that misbehaves at every stage.

    python3 tests/integration/test_faults.py --bindir DIR [unittest options]

Each fault is a scripted fake server on 127.0.0.1 (support.FakeServer). Our smtp-source runs
against it with --report=json, and Postfix's /usr/sbin/smtp-source against a fresh copy of the
same server, to show the difference where there is one. After each: the process ended by itself
(a time limit on every run), with the documented status and Postfix's wording on stderr, the
report counts exactly what the server accepted before the fault, the I/O error by kind, and our
source's peak RSS stayed within RSS_MARGIN_KB of a run with the same options against a server
that behaves (memory stayed bounded, whatever the server sent: a flood of 64 MB too).

Faults: a reset (RST) mid-greeting, mid-reply and mid-DATA; a close after 354; 421 at each stage;
every reply split into single bytes; 1 MB without a newline; NUL and 8-bit bytes in replies; a
server that never answers; connection refused with -C retries.

All load goes to 127.0.0.1; only processes started here are stopped, by their PID.
"""

import json
import os
import re
import socket
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import support  # noqa: E402

BINDIR = support.take_option(sys.argv, "--bindir")
POSTFIX = "/usr/sbin/smtp-source"
TMP = OURS = PF = None
ARGV0 = b"<ARGV0>"
RSS_MARGIN_KB = 8 * 1024  # what a fault may add to our source's peak RSS
_baseline_kb = {}         # peak RSS of a good run, by options


def setUpModule():
    global TMP, OURS, PF
    if not BINDIR:
        raise RuntimeError("usage: test_faults.py --bindir DIR [unittest args]")
    TMP = support.TempDir("mailload-faults-")
    OURS = support.program_link(TMP.join("ours"), "smtp-source", os.path.join(BINDIR, "smtp-source"))
    PF = support.program_link(TMP.join("pf"), "smtp-source", POSTFIX)


def tearDownModule():
    TMP.cleanup()


def reset(sock):
    """Close with an RST: SO_LINGER on, timeout 0."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class Script:
    """A fake server that speaks a good SMTP dialog but for the fault at `stage`.

    stage: greeting, helo, mail, rcpt, data, dot; fault(sock, reader) is called instead of the
    well-formed reply at that stage (after reading the stage's command, or its content for
    "dot"). Counts complete messages it answered with 250 in .accepted."""

    REPLIES = {"greeting": b"220 fake ESMTP\r\n", "helo": b"250 fake\r\n", "mail": b"250 2.1.0 Ok\r\n",
               "rcpt": b"250 2.1.5 Ok\r\n", "data": b"354 go\r\n", "dot": b"250 2.0.0 Ok\r\n",
               "quit": b"221 Bye\r\n"}

    def __init__(self, stage=None, fault=None, send=None):
        self.stage, self.fault = stage, fault
        self.send = send or (lambda sock, data: sock.sendall(data))
        self.accepted = 0

    def __call__(self, sock, index, server):
        reader = support.LineReader(sock)

        def answer(stage):
            if stage == self.stage:
                self.fault(sock, reader)
                return False
            self.send(sock, self.REPLIES[stage])
            return True

        if not answer("greeting"):
            return
        while True:
            line = reader.readline()
            if not line:
                return
            verb = line[:4].upper()
            stage = {b"HELO": "helo", b"MAIL": "mail", b"RCPT": "rcpt", b"DATA": "data", b"QUIT": "quit",
                     b"RSET": "mail"}.get(verb)
            if stage is None:
                return self.send(sock, b"500 unknown\r\n")
            if not answer(stage):
                return
            if stage == "quit":
                return
            if stage == "data":
                reader.read_data()
                if not answer("dot"):
                    return
                self.accepted += 1


class FaultTest(unittest.TestCase):
    def run_source(self, program, script, args=("-m", "3", "-d"), extra=(), rss=False):
        server = support.FakeServer(script)
        try:
            return support.run([program] + list(extra) + list(args) + [server.address], timeout=30, rss=rss), script
        finally:
            server.close()

    def ours(self, script, args=("-m", "3", "-d")):
        res, script = self.run_source(OURS, script, args, ["--report=json", "--timeout=2"], rss=True)
        report = json.loads(res.stdout.decode())
        self.assertLess(res.maxrss_kb, self.baseline_kb(args) + RSS_MARGIN_KB, "peak RSS, kB")
        return res, report, script

    def baseline_kb(self, args):
        """Our source's peak RSS with `args` against a server that behaves."""
        if args not in _baseline_kb:
            res, _ = self.run_source(OURS, Script(), args, ["--report=json", "--timeout=2"], rss=True)
            self.assertEqual(res.returncode, 0, res)
            _baseline_kb[args] = res.maxrss_kb
        return _baseline_kb[args]

    def postfix(self, script, args=("-m", "3", "-d")):
        return self.run_source(PF, script, args)[0]

    def stderr(self, res, program):
        return support.normalise_argv0(res.stderr, program, "<ARGV0>").decode(errors="replace")

    def check_fatal(self, make_script, says, args=("-m", "3", "-d")):
        """Both sources end with a fatal error matching the regular expression `says`; ours with
        status 1, and a report that counts exactly what the server accepted."""
        res, report, script = self.ours(make_script(), args)
        self.assertEqual(res.returncode, 1, res)
        self.assertRegex(self.stderr(res, OURS), "^<ARGV0>: fatal: (%s)\n$" % says)
        self.assertEqual(report["messages"]["accepted"], script.accepted, report)
        pf = self.postfix(make_script(), args)
        self.assertNotEqual(pf.returncode, 0, pf)
        self.assertRegex(self.stderr(pf, PF), "<ARGV0>: fatal: (%s)\n" % says)
        return report

    # -- resets and closes ------------------------------------------------------------------------

    def test_reset_mid_greeting(self):
        def fault(sock, reader):
            sock.sendall(b"220-fake")
            reset(sock)
        # A race by nature, the same for both: when the RST arrives before the client has seen its
        # connect complete, the connect itself fails.
        report = self.check_fatal(lambda: Script("greeting", fault),
                                  "lost connection while reading server greeting|connect: Connection reset by peer")
        self.assertEqual(report["messages"]["sent"], 0)

    def test_reset_mid_reply(self):
        def fault(sock, reader):
            sock.sendall(b"250-2.1.0")
            reset(sock)
        self.check_fatal(lambda: Script("mail", fault), "lost connection while sending sender")

    def test_reset_mid_data(self):
        def fault(sock, reader):
            sock.sendall(b"354 go\r\n")
            sock.recv(100)  # some of the content
            reset(sock)
        # -l 1000000: the content is still being written when the reset comes
        report = self.check_fatal(lambda: Script("data", fault), "lost connection while sending message",
                                  args=("-m", "3", "-l", "1000000"))
        self.assertEqual(report["messages"]["accepted"], 0)

    def test_close_after_354(self):
        def fault(sock, reader):
            sock.sendall(b"354 go\r\n")
            reader.read_data()
            sock.shutdown(socket.SHUT_RDWR)
        self.check_fatal(lambda: Script("data", fault), "lost connection while sending message")

    # -- 421 at every stage ------------------------------------------------------------------------

    def test_421_at_each_stage(self):
        # Our diagnostic is Postfix's, word for word; the report counts the 421 at its stage.
        for stage in ("greeting", "helo", "mail", "rcpt", "data", "dot"):
            with self.subTest(stage=stage):
                def fault(sock, reader):
                    sock.sendall(b"421 4.3.2 going down\r\n")
                res, report, _ = self.ours(Script(stage, fault))
                pf = self.postfix(Script(stage, fault))
                self.assertEqual(res.returncode, 1, res)
                self.assertRegex(self.stderr(res, OURS), r"^<ARGV0>: fatal: .*421 4\.3\.2 going down\n$")
                self.assertEqual(self.stderr(res, OURS), self.stderr(pf, PF))
                self.assertEqual(report["messages"]["accepted"], 0, report)
                self.assertEqual(report["replies"][stage].get("421"), 1, report)

    # -- odd but valid replies ----------------------------------------------------------------------

    def test_replies_split_into_single_bytes(self):
        def bytewise(sock, data):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for b in data:
                sock.send(bytes([b]))
        for program in (OURS, PF):
            with self.subTest(program=program):
                script = Script(send=bytewise)
                res, _ = self.run_source(program, script, ("-m", "5", "-d"))
                self.assertEqual(res.returncode, 0, res)
                self.assertEqual(script.accepted, 5)
        res, report, _ = self.ours(Script(send=bytewise), ("-m", "5", "-d"))
        self.assertEqual(report["messages"]["accepted"], 5)

    def test_nul_and_8bit_bytes_in_replies(self):
        def odd(sock, data):
            sock.sendall(data[:4] + b"\x00\xff\xe9t\xe9 " + data[4:])
        res, report, script = self.ours(Script(send=odd), ("-m", "4", "-d"))
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual((report["messages"]["accepted"], script.accepted), (4, 4))

    # -- hostile ones -------------------------------------------------------------------------------

    def test_a_megabyte_without_a_newline(self):
        # and 64 MB: the peak RSS check of ours() shows that none of it is kept
        for megabytes in (1, 64):
            with self.subTest(megabytes=megabytes):
                def flood(sock, reader):
                    try:
                        sock.sendall(b"220" + b"x" * (megabytes << 20))
                        sock.recv(1)
                    except OSError:
                        pass  # the client gave up first: what it should do
                res, report, _ = self.ours(Script("greeting", flood))
                self.assertEqual(res.returncode, 1, res)
                self.assertRegex(self.stderr(res, OURS), r"^<ARGV0>: fatal: .*greeting")
                self.assertEqual(report["messages"]["sent"], 0)

    def test_a_server_that_never_answers(self):
        def silent(sock, reader):
            sock.recv(1)  # until the client goes
        # Postfix's words: a reply's wait is named after what was sent before it.
        for stage, words in (("greeting", "reading server greeting"), ("rcpt", "sending recipient"),
                             ("dot", "sending message")):
            with self.subTest(stage=stage):
                res, report, script = self.ours(Script(stage, silent))
                self.assertEqual(res.returncode, 1, res)
                self.assertEqual(self.stderr(res, OURS), "<ARGV0>: fatal: timeout while %s\n" % words)
                self.assertEqual(report["messages"]["accepted"], 0)
                self.assertEqual(sum(report["io_errors"].values()), 1, report)

    def test_connection_refused_with_retries(self):
        unused = support.UnusedPort()
        self.addCleanup(unused.close)
        target = "127.0.0.1:%d" % unused.port
        res = support.run([OURS, "--report=json", "-C", "3", target], timeout=30)
        pf = support.run([PF, "-C", "3", target], timeout=30)
        self.assertEqual(res.returncode, 1, res)
        report = json.loads(res.stdout.decode())
        self.assertEqual(report["connections"]["connect_failures"], 3, report)
        self.assertEqual(report["connections"]["established"], 0, report)
        self.assertEqual(self.stderr(res, OURS), self.stderr(pf, PF))


if __name__ == "__main__":
    unittest.main(verbosity=2)
