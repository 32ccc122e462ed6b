#!/usr/bin/env python3
"""Integration tests of mailload's qmqp-source and qmqp-sink against Postfix's real programs.

    python3 tests/integration/test_qmqp.py --bindir DIR [--sink-bindir DIR] [unittest options]

--sink-bindir: where our qmqp-sink is (default: --bindir; tools/test.sh's TSan step builds only
the sources).

DIR holds our built `qmqp-source` and `qmqp-sink`.  Postfix's /usr/sbin/qmqp-source and
/usr/sbin/qmqp-sink (Debian 12: Postfix 3.7.11; both programs are unchanged up to 3.11.6) are the
reference.  Every program is started through a symlink with the same basename (PFDIR/qmqp-source,
OURDIR/qmqp-source, ...), so argv[0] differs only in its directory; diagnostics are compared after
the exact argv[0] is replaced by "<ARGV0>".

1. counting, both directions, over IPv4, IPv6 and a unix socket;
2. the request bytes of both sources, byte for byte, recorded by a relay in front of our sink;
3. replies and diagnostics (obs 26, 31), and -v / -v -v output of both programs (obs 24);
4. our sink's robustness where Postfix's has bugs or limits (obs 27, spec §8 items 26-28).

All load goes to 127.0.0.1, ::1 or a unix socket in a private temporary directory.  Waiting is
always "poll a condition until a deadline"; the only bounded waits for something NOT to happen are
named QUIET.  Only processes started here are stopped, by their PID.
"""

import concurrent.futures
import json
import os
import re
import signal
import socket
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import support  # noqa: E402

BINDIR = support.take_option(sys.argv, "--bindir")
SINK_BINDIR = support.take_option(sys.argv, "--sink-bindir") or BINDIR
POSTFIX_QMQP_SOURCE = "/usr/sbin/qmqp-source"
POSTFIX_QMQP_SINK = "/usr/sbin/qmqp-sink"
HOST = socket.gethostname()
HOSTB = HOST.encode()

TMP = None           # module temp dir (support.TempDir)
PF_SOURCE = PF_SINK = OUR_SOURCE = OUR_SINK = None
ARGV0 = "<ARGV0>"
QUIET = 0.5          # seconds: how long something that must NOT happen is watched for
STEP_TIMEOUT = 10    # seconds: limit for each expected reply or close

SOURCE_USAGE = ("%s: fatal: usage: %s -cv -s sess -l msglen -m msgs -C count -M myhostname -f from -t to"
                " -R delay -w delay host[:port]\n" % (ARGV0, ARGV0)).encode()
SINK_USAGE = ("%s: fatal: usage: %s [-cv] [-x time] [host]:port backlog\n" % (ARGV0, ARGV0)).encode()


def setUpModule():
    global TMP, PF_SOURCE, PF_SINK, OUR_SOURCE, OUR_SINK
    if not BINDIR:
        raise RuntimeError("usage: test_qmqp.py --bindir DIR [unittest args]")
    for path in (os.path.join(BINDIR, "qmqp-source"), os.path.join(SINK_BINDIR, "qmqp-sink")):
        if not os.access(path, os.X_OK):
            raise RuntimeError("no executable %s" % path)
    TMP = support.TempDir("mailload-qmqp-")
    PF_SOURCE = support.program_link(TMP.join("pf"), "qmqp-source", POSTFIX_QMQP_SOURCE)
    PF_SINK = support.program_link(TMP.join("pf"), "qmqp-sink", POSTFIX_QMQP_SINK)
    OUR_SOURCE = support.program_link(TMP.join("ours"), "qmqp-source", os.path.join(BINDIR, "qmqp-source"))
    OUR_SINK = support.program_link(TMP.join("ours"), "qmqp-sink", os.path.join(SINK_BINDIR, "qmqp-sink"))


def tearDownModule():
    if TMP:
        TMP.cleanup()


def norm_diag(text, program):
    return support.normalise_argv0(text, program, ARGV0)


def start_sink(program, options=(), family="inet", backlog=256):
    """Start a qmqp-sink (PF_SINK or OUR_SINK; neither needs -u as root) on 127.0.0.1 ('inet'),
    [::1] ('inet6') or a unix socket ('unix').  Returns (ServerProcess, client address argument,
    target for support.connect_to())."""
    opts = list(options)
    name = "pf-sink" if program == PF_SINK else "our-sink"
    if family == "unix":
        path = TMP.join("q%d.sock" % support.serial())
        server, _ = support.start_listening_process(
            lambda p: [program] + opts + ["unix:" + p, str(backlog)], TMP.path, name=name, unix_path=path)
        return server, "unix:" + path, path
    if family == "inet6":
        server, port = support.start_listening_process(
            lambda p: [program] + opts + ["[::1]:%d" % p, str(backlog)], TMP.path, name=name, host="::1")
        return server, "[::1]:%d" % port, ("::1", port)
    server, port = support.start_listening_process(
        lambda p: [program] + opts + ["127.0.0.1:%d" % p, str(backlog)], TMP.path, name=name)
    return server, "127.0.0.1:%d" % port, ("127.0.0.1", port)


def counter_output(n):
    """What -c prints for n messages: 1\\r2\\r...n\\r."""
    return b"".join(b"%d\r" % i for i in range(1, n + 1))


# ------------------------------------------------------------------------------------------------
# netstrings
# ------------------------------------------------------------------------------------------------

def netstring(data):
    return b"%d:%s," % (len(data), data)


def parse_netstring(data):
    """(payload, rest) of the netstring at the start of `data`; ValueError if malformed."""
    colon = data.index(b":")
    if colon == 0 or not data[:colon].isdigit():
        raise ValueError("bad netstring length in %r" % data[:40])
    n = int(data[:colon])
    end = colon + 1 + n
    if len(data) <= end or data[end:end + 1] != b",":
        raise ValueError("netstring %r... not terminated by ','" % data[:40])
    return data[colon + 1:end], data[end + 1:]


def parse_request(data):
    """A QMQP request: (message, sender, [recipients]); the request must be exactly one netstring."""
    payload, rest = parse_netstring(data)
    if rest:
        raise ValueError("bytes after the request: %r" % rest[:40])
    parts = []
    while payload:
        part, payload = parse_netstring(payload)
        parts.append(part)
    return parts[0], parts[1], parts[2:]


def read_request(sock, timeout=STEP_TIMEOUT):
    """Read one whole request netstring from `sock` (a fake server's side)."""
    sock.settimeout(timeout)
    data = b""
    while True:
        if b":" in data:
            head = data[:data.index(b":")]
            if len(data) >= len(head) + 1 + int(head) + 1:
                return data
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("client closed after %r" % data[:60])
        data += chunk


# ================================================================================================
# 1. counting: ours against Postfix's, both directions
# ================================================================================================

class CountingTest(unittest.TestCase):
    """-s 10 -m 5000 each way over IPv4, IPv6 and a unix socket: every message counted."""

    MESSAGES = 5000
    SESSIONS = 10

    def our_source_to_postfix_sink(self, family):
        sink, address, _ = start_sink(PF_SINK, ["-c"], family=family)
        self.addCleanup(sink.stop)
        res = support.run([OUR_SOURCE, "-c", "-s", str(self.SESSIONS), "-m", str(self.MESSAGES), address])
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(res.stderr, b"", res)
        self.assertEqual(res.stdout, counter_output(self.MESSAGES) + b"\n")
        # Postfix's sink prints each count after its reply is sent: the last one may come just
        # after our source has read the reply and exited.
        expected = counter_output(self.MESSAGES)
        support.wait_until(lambda: len(sink.stdout()) >= len(expected), 20, "Postfix's qmqp-sink to count")
        self.assertEqual(sink.stop(), -signal.SIGTERM)
        self.assertEqual(sink.stdout(), expected)
        self.assertEqual(sink.stderr(), b"")

    def postfix_source_to_our_sink(self, family):
        sink, address, _ = start_sink(OUR_SINK, ["-c"], family=family)
        self.addCleanup(sink.stop)
        res = support.run([PF_SOURCE, "-c", "-s", str(self.SESSIONS), "-m", str(self.MESSAGES), address])
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(res.stderr, b"", res)
        self.assertEqual(res.stdout, counter_output(self.MESSAGES) + b"\n")
        # ours counts a message before it replies, so every count is out once the source is done
        self.assertEqual(sink.stdout(), counter_output(self.MESSAGES))
        self.assertTrue(sink.alive())
        self.assertEqual(sink.stop(), -signal.SIGTERM)
        self.assertEqual(sink.stdout(), counter_output(self.MESSAGES))
        self.assertEqual(sink.stderr(), b"")

    def test_ours_to_postfix_ipv4(self):
        self.our_source_to_postfix_sink("inet")

    def test_ours_to_postfix_ipv6(self):
        self.our_source_to_postfix_sink("inet6")

    def test_ours_to_postfix_unix(self):
        self.our_source_to_postfix_sink("unix")

    def test_postfix_to_ours_ipv4(self):
        self.postfix_source_to_our_sink("inet")

    def test_postfix_to_ours_ipv6(self):
        self.postfix_source_to_our_sink("inet6")

    def test_postfix_to_ours_unix(self):
        self.postfix_source_to_our_sink("unix")


class ModelsTest(unittest.TestCase):
    """qmqp-source's --threads N and --thread-per-session send what one event loop sends: our sink
    counts every message, the report adds up, the -c counter counts 1, 2, ... N in order (tools/test.sh
    runs this under TSan too)."""

    MESSAGES = 2000

    def test_every_model_sends_the_same(self):
        for model in ([], ["--threads=2"], ["--threads=3"], ["--thread-per-session"]):
            with self.subTest(model=model):
                sink, address, _ = start_sink(OUR_SINK, ["-c"])
                self.addCleanup(sink.stop)
                res = support.run([OUR_SOURCE, "-c", "--report=json", "-s", "6", "-l", "300", "-m",
                                   str(self.MESSAGES)] + model + [address])
                self.assertEqual(res.returncode, 0, res)
                counter, _, report = res.stdout.partition(b"\n")
                self.assertEqual(counter, counter_output(self.MESSAGES))
                report = json.loads(report)
                self.assertEqual(report["messages"], {"asked": self.MESSAGES, "sent": self.MESSAGES,
                                                      "accepted": self.MESSAGES})
                self.assertEqual(report["latency_ms"]["message"]["count"], self.MESSAGES)
                # ours counts a message before it replies: every count is out once the source is done
                self.assertEqual(sink.stdout(), counter_output(self.MESSAGES))
                self.assertEqual(sink.stop(), -signal.SIGTERM)
                self.assertEqual(sink.stderr(), b"")


# ================================================================================================
# 2. byte for byte: the requests of Postfix's qmqp-source and ours, through a relay
# ================================================================================================

DATE_RE = re.compile(rb"(\nDate: )([^\n]*)")
PID_RE = re.compile(rb"(\nMessage-Id: <)(\d+)(@)")
DATE_FORMAT = re.compile(rb"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [ 0-3]\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
                         rb" \d{4} \d\d:\d\d:\d\d [+-]\d{4} \([^)]*\)$")


def normalise_request(data):
    """The request with its Date: value and Message-Id pid replaced by as many D's and P's (the
    lengths stay, so do the netstring lengths).  Returns (bytes, date or None, pid or None)."""
    date = pid = None
    m = DATE_RE.search(data)
    if m:
        date = m.group(2)
        data = data[:m.start(2)] + b"D" * len(date) + data[m.end(2):]
    m = PID_RE.search(data)
    if m:
        pid = m.group(2)
        data = data[:m.start(2)] + b"P" * len(pid) + data[m.end(2):]
    return data, date, pid


def run_via_relay(program, args, target):
    """Run `program args <relay>` through a fresh recording relay in front of `target`.
    Returns (Result, [client->server bytes per connection])."""
    with support.Relay(target) as relay:
        res = support.run([program] + list(args) + [relay.address])
        conns = relay.wait_idle()
        return res, [bytes(c.client_to_server) for c in conns]


class WireTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.sink, _, cls.target = start_sink(OUR_SINK)

    @classmethod
    def tearDownClass(cls):
        cls.sink.stop()

    def compare(self, args, connections=1):
        """Run both sources with `args`; assert the same requests once normalised.  The pid has
        as many digits in both (else the message's filler would be cut elsewhere): when the two
        pids straddle a power of ten, both run again.  Returns our normalised requests."""
        ctx = "args=%r" % (args,)
        for _ in range(3):
            pf_res, pf_conns = run_via_relay(PF_SOURCE, args, self.target)
            our_res, our_conns = run_via_relay(OUR_SOURCE, args, self.target)
            pf_norm = [normalise_request(c) for c in pf_conns]
            our_norm = [normalise_request(c) for c in our_conns]
            pids = {len(n[2]) for n in pf_norm + our_norm if n[2] is not None}
            if len(pids) <= 1:
                break
        for res in (pf_res, our_res):
            self.assertEqual(res.returncode, 0, res)
            self.assertEqual(res.stdout, b"", res)
            self.assertEqual(res.stderr, b"", res)
        self.assertEqual(len(pf_conns), connections, ctx)
        self.assertEqual(len(our_conns), connections, ctx)
        for res, norm in ((pf_res, pf_norm), (our_res, our_norm)):
            for _, date, pid in norm:
                if pid is not None:
                    self.assertEqual(pid, b"%d" % res.pid, "%s: the Message-Id pid is the process id" % ctx)
                if date is not None and len(date) > 30:
                    self.assertRegex(date, DATE_FORMAT, ctx)
        ours = sorted(n[0] for n in our_norm)
        pf = sorted(n[0] for n in pf_norm)
        for i, (o, p) in enumerate(zip(ours, pf)):
            self.assertEqual(o.split(b"\n"), p.split(b"\n"), "%s connection %d" % (ctx, i))
        # every connection carries the same request (spec §5.2: built once per run)
        self.assertEqual(len({c for c in our_conns}), 1, ctx)
        return ours

    def test_defaults(self):
        [req] = self.compare([])
        message, sender, rcpts = parse_request(req)
        self.assertEqual(len(message), 1024)
        self.assertTrue(message.startswith(b"From: <foo@%s>\nTo: <foo@%s>\nDate: D" % (HOSTB, HOSTB)), message)
        self.assertIn(b"\nMessage-Id: <P", message)
        self.assertTrue(message.endswith(b"\n"))
        self.assertEqual(sender, b"foo@" + HOSTB)
        self.assertEqual(rcpts, [b"foo@" + HOSTB])

    def test_l_100(self):
        [req] = self.compare(["-l", "100"])
        message, _, _ = parse_request(req)
        self.assertEqual(len(message), 100)
        self.assertEqual(message[-1:], b"\n")

    def test_l_200(self):
        [req] = self.compare(["-l", "200"])
        message, _, _ = parse_request(req)
        self.assertEqual(len(message), 200)

    def test_l_1(self):
        [req] = self.compare(["-l", "1"])
        address = b"foo@" + HOSTB
        self.assertEqual(req, netstring(netstring(b"\n") + netstring(address) + netstring(address)))

    def test_obs_25(self):
        ours = self.compare(["-r", "3", "-m", "2", "-s", "2", "-f", "s@x", "-t", "r@y", "-M", "h.example",
                             "-l", "100"], connections=2)
        for req in ours:
            message, sender, rcpts = parse_request(req)
            self.assertEqual(len(message), 100)
            self.assertTrue(message.startswith(b"From: <s@x>\nTo: <r@y>\nDate: "), message)
            self.assertIn(b"\nMessage-Id: <", message)
            self.assertIn(b"@h.example>\n\n", message)
            self.assertEqual(sender, b"s@x")
            self.assertEqual(rcpts, [b"0r@y", b"1r@y", b"2r@y"])

    def test_l_100000(self):
        [req] = self.compare(["-l", "100000"])
        message, _, _ = parse_request(req)
        self.assertEqual(len(message), 100000)
        self.assertNotIn(b"X" * 80, message)
        self.assertIn(b"\n" + b"X" * 79 + b"\n", message)


# ================================================================================================
# 3. replies and diagnostics
# ================================================================================================

def reply_server(reply):
    """A fake QMQP server that reads the request, sends `reply`, and waits for the client to close."""
    def handler(sock, index, server):
        read_request(sock)
        sock.sendall(reply)
        sock.settimeout(STEP_TIMEOUT)
        try:
            while sock.recv(65536):
                pass
        except OSError:
            pass
    return support.FakeServer(handler)


def parallel(function, items):
    """function(item) for every item, at the same time (Postfix's fatal errors sleep 1 s each)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(items))) as pool:
        return list(pool.map(function, items))


V_NORM = [
    (re.compile(rb"fd=\d+"), b"fd=<N>"),
    (re.compile(rb"TCP_MAXSEG \d+"), b"TCP_MAXSEG <N>"),
    (re.compile(rb"stream buffer size old=0 new=\d+"), b"stream buffer size old=0 new=<N>"),
    (re.compile(rb"\]:\d+$", re.M), b"]:<PORT>"),
]


def norm_verbose(text, program):
    """-v output with argv[0], descriptor numbers, TCP numbers and ports normalised."""
    text = norm_diag(text, program)
    for rx, rep in V_NORM:
        text = rx.sub(rep, text)
    return text


class DiagnosticsTest(unittest.TestCase):
    maxDiff = None

    def both(self, args, address=None):
        """Run Postfix's and our qmqp-source with `args` (and `address`, if given) at the same time."""
        tail = [address] if address else []
        pf, ours = parallel(lambda p: support.run([p] + list(args) + tail), [PF_SOURCE, OUR_SOURCE])
        return pf, ours

    def assert_same(self, pf, ours, ctx):
        self.assertEqual(ours.returncode, pf.returncode, "%s\nours=%r\npostfix=%r" % (ctx, ours, pf))
        self.assertEqual(norm_diag(ours.stderr, OUR_SOURCE), norm_diag(pf.stderr, PF_SOURCE), ctx)
        self.assertEqual(norm_diag(ours.stdout, OUR_SOURCE), norm_diag(pf.stdout, PF_SOURCE), ctx)

    def test_non_k_replies(self):
        # obs 26
        cases = [
            (b"8:Zdeferal,", b"fatal: recoverable error: deferal"),
            (b"6:Dhard!,", b"fatal: unrecoverable error: hard!"),
            (b"4:Xwhy,", b"fatal: unknown error: why"),
            (b"junk", b"fatal: netstring format error while receiving server reply"),
        ]
        servers = [reply_server(reply) for reply, _ in cases]
        for s in servers:
            self.addCleanup(s.close)

        def one(i):
            return self.both([], servers[i].address)
        results = parallel(one, range(len(cases)))
        for (reply, text), (pf, ours) in zip(cases, results):
            ctx = "reply %r" % reply
            self.assertEqual(pf.returncode, 1, ctx)
            self.assertEqual(norm_diag(pf.stderr, PF_SOURCE), b"%s: %s\n" % (ARGV0.encode(), text), ctx)
            self.assert_same(pf, ours, ctx)
        for s in servers:
            self.assertEqual(s.errors, [])

    def test_k_reply_with_c(self):
        server = reply_server(b"3:KOk,")
        self.addCleanup(server.close)
        pf, ours = self.both(["-c", "-m", "3"], server.address)
        self.assertEqual(ours.stdout, b"1\r2\r3\r\n")
        self.assert_same(pf, ours, "-c -m 3")

    def test_accepted_then_rejected(self):
        # the -c count so far stays on stdout (no final newline) when a later reply is fatal
        def handler(sock, index, server):
            read_request(sock)
            sock.sendall(b"3:KOk," if index % 2 == 0 else b"8:Zdeferal,")
            sock.settimeout(STEP_TIMEOUT)
            try:
                while sock.recv(65536):
                    pass
            except OSError:
                pass
        servers = [support.FakeServer(handler), support.FakeServer(handler)]
        for s in servers:
            self.addCleanup(s.close)
        pf = support.run([PF_SOURCE, "-c", "-m", "3", servers[0].address])
        ours = support.run([OUR_SOURCE, "-c", "-m", "3", servers[1].address])
        self.assertEqual(pf.returncode, 1, pf)
        self.assertEqual(pf.stdout, b"1\r")
        self.assert_same(pf, ours, "K then Z")

    def test_connection_refused(self):
        port = support.UnusedPort()
        self.addCleanup(port.close)
        pf, ours = self.both([], "127.0.0.1:%d" % port.port)
        self.assertEqual(pf.returncode, 1)
        self.assert_same(pf, ours, "connection refused")

    def test_bad_options(self):
        # obs 31 and spec §5.1: every bad number prints the usage line; so do -w with -R, a
        # missing address, an extra argument and an unknown option
        address = "127.0.0.1:9"   # never reached
        cases = []
        for opt in ("-s", "-l", "-m", "-C", "-r", "-R", "-w"):
            for value in ("0", "-1", "abc"):
                cases.append([opt, value, address])
        cases += [
            ["-w", "1", "-R", "1", address],
            ["-R", "1", "-w", "1", address],
            [],
            ["-c"],
            [address, "extra"],
            [address, "-m", "2"],   # options after the address are arguments
            ["-X", address],
            ["-w", "0x2", address],   # a decimal number only, as atoi() reads it
            ["-R", "inf", address],
        ]
        results = parallel(lambda args: self.both(args), cases)
        for args, (pf, ours) in zip(cases, results):
            ctx = "args=%r" % (args,)
            self.assertEqual(pf.returncode, 1, ctx)
            self.assertTrue(norm_diag(pf.stderr, PF_SOURCE).endswith(SOURCE_USAGE), "%s: %r" % (ctx, pf.stderr))
            self.assert_same(pf, ours, ctx)

    def test_check_order(self):
        # -M is checked where it stands among the options, before the other checks
        address = "127.0.0.1:9"   # never reached
        cases = [["-M", "bad_host!", "-s", "0", address], ["-s", "0", "-M", "bad_host!", address],
                 ["-M", "bad_host!", "[::1"], ["-M", "bad_host!", address, "extra"]]
        results = parallel(lambda args: self.both(args), cases)
        for args, (pf, ours) in zip(cases, results):
            ctx = "args=%r" % (args,)
            self.assertEqual(pf.returncode, 1, ctx)
            self.assert_same(pf, ours, ctx)
        self.assertIn(b"fatal: bad hostname: bad_host!", results[0][0].stderr)

    def test_sink_bad_options(self):
        cases = [
            [],
            ["127.0.0.1:9"],
            ["127.0.0.1:9", "0"],
            ["127.0.0.1:9", "abc"],
            ["-x", "0", "127.0.0.1:9", "5"],
            ["-x", "abc", "127.0.0.1:9", "5"],
            ["127.0.0.1:9", "5", "extra"],
            ["-X", "127.0.0.1:9", "5"],
        ]

        def one(args):
            return parallel(lambda p: support.run([p] + args), [PF_SINK, OUR_SINK])
        results = parallel(one, cases)
        for args, (pf, ours) in zip(cases, results):
            ctx = "qmqp-sink args=%r" % (args,)
            self.assertEqual(pf.returncode, 1, ctx)
            self.assertTrue(norm_diag(pf.stderr, PF_SINK).endswith(SINK_USAGE), "%s: %r" % (ctx, pf.stderr))
            self.assertEqual(ours.returncode, pf.returncode, "%s\nours=%r" % (ctx, ours))
            self.assertEqual(norm_diag(ours.stderr, OUR_SINK), norm_diag(pf.stderr, PF_SINK), ctx)

    def test_address_and_hostname_errors(self):
        # spec §1.3 and §5.1 (-M as in smtp-source): the same diagnostics and status
        cases = [
            ["-M", "bad_host!", "127.0.0.1:1"],
            ["-M", "[1.2.3]", "127.0.0.1:1"],
            ["-M", "[1.2.3.4]", "127.0.0.1:1"],
            ["[::1"],
            ["[::1]x"],
            ["127.0.0.1:25x"],
            [":25"],
            ["-6", "127.0.0.1:1"],
            ["-4", "[::1]:1"],
            ["nosuchhost.invalid:1"],
            ["unix:" + TMP.join("nonexistent", "x")],
            ["unix:/" + "a" * 120],
            ["-C", "2", "127.0.0.1:1"],
            ["-s", "2x", "-m", "3x", "127.0.0.1:1"],   # atoi(): 2 and 3
        ]
        results = parallel(lambda args: self.both(args), cases)
        for args, (pf, ours) in zip(cases, results):
            self.assertEqual(pf.returncode, 1, args)
            self.assert_same(pf, ours, "args=%r" % (args,))

    def test_verbose_traces(self):
        # spec §5.4 and obs 24: -v -v traces every netstring written and read (the fd number and
        # the TCP numbers are normalised)
        server = reply_server(b"3:KOk,")
        self.addCleanup(server.close)
        for args in (["-v", "-c", "-l", "200"], ["-v", "-v", "-c", "-l", "200"], ["-v", "-v", "-r", "2"]):
            with self.subTest(args=args):
                pf, ours = self.both(args, server.address)
                self.assertEqual(pf.returncode, 0, pf)
                self.assertEqual(ours.returncode, 0, ours)
                if "-c" in args:
                    self.assertEqual(ours.stdout, pf.stdout, args)
                else:   # Postfix's loses its "<< KOk" line without -c (test_verbose_reply_line)
                    self.assertEqual((pf.stdout, ours.stdout), (b"", b"<< KOk\n"), args)
                self.assertEqual(norm_verbose(ours.stderr, OUR_SOURCE).splitlines(),
                                 norm_verbose(pf.stderr, PF_SOURCE).splitlines(), args)

    def test_verbose_reply_line(self):
        # spec §5.4 / §8 item 25: Postfix's -v puts "<< KOk" in a stdout buffer that only -c
        # flushes, so without -c the line is lost.  Ours prints it either way.
        server = reply_server(b"3:KOk,")
        self.addCleanup(server.close)
        pf, ours = self.both(["-v"], server.address)
        self.assertEqual(pf.returncode, 0, pf)
        self.assertEqual(pf.stdout, b"", "Postfix's -v without -c (its line is lost)")
        self.assertEqual(ours.returncode, 0, ours)
        self.assertEqual(ours.stdout, b"<< KOk\n")
        pf, ours = self.both(["-v", "-c"], server.address)
        self.assertEqual(pf.stdout, b"<< KOk\n1\r\n")
        self.assertEqual(ours.stdout, pf.stdout)
        # -v -v: the netstring traces of spec §5.4 on stderr
        pf, ours = self.both(["-v", "-v"], server.address)
        for line in (b"netstring_get_length: read netstring length 3", b"netstring_get_data: read netstring data KOk"):
            self.assertIn(line, pf.stderr)
            self.assertIn(line, ours.stderr)


class SinkVerboseTest(unittest.TestCase):
    """qmqp-sink -v and -v -v (spec §6.1, obs 24): the same lines as Postfix's for one request."""

    maxDiff = None

    def run_sink(self, program, options, family):
        sink, address, _ = start_sink(program, options, family=family)
        self.addCleanup(sink.stop)
        res = support.run([PF_SOURCE, "-l", "200", address])
        self.assertEqual(res.returncode, 0, res)
        support.wait_until(lambda: sink.stdout() == b"1\r", STEP_TIMEOUT, "the sink to count the message")
        self.assertEqual(sink.stop(), -signal.SIGTERM)
        return norm_verbose(sink.stderr(), program)

    def test_verbose(self):
        for options in (["-c", "-v"], ["-c", "-v", "-v"]):
            for family in ("inet", "inet6", "unix"):
                with self.subTest(options=options, family=family):
                    pf = self.run_sink(PF_SINK, options, family)
                    ours = self.run_sink(OUR_SINK, options, family)
                    self.assertEqual(ours.splitlines(), pf.splitlines())


# ================================================================================================
# 4. our sink's robustness: the Postfix bugs and limits it does not have (obs 27, spec §8)
# ================================================================================================

def read_to_close(sock, timeout=STEP_TIMEOUT):
    """Everything the server sends until it closes; (bytes, how) with how "eof" or "reset"."""
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data, "reset"
        if not chunk:
            return data, "eof"
        data += chunk


def send_parts(target, parts):
    """Connect, send `parts` so that the sink reads each one on its own (the next part goes out
    only once the sink has read everything before it), then read until the sink closes."""
    sock = support.connect_to(target)
    try:
        sent = 0
        for part in parts:
            sock.sendall(part)
            sent += len(part)
            support.wait_tcp_consumed(sock, sent)
        return read_to_close(sock)
    finally:
        sock.close()


class SinkRobustnessTest(unittest.TestCase):

    def setUp(self):
        self.sink, _, self.target = start_sink(OUR_SINK, ["-c"])
        self.addCleanup(self.sink.stop)

    def wait_stderr(self, text, server=None):
        server = server or self.sink
        support.wait_until(lambda: text in server.stderr(), STEP_TIMEOUT, "%r on the sink's stderr" % text)

    def assert_serves(self):
        """The sink is alive and answers a plain request."""
        self.assertTrue(self.sink.alive(), self.sink.stderr())
        self.assertEqual(send_parts(self.target, [b"5:hello,"]), (b"3:KOk,", "eof"))

    def test_split_requests(self):
        # obs 27: Postfix's sink answers only the first; on the second it hangs (and crashes
        # once the client gives up); it drops the others with "warning: lost connection"
        cases = [
            [b"5:hel", b"lo,"],
            [b"5:hello", b","],
            [b"5:", b"hello,"],
            [b"5", b":hello,"],
            [b"0:,"],
            [b"0:", b","],
            [b"5:hello,EXTRA"],
            [b"12:hello,world!,"],
        ]
        for parts in cases:
            self.assertEqual(send_parts(self.target, parts), (b"3:KOk,", "eof"), parts)
            self.assertTrue(self.sink.alive(), self.sink.stderr())
        self.assert_serves()
        self.assertEqual(self.sink.stdout(), counter_output(len(cases) + 1))
        self.assertEqual(self.sink.stderr(), b"")

    def test_postfix_sink_fails_the_same_splits(self):
        # The reference, with the very same client: proof that the parts above reach a sink as
        # separate reads, and that the bugs ours fixes are real (obs 27, spec §8 items 26, 27).
        for parts in ([b"5:", b"hello,"], [b"5", b":hello,"]):
            sink, _, target = start_sink(PF_SINK, ["-c"])
            self.addCleanup(sink.stop)
            self.assertEqual(send_parts(target, parts)[0], b"", parts)   # dropped, no reply
            self.wait_stderr(b"warning: lost connection", sink)
            self.assertTrue(sink.alive())
            self.assertEqual(sink.stdout(), b"")
        # "5:hello" then ",": no reply at all; when the client gives up, the sink crashes
        sink, _, target = start_sink(PF_SINK, ["-c"])
        self.addCleanup(sink.stop)
        sock = support.connect_to(target)
        for sent, part in ((7, b"5:hello"), (8, b",")):
            sock.sendall(part)
            support.wait_tcp_consumed(sock, sent)
        sock.settimeout(QUIET)
        with self.assertRaises(socket.timeout):
            sock.recv(100)
        sock.close()
        support.wait_until(lambda: not sink.alive(), STEP_TIMEOUT, "Postfix's qmqp-sink to crash")
        # 3.7.11: SIGSEGV; the 3.12 snapshot: "panic: event_loop: bad file descriptor" (abort)
        self.assertIn(sink.stop(), (-signal.SIGSEGV, -signal.SIGABRT))

    def test_format_error(self):
        data, _ = send_parts(self.target, [b"x:hello,"])
        self.assertEqual(data, b"")
        self.wait_stderr(b"warning: netstring format error")
        self.assertEqual(norm_diag(self.sink.stderr(), OUR_SINK), b"%s: warning: netstring format error\n" % ARGV0.encode())
        self.assert_serves()
        self.assertEqual(self.sink.stdout(), b"1\r")

    def test_size_error(self):
        data, _ = send_parts(self.target, [b"99999999999999999999999:"])
        self.assertEqual(data, b"")
        self.wait_stderr(b"warning: netstring size error")
        self.assertEqual(norm_diag(self.sink.stderr(), OUR_SINK), b"%s: warning: netstring size error\n" % ARGV0.encode())
        self.assert_serves()
        # --max-size: the longest request taken (Postfix's has no limit but int overflow)
        sink, _, target = start_sink(OUR_SINK, ["-c", "--max-size=100"])
        self.addCleanup(sink.stop)
        self.assertEqual(send_parts(target, [b"100:" + b"x" * 100 + b","]), (b"3:KOk,", "eof"))
        self.assertEqual(send_parts(target, [b"101:"])[0], b"")
        self.wait_stderr(b"warning: netstring size error", sink)
        self.assertEqual(sink.stdout(), b"1\r")

    def test_lost_connection(self):
        for parts in ([], [b"5:hel"]):
            sock = support.connect_to(self.target)
            if parts:
                sock.sendall(parts[0])
                support.wait_tcp_consumed(sock, len(parts[0]))
            sock.shutdown(socket.SHUT_WR)
            self.assertEqual(read_to_close(sock), (b"", "eof"))
            sock.close()
        sock = support.connect_to(self.target)   # a reset in the middle of a request
        sock.sendall(b"5:hel")
        support.wait_tcp_consumed(sock, 5)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        support.wait_until(lambda: self.sink.stderr().count(b"warning: lost connection") == 3, STEP_TIMEOUT,
                           "three lost connections")
        self.assertEqual(norm_diag(self.sink.stderr(), OUR_SINK), b"%s: warning: lost connection\n" % ARGV0.encode() * 3)
        self.assert_serves()

    def test_read_timeout(self):
        # Postfix's sink holds an idle client forever (spec §6.2)
        sink, _, target = start_sink(OUR_SINK, ["-c", "--timeout=1"])
        self.addCleanup(sink.stop)
        silent = support.connect_to(target)
        self.addCleanup(silent.close)
        t0 = time.monotonic()
        # another client is served meanwhile
        busy = support.connect_to(target)
        busy.sendall(b"5:hello,")
        self.assertEqual(read_to_close(busy), (b"3:KOk,", "eof"))
        busy.close()
        served = time.monotonic() - t0
        self.assertLess(served, 0.9)
        data, _ = read_to_close(silent)
        elapsed = time.monotonic() - t0
        self.assertEqual(data, b"")
        self.assertGreaterEqual(elapsed, 0.9)
        self.assertLess(elapsed, 3.0)
        self.wait_stderr(b"warning: read timeout", sink)
        self.assertEqual(norm_diag(sink.stderr(), OUR_SINK), b"%s: warning: read timeout\n" % ARGV0.encode())
        self.assertEqual(sink.stdout(), b"1\r")

    def test_session_limit(self):
        # a client that sends a byte now and then never trips the per-read --timeout, but the
        # session's whole time is limited: it is cut off, unanswered and uncounted
        sink, _, target = start_sink(OUR_SINK, ["-c", "--timeout=5", "--session-limit=1"])
        self.addCleanup(sink.stop)
        slow = support.connect_to(target)
        self.addCleanup(slow.close)
        slow.sendall(b"100:")
        slow.settimeout(0.25)   # the trickle's pace: one byte per quarter second, 25 s in all
        closed = False
        for _ in range(100):
            try:
                slow.sendall(b"x")
                closed = slow.recv(1) == b""
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                closed = True
            break
        self.assertTrue(closed, "the trickling client was never cut off")
        self.wait_stderr(b"warning: read timeout", sink)
        self.assertEqual(norm_diag(sink.stderr(), OUR_SINK), b"%s: warning: read timeout\n" % ARGV0.encode())
        self.assertEqual(send_parts(target, [b"5:hello,"]), (b"3:KOk,", "eof"))   # and the sink goes on
        support.wait_until(lambda: sink.stdout() == b"1\r", STEP_TIMEOUT, "one reply counted")

    def test_max_sessions(self):
        # Postfix's sink has no limit (spec §8 item 28)
        sink, _, target = start_sink(OUR_SINK, ["-c", "--max-sessions=2"])
        self.addCleanup(sink.stop)
        first, second = support.connect_to(target), support.connect_to(target)
        self.addCleanup(first.close)
        self.addCleanup(second.close)
        for sock in (first, second):       # both are being served: the sink read their bytes
            sock.sendall(b"5:hel")
            support.wait_tcp_consumed(sock, 5)
        third = support.connect_to(target)
        self.addCleanup(third.close)
        third.sendall(b"5:hello,")
        third.settimeout(QUIET)
        with self.assertRaises(socket.timeout):
            third.recv(100)                # it waits: nothing read, nothing answered
        self.assertEqual(support.tcp_server_side(target[1], third.getsockname()[1])[:2], ("ESTAB", 8))
        first.sendall(b"lo,")
        self.assertEqual(read_to_close(first), (b"3:KOk,", "eof"))
        self.assertEqual(read_to_close(third), (b"3:KOk,", "eof"))
        second.sendall(b"lo,")
        self.assertEqual(read_to_close(second), (b"3:KOk,", "eof"))
        self.assertEqual(sink.stdout(), counter_output(3))

    def test_x_exits_by_itself(self):
        t0 = time.monotonic()
        sink, _, _ = start_sink(OUR_SINK, ["-x", "1"])
        self.addCleanup(sink.stop)
        support.wait_until(lambda: not sink.alive(), STEP_TIMEOUT, "qmqp-sink -x 1 to exit")
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)
        self.assertEqual(sink.stop(), 0)
        self.assertEqual(sink.stderr(), b"")

    def test_sigterm(self):
        self.assert_serves()
        self.assertEqual(self.sink.stop(), -signal.SIGTERM)
        self.assertEqual(self.sink.stdout(), b"1\r")
        self.assertEqual(self.sink.stderr(), b"")



# ================================================================================================
# 5. --report: what our qmqp-sink accepted, against Postfix's qmqp-source
# ================================================================================================



class SinkReportTest(unittest.TestCase):
    M, S, L = 40, 4, 300

    def test_json_on_sigterm(self):
        sink, address, _ = start_sink(OUR_SINK, ["-c", "--report=json"])
        self.addCleanup(sink.stop)
        res = support.run([PF_SOURCE, "-s", str(self.S), "-m", str(self.M), "-l", str(self.L), address])
        self.assertEqual(res.returncode, 0, res)
        # ours counts a message before it replies: every count is out once the source is done
        self.assertEqual(sink.stdout(), counter_output(self.M))
        self.assertEqual(sink.stop(), -signal.SIGTERM)
        counts, line = sink.stdout().split(b"\n", 1)
        self.assertEqual(counts + b"\n", counter_output(self.M) + b"\n")
        report = json.loads(line)
        self.assertEqual(report["tool"], "qmqp-sink")
        self.assertEqual(report["stopped_by"], "SIGTERM")
        # SIGTERM closes what is still open: every session has ended by the report
        self.assertEqual((report["connections"], report["sessions"], report["messages"]), (self.M, self.M, self.M))
        self.assertIsNone(report["recipients"])  # the sink does not parse the request
        self.assertEqual(report["replies"], {"K": self.M})
        self.assertGreater(report["data_bytes"], self.M * self.L)

    def test_text_after_a_good_and_a_bad_request(self):
        sink, _, target = start_sink(OUR_SINK, ["--report=text"])
        self.addCleanup(sink.stop)
        self.assertEqual(send_parts(target, [b"5:hello,"]), (b"3:KOk,", "eof"))  # any whole netstring is answered
        self.assertEqual(send_parts(target, [b"12x"]), (b"", "eof"))
        support.wait_until(lambda: b"netstring format error" in sink.stderr(), 10, "the warning")
        self.assertEqual(sink.stop(), -signal.SIGTERM)
        text = sink.stdout()
        self.assertIn(b"qmqp-sink report\n  connections: 2 accepted, 2 sessions ended, 0 QUIT\n", text)
        self.assertIn(b"\n  messages:    1, 11 data bytes\n", text)  # 8 + 3 bytes read
        self.assertIn(b"\n  replies:     K\xc3\x971\n", text)

if __name__ == "__main__":
    unittest.main()
