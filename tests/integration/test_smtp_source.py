#!/usr/bin/env python3
"""Integration tests of mailload's smtp-source against Postfix's real smtp-source and smtp-sink.

    python3 tests/integration/test_smtp_source.py --bindir DIR [--sink-bindir DIR] [unittest options]

--sink-bindir: where our smtp-sink and fixed-source are (default: --bindir; tools/test.sh's TSan
step builds only the sources).

DIR holds our built `smtp-source`.  Postfix's /usr/sbin/smtp-source and /usr/sbin/smtp-sink are the
reference (Debian 12: Postfix 3.7.11, i.e. the "3.8 and older" behaviour of the spec, which is also
our default; --compat=3.9 selects the newer numbering).

Both programs are always started through symlinks with the same basename (PFDIR/smtp-source and
OURDIR/smtp-source) so that argv[0] differs only in its directory; diagnostics are compared after
replacing the exact argv[0] by "<ARGV0>" (Postfix prints argv[0] as typed in every diagnostic, so a
program that printed only its basename would NOT be normalised and would be caught).

All load goes to 127.0.0.1, ::1 or a unix socket in a private temporary directory.

The -r tests once caught our getopt string declaring -r without an argument (a crash on any -r).
"""

import concurrent.futures
import json
import os
import re
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import support  # noqa: E402

BINDIR = support.take_option(sys.argv, "--bindir")
SINK_BINDIR = support.take_option(sys.argv, "--sink-bindir") or BINDIR
POSTFIX_SMTP_SOURCE = "/usr/sbin/smtp-source"
HOST = socket.gethostname()
HOSTB = HOST.encode()

TMP = None          # module temp dir (support.TempDir)
PF = None           # path of the symlink to Postfix's smtp-source
OURS = None         # path of the symlink to our smtp-source
ARGV0 = "<ARGV0>"

# Postfix's usage line (spec §2.1); argv[0] appears twice in it.
USAGE_TAIL = (" -cdLNov -s sess -l msglen -m msgs -C count -M myhostname -f from -t to -r rcptcount"
              " -R delay -w delay host[:port]")


def setUpModule():
    global TMP, PF, OURS
    if not BINDIR:
        raise RuntimeError("usage: test_smtp_source.py --bindir DIR [unittest args]")
    ours_real = os.path.join(BINDIR, "smtp-source")
    if not os.access(ours_real, os.X_OK):
        raise RuntimeError("no executable smtp-source in %s" % BINDIR)
    TMP = support.TempDir("mailload-src-")
    PF = support.program_link(TMP.join("pf"), "smtp-source", POSTFIX_SMTP_SOURCE)
    OURS = support.program_link(TMP.join("ours"), "smtp-source", ours_real)


def tearDownModule():
    if TMP:
        TMP.cleanup()


# ------------------------------------------------------------------------------------------------
# normalisation helpers
# ------------------------------------------------------------------------------------------------

def norm_diag(text, program):
    """stderr/stdout with the exact argv[0] used for `program` replaced by <ARGV0>."""
    return support.normalise_argv0(text, program, ARGV0)


DATE_RE = re.compile(rb"^Date: ([^\r\n]*)\r\n", re.M)
MSGID_RE = re.compile(rb"^Message-Id: <([0-9a-f]+)\.([0-9a-f]+)\.([0-9a-f]+)@([^>\r\n]*)>\r\n", re.M)
# §1.6, <=3.8 format: day space-padded ("Tue,  4 Nov"), >=3.9: zero-padded ("Tue, 04 Nov").
DATE_38 = re.compile(rb"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [ 123]\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
                     rb" \d{4} \d\d:\d\d:\d\d [+-]\d{4} \([^)]*\)$")
DATE_39 = re.compile(rb"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-3]\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
                     rb" \d{4} \d\d:\d\d:\d\d [+-]\d{4} \([^)]*\)$")


def norm_wire(data, keep_left=True):
    """Normalise Date: values and the PID and FD fields of Message-Id (LEFT too unless keep_left)."""
    data = DATE_RE.sub(b"Date: <DATE>\r\n", data)

    def msgid(m):
        left = m.group(3) if keep_left else b"<LEFT>"
        return b"Message-Id: <<PID>.<FD>." + left + b"@" + m.group(4) + b">\r\n"
    return MSGID_RE.sub(msgid, data)


def split_commands(data):
    """Client->server bytes as a list of CRLF-terminated lines (for readable failure output)."""
    return data.split(b"\r\n")


# ------------------------------------------------------------------------------------------------
# running the two programs
# ------------------------------------------------------------------------------------------------

def run_via_relay(program, args, target):
    """Run `program args <relay address>` through a fresh recording relay in front of `target`.

    Returns (Result, [client->server bytes per connection, in accept order])."""
    with support.Relay(target) as relay:
        res = support.run([program] + list(args) + [relay.address])
        conns = relay.wait_idle()
        return res, [bytes(c.client_to_server) for c in conns]


class SinkPool:
    """Postfix smtp-sinks shared by the tests of one class, keyed by their options."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.sinks = {}

    def get(self, options=(), family="inet"):
        key = (tuple(options), family)
        if key not in self.sinks:
            self.sinks[key] = support.start_smtp_sink(self.workdir, options, family=family)
        return self.sinks[key]

    def stop_all(self):
        for server, _, _ in self.sinks.values():
            server.stop()
        self.sinks.clear()


# ================================================================================================
# 1. counting: ours against Postfix's smtp-sink -c
# ================================================================================================

class CountingTest(unittest.TestCase):
    """-s 10 -m N -l 1000: the sink's final record counts exactly N messages; our -c output is
    exactly "1\\r2\\r...N\\r\\n"; exit status 0; nothing on stderr."""

    MESSAGES = 5000
    SESSIONS = 10

    def run_counting(self, family, lmtp, keep):
        workdir = support.make_tempdir("mailload-cnt-")
        self.addCleanup(support.remove_tempdir, workdir)
        sink, address, _ = support.start_smtp_sink(workdir, ["-c"] + (["-L"] if lmtp else []), family=family)
        self.addCleanup(sink.stop)
        args = [OURS, "-c", "-s", str(self.SESSIONS), "-m", str(self.MESSAGES), "-l", "1000"]
        args += (["-L"] if lmtp else []) + (["-d"] if keep else [])
        res = support.run(args + [address])
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(res.stderr, b"", res)
        expected_stdout = b"".join(b"%d\r" % i for i in range(1, self.MESSAGES + 1)) + b"\n"
        self.assertEqual(res.stdout, expected_stdout)
        # Every message was counted by the sink before it answered "."; each connection sent QUIT.
        # Wait (deadline) until the sink has also seen every connection close, then stop it.
        connections = self.SESSIONS if keep else self.MESSAGES

        def closed_all():
            recs = support.sink_counters(sink.stdout(), complete_only=True)
            return bool(recs) and recs[-1]["sess"] >= connections
        support.wait_until(closed_all, 20, "smtp-sink to see %d sessions end" % connections)
        sink.stop()
        records = support.sink_counters(sink.stdout())
        self.assertEqual(records[-1], {"sess": connections, "quit": connections, "mesg": self.MESSAGES})
        self.assertEqual(max(r["mesg"] for r in records), self.MESSAGES)

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


# ================================================================================================
# 2. byte for byte: client->server bytes of Postfix's smtp-source and ours, through a relay
# ================================================================================================

F_FILE_CONTENT = (b"Subject: test F\nFrom: x@y\n\n.leading dot\n..two dots\nnormal\n.\n"
                  b"a CR\rinside\nCR before LF\r\nlast line no newline")


class WireTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.workdir = support.make_tempdir("mailload-wire-")
        cls.sinks = SinkPool(cls.workdir)
        cls.ffile = os.path.join(cls.workdir, "msg.txt")
        with open(cls.ffile, "wb") as f:
            f.write(F_FILE_CONTENT)

    @classmethod
    def tearDownClass(cls):
        cls.sinks.stop_all()
        support.remove_tempdir(cls.workdir)

    def compare(self, args, sink_options=(), multi=False, check_stderr=True):
        """Run both programs with `args` against a sink with `sink_options`; assert equal bytes.

        multi: several sessions, compare connections as a multiset and normalise Message-Id LEFT.
        Returns (postfix result, postfix conns, our result, our conns), normalised conns.
        """
        _, _, target = self.sinks.get(sink_options)
        pf_res, pf_conns = run_via_relay(PF, args, target)
        our_res, our_conns = run_via_relay(OURS, args, target)
        ctx = "args=%r sink=%r" % (args, list(sink_options))
        self.assertGreater(len(pf_conns), 0, ctx)
        self.assertEqual(our_res.returncode, pf_res.returncode, "%s\nours=%r\npostfix=%r" % (ctx, our_res, pf_res))
        self.assertEqual(norm_diag(our_res.stdout, OURS), norm_diag(pf_res.stdout, PF), ctx)
        if check_stderr:
            self.assertEqual(norm_diag(our_res.stderr, OURS).decode(errors="replace").splitlines(),
                             norm_diag(pf_res.stderr, PF).decode(errors="replace").splitlines(), ctx)
        # Message-Id PID field: the process id, %04x.
        for res, conns in ((pf_res, pf_conns), (our_res, our_conns)):
            for data in conns:
                for m in MSGID_RE.finditer(data):
                    self.assertEqual(m.group(1), b"%04x" % res.pid, "%s: Message-Id pid in %r" % (ctx, m.group(0)))
        pf_norm = [norm_wire(d, keep_left=not multi) for d in pf_conns]
        our_norm = [norm_wire(d, keep_left=not multi) for d in our_conns]
        if multi:
            pf_norm, our_norm = sorted(pf_norm), sorted(our_norm)
        self.assertEqual(len(our_norm), len(pf_norm), ctx)
        for i, (o, p) in enumerate(zip(our_norm, pf_norm)):
            self.assertEqual(split_commands(o), split_commands(p), "%s connection %d" % (ctx, i))
        return pf_res, pf_norm, our_res, our_norm

    # -- the cases --

    def test_defaults(self):
        _, pf, _, ours = self.compare([])
        # and the bytes are what spec §2.5/§2.6 say
        expected = (b"HELO " + HOSTB + b"\r\nMAIL FROM:<foo@" + HOSTB + b">\r\nRCPT TO:<foo@" + HOSTB +
                    b">\r\nDATA\r\nFrom: <foo@" + HOSTB + b">\r\nTo: <foo@" + HOSTB + b">\r\nDate: <DATE>\r\n"
                    b"Message-Id: <<PID>.<FD>.0000@" + HOSTB + b">\r\n\r\n" +
                    b"".join(b"La de da de da %d.\r\n" % i for i in range(1, 5)) + b".\r\nQUIT\r\n")
        self.assertEqual(ours, [expected])

    def test_date_header_format(self):
        # Default (3.8 compatibility, as the installed Postfix 3.7.11): space-padded day (§1.6).
        for program in (PF, OURS):
            _, conns = run_via_relay(program, [], self.sinks.get()[2])
            dates = [m.group(1) for m in DATE_RE.finditer(conns[0])]
            self.assertEqual(len(dates), 1, program)
            self.assertRegex(dates[0], DATE_38, program)

    def test_d_m3(self):
        _, _, _, ours = self.compare(["-d", "-m", "3"])
        self.assertEqual(len(ours), 1)
        self.assertEqual(re.findall(rb"Message-Id: <[^.]*\.[^.]*\.([0-9a-f]+)@", ours[0]), [b"0002", b"0001", b"0000"])
        self.assertEqual(ours[0].count(b"HELO "), 1)
        self.assertNotIn(b"RSET", ours[0])

    def test_r3(self):
        _, _, _, ours = self.compare(["-r", "3"])
        self.assertIn(b"RCPT TO:<3foo@%s>\r\nRCPT TO:<2foo@%s>\r\nRCPT TO:<foo@%s>\r\n" % (HOSTB, HOSTB, HOSTB), ours[0])

    def test_r3_N(self):
        _, _, _, ours = self.compare(["-r", "3", "-N"])
        self.assertIn(b"RCPT TO:<1foo@%s>\r\nRCPT TO:<2foo@%s>\r\nRCPT TO:<3foo@%s>\r\n" % (HOSTB, HOSTB, HOSTB), ours[0])

    def test_N_m3_d(self):
        self.compare(["-N", "-m", "3", "-d"])

    def test_subject_from_to_myhostname(self):
        _, _, _, ours = self.compare(["-S", "subj", "-f", "a@b", "-t", "c@d", "-M", "myhost.example"])
        self.assertIn(b"Message-Id: <<PID>.<FD>.0000@myhost.example>\r\nSubject: subj\r\n\r\n", ours[0])

    def test_F_file(self):
        _, _, _, ours = self.compare(["-F", self.ffile])
        self.assertIn(b"DATA\r\nSubject: test F\r\nFrom: x@y\r\n\r\n..leading dot\r\n...two dots\r\nnormal\r\n..\r\n"
                      b"a CR\rinside\r\nCR before LF\r\r\nlast line no newline\r\n\r\n.\r\nQUIT\r\n", ours[0])

    def test_l_200(self):
        self.compare(["-l", "200"])

    def test_l_160(self):
        _, _, _, ours = self.compare(["-l", "160"])
        self.assertIn(b"\r\n\r\n1" + b"X" * 77 + b"\r\n" + b"X" * 80 + b"\r\n.\r\n", ours[0])

    def test_l_1(self):
        self.compare(["-l", "1"])

    def test_l_79(self):
        self.compare(["-l", "79"])

    def test_l_81(self):
        self.compare(["-l", "81"])

    def test_l_100000(self):
        self.compare(["-l", "100000"])

    def test_o(self):
        _, _, _, ours = self.compare(["-o"])
        self.assertTrue(ours[0].startswith(b"MAIL FROM:"))

    def test_L_r3(self):
        self.compare(["-L", "-r", "3"], sink_options=["-L"])

    def test_A_rcpt_rejected(self):
        self.compare(["-A", "-m", "2", "-d"], sink_options=["-f", "rcpt"])

    def test_A_mail_soft_rejected(self):
        self.compare(["-A", "-m", "2"], sink_options=["-r", "mail"])

    def test_A_mail_421(self):
        self.compare(["-A", "-m", "2"], sink_options=["-Q", "mail"])

    def test_A_data_rejected(self):
        self.compare(["-A"], sink_options=["-f", "data"])

    def test_two_sessions(self):
        _, _, _, ours = self.compare(["-s", "2", "-m", "4", "-N"], multi=True)
        self.assertEqual(len(ours), 4)

    def test_two_sessions_message_ids_unique(self):
        # Deliberate difference (README): ours makes the Message-Id's third field the number of
        # messages left after this one was claimed, so it is unique within a run (Postfix's can
        # repeat or be negative with several sessions).
        res, conns = run_via_relay(OURS, ["-s", "2", "-m", "4", "-N"], self.sinks.get()[2])
        self.assertEqual(res.returncode, 0, res)
        left = sorted(m.group(3) for d in conns for m in MSGID_RE.finditer(d))
        self.assertEqual(left, [b"0000", b"0001", b"0002", b"0003"])

    def test_verbose_stderr(self):
        # -v lines: same lines in the same order.  Two values are normalised:
        # * the socket descriptor in "fd=N: stream buffer size" (like the FD field of Message-Id:
        #   Postfix's first socket is fd 3, ours has other descriptors open first);
        # * the TCP_MAXSEG value and the buffer size (4 x MSS): on loopback the kernel reports
        #   32768 or 32741 depending on whether the first segment has arrived yet, for Postfix's
        #   program as for ours.  The buffer size must still be exactly 4 x MSS.
        pf_res, _, our_res, _ = self.compare(["-v", "-c"], check_stderr=False)
        fdre = re.compile(r"^(<ARGV0>: fd=)\d+(: stream buffer size old=0 new=)\d+$", re.M)
        mssre = re.compile(r"^(<ARGV0>: vstream_tweak_tcp: TCP_MAXSEG )\d+$", re.M)
        lines = {}
        for name, res, prog in (("postfix", pf_res, PF), ("ours", our_res, OURS)):
            text = norm_diag(res.stderr, prog).decode()
            mss = re.findall(r"^<ARGV0>: vstream_tweak_tcp: TCP_MAXSEG (\d+)$", text, re.M)
            size = re.findall(r"^<ARGV0>: fd=\d+: stream buffer size old=0 new=(\d+)$", text, re.M)
            self.assertEqual(len(mss), 1, "%s: %s" % (name, text))
            self.assertEqual(size, [str(4 * int(mss[0]))], "%s: %s" % (name, text))
            lines[name] = mssre.sub(r"\1<MSS>", fdre.sub(r"\1<FD>\2<4xMSS>", text)).splitlines()
        self.assertEqual(lines["ours"], lines["postfix"])
        self.assertEqual(lines["ours"][:4], ["<ARGV0>: name_mask: all",
                                             "<ARGV0>: smtp_stream_setup: maxtime=300 enable_deadline=0 min_data_rate=0",
                                             "<ARGV0>: vstream_tweak_tcp: TCP_MAXSEG <MSS>",
                                             "<ARGV0>: fd=<FD>: stream buffer size old=0 new=<4xMSS>"])
        self.assertIn("<ARGV0>: HELO " + HOST, lines["ours"])
        self.assertIn("<ARGV0>: <<< 221 Bye", lines["ours"])
        self.assertEqual(our_res.stdout, b"1\r\n")


# ================================================================================================
# 3. diagnostics and exit codes
# ================================================================================================

class DiagnosticsTest(unittest.TestCase):
    """Same stderr (argv[0] normalised), stdout and exit status as Postfix's smtp-source.
    (Postfix sleeps 1 s before exiting on fatal; ours doesn't: only text and status compared.
    All runs are started in parallel so the sleeps overlap.)"""

    @classmethod
    def setUpClass(cls):
        cls.workdir = support.make_tempdir("mailload-diag-")
        cls.sinks = SinkPool(cls.workdir)
        cls.unused = support.UnusedPort()

    @classmethod
    def tearDownClass(cls):
        cls.unused.close()
        cls.sinks.stop_all()
        support.remove_tempdir(cls.workdir)

    def cases(self):
        refused = "127.0.0.1:%d" % self.unused.port
        c = [
            # (name, args, sink options or None, expected normalised stderr (None: only compare))
            ("no args", [], None, "<ARGV0>: fatal: usage: <ARGV0>" + USAGE_TAIL + "\n"),
            ("-X", ["-X", refused], None,
             "<ARGV0>: invalid option -- 'X'\n<ARGV0>: fatal: usage: <ARGV0>" + USAGE_TAIL + "\n"),
            ("-m 0", ["-m", "0", refused], None, "<ARGV0>: fatal: bad message count: 0\n"),
            ("-m abc", ["-m", "abc", refused], None, None),
            ("-s 0", ["-s", "0", refused], None, None),
            ("-l 0", ["-l", "0", refused], None, None),
            ("-r 0", ["-r", "0", refused], None, "<ARGV0>: fatal: bad recipient count: 0\n"),
            ("-C 0", ["-C", "0", refused], None, None),
            ("-T 0", ["-T", "0", refused], None, None),
            ("-w 0", ["-w", "0", refused], None, None),
            ("-R 0", ["-R", "0", refused], None, None),
            ("-w 1 -R 1", ["-w", "1", "-R", "1", refused], None,
             "<ARGV0>: fatal: do not use -w and -R options at the same time\n"),
            ("-R 1 -w 1", ["-R", "1", "-w", "1", refused], None, None),
            ("-l 10 -F x", ["-l", "10", "-F", "x", refused], None, "<ARGV0>: fatal: -l option cannot be used with -F\n"),
            ("-F /etc/hostname -l 10", ["-F", "/etc/hostname", "-l", "10", refused], None, None),
            ("-F /nonexistent", ["-F", "/nonexistent", refused], None, None),
            ("-F a directory", ["-F", "/", refused], None, "<ARGV0>: fatal: read /: Is a directory\n"),
            # two errors at once: which one is reported shows the order of the checks
            ("-M bad_host! -s 0", ["-M", "bad_host!", "-s", "0", refused], None, None),
            ("-s 0 -M bad_host!", ["-s", "0", "-M", "bad_host!", refused], None, None),
            ("-M bad_host! [::1", ["-M", "bad_host!", "[::1"], None, None),
            ("-M bad_host! two args", ["-M", "bad_host!", refused, "extra"], None, None),
            ("-F /nonexistent [::1", ["-F", "/nonexistent", "[::1"], None,
             "<ARGV0>: fatal: open /nonexistent: No such file or directory\n"),
            ("-F /nonexistent -s 0", ["-F", "/nonexistent", "-s", "0", refused], None, None),
            ("-F /nonexistent two args", ["-F", "/nonexistent", refused, "extra"], None, None),
            ("-w 0x2", ["-w", "0x2", refused], None, "<ARGV0>: fatal: bad fixed delay: 0x2\n"),
            ("-R inf", ["-R", "inf", refused], None, None),
            ("-w 1e3", ["-w", "1e3", "-m", "0", refused], None, None),
            ("reply with a tab and a control byte", [], ["-f", "mail", "-B", "550 5.0.0 bad\ttab \x01 ctl"],
             "<ARGV0>: fatal: sender rejected: 550 5.0.0 bad?tab ? ctl\n"),
            ("-M bad_host!", ["-M", "bad_host!", refused], None,
             "<ARGV0>: warning: valid_hostname: invalid character 33(decimal): bad_host!\n"
             "<ARGV0>: fatal: bad hostname: bad_host!\n"),
            ("-M 123", ["-M", "123", refused], None, None),
            ("-M a..b", ["-M", "a..b", refused], None, None),
            ("-M -a", ["-M", "-a", refused], None, None),
            ("-M [1.2.3]", ["-M", "[1.2.3]", refused], None, None),
            ("-M [::1]", ["-M", "[::1]", refused], None, None),
            ("-M [1.2.3.4", ["-M", "[1.2.3.4", refused], None, None),
            ("-M [1.2.3.4]", ["-M", "[1.2.3.4]", refused], None, None),
            ("-M ''", ["-M", "", refused], None, None),
            ("[::1", ["[::1"], None, '<ARGV0>: fatal: [::1: missing "]"\n'),
            ("[::1]x", ["[::1]x"], None, None),
            (":25", [":25"], None, None),
            ("bad_host!:25", ["bad_host!:25"], None, None),
            ("127.0.0.1:25x", ["127.0.0.1:25x"], None, "<ARGV0>: fatal: 127.0.0.1:25x: garbage after numerical service\n"),
            ("127.0.0.1:nosuchsvc", ["127.0.0.1:nosuchsvc"], None, None),
            ("-6 127.0.0.1:PORT", ["-6", refused], None, None),
            ("-4 [::1]:PORT", ["-4", "[::1]:%d" % self.unused.port], None, None),
            ("unix: long path", ["unix:/" + "x" * 120], None, None),
            ("two positional args", [refused, "extra"], None, None),
            ("option after address", [refused, "-m", "2"], None, None),
            ("connection refused", [refused], None, "<ARGV0>: fatal: connect: Connection refused\n"),
            ("connection refused -C 3", ["-C", "3", refused], None,
             "<ARGV0>: warning: connect: Connection refused\n" * 2 + "<ARGV0>: fatal: connect: Connection refused\n"),
            ("rcpt rejected", ["-m", "2"], ["-f", "rcpt"],
             "<ARGV0>: fatal: recipient rejected: 500 5.3.0 Error: command failed\n"),
            ("mail rejected", [], ["-f", "mail"], None),
            ("data rejected", [], ["-f", "data"], None),
            ("end of data rejected", [], ["-f", "."], None),
            ("banner rejected", [], ["-r", "connect"],
             "<ARGV0>: fatal: rejected at server banner: 450 4.3.0 Error: command failed\n"),
            ("helo rejected", [], ["-f", "helo"], None),
            ("lhlo rejected", ["-L"], ["-L", "-f", "lhlo"], None),
            ("-A rcpt rejected", ["-A", "-m", "2", "-d"], ["-f", "rcpt"],
             "<ARGV0>: warning: recipient rejected: 500 5.3.0 Error: command failed\n" * 2),
            ("-A mail rejected", ["-A"], ["-f", "mail"], None),
            ("-A data rejected", ["-A"], ["-f", "data"], None),
            ("-A end of data rejected", ["-A", "-c"], ["-f", "."], None),
            ("-A banner rejected", ["-A"], ["-r", "connect"], None),
            ("-A helo rejected", ["-A"], ["-f", "helo"], None),
            ("-A mail 421", ["-A", "-m", "2"], ["-Q", "mail"], None),
            ("-A rcpt 421", ["-A", "-m", "2", "-c"], ["-Q", "rcpt"], None),
            ("-A -c rcpt rejected -d", ["-A", "-c", "-m", "3", "-d", "-r", "2"], ["-f", "rcpt"], None),
        ]
        return c

    def run_case(self, program, args, sink_options):
        if sink_options is not None:
            _, address, _ = self.sinks.get(sink_options)
            args = list(args) + [address]
        return support.run([program] + list(args))

    def test_diagnostics(self):
        cases = self.cases()
        for _, _, sink_options, _ in cases:   # start the sinks first (in this thread)
            if sink_options is not None:
                self.sinks.get(sink_options)
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(cases) * 2) as pool:
            futures = [(case, pool.submit(self.run_case, PF, case[1], case[2]),
                        pool.submit(self.run_case, OURS, case[1], case[2])) for case in cases]
            results = [(case, pf.result(), ours.result()) for case, pf, ours in futures]
        for (name, args, sink_options, expected), pf, ours in results:
            with self.subTest(name, args=args, sink=sink_options):
                pf_err = norm_diag(pf.stderr, PF).decode(errors="replace")
                our_err = norm_diag(ours.stderr, OURS).decode(errors="replace")
                if expected is not None:   # the reference itself behaves as the spec says
                    self.assertEqual(pf_err, expected, "Postfix's output differs from the spec")
                self.assertEqual(our_err.splitlines(), pf_err.splitlines())
                self.assertEqual(our_err, pf_err)
                self.assertEqual(ours.returncode, pf.returncode)
                self.assertEqual(norm_diag(ours.stdout, OURS), norm_diag(pf.stdout, PF))

    def test_argv0_as_typed(self):
        # argv[0] printed exactly as typed: a relative path, and a bare name via PATH-less exec.
        for argv0 in ("./smtp-source", "smtp-source", "/some/other/name"):
            with self.subTest(argv0=argv0):
                pf = support.run([argv0, "-m", "0", "x"], executable=PF)
                ours = support.run([argv0, "-m", "0", "x"], executable=OURS)
                self.assertEqual(pf.stderr, (argv0 + ": fatal: bad message count: 0\n").encode())
                self.assertEqual(ours.stderr, pf.stderr)
                self.assertEqual(ours.returncode, 1)


# ================================================================================================
# 4. deliberate differences: our documented behaviour (and, where meaningful, Postfix's)
# ================================================================================================

class DifferencesTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.workdir = support.make_tempdir("mailload-diff-")
        cls.sinks = SinkPool(cls.workdir)

    @classmethod
    def tearDownClass(cls):
        cls.sinks.stop_all()
        support.remove_tempdir(cls.workdir)

    # (a) ------------------------------------------------------------------------------------------
    @staticmethod
    def lmtp_script(quit_wait):
        """Obs 29 fake LMTP server: 250 / 550 for the 2nd RCPT / 250, 354, two 250 after the dot,
        then wait up to quit_wait seconds for QUIT."""
        def handler(sock, index, server):
            reader = support.LineReader(sock)
            log = server.state.setdefault(index, [])
            sock.sendall(b"220 fake LMTP\r\n")
            replies = {b"LHLO": [b"250 fake\r\n"], b"MAIL": [b"250 ok\r\n"],
                       b"RCPT": [b"250 ok\r\n", b"550 5.1.1 no such user\r\n", b"250 ok\r\n"],
                       b"DATA": [b"354 go\r\n"]}
            while True:
                line = reader.readline()
                log.append(line)
                if not line:
                    return
                verb = line[:4].upper()
                if verb == b"DATA":
                    sock.sendall(replies[b"DATA"].pop(0))
                    log.append(reader.read_data())
                    sock.sendall(b"250 2.0.0 delivered to rcpt 1\r\n250 2.0.0 delivered to rcpt 3\r\n")
                    try:
                        line = reader.readline(timeout=quit_wait)
                    except socket.timeout:
                        log.append(b"<no QUIT>")
                        return
                    log.append(line)
                    if line.upper().startswith(b"QUIT"):
                        sock.sendall(b"221 bye\r\n")
                    return
                sock.sendall(replies[verb].pop(0))
        return handler

    def test_a_lmtp_A_rejected_rcpt(self):
        args = ["-L", "-A", "-r", "3"]
        with support.FakeServer(self.lmtp_script(quit_wait=support.LISTEN_TIMEOUT)) as srv:
            res = support.run([OURS] + args + [srv.address])
            self.assertEqual(res.returncode, 0, res)
            self.assertEqual(norm_diag(res.stderr, OURS),
                             b"<ARGV0>: warning: recipient rejected: 550 5.1.1 no such user\n")
            srv.wait_for(lambda s: s.finished == s.accepted == 1, what="fake LMTP session end")
            self.assertEqual(srv.errors, [])
            self.assertEqual(srv.state[0][-1], b"QUIT\r\n")
        # Postfix waits for a 3rd reply that never comes (spec §2.11, obs 29): this server gives
        # it 0.5 s for a QUIT that never comes, then closes.
        with support.FakeServer(self.lmtp_script(quit_wait=0.5)) as srv:
            res = support.run([PF] + args + [srv.address])
            srv.wait_for(lambda s: s.finished == s.accepted == 1, what="fake LMTP session end")
            self.assertEqual(srv.state[0][-1], b"<no QUIT>")
            self.assertEqual(res.returncode, 1)
            self.assertEqual(norm_diag(res.stderr, PF),
                             b"<ARGV0>: warning: recipient rejected: 550 5.1.1 no such user\n"
                             b"<ARGV0>: fatal: lost connection while sending message\n")

    # (b) ------------------------------------------------------------------------------------------
    def test_b_connects_in_flight(self):
        n = 20

        def handler(sock, index, server):
            # Hold back the greeting until all n connections are accepted; nothing may arrive first.
            server.wait_for(lambda s: s.accepted >= n, what="%d concurrent connections" % n)
            sock.setblocking(False)
            try:
                early = sock.recv(1, socket.MSG_PEEK)
            except BlockingIOError:
                early = None
            sock.setblocking(True)
            with server.cond:
                server.state.setdefault("early", []).append(early)
            got = support.serve_smtp(sock)
            with server.cond:
                server.state["messages"] = server.state.get("messages", 0) + got

        for extra in ([], ["--connect-limit=1"]):
            with self.subTest(extra=extra), support.FakeServer(handler) as srv:
                res = support.run([OURS, "-c", "-s", str(n), "-m", str(n)] + extra + [srv.address])
                self.assertEqual(res.returncode, 0, res)
                srv.wait_for(lambda s: s.finished == s.accepted, what="sessions to end")
                self.assertEqual(srv.errors, [])
                self.assertEqual(res.stderr, b"")
                self.assertEqual(res.stdout, b"".join(b"%d\r" % i for i in range(1, n + 1)) + b"\n")
                self.assertEqual(srv.accepted, n)
                self.assertEqual(srv.state["early"], [None] * n)
                self.assertEqual(srv.state["messages"], n)

    # (c) ------------------------------------------------------------------------------------------
    def test_c_compat39_numbering(self):
        target = self.sinks.get()[2]
        res, conns = run_via_relay(OURS, ["--compat=3.9", "-r", "3", "-N"], target)
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(len(conns), 1)
        h = HOSTB
        expected = (b"HELO " + h + b"\r\nMAIL FROM:<foo@" + h + b">\r\n" +
                    b"RCPT TO:<foo0@" + h + b">\r\nRCPT TO:<foo1@" + h + b">\r\nRCPT TO:<foo2@" + h + b">\r\n" +
                    b"DATA\r\nFrom: <foo@" + h + b">\r\nTo: <foo2@" + h + b">\r\nDate: <DATE>\r\n" +
                    b"Message-Id: <<PID>.<FD>.0000@" + h + b">\r\n\r\n" +
                    b"".join(b"La de da de da %d.\r\n" % i for i in range(1, 5)) + b".\r\nQUIT\r\n")
        self.assertEqual(split_commands(norm_wire(conns[0])), split_commands(expected))
        date = DATE_RE.search(conns[0]).group(1)
        self.assertRegex(date, DATE_39)          # zero-padded day of month in 3.9 mode
        # -r alone numbers in 3.9 mode too
        res, conns = run_via_relay(OURS, ["--compat=3.9", "-r", "1"], target)
        self.assertIn(b"RCPT TO:<foo0@" + h + b">\r\n", conns[0])
        self.assertIn(b"To: <foo0@" + h + b">\r\n", conns[0])
        # The installed Postfix (3.7.11) numbers the old way: prepended, from 1, To: unnumbered.
        res, conns = run_via_relay(PF, ["-r", "3", "-N"], target)
        self.assertIn(b"RCPT TO:<1foo@" + h + b">\r\nRCPT TO:<2foo@" + h + b">\r\nRCPT TO:<3foo@" + h + b">\r\n", conns[0])
        self.assertIn(b"To: <foo@" + h + b">\r\n", conns[0])

    def test_c_compat39_shared_counter(self):
        target = self.sinks.get()[2]
        res, conns = run_via_relay(OURS, ["--compat=3.9", "-r", "2", "-m", "2", "-s", "2",
                                          "-t", "bar+@example.com"], target)
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(len(conns), 2)
        seen = []
        for data in conns:
            rcpts = re.findall(rb"^RCPT TO:<bar\+(\d+)@example\.com>\r\n", data, re.M)
            self.assertEqual(len(rcpts), 2, data)
            numbers = [int(x) for x in rcpts]
            self.assertLess(numbers[0], numbers[1])
            self.assertIn(b"\r\nTo: <bar+%d@example.com>\r\n" % numbers[-1], data)
            seen += numbers
        self.assertEqual(sorted(seen), [0, 1, 2, 3])

    # (d) ------------------------------------------------------------------------------------------
    def test_d_fractional_delay(self):
        workdir = support.make_tempdir("mailload-w-")
        self.addCleanup(support.remove_tempdir, workdir)
        sink, address, _ = support.start_smtp_sink(workdir, ["-c"])
        self.addCleanup(sink.stop)
        res = support.run([OURS, "-c", "-w", "0.05", "-m", "3", "-d", address])
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(res.stdout, b"1\r2\r3\r\n")
        self.assertEqual(res.stderr, b"")
        # at least the two delays of 0.05 s between the messages (ours has no wasted last delay,
        # README; Postfix's would wait a third time before finding no message left, spec §2.4)
        self.assertGreaterEqual(res.elapsed, 0.1)
        support.wait_until(lambda: (support.sink_counters(sink.stdout(), complete_only=True) or [{"sess": 0}])[-1]["sess"] >= 1,
                           10, "sink session end")
        sink.stop()
        self.assertEqual(support.sink_counters(sink.stdout())[-1], {"sess": 1, "quit": 1, "mesg": 3})
        # Postfix reads -w with atoi(): 0.05 is 0, which it rejects.
        pf = support.run([PF, "-w", "0.05", "-m", "3", "-d", address])
        self.assertEqual(pf.returncode, 1)
        self.assertEqual(norm_diag(pf.stderr, PF), b"<ARGV0>: fatal: bad fixed delay: 0.05\n")

    # (f) ------------------------------------------------------------------------------------------
    def test_f_A_421_banner_closes(self):
        # Deliberate difference (README): with -A, a 421 greeting closes the session, as at every
        # other stage; Postfix's program carries on with HELO (spec §2.8, §8 item 9).
        _, _, target = self.sinks.get(["-Q", "connect"])
        res, conns = run_via_relay(OURS, ["-A", "-m", "2"], target)
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(norm_diag(res.stderr, OURS),
                         b"<ARGV0>: warning: rejected at server banner: 421 4.0.0 Server closing connection\n" * 2)
        self.assertEqual(conns, [b"", b""])
        pf, pf_conns = run_via_relay(PF, ["-A", "-m", "2"], target)
        self.assertTrue(pf_conns and pf_conns[0].startswith(b"HELO "), (pf, pf_conns))

    # (e) ------------------------------------------------------------------------------------------
    def test_e_timeout_no_greeting(self):
        # Listens, never accepts: the kernel completes the handshake, and no greeting ever comes.
        with support.FakeServer(None, accept=False) as srv:
            res = support.run([OURS, "--timeout=1", srv.address], timeout=30)
        self.assertEqual(res.returncode, 1, res)
        self.assertEqual(norm_diag(res.stderr, OURS), b"<ARGV0>: fatal: timeout while reading server greeting\n")
        self.assertEqual(res.stdout, b"")
        self.assertGreaterEqual(res.elapsed, 0.9)
        self.assertLess(res.elapsed, 20)


# ================================================================================================
# 5. --pipelining (RFC 2920) against Postfix's smtp-sink and our own
# ================================================================================================

class PipeliningTest(unittest.TestCase):
    """--pipelining: EHLO; with PIPELINING announced, MAIL+RCPT+DATA in one write and the content
    with QUIT (or, under -d, with the next transaction's commands). The bytes on the wire are
    the lock-step ones but for EHLO; every message counted; without the announcement (-p) or
    without EHLO (-e) it falls back to lock-step."""

    def counted(self, sink_options, args, messages, family="inet", sink=support.SMTP_SINK):
        workdir = support.make_tempdir("mailload-pipe-")
        self.addCleanup(support.remove_tempdir, workdir)
        server, address, _ = support.start_smtp_sink(workdir, ["-c"] + list(sink_options), family=family, sink=sink)
        self.addCleanup(server.stop)
        res = support.run([OURS, "--pipelining", "-m", str(messages)] + list(args) + [address])
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(res.stderr, b"", res)
        support.wait_until(lambda: (support.sink_counters(server.stdout(), complete_only=True) or [{"mesg": -1}])[-1]
                           ["mesg"] == messages, 20, "the sink to count %d messages" % messages)

    def test_counts_against_postfix_sink(self):
        self.counted([], ["-d", "-s", "10", "-r", "3", "-l", "1000"], 5000)

    def test_counts_new_connection_per_message(self):
        self.counted([], ["-s", "10", "-l", "1000"], 2000)

    def test_counts_lmtp_over_unix(self):
        self.counted(["-L"], ["-L", "-d", "-s", "5", "-r", "2"], 3000, family="unix")

    def test_counts_against_our_sink(self):
        ours = os.path.join(SINK_BINDIR, "smtp-sink")
        self.counted([], ["-d", "-s", "10", "-r", "5"], 5000, sink=ours)

    def test_falls_back_without_the_announcement(self):
        self.counted(["-p"], ["-d", "-s", "2"], 200)

    def test_falls_back_to_helo_without_esmtp(self):
        self.counted(["-e"], ["-d", "-s", "2"], 200)

    def test_wire_bytes_are_lock_step_bytes_but_for_ehlo(self):
        workdir = support.make_tempdir("mailload-pipe-")
        self.addCleanup(support.remove_tempdir, workdir)
        server, _, target = support.start_smtp_sink(workdir, [])
        self.addCleanup(server.stop)
        for args in (["-d", "-m", "3", "-r", "2"], ["-m", "1"], ["-L", "-d", "-m", "2"]):
            if "-L" in args:
                lserver, _, ltarget = support.start_smtp_sink(workdir, ["-L"])
                self.addCleanup(lserver.stop)
            res_p, pipelined = run_via_relay(OURS, ["--pipelining"] + args, ltarget if "-L" in args else target)
            res_l, lockstep = run_via_relay(OURS, args, ltarget if "-L" in args else target)
            self.assertEqual((res_p.returncode, res_l.returncode), (0, 0), (res_p, res_l))
            want = [norm_wire(c).replace(b"HELO ", b"EHLO ", 1) for c in lockstep]
            self.assertEqual([norm_wire(c) for c in pipelined], want, args)


# ================================================================================================
# 6. --report=json|text: the numbers agree with what the sink saw
# ================================================================================================

class ReportTest(unittest.TestCase):

    def test_json_report_counts_what_the_sink_counted(self):
        import json
        workdir = support.make_tempdir("mailload-rep-")
        self.addCleanup(support.remove_tempdir, workdir)
        server, address, _ = support.start_smtp_sink(workdir, ["-c", "-f", "rcpt"])  # every RCPT refused
        self.addCleanup(server.stop)
        res = support.run([OURS, "--report=json", "-A", "-d", "-s", "3", "-m", "30", "-r", "2", address])
        self.assertEqual(res.returncode, 0, res)
        report = json.loads(res.stdout)
        self.assertEqual(report["messages"], {"asked": 30, "sent": 0, "accepted": 0})
        self.assertEqual(report["recipients"], {"sent": 60, "accepted": 0})
        self.assertEqual(report["rejected_by_stage"]["rcpt"], 60)
        self.assertEqual(report["connections"]["established"], 3)
        self.assertIsNone(report["error"])
        # every reply, by the stage it answered and its code: all RCPTs refused, so RSET, no DATA
        self.assertEqual(report["replies"], {"greeting": {"220": 3}, "helo": {"250": 3}, "mail": {"250": 30},
                                             "rcpt": {"500": 60}, "rset": {"250": 30}, "quit": {"221": 3}})
        lat = report["latency_ms"]
        self.assertEqual(sorted(lat), sorted(["message", "connect", "greeting", "helo", "mail", "rcpt", "rset", "quit"]))
        self.assertEqual([lat[k]["count"] for k in ("message", "connect", "greeting", "rcpt", "rset")], [0, 3, 3, 60, 30])
        self.assertEqual(report["io_errors"], {})

        server2, address2, _ = support.start_smtp_sink(workdir, ["-c"])
        self.addCleanup(server2.stop)
        res = support.run([OURS, "--report=json", "-d", "-s", "4", "-m", "400", address2])
        self.assertEqual(res.returncode, 0, res)
        report = json.loads(res.stdout)
        self.assertEqual(report["messages"], {"asked": 400, "sent": 400, "accepted": 400})
        lat = report["latency_ms"]["message"]
        self.assertEqual(lat["count"], 400)
        self.assertTrue(0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p99.9"] <= lat["max"], lat)
        support.wait_until(lambda: (support.sink_counters(server2.stdout(), complete_only=True) or [{"mesg": -1}])[-1]
                           ["mesg"] == 400, 20, "the sink to count 400 messages")

    def test_text_report_and_fatal_exit(self):
        refused = support.UnusedPort()
        self.addCleanup(refused.close)
        res = support.run([OURS, "--report=text", "-m", "1", "127.0.0.1:%d" % refused.port])
        self.assertEqual(res.returncode, 1, res)
        self.assertIn(b"smtp-source report\n", res.stdout)
        self.assertIn(b"  error:       connect: Connection refused\n", res.stdout)
        self.assertIn(b"  I/O errors:  Connection refused \xc3\x971\n", res.stdout)
        self.assertTrue(res.stderr.endswith(b"fatal: connect: Connection refused\n"), res)


# ================================================================================================
# 7. examples/fixed-source: every policy fixed at compile time, no dispatch
# ================================================================================================

class FixedSourceTest(unittest.TestCase):
    """fixed-source (smtp, inet4, single_thread, no_pacing): our smtp-sink counts exactly -m
    messages, and for the flags it takes it sends smtp-source's bytes."""

    def setUp(self):
        self.fixed = os.path.join(SINK_BINDIR, "fixed-source")
        self.assertTrue(os.access(self.fixed, os.X_OK), "no executable fixed-source in %s" % SINK_BINDIR)
        self.workdir = support.make_tempdir("mailload-fixed-")
        self.addCleanup(support.remove_tempdir, self.workdir)
        self.server, self.address, self.target = support.start_smtp_sink(
            self.workdir, ["-c"], sink=os.path.join(SINK_BINDIR, "smtp-sink"))
        self.addCleanup(self.server.stop)

    def test_our_sink_counts_every_message(self):
        total = 0
        for args, messages in ((["-d", "-s", "4", "-l", "1000"], 3000), (["-s", "5"], 500)):
            res = support.run([self.fixed, "-m", str(messages)] + args + [self.address])
            self.assertEqual((res.returncode, res.stdout, res.stderr), (0, b"", b""), (args, res))
            total += messages
            support.wait_until(lambda: (support.sink_counters(self.server.stdout(), complete_only=True)
                                        or [{"mesg": -1}])[-1]["mesg"] == total, 20,
                               "the sink to count %d messages" % total)

    def test_same_bytes_as_smtp_source(self):
        for args in (["-d", "-m", "3", "-l", "200"], ["-m", "2"], []):
            fixed_res, fixed = run_via_relay(self.fixed, args, self.target)
            our_res, ours = run_via_relay(OURS, ["-4"] + args, self.target)
            self.assertEqual((fixed_res.returncode, our_res.returncode), (0, 0), (fixed_res, our_res))
            self.assertGreater(len(ours), 0, args)
            self.assertEqual([split_commands(norm_wire(c)) for c in fixed],
                             [split_commands(norm_wire(c)) for c in ours], args)

    def test_usage(self):
        res = support.run([self.fixed, "-m", "0", self.address])
        self.assertEqual(res.returncode, 1, res)
        self.assertIn(b"usage: ", res.stderr)



# ================================================================================================
# 8. concurrency models and open-loop pacing: the same work done whatever runs it
# ================================================================================================

class ModelsTest(unittest.TestCase):
    """--threads N (a pool of event loops) and --thread-per-session (blocking sockets) send what
    a single event loop sends: the sink counts the same, the report adds up the same, and the
    -c counter still counts 1, 2, ... N in order."""

    MODELS = ([], ["--threads=2"], ["--threads=3"], ["--thread-per-session"])

    def setUp(self):
        self.workdir = support.make_tempdir("mailload-models-")
        self.addCleanup(support.remove_tempdir, self.workdir)

    def sink(self, options=()):
        server, address, _ = support.start_smtp_sink(self.workdir, ["-c"] + list(options),
                                                     sink=os.path.join(SINK_BINDIR, "smtp-sink"))
        self.addCleanup(server.stop)
        return server, address

    def test_every_model_sends_the_same(self):
        for flags, messages in ((["-d", "-s", "6", "-r", "3"], 3000), (["-s", "5", "-r", "2"], 400)):
            replies = None
            for model in self.MODELS:
                with self.subTest(flags=flags, model=model):
                    server, address = self.sink()
                    res = support.run([OURS, "-c", "--report=json"] + model + flags + ["-m", str(messages), address])
                    self.assertEqual(res.returncode, 0, res)
                    counter, _, report = res.stdout.partition(b"\n")
                    self.assertEqual(counter, b"".join(b"%d\r" % i for i in range(1, messages + 1)))
                    report = json.loads(report)
                    self.assertEqual(report["messages"], {"asked": messages, "sent": messages, "accepted": messages})
                    self.assertEqual(report["recipients"]["accepted"], messages * int(flags[flags.index("-r") + 1]))
                    self.assertEqual(report["latency_ms"]["message"]["count"], messages)
                    if replies is None:
                        replies = report["replies"]
                    self.assertEqual(report["replies"], replies)
                    support.wait_until(lambda: (support.sink_counters(server.stdout(), complete_only=True)
                                                or [{"mesg": -1}])[-1]["mesg"] == messages, 20, "the sink's count")

    def test_a_fatal_reply_ends_every_model(self):
        for model in self.MODELS:
            with self.subTest(model=model):
                _, address = self.sink(["-f", "rcpt"])
                res = support.run([OURS, "-d", "-s", "4", "-m", "1000"] + model + [address])
                self.assertEqual(res.returncode, 1, res)
                self.assertTrue(res.stderr.endswith(b"fatal: recipient rejected: 500 5.3.0 Error: command failed\n"),
                                res)

    def test_a_silent_server_times_out_in_every_model(self):
        silent = support.FakeServer(lambda sock, index, server: sock.recv(1))   # says nothing until the client goes
        self.addCleanup(silent.close)
        for model in self.MODELS:
            with self.subTest(model=model):
                res = support.run([OURS, "--timeout=0.3", "-s", "2", "-m", "4"] + model + [silent.address])
                self.assertEqual(res.returncode, 1, res)
                self.assertTrue(res.stderr.endswith(b"fatal: timeout while reading server greeting\n"), res)


class OpenLoopTest(unittest.TestCase):
    """--rate R: message k is due at k / R whatever became of the others, and its latency counts
    from then; --duration T ends the schedule (R x T messages)."""

    def setUp(self):
        self.workdir = support.make_tempdir("mailload-rate-")
        self.addCleanup(support.remove_tempdir, self.workdir)

    def sink(self, options=()):
        server, address, _ = support.start_smtp_sink(self.workdir, ["-c"] + list(options),
                                                     sink=os.path.join(SINK_BINDIR, "smtp-sink"))
        self.addCleanup(server.stop)
        return server, address

    def test_rate_and_duration_give_rate_times_duration_messages(self):
        for model in ([], ["--threads=2"], ["--thread-per-session"]):
            with self.subTest(model=model):
                server, address = self.sink()
                res = support.run([OURS, "--report=json", "--rate=400", "--duration=0.5", "-s", "4"] + model + [address])
                self.assertEqual(res.returncode, 0, res)
                report = json.loads(res.stdout)
                self.assertEqual(report["messages"]["asked"], None)
                self.assertEqual(report["messages"]["accepted"], 200)   # due at 0, 2.5 ms, ... 497.5 ms
                self.assertEqual(report["pacing"], {"model": "rate", "value": 400.0})
                support.wait_until(lambda: (support.sink_counters(server.stdout(), complete_only=True)
                                            or [{"mesg": -1}])[-1]["mesg"] == 200, 20, "the sink's count")

    def test_a_slow_server_shows_in_the_latency_and_late_starts(self):
        # one session, a message due every 10 ms, each taking at least 50 ms (the sink holds
        # every "." reply): message k starts no earlier than 50 k ms, so it is at least 40 k ms
        # late, and the last of 20 waited over 0.76 s from when it was due
        _, address = self.sink(["-W", ".:0.05"])
        res = support.run([OURS, "--report=json", "--rate=100", "-m", "20", "-s", "1", "-d", address])
        self.assertEqual(res.returncode, 0, res)
        report = json.loads(res.stdout)
        self.assertEqual(report["messages"]["accepted"], 20)
        self.assertGreaterEqual(report["messages"]["late_starts"], 19)
        self.assertGreaterEqual(report["latency_ms"]["message"]["max"], 760 + 50)
        self.assertGreaterEqual(report["latency_ms"]["dot"]["p50"], 50)

    def test_duration_without_rate_runs_closed_loop_until_it_ends(self):
        server, address = self.sink()
        res = support.run([OURS, "--report=json", "--duration=0.3", "-s", "2", "-d", address])
        self.assertEqual(res.returncode, 0, res)
        report = json.loads(res.stdout)
        self.assertIsNone(report["messages"]["asked"])
        accepted = report["messages"]["accepted"]
        self.assertGreater(accepted, 0)
        self.assertEqual(report["messages"]["sent"], accepted)
        support.wait_until(lambda: (support.sink_counters(server.stdout(), complete_only=True)
                                    or [{"mesg": -1}])[-1]["mesg"] == accepted, 20, "the sink's count")

    def test_rate_with_w_or_R_is_an_error(self):
        for flag in ("-w", "-R"):
            res = support.run([OURS, "--rate=10", flag, "1", "127.0.0.1:9"])
            self.assertEqual(res.returncode, 1)
            self.assertTrue(res.stderr.endswith(b"fatal: do not use --rate with -w or -R\n"), res)

    PROGRESS = re.compile(rb"progress: (\d+\.\d) s, (\d+) sent, (\d+) accepted, (\d+) msg/s, (\d+) errors, "
                          rb"p99 (\d+\.\d{3}) ms( \(whole run\))?")

    def test_progress_lines_add_up_to_the_report(self):
        """--progress: a line a second on stderr (not a terminal here: one line each), counts
        that only grow, and a last line for the whole run that agrees with --report."""
        for model in ([], ["--threads=2"]):
            with self.subTest(model=model):
                _, address = self.sink()
                res = support.run([OURS, "--progress", "--report=json", "--rate=500", "--duration=2.5", "-s", "5"]
                                  + model + [address])
                self.assertEqual(res.returncode, 0, res)
                lines = res.stderr.decode().splitlines(keepends=True)
                self.assertTrue(all(line.endswith("\n") and "\r" not in line and "\033" not in line for line in lines))
                found = [self.PROGRESS.fullmatch(line.rstrip("\n").encode()) for line in lines]
                self.assertTrue(all(found), lines)
                # the run lasts at least 2.5 s: lines at 1 s and 2 s, then the whole run's
                self.assertGreaterEqual(len(found), 3)
                self.assertTrue(all(m.group(7) is None for m in found[:-1]))
                self.assertIsNotNone(found[-1].group(7))
                sent = [int(m.group(2)) for m in found]
                accepted = [int(m.group(3)) for m in found]
                self.assertEqual(sent, sorted(sent))
                self.assertEqual(accepted, sorted(accepted))
                report = json.loads(res.stdout)
                self.assertEqual(report["messages"]["accepted"], 1250)
                self.assertEqual((sent[-1], accepted[-1]), (1250, 1250))
                self.assertEqual(int(found[-1].group(5)), 0)
                whole_p99 = float(found[-1].group(6))
                self.assertAlmostEqual(whole_p99, report["latency_ms"]["message"]["p99"], delta=0.0015)


if __name__ == "__main__":
    unittest.main()
