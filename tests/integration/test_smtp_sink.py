#!/usr/bin/env python3
"""Integration tests of mailload's smtp-sink against Postfix's real smtp-sink and smtp-source.

    python3 tests/integration/test_smtp_sink.py --bindir DIR [unittest options]

DIR holds our built `smtp-sink` (and `smtp-source`).  Postfix's /usr/sbin/smtp-sink is the
reference for every byte the server sends, every dump file it writes and every diagnostic it
prints (Debian 12: Postfix 3.7.11; its smtp-sink is the same as 3.11.6's).  Postfix's
/usr/sbin/smtp-source, Python's smtplib and swaks are the clients.

Both sinks are started through symlinks with the same basename (PFDIR/smtp-sink, OURDIR/smtp-sink)
and diagnostics are compared after replacing the exact argv[0] by "<ARGV0>".  Postfix's sink
refuses to run as root without -u, so both get `-u nobody` when we are root (ours accepts -u and
does not need it: see DeliberateDifferencesTest).

What is compared byte for byte: the whole server->client byte string of scripted client
conversations (sync points are "n more final reply lines", the end is the server's close or a
short deadline after the last expected reply), -v stderr lines (argv[0], fd numbers, TCP_MAXSEG
and buffer sizes and the listening port normalised), dump files (dates and the 8-hex ids
normalised), and command-line diagnostics with their exit status.  Where Postfix has a bug the
spec (§8 items 12-23) says we fix, the test asserts our behaviour and, where cheap, shows that
Postfix's differs.

All load goes to 127.0.0.1, ::1 or a unix socket in a private temporary directory; every process
has a time limit and only processes started here are stopped, by their PID.
"""

import concurrent.futures
import os
import re
import select
import smtplib
import socket
import stat
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import support  # noqa: E402

BINDIR = support.take_option(sys.argv, "--bindir")
POSTFIX_SMTP_SINK = "/usr/sbin/smtp-sink"
POSTFIX_SMTP_SOURCE = "/usr/sbin/smtp-source"
SWAKS = "/usr/bin/swaks"
HOST = socket.gethostname()
HOSTB = HOST.encode()

TMP = None          # module temp dir (support.TempDir)
PF = None           # symlink .../pf/smtp-sink -> Postfix's smtp-sink
OURS = None         # symlink .../ours/smtp-sink -> our smtp-sink
OUR_SOURCE = None   # our smtp-source
ARGV0 = "<ARGV0>"

STEP_TIMEOUT = 5.0  # seconds: how long a conversation step waits for its expected replies
QUIET = 0.4         # seconds: how long to keep reading after the last expected reply (open end)

USAGE = ("fatal: usage: %s [-468acCeEFLpPv] [-A abort_delay] [-b soft_bounce_reply] [-B hard_bounce_reply]"
         " [-d dump-template] [-D dump-template] [-f commands] [-h hostname] [-m max_concurrency]"
         " [-M message_quit_count] [-n quit_count] [-q commands] [-r commands] [-R root-dir] [-s commands]"
         " [-S start-string] [-u user_privs] [-w delay] [host]:port backlog" % ARGV0)

EHLO_ALL = (b"250-smtp-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n"
            b"250-XCLIENT NAME HELO\r\n250-XFORWARD NAME ADDR PROTO HELO\r\n250-ENHANCEDSTATUSCODES\r\n"
            b"250-DSN\r\n250 \r\n")
GREETING = b"220 smtp-sink ESMTP\r\n"


def setUpModule():
    global TMP, PF, OURS, OUR_SOURCE
    if not BINDIR:
        raise RuntimeError("usage: test_smtp_sink.py --bindir DIR [unittest args]")
    ours_real = os.path.join(BINDIR, "smtp-sink")
    if not os.access(ours_real, os.X_OK):
        raise RuntimeError("no executable smtp-sink in %s" % BINDIR)
    TMP = support.TempDir("mailload-sink-")
    os.chmod(TMP.path, 0o755)   # Postfix's sink runs as nobody (-u) and must reach dump dirs below
    PF = support.program_link(TMP.join("pf"), "smtp-sink", POSTFIX_SMTP_SINK)
    OURS = support.program_link(TMP.join("ours"), "smtp-sink", ours_real)
    OUR_SOURCE = os.path.join(BINDIR, "smtp-source")


def tearDownModule():
    if TMP:
        TMP.cleanup()


def user_args():
    return support.sink_user_args()


# ------------------------------------------------------------------------------------------------
# starting sinks
# ------------------------------------------------------------------------------------------------

def start_sink(program, options=(), family="inet", workdir=None, user=True, backlog=256):
    """Start `program` (PF or OURS) with `options` on 127.0.0.1 ('inet'), [::1] ('inet6'), the
    default wildcard ':port' ('wild') or a unix socket ('unix').

    Returns (ServerProcess, target) where target is what support.connect_to() takes
    (for 'wild': the port number)."""
    workdir = workdir or TMP.path
    opts = (user_args() if user else []) + list(options)
    name = "pf-sink" if program == PF else "our-sink"
    if family == "unix":
        path = os.path.join(workdir, "s%d.sock" % support.serial())
        server, _ = support.start_listening_process(
            lambda p: [program] + opts + ["unix:" + p, str(backlog)], workdir, name=name, unix_path=path)
        return server, path
    if family == "inet6":
        server, port = support.start_listening_process(
            lambda p: [program] + opts + ["[::1]:%d" % p, str(backlog)], workdir, name=name, host="::1")
        return server, ("::1", port)
    if family == "wild":
        server, port = support.start_listening_process(
            lambda p: [program] + opts + [":%d" % p, str(backlog)], workdir, name=name)
        return server, port
    server, port = support.start_listening_process(
        lambda p: [program] + opts + ["127.0.0.1:%d" % p, str(backlog)], workdir, name=name)
    return server, ("127.0.0.1", port)


def client_address(target):
    """smtp-source's address for a target."""
    if isinstance(target, str):
        return "unix:" + target
    host, port = target
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


class SinkPool:
    """Sinks shared by the tests of one class, keyed by (program, options, family)."""

    def __init__(self):
        self.sinks = {}
        self.lock = threading.Lock()

    def get(self, program, options=(), family="inet"):
        key = (program, tuple(options), family)
        with self.lock:
            if key not in self.sinks:
                self.sinks[key] = start_sink(program, options, family)
            return self.sinks[key]

    def stop_all(self):
        for server, _ in self.sinks.values():
            server.stop()
        self.sinks.clear()


def wait_exit(server, timeout):
    """Wait (deadline) until a ServerProcess exits by itself; return its status (None if not)."""
    try:
        support.wait_until(lambda: not server.alive(), timeout, "%s to exit" % server.name)
    except TimeoutError:
        return None
    return server.proc.returncode


def counters(server):
    return support.sink_counters(server.stdout(), complete_only=True)


def wait_counters(server, predicate, timeout=10, what="counters"):
    """Wait until the last complete -c record satisfies predicate; return the records."""
    def ok():
        recs = counters(server)
        return bool(recs) and predicate(recs[-1])
    support.wait_until(ok, timeout, what)
    return counters(server)


# ------------------------------------------------------------------------------------------------
# scripted conversations
# ------------------------------------------------------------------------------------------------

def final_lines(data):
    """Number of complete reply lines in `data` that end a reply (no '-' after the code)."""
    n = 0
    for line in data.split(b"\n")[:-1]:
        if line[3:4] != b"-":
            n += 1
    return n


class Transcript:
    def __init__(self):
        self.data = bytearray()     # every byte the server sent
        self.chunks = []            # (seconds since connect, bytes) per recv()
        self.closed = False         # the server closed (EOF or reset)
        self.t0 = time.monotonic()

    def wire(self):
        """The server->client bytes, with a marker if the server closed."""
        return bytes(self.data) + (b"<CLOSED>" if self.closed else b"")


def converse(target, steps, end="close", step_timeout=STEP_TIMEOUT, quiet=QUIET, sock=None):
    """Talk to a server: `steps` is a list of (bytes to send or None, n) where n is the number of
    final reply lines this step should bring.  Each step sends its bytes in ONE write (a pipelined
    burst stays one burst) and then reads until n more final lines arrived, the server closed, or
    `step_timeout` passed (a wrong count only costs time: the whole byte string is compared).

    end="close": afterwards read until the server closes (or step_timeout);
    end="open": afterwards read for `quiet` seconds more (the server is expected to stay open).
    """
    sock = sock or support.connect_to(target)
    tr = Transcript()

    def pump(predicate, timeout):
        deadline = time.monotonic() + timeout
        while not tr.closed and not predicate():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            r, _, _ = select.select([sock], [], [], left)
            if not r:
                continue
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                tr.closed = True
                return
            tr.data.extend(data)
            tr.chunks.append((time.monotonic() - tr.t0, data))

    expected = 0
    try:
        for send, n in steps:
            if send and not tr.closed:
                try:
                    sock.sendall(send)
                except OSError:
                    pass
            expected += n
            pump(lambda: final_lines(tr.data) >= expected, step_timeout)
        if end == "close":
            pump(lambda: False, step_timeout)
        else:
            pump(lambda: False, quiet)
    finally:
        sock.close()
    return tr


def dialog(*lines, greeting=1):
    """Steps for a simple dialog: the greeting, then each line sent alone bringing one reply."""
    return [(None, greeting)] + [(line if line.endswith(b"\n") else line + b"\r\n", 1) for line in lines]


def show(data):
    """Bytes as a list of lines, for readable assertion messages."""
    return [l + b"\n" for l in bytes(data).split(b"\n")]


V_NORM = [
    (re.compile(rb"fd=\d+"), b"fd=<N>"),
    (re.compile(rb"TCP_MAXSEG \d+"), b"TCP_MAXSEG <N>"),
    (re.compile(rb"stream buffer size old=0 new=\d+"), b"stream buffer size old=0 new=<N>"),
    (re.compile(rb"\]:\d+$", re.M), b"]:<PORT>"),
]


def norm_diag(text, program):
    return support.normalise_argv0(text, program, ARGV0)


def norm_verbose(text, program):
    text = norm_diag(text, program)
    for rx, rep in V_NORM:
        text = rx.sub(rep, text)
    return text


# ================================================================================================
# 1. counting: Postfix's smtp-source against our sink
# ================================================================================================

class CountingTest(unittest.TestCase):
    """Postfix's smtp-source -s 10 -m 5000 -l 1000: every message and session counted by our -c."""

    MESSAGES = 5000
    SESSIONS = 10

    def run_counting(self, family, lmtp, keep, source=POSTFIX_SMTP_SOURCE):
        sink, target = start_sink(OURS, ["-c"] + (["-L"] if lmtp else []), family)
        self.addCleanup(sink.stop)
        args = [source, "-s", str(self.SESSIONS), "-m", str(self.MESSAGES), "-l", "1000"]
        args += (["-L"] if lmtp else []) + (["-d"] if keep else [])
        address = client_address(target) if family != "wild" else "127.0.0.1:%d" % target
        res = support.run(args + [address])
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(res.stderr, b"", res)
        connections = self.SESSIONS if keep else self.MESSAGES
        # smtp-source has seen every reply; the sink counts a session when it closes it after
        # QUIT (and smtp-source resets at once): wait for the last close to be counted.
        records = wait_counters(sink, lambda r: r["sess"] >= connections, 20,
                                "our sink to count %d sessions" % connections)
        self.assertEqual(records[-1], {"sess": connections, "quit": connections, "mesg": self.MESSAGES})
        # one record per message and one per session, in counting order
        self.assertEqual(len(records), self.MESSAGES + connections)
        mesg = [r["mesg"] for r in records]
        self.assertEqual(mesg, sorted(mesg))
        self.assertEqual(set(mesg), set(range(1, self.MESSAGES + 1)))
        self.assertTrue(sink.stdout().endswith(b"\r"))
        self.assertTrue(sink.alive())
        self.assertEqual(sink.stderr(), b"")

    def test_ipv4_smtp(self):
        self.run_counting("inet", lmtp=False, keep=False)

    def test_ipv4_smtp_d(self):
        self.run_counting("inet", lmtp=False, keep=True)

    def test_ipv4_lmtp(self):
        self.run_counting("inet", lmtp=True, keep=False)

    def test_ipv4_lmtp_d(self):
        self.run_counting("inet", lmtp=True, keep=True)

    def test_ipv6_smtp(self):
        self.run_counting("inet6", lmtp=False, keep=False)

    def test_ipv6_smtp_d(self):
        self.run_counting("inet6", lmtp=False, keep=True)

    def test_ipv6_lmtp(self):
        self.run_counting("inet6", lmtp=True, keep=False)

    def test_ipv6_lmtp_d(self):
        self.run_counting("inet6", lmtp=True, keep=True)

    def test_unix_smtp(self):
        self.run_counting("unix", lmtp=False, keep=False)

    def test_unix_smtp_d(self):
        self.run_counting("unix", lmtp=False, keep=True)

    def test_unix_lmtp(self):
        self.run_counting("unix", lmtp=True, keep=False)

    def test_unix_lmtp_d(self):
        self.run_counting("unix", lmtp=True, keep=True)

    def test_our_source_to_our_sink(self):
        self.run_counting("inet", lmtp=False, keep=True, source=OUR_SOURCE)

    def test_wildcard_ipv4_and_ipv6(self):
        """Our default wildcard listener ':port' takes 127.0.0.1 AND ::1 (Postfix's: IPv4 only)."""
        sink, port = start_sink(OURS, ["-c"], "wild")
        self.addCleanup(sink.stop)
        n = 500
        for i, address in enumerate(("127.0.0.1:%d" % port, "[::1]:%d" % port)):
            res = support.run([POSTFIX_SMTP_SOURCE, "-s", "5", "-m", str(n), address])
            self.assertEqual(res.returncode, 0, res)
            records = wait_counters(sink, lambda r, i=i: r["sess"] >= (i + 1) * n, 20)
            self.assertEqual(records[-1], {"sess": (i + 1) * n, "quit": (i + 1) * n, "mesg": (i + 1) * n})

    def test_unix_socket_mode(self):
        """unix:path: the socket file is mode 0666, as Postfix's."""
        modes = []
        for program in (PF, OURS):
            sink, path = start_sink(program, [], "unix")
            self.addCleanup(sink.stop)
            modes.append(stat.S_IMODE(os.stat(path).st_mode))
            self.assertTrue(stat.S_ISSOCK(os.stat(path).st_mode))
        self.assertEqual(modes, [0o666, 0o666])


# ================================================================================================
# 2. byte for byte: scripted clients against Postfix's sink and ours
# ================================================================================================

class WireTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.pool = SinkPool()

    @classmethod
    def tearDownClass(cls):
        cls.pool.stop_all()

    def both(self, options, steps, end="close", family="inet", fresh=False):
        """Run the conversation against Postfix's sink and ours (in parallel); return
        (postfix Transcript, our Transcript, postfix server, our server)."""
        if fresh:
            servers = []
            for program in (PF, OURS):
                server, target = start_sink(program, options, family)
                self.addCleanup(server.stop)
                servers.append((server, target))
        else:
            servers = [self.pool.get(PF, options, family), self.pool.get(OURS, options, family)]
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            futs = [ex.submit(converse, target, steps, end) for _, target in servers]
            pf, ours = [f.result() for f in futs]
        return pf, ours, servers[0][0], servers[1][0]

    def compare(self, options, steps, end="close", expected=None, family="inet", fresh=False):
        """Assert that our sink sends exactly the bytes Postfix's sends; if `expected` is given,
        also that Postfix's sends that (the capture in postfix-observed.txt)."""
        pf, ours, pfs, ourss = self.both(options, steps, end, family, fresh)
        ctx = "sink options %r" % (list(options),)
        if expected is not None:
            self.assertEqual(show(pf.wire()), show(expected), "Postfix's reference differs from the capture; " + ctx)
        self.assertEqual(show(ours.wire()), show(pf.wire()), ctx)
        return pf, ours, pfs, ourss

    # -- dialogs ------------------------------------------------------------------------------

    NORMAL = dialog(b"HELO client.example", b"MAIL FROM:<a@b>", b"RCPT TO:<c@d>", b"DATA") + [
        (b"Subject: hi\r\n\r\nbody\r\n.\r\n", 1)] + dialog(b"QUIT", greeting=0)[1:]

    def test_normal_dialog(self):
        self.compare([], self.NORMAL, expected=GREETING + b"250 smtp-sink\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                     b"354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok\r\n221 Bye\r\n<CLOSED>")

    def test_normal_dialog_ipv6_and_unix(self):
        for family in ("inet6", "unix"):
            with self.subTest(family=family):
                self.compare([], self.NORMAL, family=family)

    def test_normal_dialog_verbose_stderr(self):
        """-v: the same stderr lines (argv[0], fd, TCP_MAXSEG, buffer size, port normalised)."""
        _, _, pfs, ourss = self.compare(["-v"], self.NORMAL, fresh=True)
        for s in (pfs, ourss):
            support.wait_until(lambda s=s: s.stderr().endswith(b": disconnect\n"), 5, "-v disconnect line")
        pf_err = norm_verbose(pfs.stderr(), PF)
        our_err = norm_verbose(ourss.stderr(), OURS)
        self.assertEqual(our_err.splitlines(), pf_err.splitlines())
        self.assertIn(b"<ARGV0>: connect (AF_INET 127.0.0.1)\n", our_err)
        self.assertIn(b"<ARGV0>: HELO client.example\n<ARGV0>: MAIL FROM:<a@b>\n", our_err)

    def test_verbose_stderr_unix(self):
        _, _, pfs, ourss = self.compare(["-v"], self.NORMAL, family="unix", fresh=True)
        for s in (pfs, ourss):
            support.wait_until(lambda s=s: s.stderr().endswith(b": disconnect\n"), 5, "-v disconnect line")
        pf_err = norm_verbose(pfs.stderr(), PF).replace(pfs.args[-2][len("unix:"):].encode(), b"<PATH>")
        our_err = norm_verbose(ourss.stderr(), OURS).replace(ourss.args[-2][len("unix:"):].encode(), b"<PATH>")
        self.assertEqual(our_err.splitlines(), pf_err.splitlines())

    def test_verbose_startup_lines(self):
        """-v start-up lines for each listen address form (port and path normalised)."""
        forms = [([], "[::1]:%d", "::1"), (["-6"], ":%d", "::"), (["-4"], ":%d", "127.0.0.1"),
                 ([], "inet:127.0.0.1:%d", "127.0.0.1"), ([], "[127.0.0.1]:%d", "127.0.0.1"), ([], "unix:%s", None)]
        for options, form, host in forms:
            with self.subTest(form=form, options=options):
                outs = []
                for program in (PF, OURS):
                    args = lambda where: [program] + user_args() + ["-v"] + options + [form % where, "5"]
                    if host is None:
                        path = TMP.join("v%d.sock" % support.serial())
                        server, _ = support.start_listening_process(args, TMP.path, unix_path=path)
                    else:
                        server, where = support.start_listening_process(args, TMP.path, host=host)
                        path = None
                    server.stop()
                    err = norm_verbose(server.stderr(), program)
                    outs.append(err.replace(path.encode(), b"<PATH>") if path else err)
                self.assertEqual(outs[1].splitlines(), outs[0].splitlines())

    # -- EHLO lists ---------------------------------------------------------------------------

    EHLO_SCRIPT = dialog(b"EHLO client.example", b"XCLIENT NAME=x", b"XFORWARD NAME=x", b"AUTH PLAIN AAAA",
                         b"HELO c", b"LHLO x", b"QUIT")

    def test_ehlo_default(self):
        self.compare([], self.EHLO_SCRIPT, expected=GREETING + EHLO_ALL + b"250 2.0.0 Ok\r\n" * 3 +
                     b"250 smtp-sink\r\n500 5.5.1 Error: unknown command\r\n221 Bye\r\n<CLOSED>")

    def test_ehlo_each_flag(self):
        for flag in ("-8", "-a", "-C", "-E", "-F", "-N", "-p"):
            with self.subTest(flag=flag):
                _, ours, _, _ = self.compare([flag], self.EHLO_SCRIPT)
                self.assertEqual(ours.wire().count(b"250-"), 8 - 1)

    def test_ehlo_all_flags(self):
        self.compare(["-8", "-a", "-C", "-F", "-E", "-N", "-p"], dialog(b"EHLO x", b"QUIT"),
                     expected=GREETING + b"250-smtp-sink\r\n250 \r\n221 Bye\r\n<CLOSED>")
        self.compare(["-8", "-a", "-E", "-p"], self.EHLO_SCRIPT)

    def test_e_P_h(self):
        script = dialog(b"EHLO c", b"HELO c", b"QUIT")
        self.compare(["-e"], script, expected=b"220 smtp-sink\r\n500 5.5.1 Error: unknown command\r\n"
                     b"250 smtp-sink\r\n221 Bye\r\n<CLOSED>")
        self.compare(["-8", "-a", "-e", "-E", "-p"], script)
        self.compare(["-P"], script, expected=b"220 ********\r\n500 5.5.1 Error: unknown command\r\n"
                     b"250 smtp-sink\r\n221 Bye\r\n<CLOSED>")
        self.compare(["-P", "-h", "mx.example"], script)
        self.compare(["-h", "mx.example"], dialog(b"EHLO c", b"HELO c", b"QUIT"),
                     expected=b"220 mx.example ESMTP\r\n" + EHLO_ALL.replace(b"smtp-sink", b"mx.example") +
                     b"250 mx.example\r\n221 Bye\r\n<CLOSED>")

    def test_lmtp_hello_commands(self):
        script = dialog(b"LHLO x", b"HELO x", b"EHLO x", b"QUIT")
        self.compare(["-L"], script, expected=GREETING + EHLO_ALL + b"500 5.5.1 Error: unknown command\r\n" * 2 +
                     b"221 Bye\r\n<CLOSED>")
        self.compare(["-L", "-e"], script)
        self.compare(["-L", "-P", "-h", "lmtp.example"], script)

    # -- pipelining ---------------------------------------------------------------------------

    BURST = (b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\nDATA\r\nSubject: x\r\n\r\n"
             b"..dot\r\nbody\r\n.\r\nRSET\r\nNOOP\r\nQUIT\r\n")

    def test_pipelined_burst_one_write(self):
        """Obs 13: every reply to one pipelined burst comes back in a single write."""
        expected_replies = (EHLO_ALL + b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
                            b"354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n"
                            b"250 2.0.0 Ok\r\n221 Bye\r\n")
        pf, ours, _, _ = self.compare([], [(None, 1), (self.BURST, 8)],
                                      expected=GREETING + expected_replies + b"<CLOSED>")
        for who, tr in (("postfix", pf), ("ours", ours)):
            self.assertEqual([c for _, c in tr.chunks], [GREETING, expected_replies], who)

    def test_pipelined_without_pipelining_announced(self):
        _, ours, _, _ = self.compare(["-p"], [(None, 1), (self.BURST, 8)])
        self.assertEqual(len(ours.chunks), 2)

    # -- sequencing errors and misc commands (obs 12) ----------------------------------------

    SEQUENCE = dialog(b"RCPT TO:<a@b>", b"DATA", b"mail from:<x@y> SIZE=10", b"MAIL FROM:<x@y>", b"DATA",
                      b"RCPT TO:<a@b>", b"RSET", b"DATA", b"NOOP", b"VRFY foo", b"FOO bar", b"", b"   ", b".",
                      b"helo", b"QUIT extra")
    SEQUENCE_REPLIES = (GREETING + b"503 5.5.1 Error: need MAIL command\r\n503 5.5.1 Error: need RCPT command\r\n"
                        b"250 2.1.0 Ok\r\n503 5.5.1 Error: nested MAIL command\r\n"
                        b"503 5.5.1 Error: need RCPT command\r\n250 2.1.5 Ok\r\n250 2.1.0 Ok\r\n"
                        b"503 5.5.1 Error: need RCPT command\r\n250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n"
                        b"500 5.5.1 Error: unknown command\r\n500 5.5.2 Error: unknown command\r\n"
                        b"500 5.5.2 Error: unknown command\r\n250 2.0.0 Ok\r\n250 smtp-sink\r\n221 Bye\r\n<CLOSED>")

    def test_sequencing_errors(self):
        self.compare([], self.SEQUENCE, expected=self.SEQUENCE_REPLIES)

    def test_sequencing_errors_verbose(self):
        _, _, pfs, ourss = self.compare(["-v"], self.SEQUENCE, expected=self.SEQUENCE_REPLIES, fresh=True)
        for s in (pfs, ourss):
            support.wait_until(lambda s=s: s.stderr().endswith(b": disconnect\n"), 5, "-v disconnect line")
        self.assertEqual(norm_verbose(ourss.stderr(), OURS).splitlines(),
                         norm_verbose(pfs.stderr(), PF).splitlines())

    def test_sequencing_pipelined(self):
        """The same commands in one burst: the same bytes."""
        burst = b"".join(s for s, _ in self.SEQUENCE[1:])
        self.compare([], [(None, 1), (burst, 16)], expected=self.SEQUENCE_REPLIES)

    def test_misc_commands(self):
        script = dialog(b"EHLO a", b"MAIL FROM:garbage", b"RCPT TO:", b"RCPT", b"DATA") + [
            (b".\r\n", 1)] + dialog(b"\tNOOP", b"NOOP\tx", b"  QUIT", b"MAIL", b"xclient", b"Quit now",
                                    greeting=0)[1:]
        self.compare([], script)
        self.compare([], dialog(b"DATA", b"MAIL FROM:<a>", b"HELO x", b"RCPT TO:<b>", b"EHLO y", b"RCPT TO:<b>",
                                b"QUIT"))

    # -- -f/-r/-q/-Q (obs 16) ------------------------------------------------------------------

    FULL = dialog(b"EHLO x", b"HELO x", b"MAIL FROM:<>", b"RCPT TO:<a>", b"DATA") + [
        (b"hello\r\n.\r\n", 1)] + dialog(b"NOOP", b"QUIT", greeting=0)[1:]
    FULL_LMTP = dialog(b"LHLO x", b"MAIL FROM:<>", b"RCPT TO:<a>", b"RCPT TO:<b>", b"DATA") + [
        (b"hello\r\n.\r\n", 2)] + dialog(b"NOOP", b"QUIT", greeting=0)[1:]

    def test_obs16_custom_replies(self):
        self.compare(["-b", "451 4.7.0 go away", "-B", "554 5.7.1 no way", "-r", "connect,helo", "-f", "MAIL rcpt"],
                     dialog(b"HELO x", b"EHLO x", b"MAIL FROM:<>", b"RCPT TO:<a>", b"QUIT"),
                     expected=b"451 4.7.0 go away\r\n451 4.7.0 go away\r\n" + EHLO_ALL.replace(b"250-PIPELINING\r\n", b"")
                     + b"554 5.7.1 no way\r\n554 5.7.1 no way\r\n221 Bye\r\n<CLOSED>")

    # In LMTP mode a '.' outside DATA is a deliberate difference (BugFixTest), so when DATA is refused
    # the LMTP script sends no message content.
    FULL_LMTP_NO_CONTENT = dialog(b"LHLO x", b"MAIL FROM:<>", b"RCPT TO:<a>", b"RCPT TO:<b>", b"DATA", b"NOOP",
                                  b"QUIT")

    @staticmethod
    def ends_open(options):
        """True if the session should survive the script: QUIT is refused (-f/-r) and not dropped."""
        lists = {}
        for flag, value in zip(options, options[1:]):
            if flag in ("-f", "-r", "-q", "-Q"):
                lists.setdefault(flag, set()).update(
                    x.lower() for x in value.replace(",", " ").replace("\t", " ").replace("\n", " ").split())
        refused = lists.get("-f", set()) | lists.get("-r", set())
        dropped = lists.get("-q", set()) | lists.get("-Q", set())
        return bool(dropped) is False and "quit" in refused

    def test_action_lists(self):
        """Each of -f -r -q -Q with each command (and a few lists), SMTP and LMTP."""
        cases = []
        for flag in ("-f", "-r", "-q", "-Q"):
            for cmd in ("connect", "helo", "ehlo", "mail", "rcpt", "data", ".", "noop", "quit"):
                cases.append(([flag, cmd], self.FULL))
            for cmd in ("connect", "lhlo", "mail", "rcpt", "data", ".", "quit"):
                refused_data = flag in ("-f", "-r") and cmd in ("mail", "rcpt", "data")
                cases.append((["-L", flag, cmd], self.FULL_LMTP_NO_CONTENT if refused_data else self.FULL_LMTP))
        cases += [
            (["-f", "CONNECT,Helo"], self.FULL),
            (["-r", "mail\trcpt\ndata"], self.FULL),
            (["-f", "rcpt", "-r", "rcpt"], self.FULL),          # -f wins over -r
            (["-Q", "rcpt", "-f", "rcpt"], self.FULL),          # -Q wins over -f
            (["-q", "rcpt", "-Q", "rcpt"], self.FULL),          # -q wins over -Q
            (["-b", "450", "-r", "helo,."], self.FULL),          # a bare code is a whole reply
            (["-b", "421 4.4.2 bye", "-r", "helo"], self.FULL),  # a 421 text does not disconnect
            (["-B", "599 x", "-L", "-f", "."], self.FULL_LMTP),
            (["-r", "quit,noop"], self.FULL),
        ]

        def run(case):
            options, script = case
            end = "open" if self.ends_open(options) else "close"
            _, pf_target = self.pool.get(PF, options)
            _, our_target = self.pool.get(OURS, options)
            return converse(pf_target, script, end), converse(our_target, script, end)

        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            results = list(ex.map(run, cases))
        for (options, _), (pf, ours) in zip(cases, results):
            with self.subTest(options=options):
                self.assertEqual(show(ours.wire()), show(pf.wire()))
        # spot checks of the reference itself (obs 16)
        by = {tuple(o): r for (o, _), r in zip(cases, results)}
        self.assertEqual(by[("-q", "connect")][0].wire(), b"<CLOSED>")
        self.assertEqual(by[("-Q", "connect")][0].wire(), b"421 4.0.0 Server closing connection\r\n<CLOSED>")
        self.assertTrue(by[("-f", "connect")][0].wire().startswith(b"500 5.3.0 Error: command failed\r\n250-"))
        self.assertTrue(by[("-f", "quit")][0].wire().endswith(b"500 5.3.0 Error: command failed\r\n"))
        self.assertTrue(by[("-Q", "data")][0].wire().endswith(
            b"250 2.1.5 Ok\r\n421 4.0.0 Server closing connection\r\n<CLOSED>"))

    # -- line limits, bare LF, odd bytes ----------------------------------------------------------

    def test_line_2046_accepted(self):
        line = b"NOOP " + b"x" * 2041
        self.assertEqual(len(line), 2046)
        self.compare([], dialog(line, b"QUIT"), expected=GREETING + b"250 2.0.0 Ok\r\n221 Bye\r\n<CLOSED>")
        # the CR and the LF in separate writes
        self.compare([], [(None, 1), (line + b"\r", 0), (b"\n", 1), (b"QUIT\r\n", 1)],
                     expected=GREETING + b"250 2.0.0 Ok\r\n221 Bye\r\n<CLOSED>")

    def check_too_long(self, steps):
        _, _, pfs, ourss = self.compare([], steps, expected=GREETING + b"<CLOSED>", fresh=True)
        for s in (pfs, ourss):
            support.wait_until(lambda s=s: s.stderr() != b"", 5, "the warning")
        self.assertEqual(norm_diag(pfs.stderr(), PF), b"<ARGV0>: warning: command line too long\n")
        self.assertEqual(norm_diag(ourss.stderr(), OURS), b"<ARGV0>: warning: command line too long\n")
        self.assertTrue(ourss.alive())

    def test_line_2047_disconnect(self):
        self.check_too_long([(None, 1), (b"NOOP " + b"x" * 2042 + b"\r\nQUIT\r\n", 1)])

    def test_line_without_crlf_disconnect(self):
        self.check_too_long([(None, 1), (b"NOOP " + b"x" * 2042, 0), (b"\r\n", 1)])

    def test_line_too_long_bare_lfs(self):
        self.check_too_long([(None, 1), (b"HELO x\n" * 400, 1)])

    def test_bare_lf_inside_line(self):
        """Obs 14: only CR LF ends a line."""
        self.compare([], [(None, 1), (b"HELO bare-lf\nNOOP\n", 0), (b"NOOP\r\n", 1), (b"QUIT\r\n", 1)],
                     expected=GREETING + b"250 smtp-sink\r\n221 Bye\r\n<CLOSED>")
        self.compare([], [(None, 1), (b"NOOP\rHELO\r\r\n", 1), (b"\n\r\nQUIT\r", 1), (b"\n", 1)])

    def test_control_and_8bit_bytes_verbose(self):
        """Obs 14b: the -v lines are cut at NUL and unprintables become '?'; replies unchanged."""
        script = dialog(b"NOOP \x00\x01\xff\x7f tail", b"MAIL FROM:\x01<x>", b"\x00HELO x", b"NO\xffOP",
                        b"RCPT TO:<\x80\x1b>", b"QUIT")
        _, _, pfs, ourss = self.compare(["-v"], script, fresh=True)
        for s in (pfs, ourss):
            support.wait_until(lambda s=s: s.stderr().endswith(b": disconnect\n"), 5, "-v disconnect line")
        pf_err = norm_verbose(pfs.stderr(), PF)
        self.assertIn(b"<ARGV0>: NOOP \n<ARGV0>: MAIL FROM:?<x>\n", pf_err)
        self.assertEqual(norm_verbose(ourss.stderr(), OURS).splitlines(), pf_err.splitlines())

    # -- DATA ------------------------------------------------------------------------------

    def test_data_content(self):
        head = dialog(b"HELO x", b"MAIL FROM:<a>", b"RCPT TO:<b>", b"DATA")
        quit = [(b"QUIT\r\n", 1)]
        scripts = [
            head + [(b"..dot\r\n.\rlone CR\r\nbare\nLF\r\n.\n\r\n. \r\n.x\r\n.\r\n", 1)] + quit,
            head + [(b".\r\n", 1)] + quit,                       # empty message
            head + [(b"a\r\n.", 0), (b"\r", 0), (b"\n", 1)] + quit,   # end marker split up
            head + [(b"a\r", 0), (b"\n.\r\n", 1)] + quit,
            head + [(b"x" * 100000 + b"\r\n.\r\n", 1)] + quit,   # data lines have no length limit
            head + [(b"a\r\n.\r\nNOOP\r\nMAIL FROM:<c>\r\nRCPT TO:<d>\r\nDATA\r\n.\r\n", 5)] + quit,
            head + [(b"\r\n.\r\n", 1)] + quit,
            head + [(b"a\r\r\n.\r\n", 1)] + quit,
            head + [(b"a\r\n\r.\r\n.\r\n", 1)] + quit,
        ]
        for i, script in enumerate(scripts):
            with self.subTest(script=i):
                self.compare([], script)

    def test_lmtp_several_recipients_r_dot(self):
        """Obs 17 without the stray '.' (see BugFixTest for that): one reply per recipient."""
        burst = (b"LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<a>\r\nRCPT TO:<b>\r\nDATA\r\nhi\r\n.\r\nMAIL FROM:<>\r\n"
                 b"RCPT TO:<a>\r\nDATA\r\nhi\r\n.\r\nHELO x\r\nEHLO x\r\nQUIT\r\n")
        self.compare(["-L", "-r", "."], [(None, 1), (burst, 12)],
                     expected=GREETING + EHLO_ALL.replace(b"250-PIPELINING\r\n", b"") +
                     b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n" +
                     b"450 4.3.0 Error: command failed\r\n" * 2 +
                     b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n" +
                     b"450 4.3.0 Error: command failed\r\n" + b"500 5.5.1 Error: unknown command\r\n" * 2 +
                     b"221 Bye\r\n<CLOSED>")
        script = dialog(b"LHLO x", b"MAIL FROM:<>", b"RCPT TO:<a>", b"RCPT TO:<b>", b"RCPT TO:<c>", b"DATA") + [
            (b"hi\r\n.\r\n", 3)] + dialog(b"RSET", b"MAIL FROM:<>", b"RCPT TO:<a>", b"DATA", greeting=0)[1:] + [
            (b"hi\r\n.\r\n", 1), (b"QUIT\r\n", 1)]
        self.compare(["-L"], script)
        self.compare(["-L", "-f", "."], script)

    def test_delays_same_bytes(self):
        """-w and -W give the same bytes (and ours the replies late, as Postfix's)."""
        script = dialog(b"HELO x", b"MAIL FROM:<>", b"RCPT TO:<a>", b"DATA") + [(b"x\r\n.\r\n", 1), (b"QUIT\r\n", 1)]
        pf, ours, _, _ = self.compare(["-w", "1", "-W", "helo:1"], script)
        for who, tr in (("postfix", pf), ("ours", ours)):
            t = {data: at for at, data in tr.chunks}
            self.assertGreaterEqual(t[b"250 smtp-sink\r\n"], 0.9, who)
            self.assertGreaterEqual(t[b"354 End data with <CR><LF>.<CR><LF>\r\n"] - t[b"250 2.1.5 Ok\r\n"], 0.9, who)
        # -H 1: the data is read (and "." answered) one second after the 354
        pf, ours, _, _ = self.compare(["-H", "1"], script)
        for who, tr in (("postfix", pf), ("ours", ours)):
            t = {data: at for at, data in tr.chunks}
            self.assertGreaterEqual(t[b"250 2.0.0 Ok\r\n"] - t[b"354 End data with <CR><LF>.<CR><LF>\r\n"], 0.9, who)


# ================================================================================================
# 3. dump files
# ================================================================================================

DUMP_BURST = (b"EHLO  client.example\r\nMAIL FROM:  <a@b> SIZE=5\r\nRCPT TO:<c@d> NOTIFY=NEVER\r\nRCPT TO:<e@f>\r\n"
              b"DATA\r\nSubject: x\r\n\r\n..dot\r\nbare\rCR\r\nend\r\n.\r\nMAIL FROM:<x@y>\r\nRCPT TO:<z@w>\r\n"
              b"RSET\r\nQUIT\r\n")
START_ARG = r"\nSTART\t\101\\\n"
START = b"\nSTART\tA\\\n"

RECEIVED_RE = re.compile(rb"^(\tby [^\n]* id )([0-9a-f]{8});\n\t([^\n]*)\n", re.M)
DATE_HDR_RE = re.compile(rb"^Date: [^\n]*\n", re.M)
# smtp-source's Message-Id is <pid>.<fd>.<messages left>@host: which session (fd) sends which
# message, and what the shared counter reads then, is a race between the client's sessions
MSGID_RE = re.compile(rb"^Message-Id: <[0-9a-f]+\.[0-9a-f]+\.[0-9a-f]+@", re.M)
# spec §1.6 (Postfix <= 3.8, Debian 12's): day of month space-padded
DATE_38 = re.compile(rb"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [ 123]\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
                     rb" \d{4} \d\d:\d\d:\d\d [+-]\d{4} \([^)]*\)$")


def norm_dump(data):
    """Dates and ids out; returns (normalised bytes, [ids], [dates])."""
    ids = [m.group(2) for m in RECEIVED_RE.finditer(data)]
    dates = [m.group(3) for m in RECEIVED_RE.finditer(data)]
    data = RECEIVED_RE.sub(lambda m: m.group(1) + b"<ID>;\n\t<DATE>\n", data)
    data = DATE_HDR_RE.sub(b"Date: <DATE>\n", data)
    data = MSGID_RE.sub(b"Message-Id: <<PID>.<FD>.<LEFT>@", data)
    return data, ids, dates


def tree(root):
    """{relative path: (kind, mode, content or None)} of everything under root."""
    out = {}
    for d, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(d, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            if stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode), None)
            else:
                with open(p, "rb") as f:
                    out[rel] = ("file", stat.S_IMODE(st.st_mode), f.read())
    return out


class DumpTest(unittest.TestCase):

    def dump_dir(self, name):
        d = TMP.join("dump-%s-%d" % (name, support.serial()))
        os.mkdir(d)
        os.chmod(d, 0o777)   # Postfix's sink writes as nobody
        self.addCleanup(support.remove_tempdir, d)
        return d

    def run_d(self, program):
        d = self.dump_dir("d")
        before = time.time()
        sink, target = start_sink(program, ["-d", d + "/%Y%m%d/%H%M.", "-S", START_ARG])
        self.addCleanup(sink.stop)
        tr = converse(target, [(None, 1), (DUMP_BURST, 10)])
        self.assertEqual(tr.wire(), GREETING + EHLO_ALL + b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
                         b"354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                         b"250 2.1.0 Ok\r\n221 Bye\r\n<CLOSED>")
        res = support.run([POSTFIX_SMTP_SOURCE, "-m", "2", "-d", client_address(target)])
        self.assertEqual(res.returncode, 0, res)
        after = time.time()
        return d, tree(d), before, after

    def check_d_tree(self, d, t, before, after, who):
        """File names DIR/%Y%m%d/%H%M.<8 hex> with the Received id as suffix; modes 0644/0755."""
        stamps = {time.strftime("%Y%m%d/%H%M.", time.localtime(x)) for x in (before, after)}
        files = {}
        for rel, (kind, mode, content) in t.items():
            if kind == "dir":
                self.assertEqual(mode, 0o755, "%s: %s" % (who, rel))
                continue
            self.assertEqual(mode, 0o644, "%s: %s" % (who, rel))
            m = re.fullmatch(r"(\d{8}/\d{4}\.)([0-9a-f]{8})", rel)
            self.assertIsNotNone(m, "%s: file name %s" % (who, rel))
            self.assertIn(m.group(1), stamps, who)
            norm, ids, dates = norm_dump(content)
            self.assertEqual(ids, [m.group(2).encode()], "%s: Received id = file suffix" % who)
            for date in dates:
                self.assertRegex(date, DATE_38)
            files[rel] = norm
        return sorted(files.values())

    def test_d_per_message_files(self):
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            pf_f, our_f = ex.submit(self.run_d, PF), ex.submit(self.run_d, OURS)
            pf, ours = pf_f.result(), our_f.result()
        pf_files = self.check_d_tree(*pf, "postfix")
        our_files = self.check_d_tree(*ours, "ours")
        # three messages: the python one and smtp-source's two; the aborted transaction left nothing
        self.assertEqual(len(pf_files), 3)
        self.assertEqual(len(our_files), 3)
        for o, p in zip(our_files, pf_files):
            self.assertEqual(show(o), show(p))
        python_msg = [f for f in our_files if b"client.example" in f]
        self.assertEqual(python_msg, [
            START + b"X-Client-Addr: 127.0.0.1\nX-Client-Proto: ESMTP\nX-Helo-Args: client.example\n"
            b"X-Mail-Args: <a@b> SIZE=5\nX-Rcpt-Args: <c@d> NOTIFY=NEVER\nX-Rcpt-Args: <e@f>\n"
            b"Received: from client.example ([127.0.0.1])\n\tby smtp-sink (smtp-sink) with ESMTP id <ID>;\n\t<DATE>\n"
            b"Subject: x\n\n.dot\nbareCR\nend\n\n"])

    def run_D(self, program, family):
        d = self.dump_dir("D")
        sink, target = start_sink(program, ["-L", "-D", d + "/shared/%Y/all."], family)
        self.addCleanup(sink.stop)
        res = support.run([POSTFIX_SMTP_SOURCE, "-L", "-m", "2", "-r", "2", "-s", "2", client_address(target)])
        self.assertEqual(res.returncode, 0, res)
        # a second client over LMTP with HELO-less input and a message that never finishes
        # (the content only after the 354: Postfix's holds replies while a message is incomplete)
        converse(target, [(None, 1), (b"MAIL FROM:<p@q>\r\nRCPT TO:<r@s>\r\nDATA\r\n", 3), (b"a\r\n.\r\n", 1),
                          (b"MAIL FROM:<t@u>\r\nRCPT TO:<v@w>\r\nDATA\r\n", 3), (b"half\r\n", 0)],
                 end="open", quiet=0)
        support.wait_until(lambda: self._count_messages(d) >= 3, 5, "three messages in the shared file")
        return tree(d)

    @staticmethod
    def _count_messages(d):
        total = 0
        for root, _, files in os.walk(d):
            for f in files:
                with open(os.path.join(root, f), "rb") as fh:
                    total += fh.read().count(b"X-Client-Addr: ")
        return total

    def check_D_tree(self, t, who, client):
        year = time.strftime("%Y")
        self.assertEqual(sorted(t), ["shared", "shared/" + year, "shared/%s/all." % year], who)
        self.assertEqual(t["shared"][1], 0o755, who)
        self.assertEqual(t["shared/" + year][1], 0o755, who)
        kind, mode, content = t["shared/%s/all." % year]
        self.assertEqual(mode, 0o644, who)
        norm, ids, dates = norm_dump(content)
        self.assertEqual(len(set(ids)), 3, who)
        for date in dates:
            self.assertRegex(date, DATE_38)
        msgs = [b"X-Client-Addr: " + m for m in norm.split(b"X-Client-Addr: ")[1:]]
        self.assertEqual(b"".join(msgs), norm, who)
        for m in msgs:
            self.assertTrue(m.startswith(b"X-Client-Addr: %s\nX-Client-Proto: LMTP\n" % client), (who, m))
        return sorted(msgs)

    def test_D_shared_file(self):
        for family, client in (("inet", b"127.0.0.1"), ("inet6", b"ipv6:::1"), ("unix", b"local")):
            with self.subTest(family=family):
                with concurrent.futures.ThreadPoolExecutor(2) as ex:
                    pf_f, our_f = ex.submit(self.run_D, PF, family), ex.submit(self.run_D, OURS, family)
                    pf, ours = pf_f.result(), our_f.result()
                pf_msgs = self.check_D_tree(pf, "postfix", client)
                our_msgs = self.check_D_tree(ours, "ours", client)
                self.assertEqual(len(our_msgs), 3)
                for o, p in zip(our_msgs, pf_msgs):
                    self.assertEqual(show(o), show(p))
                self.assertIn(b"X-Client-Addr: %s\nX-Client-Proto: LMTP\nX-Mail-Args: <p@q>\nX-Rcpt-Args: <r@s>\n"
                              b"Received: from [%s] ([%s])\n" % (client, client, client), our_msgs[0] + our_msgs[-1])

    def run_S(self, program, start):
        d = self.dump_dir("S")
        sink, target = start_sink(program, ["-d", d + "/x.", "-S", start])
        self.addCleanup(sink.stop)
        # HELO and EHLO end an open transaction: only the second (empty) message is dumped
        tr = converse(target, [(None, 1), (b"HELO h\r\nMAIL FROM:<1>\r\nRCPT TO:<2>\r\nEHLO e\r\nMAIL FROM:<3>\r\n"
                                          b"RCPT TO:<4>\r\nDATA\r\n.\r\nQUIT\r\n", 8)])
        self.assertTrue(tr.wire().endswith(b"250 2.0.0 Ok\r\n221 Bye\r\n<CLOSED>"))
        t = tree(d)
        self.assertEqual(len(t), 1, t)
        return [norm_dump(content)[0] for _, _, content in t.values()][0]

    def test_S_escapes(self):
        """-S: C escapes expanded as Postfix's (the result is a C string: a NUL ends it)."""
        body = (b"X-Client-Addr: 127.0.0.1\nX-Client-Proto: ESMTP\nX-Helo-Args: e\nX-Mail-Args: <3>\n"
                b"X-Rcpt-Args: <4>\nReceived: from e ([127.0.0.1])\n\tby smtp-sink (smtp-sink) with ESMTP id <ID>;\n"
                b"\t<DATE>\n\n")
        cases = [(r"a\\b\x\1012\q\777\8\ z", b"a\\bxA2q\xff8 z"), ("tail\\", b"tail"),
                 (r"\a\b\f\v\r\n\t", b"\a\b\f\v\r\n\t"), (r"\1\12\123\1234", b"\x01\nSS4"),
                 (r"x\0y", b"x"), (r"\400\401", b""), ("", b"")]
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            futs = [(arg, want, ex.submit(self.run_S, PF, arg), ex.submit(self.run_S, OURS, arg)) for arg, want in cases]
            results = [(arg, want, p.result(), o.result()) for arg, want, p, o in futs]
        for arg, want, pf, ours in results:
            with self.subTest(S=arg):
                self.assertEqual(pf, want + body, "Postfix's reference")
                self.assertEqual(ours, pf)

    def test_d_vanished_client_removes_partial_file(self):
        """A client that disappears mid-DATA: the partial file is removed, mesg not counted, and
        the sink goes on serving."""
        d = self.dump_dir("v")
        sink, target = start_sink(OURS, ["-c", "-d", d + "/m."])
        self.addCleanup(sink.stop)
        sock = support.connect_to(target)
        reader = support.LineReader(sock)
        self.assertEqual(reader.readline(), GREETING)
        sock.sendall(b"HELO x\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\n")
        for want in (b"250 smtp-sink\r\n", b"250 2.1.0 Ok\r\n", b"250 2.1.5 Ok\r\n",
                     b"354 End data with <CR><LF>.<CR><LF>\r\n"):
            self.assertEqual(reader.readline(), want)
        self.assertEqual(len(os.listdir(d)), 1)      # the dump file was made at MAIL
        sock.sendall(b"Subject: half\r\n\r\n" + b"line\r\n" * 2000)
        sock.close()
        records = wait_counters(sink, lambda r: r["sess"] >= 1, 5, "the session to end")
        self.assertEqual(records[-1], {"sess": 1, "quit": 0, "mesg": 0})
        self.assertEqual(os.listdir(d), [])
        tr = converse(target, WireTest.NORMAL)
        self.assertTrue(tr.wire().endswith(b"250 2.0.0 Ok\r\n221 Bye\r\n<CLOSED>"))
        records = wait_counters(sink, lambda r: r["sess"] >= 2, 5, "the second session to end")
        self.assertEqual(records[-1], {"sess": 2, "quit": 1, "mesg": 1})
        self.assertEqual(len(os.listdir(d)), 1)


# ================================================================================================
# 4. real clients: smtplib and swaks
# ================================================================================================

class RealClientTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.pool = SinkPool()

    @classmethod
    def tearDownClass(cls):
        cls.pool.stop_all()

    def smtp(self, options=(), family="inet"):
        server, target = self.pool.get(OURS, ["-c"] + list(options), family)
        s = smtplib.SMTP(target[0], target[1], local_hostname="client.example", timeout=10)
        self.addCleanup(s.close)
        return server, s

    def test_ehlo_features(self):
        _, s = self.smtp()
        code, _ = s.ehlo()
        self.assertEqual(code, 250)
        self.assertEqual(set(s.esmtp_features), {"pipelining", "8bitmime", "auth", "xclient", "xforward",
                                                 "enhancedstatuscodes", "dsn"})
        self.assertEqual(s.esmtp_features["auth"].strip(), "PLAIN LOGIN")
        self.assertEqual(s.esmtp_features["xforward"].strip(), "NAME ADDR PROTO HELO")
        s.quit()
        for flag, feature in (("-p", "pipelining"), ("-8", "8bitmime"), ("-a", "auth"), ("-C", "xclient"),
                              ("-F", "xforward"), ("-E", "enhancedstatuscodes"), ("-N", "dsn")):
            with self.subTest(flag=flag):
                _, s = self.smtp([flag])
                s.ehlo()
                self.assertNotIn(feature, s.esmtp_features)
                self.assertEqual(len(s.esmtp_features), 6)
                s.quit()
        _, s = self.smtp(["-p", "-8", "-a", "-C", "-F", "-E", "-N"])
        s.ehlo()
        self.assertEqual(s.esmtp_features, {})
        s.quit()

    def test_sendmail_counted(self):
        server, s = self.smtp(["-h", "counted.example"])
        refused = s.sendmail("a@b.example", ["c@d.example", "e@f.example"],
                             b"Subject: t\r\n\r\n.leading dot\r\nbody\r\n")
        self.assertEqual(refused, {})
        s.quit()
        records = wait_counters(server, lambda r: r["sess"] >= 1, 5)
        self.assertEqual(records[-1], {"sess": 1, "quit": 1, "mesg": 1})

    def test_refusals(self):
        _, s = self.smtp(["-f", "rcpt"])
        with self.assertRaises(smtplib.SMTPRecipientsRefused) as cm:
            s.sendmail("a@b", ["c@d"], b"x\r\n")
        self.assertEqual(cm.exception.recipients["c@d"][0], 500)
        _, s = self.smtp(["-f", "mail"])
        with self.assertRaises(smtplib.SMTPSenderRefused) as cm:
            s.sendmail("a@b", ["c@d"], b"x\r\n")
        self.assertEqual(cm.exception.smtp_code, 500)
        _, s = self.smtp(["-r", "data"])
        with self.assertRaises(smtplib.SMTPDataError) as cm:
            s.sendmail("a@b", ["c@d"], b"x\r\n")
        self.assertEqual(cm.exception.smtp_code, 450)
        self.assertEqual(cm.exception.smtp_error, b"4.3.0 Error: command failed")
        _, s = self.smtp(["-Q", "helo"])
        self.assertEqual(s.helo("client.example"), (421, b"4.0.0 Server closing connection"))
        with self.assertRaises(smtplib.SMTPServerDisconnected):
            s.noop()

    def test_lmtp_unix(self):
        server, path = self.pool.get(OURS, ["-c", "-L"], "unix")
        s = smtplib.LMTP(path, local_hostname="client.example", timeout=10)
        self.addCleanup(s.close)
        code, _ = s.ehlo()   # LMTP's ehlo() sends LHLO
        self.assertEqual(code, 250)
        self.assertIn("pipelining", s.esmtp_features)
        self.assertEqual(s.mail("a@b")[0], 250)
        self.assertEqual(s.rcpt("c@d")[0], 250)
        self.assertEqual(s.rcpt("e@f")[0], 250)
        self.assertEqual(s.data(b"Subject: lmtp\r\n\r\nhi\r\n"), (250, b"2.2.0 Ok"))
        self.assertEqual(s.getreply(), (250, b"2.2.0 Ok"))   # the second recipient's reply
        s.quit()
        records = wait_counters(server, lambda r: r["sess"] >= 1, 5)
        self.assertEqual(records[-1], {"sess": 1, "quit": 1, "mesg": 1})

    def swaks(self, options, extra):
        server, target = start_sink(OURS, ["-c"] + options)
        self.addCleanup(server.stop)
        res = support.run([SWAKS, "--server", target[0], "--port", str(target[1]), "--to", "a@b", "--from", "c@d",
                           "--timeout", "10"] + extra, timeout=30)
        self.assertEqual(res.returncode, 0, res)
        records = wait_counters(server, lambda r: r["sess"] >= 1, 5)
        self.assertEqual(records[-1], {"sess": 1, "quit": 1, "mesg": 1})
        return res

    def test_swaks(self):
        res = self.swaks([], [])
        self.assertIn(b"<-  250 2.0.0 Ok", res.stdout)

    def test_swaks_pipeline(self):
        res = self.swaks([], ["--pipeline"])
        self.assertIn(b"<-  250 2.0.0 Ok", res.stdout)

    def test_swaks_lmtp(self):
        res = self.swaks(["-L"], ["--protocol", "LMTP"])
        self.assertIn(b"LHLO", res.stdout)
        self.assertIn(b"<-  250 2.2.0 Ok", res.stdout)


# ================================================================================================
# 5. timeouts and limits
# ================================================================================================

class LimitsTest(unittest.TestCase):

    def test_read_timeout(self):
        """-t 1: a silent client is dropped silently after 1 s with `warning: read timeout`, while
        another client in parallel completes; Postfix's does the same."""
        def run(program):
            server, target = start_sink(program, ["-t", "1", "-c"])
            self.addCleanup(server.stop)
            silent = support.connect_to(target)
            t0 = time.monotonic()
            other = converse(target, WireTest.NORMAL)
            silent_tr = converse(None, [(None, 1)], end="close", step_timeout=5, sock=silent)
            elapsed = time.monotonic() - t0
            support.wait_until(lambda: b"read timeout" in server.stderr(), 5, "the warning")
            return server, other, silent_tr, elapsed

        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            pf_f, our_f = ex.submit(run, PF), ex.submit(run, OURS)
            (pfs, pf_other, pf_silent, _), (ourss, other, silent, elapsed) = pf_f.result(), our_f.result()
        self.assertEqual(silent.wire(), GREETING + b"<CLOSED>")
        self.assertEqual(silent.wire(), pf_silent.wire())
        self.assertTrue(other.wire().endswith(b"250 2.0.0 Ok\r\n221 Bye\r\n<CLOSED>"))
        self.assertEqual(other.wire(), pf_other.wire())
        self.assertGreaterEqual(elapsed, 0.9)
        self.assertLess(elapsed, 4)
        self.assertEqual(norm_diag(ourss.stderr(), OURS), b"<ARGV0>: warning: read timeout\n")
        self.assertEqual(norm_diag(ourss.stderr(), OURS), norm_diag(pfs.stderr(), PF))
        records = wait_counters(ourss, lambda r: r["sess"] >= 2, 5)
        self.assertEqual(records[-1], {"sess": 2, "quit": 1, "mesg": 1})

    def greeting_within(self, sock, timeout):
        sock.settimeout(timeout)
        try:
            return sock.recv(1024)
        except socket.timeout:
            return None

    def test_concurrency_limit(self):
        """-m 2: a third connection gets no greeting until one of the first two ends (obs 20)."""
        for program in (OURS, PF):
            with self.subTest(sink="ours" if program == OURS else "postfix"):
                server, target = start_sink(program, ["-m", "2"])
                self.addCleanup(server.stop)
                c1, c2 = support.connect_to(target), support.connect_to(target)
                self.assertEqual(self.greeting_within(c1, 5), GREETING)
                self.assertEqual(self.greeting_within(c2, 5), GREETING)
                c3 = support.connect_to(target)
                self.assertIsNone(self.greeting_within(c3, 0.5))
                c1.sendall(b"QUIT\r\n")
                self.assertEqual(self.greeting_within(c1, 5), b"221 Bye\r\n")
                self.assertEqual(self.greeting_within(c3, 5), GREETING)
                c2.sendall(b"QUIT\r\n")
                c3.sendall(b"QUIT\r\n")
                self.assertEqual(self.greeting_within(c2, 5), b"221 Bye\r\n")
                self.assertEqual(self.greeting_within(c3, 5), b"221 Bye\r\n")
                for c in (c1, c2, c3):
                    c.close()

    def test_vanished_client_mid_data(self):
        """A client that closes halfway through DATA: not a message; the sink keeps serving."""
        server, target = start_sink(OURS, ["-c"])
        self.addCleanup(server.stop)
        sock = support.connect_to(target)
        reader = support.LineReader(sock)
        self.assertEqual(reader.readline(), GREETING)
        sock.sendall(b"HELO x\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\n")
        for _ in range(4):
            reader.readline()
        sock.sendall(b"Subject: half\r\n\r\npart of it\r\n.")
        sock.close()
        wait_counters(server, lambda r: r["sess"] >= 1, 5)
        for i in range(3):
            tr = converse(target, WireTest.NORMAL)
            self.assertTrue(tr.wire().endswith(b"250 2.0.0 Ok\r\n221 Bye\r\n<CLOSED>"))
        records = wait_counters(server, lambda r: r["sess"] >= 4, 5)
        self.assertEqual(records[-1], {"sess": 4, "quit": 3, "mesg": 3})
        # exactly one record per message and per session
        self.assertEqual(records, [{"sess": 1, "quit": 0, "mesg": 0},
                                   {"sess": 1, "quit": 0, "mesg": 1}, {"sess": 2, "quit": 1, "mesg": 1},
                                   {"sess": 2, "quit": 1, "mesg": 2}, {"sess": 3, "quit": 2, "mesg": 2},
                                   {"sess": 3, "quit": 2, "mesg": 3}, {"sess": 4, "quit": 3, "mesg": 3}])

    def test_counters_match_postfix(self):
        """-c output of a mixed workload: byte-identical to Postfix's."""
        def run(program):
            server, target = start_sink(program, ["-c", "-q", "vrfy"])
            self.addCleanup(server.stop)
            outs = []
            for steps in (WireTest.NORMAL,
                          dialog(b"HELO x", b"MAIL FROM:<>", b"RCPT TO:<a>", b"VRFY a"),   # -q vrfy drops it
                          [(None, 1), (b"HELO x\r\nMAIL FROM:<a>\r\nDATA\r\nQUIT\r\n", 4)]):
                outs.append(converse(target, steps).wire())
            src = support.run([POSTFIX_SMTP_SOURCE, "-m", "3", "-d", client_address(target)])
            wait_counters(server, lambda r: r["sess"] >= 4, 5)
            return server.stdout(), outs, src.returncode

        pf, ours = run(PF), run(OURS)
        self.assertEqual(ours, pf)
        self.assertEqual(ours[0], b"sess=0 quit=0 mesg=1\rsess=1 quit=1 mesg=1\rsess=2 quit=1 mesg=1\r"
                         b"sess=3 quit=2 mesg=1\rsess=3 quit=2 mesg=2\rsess=3 quit=2 mesg=3\rsess=3 quit=2 mesg=4\r"
                         b"sess=4 quit=3 mesg=4\r")


# ================================================================================================
# 6. Postfix's bugs we fix (spec §8 items 12-23): regression tests
# ================================================================================================

class BugFixTest(unittest.TestCase):

    def quit_session(self, target):
        return converse(target, dialog(b"QUIT")).wire()

    def test_n_without_c_exits(self):
        """-n 2 without -c: exit 0 after 2 sessions (Postfix's never exits)."""
        ours, target = start_sink(OURS, ["-n", "2"])
        self.addCleanup(ours.stop)
        pf, pf_target = start_sink(PF, ["-n", "2"])
        self.addCleanup(pf.stop)
        for t in (target, target, pf_target, pf_target):
            self.assertEqual(self.quit_session(t), GREETING + b"221 Bye\r\n<CLOSED>")
        self.assertEqual(wait_exit(ours, 5), 0)
        self.assertEqual(ours.stdout(), b"")
        # Postfix's has closed both sessions (the client saw EOF) and still serves a third
        self.assertEqual(self.quit_session(pf_target), GREETING + b"221 Bye\r\n<CLOSED>")
        self.assertTrue(pf.alive())

    def test_n_counts_sessions_not_quits(self):
        """-n 2 -c: a session closed without QUIT counts too."""
        ours, target = start_sink(OURS, ["-n", "2", "-c"])
        self.addCleanup(ours.stop)
        self.assertEqual(self.quit_session(target), GREETING + b"221 Bye\r\n<CLOSED>")
        tr = converse(target, [(None, 1), (b"HELO x\r\n", 1)], end="open", quiet=0)
        self.assertEqual(tr.wire(), GREETING + b"250 smtp-sink\r\n")
        self.assertEqual(wait_exit(ours, 5), 0)
        self.assertEqual(ours.stdout(), b"sess=1 quit=1 mesg=0\rsess=2 quit=1 mesg=0\r")
        # Postfix's counts QUITs: after the same two sessions it still serves a third, and only
        # the second QUIT ends it
        pf, pf_target = start_sink(PF, ["-n", "2", "-c"])
        self.addCleanup(pf.stop)
        self.quit_session(pf_target)
        converse(pf_target, [(None, 1), (b"HELO x\r\n", 1)], end="open", quiet=0)
        wait_counters(pf, lambda r: r["sess"] >= 2, 5)
        self.assertEqual(converse(pf_target, [(None, 1), (b"NOOP\r\n", 1)], end="open", quiet=0).wire(),
                         GREETING + b"250 2.0.0 Ok\r\n")
        self.assertEqual(self.quit_session(pf_target), GREETING + b"221 Bye\r\n<CLOSED>")
        self.assertEqual(wait_exit(pf, 5), 0)
        self.assertEqual(pf.stdout(), b"sess=1 quit=1 mesg=0\rsess=2 quit=1 mesg=0\rsess=3 quit=1 mesg=0\r"
                         b"sess=4 quit=2 mesg=0\r")

    def run_M(self, program):
        server, target = start_sink(program, ["-M", "2"])
        self.addCleanup(server.stop)
        with support.Relay(target) as relay:
            res = support.run([POSTFIX_SMTP_SOURCE, "-m", "3", "-d", relay.address])
            conns = relay.wait_idle(expected=1)
        status = wait_exit(server, 5)
        return res, bytes(conns[0].server_to_client), bytes(conns[0].client_to_server), status

    def test_M_replies_before_exit(self):
        """-M 2: ours answers the 2nd '.' and then exits 0; the client sees both 250s and fails only
        on the 3rd message (Postfix's exits before answering the 2nd '.')."""
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            pf_f, our_f = ex.submit(self.run_M, PF), ex.submit(self.run_M, OURS)
            (pf_res, pf_s2c, _, pf_status), (res, s2c, c2s, status) = pf_f.result(), our_f.result()
        self.assertEqual(status, 0)
        self.assertEqual(s2c.count(b"250 2.0.0 Ok\r\n"), 2, s2c)
        self.assertEqual(c2s.count(b"\r\n.\r\n"), 2)
        self.assertEqual(res.returncode, 1, res)
        self.assertEqual(res.stderr, POSTFIX_SMTP_SOURCE.encode() + b": fatal: lost connection while sending sender\n")
        # Postfix's: only one 250 for the data, and the client lost the 2nd message's reply
        self.assertEqual(pf_status, 0)
        self.assertEqual(pf_s2c.count(b"250 2.0.0 Ok\r\n"), 1, pf_s2c)
        self.assertIn(b"fatal: lost connection while sending message", pf_res.stderr)

    def test_M_waits_for_a_delayed_reply(self):
        """-M 1 with the "." reply delayed (-W .:0.3) and the content pipelined behind DATA: the
        354 goes out first, and the sink still exits only after the delayed 250."""
        server, target = start_sink(OURS, ["-M", "1", "-W", ".:0.3"])
        self.addCleanup(server.stop)
        tr = converse(target, [(None, 1), (b"HELO x\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\nx\r\n.\r\n", 5)])
        self.assertEqual(tr.wire(), GREETING + b"250 smtp-sink\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                         b"354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok\r\n<CLOSED>")
        self.assertEqual(wait_exit(server, 5), 0)

    def test_M_with_the_dot_dropped(self):
        """-M 1 -q .: the last message is never answered (the connection is dropped instead);
        the sink exits once that session has ended, not at some later write."""
        server, target = start_sink(OURS, ["-c", "-M", "1", "-q", "."])
        self.addCleanup(server.stop)
        tr = converse(target, [(None, 1), (b"HELO x\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\n", 4),
                               (b"x\r\n.\r\n", 0)])
        self.assertTrue(tr.wire().endswith(b"354 End data with <CR><LF>.<CR><LF>\r\n<CLOSED>"), tr.wire())
        self.assertEqual(wait_exit(server, 5), 0)
        self.assertEqual(counters(server)[-1], {"sess": 1, "quit": 0, "mesg": 1})

    def test_delayed_replies_in_order(self):
        """Obs 33: a delayed reply holds back the replies after it (Postfix's overtake it)."""
        def run(program, delay):
            server, target = start_sink(program, ["-W", "noop:" + delay])
            self.addCleanup(server.stop)
            return converse(target, [(None, 1), (b"NOOP\r\nHELO x\r\nRSET\r\n", 3), (b"QUIT\r\n", 1)])

        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            pf_f, our_f = ex.submit(run, PF, "1"), ex.submit(run, OURS, "0.5")
            pf, ours = pf_f.result(), our_f.result()
        self.assertEqual(ours.wire(), GREETING + b"250 2.0.0 Ok\r\n250 smtp-sink\r\n250 2.1.0 Ok\r\n221 Bye\r\n<CLOSED>")
        first_reply_at = ours.chunks[1][0]
        self.assertGreaterEqual(first_reply_at, 0.45)
        self.assertEqual(pf.wire(), GREETING + b"250 smtp-sink\r\n250 2.1.0 Ok\r\n250 2.0.0 Ok\r\n221 Bye\r\n<CLOSED>")

    def test_A_longer_than_t_no_crash(self):
        """Obs 34: -A 3 -t 1 crashed Postfix's sink; ours waits 3 s, sends 550, closes, serves on."""
        server, target = start_sink(OURS, ["-A", "3", "-t", "1"])
        self.addCleanup(server.stop)
        tr = converse(target, dialog(b"HELO x", b"MAIL FROM:<>", b"RCPT TO:<a>", b"DATA") + [(b"x\r\n", 1)],
                      step_timeout=6)
        self.assertEqual(tr.wire(), GREETING + b"250 smtp-sink\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                         b"354 End data with <CR><LF>.<CR><LF>\r\n550 This violates SMTP\r\n<CLOSED>")
        t354 = [at for at, c in tr.chunks if c.startswith(b"354")][0]
        t550 = [at for at, c in tr.chunks if c.startswith(b"550")][0]
        self.assertGreaterEqual(t550 - t354, 2.9)
        self.assertTrue(server.alive())
        self.assertEqual(converse(target, dialog(b"QUIT")).wire(), GREETING + b"221 Bye\r\n<CLOSED>")
        self.assertTrue(server.alive())

    def test_A_0_same_as_postfix(self):
        """-A 0: the 550 comes with the 354, then the close (obs 18)."""
        steps = dialog(b"HELO x", b"MAIL FROM:<>", b"RCPT TO:<a>", b"DATA") + [(b"x\r\n", 1)]
        out = []
        for program in (PF, OURS):
            server, target = start_sink(program, ["-A", "0"])
            self.addCleanup(server.stop)
            out.append(converse(target, steps).wire())
        self.assertEqual(out[0], GREETING + b"250 smtp-sink\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                         b"354 End data with <CR><LF>.<CR><LF>\r\n550 This violates SMTP\r\n<CLOSED>")
        self.assertEqual(out[1], out[0])

    def test_lmtp_stray_dot_answered(self):
        """LMTP: a '.' outside DATA gets `250 2.0.0 Ok` from ours (nothing from Postfix's)."""
        burst = b"LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<a>\r\nDATA\r\nhi\r\n.\r\n.\r\nQUIT\r\n"
        tail = b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n250 2.2.0 Ok\r\n"
        outs = {}
        for program in (PF, OURS):
            server, target = start_sink(program, ["-L"])
            self.addCleanup(server.stop)
            outs[program] = converse(target, [(None, 1), (burst, 6)]).wire()
        self.assertEqual(outs[OURS], GREETING + EHLO_ALL + tail + b"250 2.0.0 Ok\r\n221 Bye\r\n<CLOSED>")
        self.assertEqual(outs[PF], GREETING + EHLO_ALL + tail + b"221 Bye\r\n<CLOSED>")
        # before any transaction too, and with -r . one soft reply
        server, target = start_sink(OURS, ["-L", "-r", "."])
        self.addCleanup(server.stop)
        self.assertEqual(converse(target, dialog(b".", b"QUIT")).wire(),
                         GREETING + b"450 4.3.0 Error: command failed\r\n221 Bye\r\n<CLOSED>")

    def test_no_second_sink_on_the_same_port(self):
        """Item 23: Postfix's sets SO_REUSEPORT, so a second sink binds the same port silently and
        the kernel splits the connections; ours refuses the second bind."""
        first, target = start_sink(OURS, [])
        self.addCleanup(first.stop)
        res = support.run([OURS] + user_args() + ["127.0.0.1:%d" % target[1], "5"], timeout=20)
        self.assertEqual(res.returncode, 1)
        self.assertEqual(norm_diag(res.stderr, OURS),
                         b"<ARGV0>: fatal: bind 127.0.0.1 port %d: Address already in use\n" % target[1])
        self.assertTrue(first.alive())
        pf1, pf_target = start_sink(PF, [])
        self.addCleanup(pf1.stop)
        pf2 = support.ServerProcess([PF] + user_args() + ["127.0.0.1:%d" % pf_target[1], "5"], TMP.path, "pf-sink")
        self.addCleanup(pf2.stop)
        pf2.wait_listening(port=pf_target[1])

    def test_default_wildcard_serves_ipv6(self):
        server, port = start_sink(OURS, [], "wild")
        self.addCleanup(server.stop)
        for host in ("127.0.0.1", "::1"):
            self.assertEqual(converse((host, port), dialog(b"QUIT")).wire(), GREETING + b"221 Bye\r\n<CLOSED>", host)
        pf, pf_port = start_sink(PF, [], "wild")
        self.addCleanup(pf.stop)
        self.assertEqual(converse(("127.0.0.1", pf_port), dialog(b"QUIT")).wire(), GREETING + b"221 Bye\r\n<CLOSED>")
        with self.assertRaises(ConnectionRefusedError):
            support.connect_to(("::1", pf_port)).close()


# ================================================================================================
# 7. diagnostics and deliberate differences
# ================================================================================================

class DiagnosticsTest(unittest.TestCase):

    def cases(self):
        U = user_args()
        addr = "127.0.0.1:%d" % support.free_port()
        return [
            ("no args", [], None),
            ("one arg", U + [addr], None),
            ("bad backlog", U + [addr, "x"], None),
            ("zero backlog", U + [addr, "0"], None),
            ("three args", U + [addr, "5", "x"], None),
            ("-d and -D", U + ["-d", "a", "-D", "b", addr, "5"], "fatal: use only one of -d or -D, but not both"),
            ("-W data", U + ["-W", "data", addr, "5"], "fatal: invalid command delay argument: data"),
            ("-W rcpt:0", U + ["-W", "rcpt:0", addr, "5"], "fatal: non-positive 'rcpt' delay"),
            ("-W rcpt:1:100", U + ["-W", "rcpt:1:100", addr, "5"], "fatal: delay odds for 'rcpt' out of range"),
            ("-W bogus:1", U + ["-W", "bogus:1", addr, "5"], "fatal: unknown command: bogus"),
            ("-f bogus", U + ["-f", "bogus", addr, "5"], "fatal: unknown command: bogus"),
            ("-q list", U + ["-q", "helo,mailx", addr, "5"], "fatal: unknown command: mailx"),
            ("-A x", U + ["-A", "x", addr, "5"], USAGE),
            ("-b oops", U + ["-b", "421 4.7.0 x", "-b", "oops", addr, "5"],
             "error: bad soft error reply: oops\n<ARGV0>: " + USAGE),
            ("-b 5xx", U + ["-b", "550 x", addr, "5"], "error: bad soft error reply: 550 x\n<ARGV0>: " + USAGE),
            ("-b 4 digits", U + ["-b", "4501 x", addr, "5"], None),
            ("-B 4xx", U + ["-B", "4xx", addr, "5"], "error: bad hard error reply: 4xx\n<ARGV0>: " + USAGE),
            ("-u nosuchuser", ["-u", "nosuchuser", "127.0.0.1:<FREE-PORT>", "5"],
             "fatal: unknown user: nosuchuser"),
            ("-m 0", U + ["-m", "0", addr, "5"], "fatal: bad concurrency limit: 0"),
            ("-m x", U + ["-m", "x", addr, "5"], "fatal: bad concurrency limit: x"),
            ("-M 0", U + ["-M", "0", addr, "5"], "fatal: bad message quit count: 0"),
            ("-n 0", U + ["-n", "0", addr, "5"], "fatal: bad quit count: 0"),
            ("-t 0", U + ["-t", "0", addr, "5"], "fatal: bad timeout: 0"),
            ("-H 0", U + ["-H", "0", addr, "5"], "fatal: bad data read delay: 0"),
            ("-w 0", U + ["-w", "0", addr, "5"], USAGE),
            ("-X", U + ["-X", addr, "5"], None),
            ("missing ]", U + ["[::1:25", "5"], None),
            ("unix path in a missing dir", U + ["unix:" + TMP.join("no", "such", "dir", "s.sock"), "5"],
             "fatal: bind: %s: No such file or directory" % TMP.join("no", "such", "dir", "s.sock")),
        ]

    def run_both(self, cases):
        def one(program, args):
            # ours does not set SO_REUSEPORT (Postfix's does): each program binds its own port
            args = [a.replace("<FREE-PORT>", str(support.free_port())) for a in args]
            return support.run([program] + list(args), timeout=20)
        with concurrent.futures.ThreadPoolExecutor(max(2, len(cases) * 2)) as ex:
            futs = [(c, ex.submit(one, PF, c[1]), ex.submit(one, OURS, c[1])) for c in cases]
            return [(c, p.result(), o.result()) for c, p, o in futs]

    def check(self, results):
        for (name, args, expected), pf, ours in results:
            with self.subTest(name, args=args):
                pf_err = norm_diag(pf.stderr, PF).decode(errors="replace")
                our_err = norm_diag(ours.stderr, OURS).decode(errors="replace")
                if expected is not None:
                    self.assertEqual(pf_err, "<ARGV0>: " + expected + "\n", "Postfix's output differs from the spec")
                self.assertEqual(our_err.splitlines(), pf_err.splitlines())
                self.assertEqual(our_err, pf_err)
                self.assertEqual(ours.returncode, 1)
                self.assertEqual(pf.returncode, 1)
                self.assertEqual(ours.stdout, b"")

    def test_option_errors(self):
        self.check(self.run_both(self.cases()))

    def test_usage_lines(self):
        results = self.run_both([("no args", [], None)])
        self.assertEqual(norm_diag(results[0][2].stderr, OURS).decode(), "<ARGV0>: " + USAGE + "\n")

    def test_bind_errors(self):
        """An address in use: `fatal: bind 127.0.0.1 port P: Address already in use` (and ::1)."""
        holders = []
        cases = []
        for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            s = socket.socket(family, socket.SOCK_STREAM)
            s.bind((host, 0))
            s.listen(1)
            holders.append(s)
            port = s.getsockname()[1]
            shown = "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)
            cases.append(("in use " + host, user_args() + [shown, "5"],
                          "fatal: bind %s port %d: Address already in use" % (host, port)))
        try:
            self.check(self.run_both(cases))
        finally:
            for s in holders:
                s.close()


class OptionEdgesTest(unittest.TestCase):
    """Option values at the edges, found by tests/fuzz/options_smtp_sink (ours only: Postfix's
    reads these options with atoi() and has no --session-limit)."""

    def test_abort_delay_beyond_1e8_seconds_is_a_usage_error(self):
        """-A 9223372036854775808 overflowed the conversion to the clock's nanoseconds (undefined
        behaviour); beyond 1e8 seconds, as for the other delays, it is the usage error now."""
        addr = "127.0.0.1:%d" % support.free_port()
        for value in ("9223372036854775808", "100000001"):
            with self.subTest(value):
                res = support.run([OURS] + user_args() + ["-A", value, addr, "5"], timeout=20)
                self.assertEqual((res.returncode, norm_diag(res.stderr, OURS).decode()), (1, "<ARGV0>: " + USAGE + "\n"))
                self.assertEqual(res.stdout, b"")

    def test_a_positive_limit_below_one_nanosecond_is_not_none(self):
        """--session-limit=0.0000000001 was rounded to 0, which means no limit: the session
        lasted; now it is one nanosecond, and the session is closed at once."""
        server, target = start_sink(OURS, ["--session-limit=0.0000000001"])
        self.addCleanup(server.stop)
        sock = support.connect_to(target)
        self.addCleanup(sock.close)
        sock.settimeout(5)
        got = b""
        try:
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                got += chunk
        except socket.timeout:
            self.fail("the session was not closed within 5 s: %r" % got)
        except ConnectionResetError:
            pass


class DeliberateDifferencesTest(unittest.TestCase):

    def test_runs_as_root_without_u(self):
        """Postfix's sink as root without -u: `fatal: -u option is required if running as root`;
        ours runs (and serves)."""
        self.assertEqual(os.geteuid(), 0, "these tests run as root")
        server, target = start_sink(OURS, ["-c"], user=False)
        self.addCleanup(server.stop)
        tr = converse(target, WireTest.NORMAL)
        self.assertTrue(tr.wire().endswith(b"250 2.0.0 Ok\r\n221 Bye\r\n<CLOSED>"))
        records = wait_counters(server, lambda r: r["sess"] >= 1, 5)
        self.assertEqual(records[-1], {"sess": 1, "quit": 1, "mesg": 1})
        pf = support.run([PF, "127.0.0.1:%d" % support.free_port(), "5"], timeout=20)
        self.assertEqual(pf.returncode, 1)
        self.assertEqual(norm_diag(pf.stderr, PF), b"<ARGV0>: fatal: -u option is required if running as root\n")

    def test_replies_flushed_when_input_runs_dry_in_data(self):
        """Spec §3.10: replies go out when no more input is waiting.  DATA and the start of the
        content in one write: ours sends the 354 at once (Postfix's 3.7.11 holds every reply until
        the message is complete; only the timing differs, not the bytes)."""
        server, target = start_sink(OURS, [])
        self.addCleanup(server.stop)
        tr = converse(target, [(None, 1), (b"HELO x\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\nSubject: x\r\n", 4),
                               (b"\r\nrest\r\n.\r\nQUIT\r\n", 2)], step_timeout=3)
        self.assertEqual(tr.wire(), GREETING + b"250 smtp-sink\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                         b"354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok\r\n221 Bye\r\n<CLOSED>")
        self.assertEqual([c for _, c in tr.chunks][:2], [GREETING, b"250 smtp-sink\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                                                          b"354 End data with <CR><LF>.<CR><LF>\r\n"])
        self.assertLess(tr.chunks[1][0], 2)

    def test_stop_by_sigterm_leaves_no_partial_dump(self):
        d = DumpTest.dump_dir(self, "term")
        server, target = start_sink(OURS, ["-d", d + "/x."])
        sock = support.connect_to(target)
        reader = support.LineReader(sock)
        reader.readline()
        sock.sendall(b"HELO x\r\nMAIL FROM:<a>\r\n")
        reader.readline()
        self.assertEqual(reader.readline(), b"250 2.1.0 Ok\r\n")
        self.assertEqual(len(os.listdir(d)), 1)
        server.stop()
        sock.close()
        self.assertEqual(os.listdir(d), [])


class LoadTest(unittest.TestCase):
    """Built for load: 10,000 idle connections at once, each greeted, while another client is
    served; the sink raises its own open-files limit, and its memory stays bounded."""

    IDLE = 10000

    def test_ten_thousand_idle_connections(self):
        self.run_idle([])

    def test_ten_thousand_idle_connections_with_dumps(self):
        # a session's dump buffer is made at its first MAIL: idle ones cost no more with -d
        d = TMP.join("idle-dumps-%d" % support.serial())
        os.mkdir(d)
        os.chmod(d, 0o777)   # the sink writes as nobody (-u)
        self.addCleanup(support.remove_tempdir, d)
        self.run_idle(["-d", d + "/m."])
        self.assertEqual(len(os.listdir(d)), 1)

    def run_idle(self, extra):
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        # started with this process's limit (1024 here by default): the sink must raise its own
        server, target = start_sink(OURS, ["-c", "-m", str(self.IDLE + 10)] + extra, backlog=4096)
        self.addCleanup(server.stop)
        want = self.IDLE + 256
        if soft < want:  # this test's own end of the connections (the sink raises its own limit)
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard) if hard != resource.RLIM_INFINITY else want, hard))
        self.assertGreaterEqual(resource.getrlimit(resource.RLIMIT_NOFILE)[0], want,
                                "this machine's hard limit on open files is below %d" % want)
        worker = support.connect_to(target)  # connected first: a low descriptor number
        self.addCleanup(worker.close)
        idle = []
        self.addCleanup(lambda: [s.close() for s in idle])
        for _ in range(self.IDLE):
            idle.append(support.connect_to(target))
        for sock in idle:  # every one is greeted: none waits on another
            self.assertEqual(support.LineReader(sock).readline(), GREETING)
        with open("/proc/%d/status" % server.pid) as f:
            rss_kb = int(next(l for l in f if l.startswith("VmRSS:")).split()[1])
        support.log("sink RSS %d kB with %d idle connections" % (rss_kb, self.IDLE))
        self.assertLess(rss_kb, 250 * 1024, "RSS %d kB with %d idle connections" % (rss_kb, self.IDLE))
        # a working client is served meanwhile
        reader = support.LineReader(worker)
        worker.sendall(b"HELO x\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n")
        replies = [reader.readline() for _ in range(7)]
        self.assertEqual(replies, [GREETING, b"250 smtp-sink\r\n", b"250 2.1.0 Ok\r\n", b"250 2.1.5 Ok\r\n",
                                   b"354 End data with <CR><LF>.<CR><LF>\r\n", b"250 2.0.0 Ok\r\n", b"221 Bye\r\n"],
                         server.stderr())
        for sock in idle:
            sock.close()
        idle.clear()
        support.wait_until(lambda: (support.sink_counters(server.stdout(), complete_only=True) or [{"sess": 0}])[-1]["sess"]
                           == self.IDLE + 1, 30, "every session to end")
        self.assertEqual(support.sink_counters(server.stdout(), complete_only=True)[-1],
                         {"sess": self.IDLE + 1, "quit": 1, "mesg": 1})


# ================================================================================================
# 8. socket buffers (-T), chroot (-R), -W with odds, stalled and vanished clients, -v lines when
#    the sink closes a session itself, syslog (-s)
# ================================================================================================

import pwd  # noqa: E402
import struct  # noqa: E402
import subprocess  # noqa: E402

NOBODY = pwd.getpwnam("nobody")
# run a program as nobody without -u (setpriv execs it: the PID stays the program's)
AS_NOBODY = ["setpriv", "--reuid=%d" % NOBODY.pw_uid, "--regid=%d" % NOBODY.pw_gid, "--clear-groups"]


def start_prefixed(program, options, prefix=(), user=True):
    """start_sink() on 127.0.0.1 with the command line run through `prefix`, a program that execs
    the rest (setpriv, unshare + sh -c 'exec ...'): the ServerProcess's PID is the sink's own."""
    opts = (user_args() if user else []) + list(options)
    name = "pf-sink" if program == PF else "our-sink"
    server, port = support.start_listening_process(
        lambda p: list(prefix) + [program] + opts + ["127.0.0.1:%d" % p, "5"], TMP.path, name=name)
    return server, ("127.0.0.1", port)


def _ss_entries(args):
    """`ss -H ...` output as [fields of the first line, the whole text] per socket (a socket's
    details may continue on indented lines)."""
    out = subprocess.run(["ss", "-H"] + args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         timeout=support.LISTEN_TIMEOUT).stdout.decode(errors="replace")
    entries = []
    for line in out.splitlines():
        if line[:1].isspace() and entries:
            entries[-1][1] += line
        elif line.split():
            entries.append([line.split(), line])
    return entries


def _skmem(text):
    m = re.search(r"skmem:\(([^)]*)\)", text)
    return {k: int(v) for k, v in re.findall(r"([a-z_]+)(\d+)", m.group(1))} if m else {}


def ss_tcp(local_port, peer_port):
    """(state, Recv-Q, Send-Q, skmem dict) of the loopback TCP socket local_port -> peer_port,
    an ESTAB one first; None when there is none."""
    entries = _ss_entries(["-tnm", "( sport = :%d and dport = :%d )" % (local_port, peer_port)])
    if not entries:
        return None
    fields, text = sorted(entries, key=lambda e: e[0][0] != "ESTAB")[0]
    return fields[0], int(fields[1]), int(fields[2]), _skmem(text)


def ss_unix_accepted(path):
    """skmem of the (single) established unix stream socket whose local name is `path`: the
    sink's end of a connection to the listener at `path`."""
    found = [_skmem(text) for fields, text in _ss_entries(["-xnm"])
             if len(fields) > 4 and fields[0] == "u_str" and fields[1] == "ESTAB" and fields[4] == path]
    if len(found) != 1:
        raise AssertionError("expected one accepted socket on %s, ss shows %d" % (path, len(found)))
    return found[0]


def process_state(pid):
    """The one-letter state in /proc/PID/stat (R, S, D, ...); None if the process is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def settle(server, sessions_before):
    """Wait until everything the sink prints for its first `sessions_before` sessions is out:
    one more (QUIT) session, and its -c record.  The sink is single-threaded and finishes a
    session's output before the next session's close is counted."""
    converse(server_target(server), dialog(b"QUIT"))
    wait_counters(server, lambda r: r["sess"] >= sessions_before + 1, 10, "the settling session")


def server_target(server):
    """The 127.0.0.1 target of a sink started by start_sink()/start_prefixed() on inet."""
    host, port = server.args[-2].rsplit(":", 1)
    return host.strip("[]"), int(port)


def rst_close(sock):
    """Close with a TCP RST (SO_LINGER 0): the client vanishes without a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class WindowSizeTest(unittest.TestCase):
    """-T windowsize: SO_RCVBUF and SO_SNDBUF on the listening socket, which every accepted socket
    inherits.  Read from outside with `ss -m` on the sink's end of an established connection
    (skmem rb/tb; Linux doubles the value asked for and clamps it to its limits)."""

    def accepted_buffers(self, program, options, family):
        server, target = start_sink(program, options, family)
        self.addCleanup(server.stop)
        sock = support.connect_to(target)
        self.addCleanup(sock.close)
        self.assertEqual(support.LineReader(sock).readline(), GREETING)   # accepted and served
        if family == "unix":
            mem = ss_unix_accepted(target)
        else:
            entry = ss_tcp(target[1], sock.getsockname()[1])
            self.assertIsNotNone(entry, "no sink-side socket in ss")
            self.assertEqual(entry[0], "ESTAB")
            mem = entry[3]
        return mem["rb"], mem["tb"]

    def test_T_sets_the_accepted_sockets_buffers(self):
        for family in ("inet", "inet6"):
            with self.subTest(family=family):
                default = {p: self.accepted_buffers(p, [], family) for p in (PF, OURS)}
                self.assertEqual(default[OURS], default[PF], "without -T")
                for size in ("20000", "1000", "10000000"):
                    with self.subTest(T=size):
                        pf = self.accepted_buffers(PF, ["-T", size], family)
                        ours = self.accepted_buffers(OURS, ["-T", size], family)
                        self.assertEqual(ours, pf)
                        self.assertNotEqual(ours[0], default[OURS][0], "-T changed nothing (rb)")
                        self.assertNotEqual(ours[1], default[OURS][1], "-T changed nothing (tb)")
                        if size == "20000":
                            self.assertEqual(pf, (40000, 40000), "Postfix's reference (the kernel doubles)")

    def test_T_leaves_unix_sockets_alone(self):
        """Postfix's sets the window only on inet listeners; so does ours."""
        got = {(p, o): self.accepted_buffers(p, o, "unix") for p in (PF, OURS) for o in ((), ("-T", "20000"))}
        self.assertEqual(len(set(got.values())), 1, got)

    def test_T_diagnostics(self):
        for value in ("0", "x", "-5"):
            with self.subTest(T=value):
                outs = []
                for program in (PF, OURS):
                    res = support.run([program] + user_args() + ["-T", value, "127.0.0.1:%d" % support.free_port(),
                                                                 "5"], timeout=20)
                    outs.append((res.returncode, norm_diag(res.stderr, program)))
                self.assertEqual(outs[0], (1, b"<ARGV0>: fatal: bad TCP window size: %s\n" % value.encode()))
                self.assertEqual(outs[1], outs[0])


class ChrootDumpTest(unittest.TestCase):
    """-R dir with -d: the dump lands inside the chroot directory.  The template is the absolute
    path ROOT/in/m., so a chrooted sink writes ROOT/ROOT/in/m.<hex> and one that ignores -R
    writes ROOT/in/m.<hex>.  Postfix's chroots only with -u; ours with or without -u."""

    MESSAGE = [(None, 1), (b"HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n", 4),
               (b"Subject: chroot\r\n\r\nbody\r\n.\r\nQUIT\r\n", 2)]
    WIRE = (GREETING + b"250 smtp-sink\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
            b"250 2.0.0 Ok\r\n221 Bye\r\n<CLOSED>")
    DUMP = (b"X-Client-Addr: 127.0.0.1\nX-Client-Proto: SMTP\nX-Helo-Args: x\nX-Mail-Args: <a@b>\nX-Rcpt-Args: <c@d>\n"
            b"Received: from x ([127.0.0.1])\n\tby smtp-sink (smtp-sink) with SMTP id <ID>;\n\t<DATE>\n"
            b"Subject: chroot\n\nbody\n\n")

    def chroot_dir(self):
        d = TMP.join("chroot-%d" % support.serial())
        os.mkdir(d)
        os.chmod(d, 0o777)   # the sink may write as nobody
        self.addCleanup(support.remove_tempdir, d)
        return d

    def run_R(self, program, options, prefix=()):
        """One message through a sink with -R ROOT -d ROOT/in/m.; returns (ROOT, {relative path
        under ROOT: (mode, uid, normalised content)})."""
        root = self.chroot_dir()
        server, target = start_prefixed(program, list(options) + ["-R", root, "-d", root + "/in/m."], prefix,
                                        user=False)
        self.addCleanup(server.stop)
        self.assertEqual(converse(target, self.MESSAGE).wire(), self.WIRE)
        server.stop()
        files = {}
        for rel, (kind, mode, content) in tree(root).items():
            if kind == "file":
                files[rel] = (mode, os.stat(os.path.join(root, rel)).st_uid, norm_dump(content)[0])
        return root, files

    def assert_one_dump(self, root, files, chrooted, uid, who):
        self.assertEqual(len(files), 1, "%s: %r" % (who, files))
        (rel, (mode, owner, content)), = files.items()
        where = (root.lstrip("/") + "/in/") if chrooted else "in/"
        self.assertRegex(rel, "^" + re.escape(where) + "m\\.[0-9a-f]{8}$", who)
        self.assertEqual(mode, 0o644, who)
        self.assertEqual(owner, uid, who)
        self.assertEqual(show(content), show(self.DUMP), who)

    def test_R_with_u_both_chroot(self):
        for program, who in ((PF, "postfix"), (OURS, "ours")):
            root, files = self.run_R(program, ["-u", "nobody"])
            self.assert_one_dump(root, files, True, NOBODY.pw_uid, who)

    def test_R_without_u(self):
        """Ours as root without -u chroots (and writes as root); Postfix's without -u (run as
        nobody: as root it demands -u) ignores -R; ours run as nobody without -u tries the chroot
        and cannot."""
        root, files = self.run_R(OURS, [])
        self.assert_one_dump(root, files, True, 0, "ours as root")
        root, files = self.run_R(PF, [], prefix=AS_NOBODY)
        self.assert_one_dump(root, files, False, NOBODY.pw_uid, "postfix as nobody")
        root = self.chroot_dir()
        res = support.run(AS_NOBODY + [OURS, "-R", root, "-d", root + "/in/m.", "127.0.0.1:%d" % support.free_port(),
                                       "5"], timeout=20)
        self.assertEqual(res.returncode, 1, res)
        self.assertIn(b"fatal: chroot", res.stderr)
        self.assertTrue(res.stderr.endswith(b": Operation not permitted\n"), res)
        self.assertEqual(tree(root), {})

    def test_R_bad_directory_diagnostic(self):
        """A chroot that fails: Postfix's says `fatal: chroot(DIR): <error>`."""
        missing = TMP.join("no-such-root-%d" % support.serial())
        a_file = POSTFIX_SMTP_SINK
        for root, error in ((missing, "No such file or directory"), (a_file, "Not a directory")):
            with self.subTest(R=root):
                outs = []
                for program in (PF, OURS):
                    res = support.run([program, "-u", "nobody", "-R", root, "127.0.0.1:%d" % support.free_port(), "5"],
                                      timeout=20)
                    outs.append((res.returncode, norm_diag(res.stderr, program)))
                self.assertEqual(outs[0], (1, b"<ARGV0>: fatal: chroot(%s): %s\n" % (root.encode(), error.encode())),
                                 "Postfix's reference")
                self.assertEqual(outs[1], outs[0])


class DelayOddsTest(unittest.TestCase):
    """-W cmd:delay:odds end to end."""

    def test_fraction_with_odds_pipelined_burst(self):
        """-W noop:0.01:50 (ours takes fractions): a burst of 200 NOOPs between other commands gets
        every reply, in order, and the delays did happen (the replies came in several writes;
        that no NOOP at all was delayed has odds 2**-200)."""
        n = 200
        burst = b"".join(b"NOOP\r\n" + (b"RSET\r\n" if i % 2 else b"HELO x\r\n") for i in range(n)) + b"QUIT\r\n"
        want = (GREETING + b"".join(b"250 2.0.0 Ok\r\n" + (b"250 2.1.0 Ok\r\n" if i % 2 else b"250 smtp-sink\r\n")
                                    for i in range(n)) + b"221 Bye\r\n<CLOSED>")
        server, target = start_sink(OURS, ["-c", "-W", "noop:0.01:50"])
        self.addCleanup(server.stop)
        tr = converse(target, [(None, 1), (burst, 2 * n + 1)], step_timeout=60)
        self.assertEqual(show(tr.wire()), show(want))
        self.assertGreater(len(tr.chunks), 2, "no NOOP reply was delayed")
        self.assertEqual(wait_counters(server, lambda r: r["sess"] >= 1, 5)[-1], {"sess": 1, "quit": 1, "mesg": 0})
        self.assertEqual(server.stderr(), b"")
        self.assertTrue(server.alive())

    def test_postfix_takes_whole_seconds_only(self):
        for arg in ("noop:0.01:50", "noop:0.5"):
            with self.subTest(W=arg):
                res = support.run([PF] + user_args() + ["-W", arg, "127.0.0.1:%d" % support.free_port(), "5"],
                                  timeout=20)
                self.assertEqual((res.returncode, norm_diag(res.stderr, PF)),
                                 (1, b"<ARGV0>: fatal: non-positive 'noop' delay\n"))
                ours, _ = start_sink(OURS, ["-W", arg])     # ours listens
                ours.stop()

    def test_whole_seconds_with_odds_same_bytes(self):
        """-W noop:1:50, one NOOP at a time (each waits for its reply): the same bytes."""
        script = dialog(b"NOOP", b"HELO x", b"NOOP", b"NOOP", b"QUIT")

        def run(program):
            server, target = start_sink(program, ["-W", "noop:1:50"])
            self.addCleanup(server.stop)
            return converse(target, script, step_timeout=40).wire()

        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            pf, ours = ex.map(run, (PF, OURS))
        self.assertEqual(pf, GREETING + b"250 2.0.0 Ok\r\n250 smtp-sink\r\n250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n"
                         b"221 Bye\r\n<CLOSED>")
        self.assertEqual(ours, pf)

    def test_several_delayed_commands_in_one_burst(self):
        """Three delayed NOOPs in one burst: ours answers each, in order.  Postfix's answers only
        one of them (each delay re-arms the session's single timer) and the RSET."""
        burst = b"NOOP\r\nNOOP\r\nRSET\r\nNOOP\r\n"
        server, target = start_sink(OURS, ["-W", "noop:0.2"])
        self.addCleanup(server.stop)
        ours = converse(target, [(None, 1), (burst, 4), (b"QUIT\r\n", 1)])
        self.assertEqual(ours.wire(), GREETING + b"250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.0.0 Ok\r\n"
                         b"221 Bye\r\n<CLOSED>")
        pf_server, pf_target = start_sink(PF, ["-W", "noop:1"])
        self.addCleanup(pf_server.stop)
        pf = converse(pf_target, [(None, 1), (burst, 2)], end="open", quiet=2.5)
        self.assertEqual(pf.wire(), GREETING + b"250 2.1.0 Ok\r\n250 2.0.0 Ok\r\n")


class StalledClient:
    """A client that pipelines EHLO after EHLO (8 bytes in, a 165-byte reply out) and never reads,
    with a small receive buffer: the sink's replies fill every buffer between the two and its
    write blocks.  Sending is non-blocking, done by pump(), so nothing here ever blocks."""

    def __init__(self, target):
        try:
            with open("/proc/sys/net/ipv4/tcp_wmem") as f:
                wmem_max = int(f.read().split()[2])
        except (OSError, ValueError, IndexError):
            wmem_max = 4 << 20
        # replies for twice the largest send buffer the sink's socket can get, and 2 MB more
        count = (2 * wmem_max + (2 << 20)) // len(EHLO_ALL) + 1
        self.data = memoryview(b"EHLO x\r\n" * count)
        self.sent = 0
        self.error = None
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(support.LISTEN_TIMEOUT)
        self.sock.connect(target)
        self.sock.setblocking(False)
        self.port = target[1]
        self.client_port = self.sock.getsockname()[1]

    def pump(self):
        """Send what the socket takes now."""
        while self.sent < len(self.data) and self.error is None:
            try:
                self.sent += self.sock.send(self.data[self.sent:self.sent + 65536])
            except BlockingIOError:
                return
            except OSError as e:
                self.error = e

    def sink_side(self):
        return ss_tcp(self.port, self.client_port)

    def stalled(self, server):
        """The sink holds replies it cannot write (its Send-Q and our Recv-Q are not empty), is
        asleep (not working on our input), and does not read what we sent (or we sent it all)."""
        sink, me = self.sink_side(), ss_tcp(self.client_port, self.port)
        if not sink or not me or sink[0] != "ESTAB":
            return False
        return (sink[2] > 0 and me[1] > 0 and (sink[1] > 0 or self.sent == len(self.data))
                and process_state(server.pid) == "S")

    def wait_stalled(self, server, timeout=30):
        hits = [0]

        def check():
            self.pump()
            hits[0] = hits[0] + 1 if self.stalled(server) else 0
            return hits[0] >= 3      # three looks in a row
        support.wait_until(check, timeout, "the sink's writes to the stalled client to block")

    def pump_until(self, predicate, timeout, what):
        def check():
            self.pump()
            return predicate()
        support.wait_until(check, timeout, what)

    def reset(self):
        rst_close(self.sock)

    def close(self):
        self.sock.close()


def command_lines_out(text, command=b"EHLO x"):
    """-v stderr without the echo of `command` lines (how many of them a sink reads before its
    writes block depends on its buffer sizes)."""
    return [line for line in text.splitlines() if line != b"<ARGV0>: " + command]


class StalledClientTest(unittest.TestCase):
    """A client that stops reading while the sink writes."""

    def stall(self, program, options):
        server, target = start_sink(program, ["-c"] + options)
        self.addCleanup(server.stop)
        client = StalledClient(target)
        self.addCleanup(client.close)
        return server, target, client

    def write_timeout(self, program):
        server, target, client = self.stall(program, ["-t", "1"])
        client.pump_until(lambda: server.stderr() != b"", 30, "the sink to give up on the stalled client")
        support.wait_until(lambda: (client.sink_side() or ("gone",))[0] != "ESTAB", 10,
                           "the sink to close the stalled connection")
        records = wait_counters(server, lambda r: r["sess"] >= 1, 5)
        tr = converse(target, WireTest.NORMAL)     # served on
        return norm_diag(server.stderr(), program), records, tr.wire()

    def test_write_timeout(self):
        """-t 1: the sink gives up on the client with `warning: write timeout` (Postfix's words;
        spec §3.10), counts the session, and serves the next client."""
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            pf, ours = ex.map(self.write_timeout, (PF, OURS))
        self.assertEqual(pf[0], b"<ARGV0>: warning: write timeout\n", "Postfix's reference")
        self.assertEqual(pf[1], [{"sess": 1, "quit": 0, "mesg": 0}])
        self.assertEqual(ours[:2], pf[:2])
        self.assertTrue(ours[2].endswith(b"250 2.0.0 Ok\r\n221 Bye\r\n<CLOSED>"), ours[2])
        self.assertEqual(ours[2], pf[2])

    def test_other_clients_served_meanwhile(self):
        """Ours: while its writes to the stalled client are blocked (-t 30), another client has a
        whole session; the stalled one is still held afterwards (no timeout yet, replies still
        queued) and ends only when it resets.  (Postfix's whole process waits in that write,
        spec §8 item 16.)"""
        server, target, client = self.stall(OURS, ["-t", "30"])
        client.wait_stalled(server)
        tr = converse(target, WireTest.NORMAL)
        self.assertEqual(tr.wire(), GREETING + b"250 smtp-sink\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                         b"354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok\r\n221 Bye\r\n<CLOSED>")
        records = wait_counters(server, lambda r: r["sess"] >= 1, 5)
        self.assertEqual(records, [{"sess": 0, "quit": 0, "mesg": 1}, {"sess": 1, "quit": 1, "mesg": 1}])
        self.assertTrue(client.stalled(server), client.sink_side())
        self.assertEqual(server.stderr(), b"")
        client.reset()
        records = wait_counters(server, lambda r: r["sess"] >= 2, 10, "the stalled session to end")
        self.assertEqual(records[-1], {"sess": 2, "quit": 1, "mesg": 1})
        self.assertEqual(norm_diag(server.stderr(), OURS), b"<ARGV0>: warning: lost connection\n")
        self.assertTrue(server.alive())


class LostConnectionTest(unittest.TestCase):
    """A client that disappears mid-dialog.  Spec §3.10/§3.11: a failed write prints `warning:
    lost connection` (with or without -v); EOF or a reset seen while reading is a silent close
    (-v: `disconnect`)."""

    def reset_while_writing(self, program, verbose):
        server, target = start_sink(program, ["-c"] + (["-v"] if verbose else []))
        self.addCleanup(server.stop)
        client = StalledClient(target)
        self.addCleanup(client.close)
        client.wait_stalled(server)
        client.reset()
        # the failed write is reported before settle()'s session starts, so the two sessions'
        # -v lines cannot interleave
        support.wait_until(lambda: b"warning: " in server.stderr(), 10, "the failed write's warning")
        settle(server, 1)
        return norm_verbose(server.stderr(), program), counters(server)

    def test_reset_while_the_sink_writes(self):
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            (pf, pf_rec), (ours, our_rec) = ex.map(lambda p: self.reset_while_writing(p, False), (PF, OURS))
        self.assertEqual(pf, b"<ARGV0>: warning: lost connection\n", "Postfix's reference")
        self.assertEqual(ours, pf)
        self.assertEqual(pf_rec[0], {"sess": 1, "quit": 0, "mesg": 0})
        self.assertEqual(our_rec, pf_rec)

    def test_reset_while_the_sink_writes_verbose(self):
        """-v: Postfix's prints `smtp_vprintf: EOF` (its smtp_stream's -v line for the failed
        write) before the warning; likewise `smtp_vprintf: timeout` before `warning: write timeout`."""
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            (pf, _), (ours, _) = ex.map(lambda p: self.reset_while_writing(p, True), (PF, OURS))
        self.assertIn(b"<ARGV0>: smtp_vprintf: EOF\n<ARGV0>: warning: lost connection\n", pf, "Postfix's reference")
        self.assertEqual(command_lines_out(ours), command_lines_out(pf))

    def test_write_timeout_verbose(self):
        def run(program):
            server, target = start_sink(program, ["-c", "-v", "-t", "1"])
            self.addCleanup(server.stop)
            client = StalledClient(target)
            self.addCleanup(client.close)
            client.pump_until(lambda: b"warning: " in server.stderr(), 30, "the write timeout")
            settle(server, 1)
            return norm_verbose(server.stderr(), program)

        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            pf, ours = ex.map(run, (PF, OURS))
        self.assertIn(b"<ARGV0>: smtp_vprintf: timeout\n<ARGV0>: warning: write timeout\n", pf, "Postfix's reference")
        self.assertEqual(command_lines_out(ours), command_lines_out(pf))

    # a client that goes away while the sink waits for input: (steps, how it leaves)
    GONE_WHILE_READING = {
        "close after HELO": ([(None, 1), (b"HELO x\r\n", 1)], "close"),
        "close in DATA": ([(None, 1), (b"HELO x\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\n", 4),
                           (b"Subject: half\r\n\r\npart\r\n", 0)], "close"),
        "reset after HELO": ([(None, 1), (b"HELO x\r\n", 1)], "reset"),
        "reset in DATA": ([(None, 1), (b"HELO x\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\n", 4),
                           (b"Subject: half\r\n\r\npart\r\n", 0)], "reset"),
    }

    def gone(self, program, options, steps, how):
        server, target = start_sink(program, ["-c"] + options)
        self.addCleanup(server.stop)
        sock = support.connect_to(target)
        wire = converse(None, steps, end="open", quiet=0, sock=_NoClose(sock)).wire()
        if how == "reset":
            rst_close(sock)
        else:
            sock.close()
        records = wait_counters(server, lambda r: r["sess"] >= 1, 5)
        settle(server, 1)
        return wire, norm_verbose(server.stderr(), program), records[-1]

    def test_gone_while_the_sink_reads(self):
        for name, (steps, how) in self.GONE_WHILE_READING.items():
            for options in ([], ["-v"]):
                with self.subTest(name, options=options):
                    with concurrent.futures.ThreadPoolExecutor(2) as ex:
                        pf, ours = ex.map(lambda p: self.gone(p, options, steps, how), (PF, OURS))
                    self.assertEqual(ours[0], pf[0])
                    self.assertEqual(pf[2], {"sess": 1, "quit": 0, "mesg": 0})
                    self.assertEqual(ours[2], pf[2])
                    if not options:
                        self.assertEqual(pf[1], b"", "Postfix's reference")
                    else:
                        self.assertEqual(pf[1].count(b"<ARGV0>: disconnect\n"), 2, "Postfix's reference")
                    self.assertEqual(ours[1].splitlines(), pf[1].splitlines())

    def test_reset_before_a_delayed_reply(self):
        """The client resets while its NOOP's reply is delayed (-W noop:2): when the delay ends,
        Postfix's finds the socket readable, reads first, sees the reset and closes silently
        (-v: `disconnect`) without writing the reply. Ours writes the reply, and says the client
        was lost before it: `warning: lost connection` (-v: `smtp_vprintf: EOF` first), as for
        any write that fails. (NOOP goes after HELO's reply has come: Postfix's holds an
        unflushed HELO reply back until the delay is over, ours does not.)"""
        for options in ([], ["-v"]):
            with self.subTest(options=options):
                steps = [(None, 1), (b"HELO x\r\n", 1), (b"NOOP\r\n", 0)]
                with concurrent.futures.ThreadPoolExecutor(2) as ex:
                    pf, ours = ex.map(lambda p: self.gone(p, ["-W", "noop:2"] + options, steps, "reset"), (PF, OURS))
                self.assertEqual(ours[0], pf[0])
                self.assertEqual(ours[2], pf[2])
                if not options:
                    self.assertEqual(pf[1], b"", "Postfix's reference")
                    self.assertEqual(ours[1], b"<ARGV0>: warning: lost connection\n")
                else:
                    want = pf[1].splitlines()
                    at = want.index(b"<ARGV0>: disconnect")  # the reset session's
                    want[at:at + 1] = [b"<ARGV0>: smtp_vprintf: EOF", b"<ARGV0>: warning: lost connection"]
                    self.assertEqual(ours[1].splitlines(), want)


class _NoClose:
    """A socket whose close() converse() may call without closing it (the test closes it itself,
    with a FIN or a RST)."""

    def __init__(self, sock):
        self._sock = sock

    def close(self):
        pass

    def __getattr__(self, name):
        return getattr(self._sock, name)


class VerboseCloseTest(unittest.TestCase):
    """-v lines when the sink itself ends a session: -q, -Q and -A.  Whole -v stderr compared
    (fd numbers, TCP_MAXSEG, buffer size and port normalised), including a settling session."""

    UP_TO_DATA = dialog(b"HELO x", b"MAIL FROM:<a>", b"RCPT TO:<b>", b"DATA")
    SCRIPT = UP_TO_DATA + [(b"hi\r\n.\r\n", 1)] + dialog(b"NOOP", b"QUIT", greeting=0)[1:]

    def verbose(self, program, options, steps):
        server, target = start_sink(program, ["-v", "-c"] + options)
        self.addCleanup(server.stop)
        wire = converse(target, steps).wire()
        wait_counters(server, lambda r: r["sess"] >= 1, 10)
        settle(server, 1)
        return norm_verbose(server.stderr(), program), wire

    def compare(self, cases):
        def run(case):
            options, steps = case
            return self.verbose(PF, options, steps), self.verbose(OURS, options, steps)

        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            results = list(ex.map(run, cases))
        for (options, _), ((pf_err, pf_wire), (our_err, our_wire)) in zip(cases, results):
            with self.subTest(options=options):
                self.assertEqual(our_wire, pf_wire)
                self.assertEqual(our_err.splitlines(), pf_err.splitlines())
        return results

    def test_q_and_Q_on_a_command(self):
        cases = [(["-q", "rcpt"], self.SCRIPT), (["-Q", "rcpt"], self.SCRIPT), (["-q", "."], self.SCRIPT),
                 (["-Q", "."], self.SCRIPT), (["-q", "noop"], self.SCRIPT), (["-Q", "quit"], self.SCRIPT),
                 (["-Q", "helo", "-W", "helo:1"], self.SCRIPT), (["-q", "data", "-L"], self.SCRIPT)]
        for (options, _), ((pf_err, _), _) in zip(cases, self.compare(cases)):
            # the dropping command is echoed, then `disconnect`; the settling session ends the same way
            self.assertEqual(pf_err.count(b"<ARGV0>: disconnect\n"), 2, ("Postfix's reference", options))

    def test_q_and_Q_on_connect(self):
        """-q connect / -Q connect: Postfix's prints no `disconnect` line for these sessions."""
        cases = [(["-q", "connect"], self.SCRIPT), (["-Q", "connect"], self.SCRIPT)]
        for (options, _), ((pf_err, pf_wire), _) in zip(cases, self.compare(cases)):
            self.assertNotIn(b"disconnect", pf_err, ("Postfix's reference", options))
            self.assertEqual(pf_err.count(b"<ARGV0>: connect (AF_INET 127.0.0.1)\n"), 2)

    def test_A_abort(self):
        """-A 0 / -A 1 after a DATA sent alone: the 550 and the close, and Postfix's prints no
        `disconnect` line for that session."""
        cases = [(["-A", "0"], self.UP_TO_DATA), (["-A", "1"], self.UP_TO_DATA)]
        for (options, _), ((pf_err, pf_wire), _) in zip(cases, self.compare(cases)):
            self.assertTrue(pf_wire.endswith(b"354 End data with <CR><LF>.<CR><LF>\r\n550 This violates SMTP\r\n"
                                             b"<CLOSED>"), pf_wire)
            self.assertEqual(pf_err.count(b"<ARGV0>: disconnect\n"), 1, ("Postfix's reference", options))

    def test_A_with_content_pipelined_behind_DATA(self):
        """Ours: -A stops reading at the 354, whatever is already buffered behind it: the 550 and the
        close.  (Postfix's 3.7.11 runs the buffered content lines as commands and never sends the 550.)"""
        burst = [(None, 1), (b"HELO x\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n", 5)]
        our_err, ours = self.verbose(OURS, ["-A", "1"], burst)
        self.assertEqual(ours, GREETING + b"250 smtp-sink\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                         b"354 End data with <CR><LF>.<CR><LF>\r\n550 This violates SMTP\r\n<CLOSED>")
        self.assertNotIn(b"<ARGV0>: hi\n", our_err)
        _, pf = self.verbose(PF, ["-A", "1"], burst)
        self.assertEqual(pf, GREETING + b"250 smtp-sink\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                         b"354 End data with <CR><LF>.<CR><LF>\r\n500 5.5.1 Error: unknown command\r\n"
                         b"250 2.0.0 Ok\r\n221 Bye\r\n<CLOSED>")


# The sink's private /dev: the usual device nodes bind-mounted into a directory of the test's
# that also holds `log`, then that directory bind-mounted over /dev, all in a mount namespace of
# the sink's own (unshare --mount, private propagation: nothing changes outside it).
SYSLOG_NS_SCRIPT = r'''set -e
d=$1
shift
for n in null zero full random urandom; do
    : > "$d/dev/$n"
    mount --bind "/dev/$n" "$d/dev/$n"
done
mount --rbind "$d/dev" /dev
exec "$@"
'''
SYSLOG_RE = re.compile(rb"<(\d+)>([A-Z][a-z]{2} [ 0-3]\d \d\d:\d\d:\d\d) ([^\[\]: ]+)\[(\d+)\]: (.*)\Z", re.S)
LOG_MAIL_INFO = 2 * 8 + 6


class SyslogCapture:
    """A unix datagram socket that a sink run under prefix() sees as /dev/log; a thread reads it."""

    def __init__(self):
        self.dir = TMP.join("syslog-%d" % support.serial())
        os.makedirs(os.path.join(self.dir, "dev"))
        os.chmod(self.dir, 0o755)
        os.chmod(os.path.join(self.dir, "dev"), 0o755)
        self.path = os.path.join(self.dir, "dev", "log")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o666)    # Postfix's sink logs as nobody (-u)
        self.messages = []
        self.cond = threading.Condition()
        self.end = b"<end %d>" % support.serial()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def prefix(self):
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", SYSLOG_NS_SCRIPT, "sh", self.dir]

    def _read(self):
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            with self.cond:
                self.messages.append(data)
                self.cond.notify_all()
            if data == self.end:
                return

    def _send(self, data):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            s.sendto(data, self.path)
        finally:
            s.close()

    def sync(self, timeout=10):
        """Everything logged so far: the sink logs a command (synchronously, into this socket's
        queue) before it answers it, and the queue is FIFO, so a marker sent now comes after it."""
        marker = b"<marker %d>" % support.serial()
        self._send(marker)
        deadline = time.monotonic() + timeout
        with self.cond:
            while marker not in self.messages:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("syslog marker not read")
                self.cond.wait(left)
            return [m for m in self.messages[:self.messages.index(marker)] if not m.startswith(b"<marker ")]

    def close(self):
        self._send(self.end)
        self.thread.join(support.LISTEN_TIMEOUT)
        self.sock.close()
        support.remove_tempdir(self.dir)


class SyslogTest(unittest.TestCase):
    """-s cmds: each listed command is sent to syslog(3), i.e. to /dev/log, as
    `<22>Mmm dd hh:mm:ss smtp-sink[PID]: COMMAND ARGS` (LOG_MAIL|LOG_INFO, ident = basename of
    argv[0], LOG_PID).  Each sink runs with a private /dev/log (see SyslogCapture)."""

    def logged(self, program, options, conversations):
        """Run the conversations; return (wires, the logged message texts)."""
        cap = SyslogCapture()
        self.addCleanup(cap.close)
        server, target = start_prefixed(program, ["-c"] + options, prefix=cap.prefix())
        self.addCleanup(server.stop)
        self.assertEqual(os.path.realpath("/proc/%d/exe" % server.pid),
                         os.path.realpath(POSTFIX_SMTP_SINK if program == PF else os.path.join(BINDIR, "smtp-sink")))
        wires = [converse(target, steps).wire() for steps in conversations]
        wait_counters(server, lambda r: r["sess"] >= len(conversations), 10)
        texts = []
        for msg in cap.sync():
            m = SYSLOG_RE.match(msg)
            self.assertIsNotNone(m, msg)
            self.assertEqual(int(m.group(1)), LOG_MAIL_INFO, msg)
            self.assertEqual(m.group(3), b"smtp-sink", msg)
            self.assertEqual(int(m.group(4)), server.pid, msg)
            texts.append(m.group(5))
        return wires, texts

    def compare(self, options, conversations, expected):
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            pf, ours = ex.map(lambda p: self.logged(p, options, conversations), (PF, OURS))
        self.assertEqual(pf[1], expected, "Postfix's reference")
        self.assertEqual(ours[1], pf[1])
        self.assertEqual(ours[0], pf[0])
        return pf, ours

    def test_every_command(self):
        script = (dialog(b"HELO x", b"EHLO  two  spaces", b"mail from:<a@b> \x01\x7f SIZE=1", b"RCPT TO:<c@d>", b"DATA")
                  + [(b"Subject: s\r\n\r\nbody\r\n.\r\n", 1)]
                  + dialog(b"NOOP " + b"y" * 300, b"RSET", b"VRFY", b"XCLIENT NAME=x", b"Quit", greeting=0)[1:])
        self.compare(["-s", "connect,helo,ehlo,mail,rcpt,data,.,rset,noop,vrfy,quit"], [script],
                     [b"connect ", b"HELO x", b"EHLO  two  spaces", b"mail from:<a@b> ?? SIZE=1", b"RCPT TO:<c@d>",
                      b"DATA ", b". ", b"NOOP " + b"y" * 100, b"RSET ", b"VRFY ", b"Quit "])

    def test_logged_before_the_action(self):
        """-s is step 1 (spec §3.7): a command refused (-f, -r) or dropped (-q) is logged all the same."""
        pf, _ = self.compare(["-s", "helo,mail,rcpt", "-r", "helo", "-f", "mail", "-q", "rcpt"],
                             [dialog(b"HELO x", b"MAIL FROM:<a>", b"RCPT TO:<b>", b"QUIT")],
                             [b"HELO x", b"MAIL FROM:<a>", b"RCPT TO:<b>"])
        self.assertEqual(pf[0], [GREETING + b"450 4.3.0 Error: command failed\r\n500 5.3.0 Error: command failed\r\n"
                                 b"<CLOSED>"])

    def test_disabled_commands_and_lmtp(self):
        """Disabled commands (-e: EHLO, -C: XCLIENT) are refused before -s; LMTP's LHLO and '.'."""
        self.compare(["-e", "-C", "-s", "ehlo,helo,xclient"], [dialog(b"EHLO x", b"XCLIENT NAME=x", b"HELO y", b"QUIT")],
                     [b"HELO y"])
        self.compare(["-L", "-s", "lhlo,rcpt,.,quit"],
                     [dialog(b"LHLO x", b"MAIL FROM:<>", b"RCPT TO:<a>", b"RCPT TO:<b>", b"DATA") + [(b"hi\r\n.\r\n", 2)],
                      dialog(b"QUIT")],
                     [b"LHLO x", b"RCPT TO:<a>", b"RCPT TO:<b>", b". ", b"QUIT "])

    def test_nothing_logged_without_s(self):
        """Without -s nothing goes to syslog, not even warnings or -v lines."""
        self.compare(["-v"], [WireTest.NORMAL, [(None, 1), (b"NOOP " + b"x" * 3000 + b"\r\n", 0)]], [])



# ================================================================================================
# 9. --report: what our sink accepted, against Postfix's smtp-source
# ================================================================================================

import json  # noqa: E402
import signal  # noqa: E402


class ReportTest(unittest.TestCase):
    """--report=json|text at exit (-n) and on SIGTERM: counts exact, replies by code."""

    M, S, R, L = 60, 3, 4, 500

    def run_pf_source(self, target, lmtp):
        res = support.run([POSTFIX_SMTP_SOURCE] + (["-L"] if lmtp else []) +
                          ["-s", str(self.S), "-m", str(self.M), "-r", str(self.R), "-l", str(self.L),
                           client_address(target)])
        self.assertEqual(res.returncode, 0, res)

    def check(self, report, lmtp):
        m, r = self.M, self.R
        self.assertEqual(report["tool"], "smtp-sink")
        self.assertIsNone(report["error"])
        self.assertEqual((report["connections"], report["sessions"], report["quits"]), (m, m, m))
        self.assertEqual((report["messages"], report["recipients"]), (m, m * r))
        self.assertGreaterEqual(report["data_bytes"], m * self.L)
        # HELO/LHLO, MAIL, each RCPT and '.' (LMTP: one per recipient) get 250
        ok = m * (2 + r + (r if lmtp else 1))
        self.assertEqual(report["replies"], {"220": m, "250": ok, "354": m, "221": m})
        self.assertGreater(report["busy_s"], 0)
        self.assertLessEqual(report["busy_s"], report["elapsed_s"])

    def test_json_at_exit_smtp_and_lmtp(self):
        for lmtp in (False, True):
            with self.subTest(lmtp=lmtp):
                server, target = start_sink(OURS, (["-L"] if lmtp else []) + ["--report=json", "-n", str(self.M)])
                self.addCleanup(server.stop)
                self.run_pf_source(target, lmtp)
                self.assertEqual(wait_exit(server, 20), 0)
                out = server.stdout()
                self.assertTrue(out.endswith(b"}\n"), out)
                report = json.loads(out)
                self.check(report, lmtp)
                self.assertIsNone(report["stopped_by"])

    def test_text_on_sigterm_after_the_counter_line(self):
        server, target = start_sink(OURS, ["-c", "--report=text"])
        self.addCleanup(server.stop)
        self.run_pf_source(target, False)
        wait_counters(server, lambda rec: rec["sess"] == self.M, 20, "every session counted")
        self.assertEqual(server.stop(), -signal.SIGTERM)  # ends as the signal would have
        counters_line, text = server.stdout().split(b"\n", 1)
        self.assertTrue(counters_line.endswith(b"sess=%d quit=%d mesg=%d\r" % (self.M, self.M, self.M)))
        m, r = self.M, self.R
        self.assertIn(b"smtp-sink report\n  connections: %d accepted, %d sessions ended, %d QUIT\n" % (m, m, m), text)
        self.assertIn(b"\n  messages:    %d, %d recipients, " % (m, m * r), text)
        self.assertIn(b"\n  replies:     220\xc3\x97%d 250\xc3\x97%d 354\xc3\x97%d 221\xc3\x97%d\n"
                      % (m, m * (3 + r), m, m), text)
        self.assertIn(b"\n  stopped by:  SIGTERM\n", text)

    def test_rejections_counted_by_code(self):
        """-r rcpt tempfails every RCPT with the -b reply (450): Postfix's source gives up at
        once (fatal) and the sink's report says what it answered."""
        server, target = start_sink(OURS, ["-r", "rcpt", "--report=json", "-n", "1"])
        self.addCleanup(server.stop)
        res = support.run([POSTFIX_SMTP_SOURCE, "-s", "1", "-m", "5", client_address(target)])
        self.assertEqual(res.returncode, 1, res)
        self.assertIn(b"recipient rejected: 450 4.3.0 Error: command failed", res.stderr)
        self.assertEqual(wait_exit(server, 20), 0)
        report = json.loads(server.stdout())
        self.assertEqual((report["sessions"], report["quits"], report["messages"]), (1, 0, 0))
        self.assertEqual(report["replies"], {"220": 1, "250": 2, "450": 1})

    def test_our_source_and_sink_agree_byte_for_byte(self):
        """Our source's bytes_accepted equals our sink's data_bytes: every byte of every message
        counted on both sides (lock-step, pipelined, LMTP, -l, -d)."""
        for options in ([], ["--pipelining", "-d"], ["-L", "-r", "3"], ["-l", "20000", "-d"]):
            with self.subTest(options=options):
                sessions = self.S if "-d" in options else self.M  # without -d: one per message
                server, target = start_sink(OURS, (["-L"] if "-L" in options else [])
                                            + ["--report=json", "-n", str(sessions)])
                self.addCleanup(server.stop)
                res = support.run([OUR_SOURCE, "--report=json", "-s", str(self.S), "-m", str(self.M)] + options
                                  + [client_address(target)])
                self.assertEqual(res.returncode, 0, res)
                self.assertEqual(wait_exit(server, 20), 0)
                ours, sink = json.loads(res.stdout), json.loads(server.stdout())
                self.assertEqual((ours["messages"]["accepted"], sink["messages"]), (self.M, self.M))
                self.assertGreater(ours["bytes_accepted"], 0)
                self.assertEqual(ours["bytes_accepted"], sink["data_bytes"])

    def test_bad_format(self):
        res = support.run([OURS, "--report=xml", "127.0.0.1:1", "1"])
        self.assertEqual(res.returncode, 1)
        self.assertIn(b"xml", res.stderr)


if __name__ == "__main__":
    unittest.main()
