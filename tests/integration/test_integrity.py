#!/usr/bin/env python3
"""Integrity and security of the tools (issue 6): nothing lost end to end, nothing escapes.

    python3 tests/integration/test_integrity.py --bindir DIR [unittest options]

DIR holds our built smtp-source, smtp-sink, qmqp-source and qmqp-sink; Postfix's programs in
/usr/sbin are the other peers.  Runs as root (the privilege drop, chroot and port < 1024 checks
need it, and fail, not skip, without it).

A. Nothing lost: with dumping on, the messages our smtp-source reports accepted = the sink's
   report (and -c) = the dump files, and every dump holds exactly what was sent (a -F file with
   dotted, long, 8-bit and CR-laden lines, and the generated -l message), byte for byte:
   one or several sessions, pipelining, LMTP over a unix socket with three recipients, a sink
   that rejects, tempfails or drops a stage (-r, -f, -q, -Q) or delays with odds (-W); Postfix's
   smtp-source against our sink, and our smtp-source against Postfix's sink (its dumps = ours,
   ids and dates masked); both qmqp-sources against our qmqp-sink (counts and bytes exact); a
   sink stopped by SIGTERM with sessions mid-DATA keeps every complete dump and no partial one
   (-d and -D).
B. Security: dump templates stay inside -R (../ and symlinks; -d and -D); -u drops uid, gids,
   groups and capabilities before any client input, after binding a port < 1024; unix sockets
   are 0666 under any umask (qmqp-sink, LMTP); no shell anywhere in the code; every length from
   the network is bounded: QMQP length claims up to SIZE_MAX, SMTP lines at and over the limit,
   20,000 RCPTs with -d (a bug this test found: they were held in memory), a 16 MB data line,
   a 1 MB QMQP reply -- each with the documented error, the sink's peak RSS small and another
   client served meanwhile.

Waiting is always on a reply, a file or /proc, with a deadline; only processes started here are
stopped, by their PID; all load goes to 127.0.0.1 or unix sockets in a private directory.
"""

import concurrent.futures
import json
import os
import pwd
import re
import signal
import socket
import stat
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import support  # noqa: E402

BINDIR = support.take_option(sys.argv, "--bindir")   # before the imports below look for it
import test_qmqp as qmqp_t  # noqa: E402  (helpers only: send_parts, read_to_close, netstring, ...)
import test_smtp_sink as smtp_t  # noqa: E402  (helpers only: norm_dump, tree, DATE_38, ...)

POSTFIX_SMTP_SOURCE = "/usr/sbin/smtp-source"
POSTFIX_SMTP_SINK = "/usr/sbin/smtp-sink"
POSTFIX_QMQP_SOURCE = "/usr/sbin/qmqp-source"
POSTFIX_QMQP_SINK = "/usr/sbin/qmqp-sink"
NOBODY = pwd.getpwnam("nobody")
STEP = 10            # seconds: limit for each expected reply
ARGV0 = b"<ARGV0>"

TMP = None
OUR_SMTP_SOURCE = OUR_SMTP_SINK = OUR_QMQP_SOURCE = OUR_QMQP_SINK = None
PF_QMQP_SOURCE = None   # symlink to Postfix's, with our qmqp-source's basename
MESSAGE_FILE = None     # the -F file

SENDER, RCPT, HELO = b"sender@example.com", b"rcpt@example.com", b"source.example"
SOURCE_ADDRESSES = ["-M", HELO.decode(), "-f", SENDER.decode(), "-t", RCPT.decode()]

# The -F file: headers, lines starting with dots, a line of 70,000 bytes (over the dump's 64 KiB
# buffer), 8-bit bytes and a NUL, a lone CR, CRLF lines, a last line without its LF.
FILE_CONTENT = (b"Subject: integrity\nX-8bit: \xe9\xff\x80 and a NUL \x00 here\n\n"
                b".leading dot\n..two dots\n.\n. dot space\n" + b"L" * 70000 + b" long\n"
                b"bare\rCR inside\r.not a line start\nCRLF line\r\n.\r\n\r\nFrom the start\n"
                b"last line without LF")


def setUpModule():
    global TMP, OUR_SMTP_SOURCE, OUR_SMTP_SINK, OUR_QMQP_SOURCE, OUR_QMQP_SINK, PF_QMQP_SOURCE, MESSAGE_FILE
    if not BINDIR:
        raise RuntimeError("usage: test_integrity.py --bindir DIR [unittest args]")
    for name in ("smtp-source", "smtp-sink", "qmqp-source", "qmqp-sink"):
        if not os.access(os.path.join(BINDIR, name), os.X_OK):
            raise RuntimeError("no executable %s in %s" % (name, BINDIR))
    TMP = support.TempDir("mailload-integrity-")
    os.chmod(TMP.path, 0o755)   # sinks running as nobody reach their directories below
    OUR_SMTP_SOURCE = os.path.join(BINDIR, "smtp-source")
    OUR_SMTP_SINK = os.path.join(BINDIR, "smtp-sink")
    OUR_QMQP_SINK = os.path.join(BINDIR, "qmqp-sink")
    OUR_QMQP_SOURCE = support.program_link(TMP.join("ours"), "qmqp-source", os.path.join(BINDIR, "qmqp-source"))
    PF_QMQP_SOURCE = support.program_link(TMP.join("pf"), "qmqp-source", POSTFIX_QMQP_SOURCE)
    MESSAGE_FILE = TMP.join("message.txt")
    with open(MESSAGE_FILE, "wb") as f:
        f.write(FILE_CONTENT)
    os.chmod(MESSAGE_FILE, 0o644)


def tearDownModule():
    if TMP:
        TMP.cleanup()


def dump_dir(test, name):
    d = TMP.join("%s-%d" % (name, support.serial()))
    os.mkdir(d)
    os.chmod(d, 0o777)    # a sink may write as nobody
    test.addCleanup(support.remove_tempdir, d)
    return d


def start_sink(test, program, options=(), family="inet", name="sink"):
    """`program options ADDRESS 256` on 127.0.0.1 or a unix socket in TMP; stopped at cleanup.
    Returns (ServerProcess, client address argument, support.connect_to() target)."""
    opts = list(options)
    if family == "unix":
        path = TMP.join("s%d.sock" % support.serial())
        server, _ = support.start_listening_process(lambda p: [program] + opts + ["unix:" + p, "256"], TMP.path,
                                                    name=name, unix_path=path)
        test.addCleanup(server.stop)
        return server, "unix:" + path, path
    server, port = support.start_listening_process(lambda p: [program] + opts + ["127.0.0.1:%d" % p, "256"],
                                                   TMP.path, name=name)
    test.addCleanup(server.stop)
    return server, "127.0.0.1:%d" % port, ("127.0.0.1", port)


def wait_exit(server, timeout=20):
    support.wait_until(lambda: not server.alive(), timeout, "%s to exit by itself" % server.name)
    return server.stop()


def last_json(stdout):
    """The report: the last line of stdout (after any -c counter line)."""
    return json.loads(stdout.rstrip(b"\n").rsplit(b"\n", 1)[-1])


def run_our_source(args, address):
    res = support.run([OUR_SMTP_SOURCE, "--report=json"] + list(args) + [address])
    return res, json.loads(res.stdout)


def replies_by_code(source_report):
    """The source's replies by code, summed over the stages (as the sink counts them)."""
    out = {}
    for codes in source_report["replies"].values():
        for code, n in codes.items():
            out[code] = out.get(code, 0) + n
    return out


def vm_hwm_kb(pid):
    """Peak resident set size of a process, kB (VmHWM in /proc/PID/status)."""
    with open("/proc/%d/status" % pid) as f:
        return int(next(line for line in f if line.startswith("VmHWM:")).split()[1])


def proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


# ------------------------------------------------------------------------------------------------
# what a dump must hold
# ------------------------------------------------------------------------------------------------

DUMP_RE = re.compile(rb"(?P<env>(?:X-(?:Client-Addr|Client-Proto|Helo-Args|Mail-Args|Rcpt-Args): [^\n]*\n)+)"
                     rb"Received: from (?P<helo>[^\n]*) \(\[(?P<addr>[^\]\n]*)\]\)\n"
                     rb"\tby smtp-sink \(smtp-sink\) with (?P<proto>SMTP|ESMTP|LMTP) id (?P<id>[0-9a-f]{8});\n"
                     rb"\t(?P<date>[^\n]*)\n")


def envelope(addr=b"127.0.0.1", proto=b"SMTP", helo=HELO, mail=b"<%s>" % SENDER, rcpts=(b"<%s>" % RCPT,)):
    env = b"X-Client-Addr: %s\nX-Client-Proto: %s\n" % (addr, proto)
    if helo is not None:
        env += b"X-Helo-Args: %s\n" % helo
    env += b"X-Mail-Args: %s\n" % mail + b"".join(b"X-Rcpt-Args: %s\n" % r for r in rcpts)
    return env


def file_dump_content(content):
    """What a dump holds of a -F file: each line with every CR removed and an LF, then the
    empty line smtp-source adds and the one the final '.' leaves (independent of the sources'
    and the sink's code: the rules of spec §2.6 and §3.9)."""
    lines = content.split(b"\n")
    if content.endswith(b"\n"):
        lines.pop()
    return b"".join(line.replace(b"\r", b"") + b"\n" for line in lines) + b"\n\n"


def payload(length):
    """smtp-source's -l body (spec §2.6): X's, byte 80(k-1) the digit k mod 10, CR LF at 80k-2."""
    p = bytearray(b"X" * length)
    for end in range(80, length, 80):
        p[end - 80] = ord("0") + (end // 80) % 10
        p[end - 2:end] = b"\r\n"
    return bytes(p)


def generated_dump_content(pid, length):
    """A regex for a dump of smtp-source's generated message: the headers (the date and the
    Message-Id's fd and counter fields vary), then the -l payload, CRs removed, ended as sent."""
    return re.compile(re.escape(b"From: <%s>\nTo: <%s>\nDate: " % (SENDER, RCPT)) + rb"[^\n]+" +
                      re.escape(b"\nMessage-Id: <%04x." % pid) + rb"[0-9a-f]{4,}\.[0-9a-f]{4,}" +
                      re.escape(b"@%s>\n\n" % HELO + payload(length).replace(b"\r", b"") + b"\n\n"))


def unstuff(wire):
    """A raw client's CRLF content (end marker included) as the dump holds it."""
    return b"\n".join(l[1:] if l.startswith(b".") else l for l in wire.split(b"\r\n")).replace(b"\r", b"")


def files_under(d):
    out = []
    for root, _, names in os.walk(d):
        out += [os.path.join(root, n) for n in names]
    return sorted(out)


def names_under(d):
    """Every name (file, directory, link) below d, relative to it."""
    out = set()
    for root, dirs, names in os.walk(d):
        out |= {os.path.relpath(os.path.join(root, n), d) for n in dirs + names}
    return out


def split_shared(data):
    """The messages of a -D file (each starts with its X-Client-Addr line)."""
    parts = re.split(rb"(?m)^(?=X-Client-Addr: )", data)
    if parts and parts[0] == b"":
        parts.pop(0)
    return parts


class DumpChecks:
    """Assertions on dump files, mixed into the test classes."""

    def check_dump(self, data, env, content, addr=b"127.0.0.1", helo=HELO, proto=b"SMTP", file_id=None):
        m = DUMP_RE.match(data)
        self.assertIsNotNone(m, "not a dump: %r" % data[:300])
        self.assertEqual(m.group("env"), env)
        self.assertEqual(m.group("helo"), helo if helo is not None else b"[%s]" % addr)
        self.assertEqual((m.group("addr"), m.group("proto")), (addr, proto))
        self.assertRegex(m.group("date"), smtp_t.DATE_38)
        if file_id is not None:
            self.assertEqual(m.group("id"), file_id, "the Received id is the file name's suffix")
        body = data[m.end():]
        if isinstance(content, bytes):
            self.assertEqual(len(body), len(content))
            self.assertEqual(body, content)
        else:
            self.assertIsNotNone(content.fullmatch(body), "content %r..." % body[:400])
        return m

    def check_d_files(self, d, count, env, content, **kw):
        """`count` -d files under d, each a complete dump of what was sent; returns their paths."""
        paths = files_under(d)
        self.assertEqual(len(paths), count, paths[:10])
        for path in paths:
            with open(path, "rb") as f:
                data = f.read()
            self.assertRegex(path, r"\.[0-9a-f]{8}$")
            self.check_dump(data, env, content, file_id=path[-8:].encode(), **kw)
        return paths


# ================================================================================================
# A. nothing lost, end to end
# ================================================================================================

class EndToEndTest(DumpChecks, unittest.TestCase):
    maxDiff = 2000

    def assert_all_accepted(self, res, rep, messages, rcpts=1):
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(res.stderr, b"", res)
        self.assertIsNone(rep["error"])
        self.assertEqual(rep["messages"], {"asked": messages, "sent": messages, "accepted": messages})
        self.assertEqual(rep["recipients"], {"sent": messages * rcpts, "accepted": messages * rcpts})
        self.assertEqual(set(rep["rejected_by_stage"].values()), {0})
        self.assertEqual(rep["io_errors"], {})

    def assert_sink_agrees(self, sink_rep, src_rep, messages, rcpts=1):
        self.assertIsNone(sink_rep["error"])
        self.assertEqual((sink_rep["messages"], sink_rep["recipients"]), (messages, messages * rcpts))
        self.assertEqual(sink_rep["data_bytes"], src_rep["bytes_accepted"])
        self.assertEqual(sink_rep["replies"], replies_by_code(src_rep))

    def test_plain_file_and_generated(self):
        """One source session: 20 -F messages (a connection each; the sink exits by -n with its
        report) and 20 generated -l 3000 messages over one connection (-d); the files are named
        by the template %Y%m%d/%H%M. and the Received id."""
        for args, sessions, content in (
                (["-m", "20", "-F", MESSAGE_FILE], 20, file_dump_content(FILE_CONTENT)),
                (["-m", "20", "-d", "-l", "3000"], 1, None)):
            with self.subTest(args=args):
                d = dump_dir(self, "plain")
                sink, address, _ = start_sink(self, OUR_SMTP_SINK, ["-c", "--report=json", "-n", str(sessions),
                                                                    "-d", d + "/%Y%m%d/%H%M."])
                res, rep = run_our_source(args + SOURCE_ADDRESSES, address)
                self.assert_all_accepted(res, rep, 20)
                self.assertEqual(wait_exit(sink), 0, sink.stderr())
                out = sink.stdout()
                counters = support.sink_counters(out.split(b"\n")[0])
                self.assertEqual(counters[-1], {"sess": sessions, "quit": sessions, "mesg": 20})
                sink_rep = last_json(out)
                self.assertIsNone(sink_rep["stopped_by"])
                self.assert_sink_agrees(sink_rep, rep, 20)
                paths = self.check_d_files(d, 20, envelope(), content or generated_dump_content(res.pid, 3000))
                for path in paths:
                    self.assertRegex(os.path.relpath(path, d), r"^20\d{6}/\d{4}\.[0-9a-f]{8}$")
                self.assertEqual(sink.stderr(), b"")

    def run_to_sigterm(self, sink_options, source_args, family="inet", lmtp=False):
        """Our source against a fresh sink with --report=json -d; the sink stopped by SIGTERM
        once the source is done.  Returns (Result, source report, sink report, dump dir)."""
        d = dump_dir(self, "run")
        sink, address, _ = start_sink(self, OUR_SMTP_SINK, (["-L"] if lmtp else []) + ["--report=json", "-d",
                                      d + "/m."] + list(sink_options), family)
        res, rep = run_our_source((["-L"] if lmtp else []) + list(source_args) + SOURCE_ADDRESSES, address)
        self.assertEqual(sink.stop(), -signal.SIGTERM, sink.stderr())
        sink_rep = last_json(sink.stdout())
        self.assertEqual(sink_rep["stopped_by"], "SIGTERM")
        self.assertEqual(sink.stderr(), b"")
        return res, rep, sink_rep, d

    def test_several_sessions_and_pipelining(self):
        """-s 8 -m 400: lock-step with a connection per message, and --pipelining -d."""
        for args, proto, content in (
                (["-s", "8", "-m", "400", "-l", "500"], b"SMTP", None),
                (["-s", "8", "-m", "400", "-d", "--pipelining", "-F", MESSAGE_FILE], b"ESMTP",
                 file_dump_content(FILE_CONTENT))):
            with self.subTest(args=args):
                res, rep, sink_rep, d = self.run_to_sigterm([], args)
                self.assert_all_accepted(res, rep, 400)
                self.assert_sink_agrees(sink_rep, rep, 400)
                if "--pipelining" in args:
                    self.assertEqual(rep["replies"]["helo"], {"250": 8}, "EHLO on each of the 8 connections")
                self.check_d_files(d, 400, envelope(proto=proto), content or generated_dump_content(res.pid, 500),
                                   proto=proto)

    def test_lmtp_unix_socket_three_recipients(self):
        res, rep, sink_rep, d = self.run_to_sigterm([], ["-r", "3", "-s", "4", "-m", "40", "-d", "-F", MESSAGE_FILE],
                                                    family="unix", lmtp=True)
        self.assert_all_accepted(res, rep, 40, rcpts=3)
        self.assert_sink_agrees(sink_rep, rep, 40, rcpts=3)
        self.assertEqual(rep["replies"]["dot"], {"250": 120}, "one reply per recipient")
        # Postfix 3.8 numbering (spec §2.7): 3rcpt, 2rcpt, then the plain address
        rcpts = (b"<3%s>" % RCPT, b"<2%s>" % RCPT, b"<%s>" % RCPT)
        self.check_d_files(d, 40, envelope(b"local", b"LMTP", rcpts=rcpts), file_dump_content(FILE_CONTENT),
                           addr=b"local", proto=b"LMTP")

    # sink options, source options, then what must come of 12 messages over 3 sessions (-A -d)
    REJECTIONS = [
        # (sink options, extra source options, exit, fatal text, sent, accepted, rejected by stage)
        (["-r", "rcpt"], [], 0, None, 0, 0, {"rcpt": 12}),
        (["-f", "data"], [], 0, None, 0, 0, {"data": 12}),
        (["-Q", "mail"], [], 0, None, 0, 0, {"mail": 12}),
        (["-r", "."], [], 0, None, 12, 0, {"dot": 12}),        # answered 450, still dumped and counted
        (["-f", "."], [], 0, None, 12, 0, {"dot": 12}),
        (["-Q", "."], [], 0, None, 12, 0, {"dot": 12}),
        (["-q", "rcpt"], ["-s", "1"], 1, b"fatal: lost connection while sending recipient\n", 0, 0, {}),
        (["-q", "."], ["-s", "1"], 1, b"fatal: lost connection while sending message\n", 1, 0, {}),
        (["-W", "rcpt:0.002:50", "-W", ".:0.002:50"], ["--pipelining"], 0, None, 12, 12, {}),
    ]

    def test_sink_rejects_tempfails_drops_or_delays(self):
        """Whatever the sink refuses, the source's counts by stage, the sink's report and the dump
        files agree: a transaction refused before its end leaves no dump; a message whose end
        is refused or dropped is dumped and counted by the sink (spec §3.9) but not accepted."""
        for sink_opts, src_opts, status, fatal, sent, accepted, rejected in self.REJECTIONS:
            with self.subTest(sink=sink_opts, source=src_opts):
                res, rep, sink_rep, d = self.run_to_sigterm(
                    sink_opts, ["-A", "-d", "-s", "3", "-m", "12", "-F", MESSAGE_FILE] + src_opts)
                self.assertEqual(res.returncode, status, res)
                if fatal:
                    self.assertTrue(res.stderr.endswith(fatal), res)
                    self.assertEqual(rep["io_errors"], {"lost connection": 1})
                self.assertEqual(rep["messages"]["sent"], sent)
                self.assertEqual(rep["messages"]["accepted"], accepted)
                self.assertEqual({k: v for k, v in rep["rejected_by_stage"].items() if v}, rejected)
                self.assertEqual(sink_rep["messages"], sent, "the sink has every message whose end was sent")
                self.assertEqual(sink_rep["replies"], replies_by_code(rep))
                if "-Q" in sink_opts:     # 421: the source goes on with a new connection
                    self.assertEqual(rep["connections"]["established"], 12)
                proto = b"ESMTP" if "--pipelining" in src_opts else b"SMTP"
                self.check_d_files(d, sent, envelope(proto=proto), file_dump_content(FILE_CONTENT), proto=proto)

    def test_postfix_source_to_our_sink(self):
        """Postfix's smtp-source (-F over TCP; LMTP -l -r 2 over a unix socket): every message
        it sent is a complete dump, its content exact."""
        cases = [
            ("inet", [], ["-s", "4", "-m", "40", "-d", "-F", MESSAGE_FILE], 1, file_dump_content(FILE_CONTENT)),
            ("unix", ["-L"], ["-L", "-s", "3", "-m", "30", "-r", "2", "-l", "2000"], 2, None),
        ]
        for family, sink_opts, src_args, rcpts, content in cases:
            with self.subTest(family=family):
                d = dump_dir(self, "pfsrc")
                m = int(src_args[src_args.index("-m") + 1])
                sink, address, _ = start_sink(self, OUR_SMTP_SINK, sink_opts + ["-c", "-d", d + "/m."], family)
                res = support.run([POSTFIX_SMTP_SOURCE, "-c"] + src_args + SOURCE_ADDRESSES + [address])
                self.assertEqual(res.returncode, 0, res)
                self.assertEqual(res.stderr, b"", res)
                self.assertTrue(res.stdout.endswith(b"%d\r\n" % m), res)
                self.assertEqual(sink.stop(), -signal.SIGTERM)
                self.assertEqual(support.sink_counters(sink.stdout())[-1]["mesg"], m)
                addr, proto = (b"local", b"LMTP") if family == "unix" else (b"127.0.0.1", b"SMTP")
                rcpt_list = (b"<2%s>" % RCPT, b"<%s>" % RCPT) if rcpts == 2 else (b"<%s>" % RCPT,)
                self.check_d_files(d, m, envelope(addr, proto, rcpts=rcpt_list),
                                   content or generated_dump_content(res.pid, 2000), addr=addr, proto=proto)

    def test_our_source_to_postfix_sink(self):
        """Our smtp-source against Postfix's smtp-sink -d and ours: the same dumps, byte for byte
        once ids, dates and Message-Id fields are masked (as DumpTest does)."""
        for args in (["-m", "10", "-s", "2", "-d", "-F", MESSAGE_FILE], ["-m", "10", "-l", "2000"]):
            with self.subTest(args=args):
                trees = []
                for program, user in ((POSTFIX_SMTP_SINK, ["-u", "nobody"]), (OUR_SMTP_SINK, [])):
                    d = dump_dir(self, "pfsink")
                    sink, address, _ = start_sink(self, program, user + ["-c", "-d", d + "/%Y/m."])
                    res, rep = run_our_source(args + SOURCE_ADDRESSES, address)
                    self.assert_all_accepted(res, rep, 10)
                    # each dump is complete before its message is answered, in both sinks
                    self.assertEqual(len(files_under(d)), 10, program)
                    smtp_t.wait_counters(sink, lambda r: r["mesg"] == 10, STEP)
                    sink.stop()
                    tree = {}
                    for path in files_under(d):
                        with open(path, "rb") as f:
                            norm, ids, _ = smtp_t.norm_dump(f.read())
                        self.assertEqual(ids, [path[-8:].encode()])
                        tree.setdefault(os.path.relpath(path, d)[:-8], []).append(norm)
                    trees.append({k: sorted(v) for k, v in tree.items()})
                self.assertEqual(list(trees[1]), list(trees[0]))
                for name in trees[0]:
                    self.assertEqual(trees[1][name], trees[0][name])

    def test_qmqp_both_sources_to_our_sink(self):
        """Our qmqp-source (200 messages) and Postfix's (100) at the same time against our
        qmqp-sink: every request answered, counted and its bytes counted exactly."""
        sink, address, _ = start_sink(self, OUR_QMQP_SINK, ["--report=json"])
        common = ["-l", "1000", "-f", SENDER.decode(), "-t", RCPT.decode(), address]
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            ours_f = ex.submit(support.run, [OUR_QMQP_SOURCE, "--report=json", "-s", "4", "-m", "200"] + common)
            pf_f = ex.submit(support.run, [PF_QMQP_SOURCE, "-c", "-s", "4", "-m", "100"] + common)
            ours, pf = ours_f.result(), pf_f.result()
        self.assertEqual((ours.returncode, ours.stderr), (0, b""), ours)
        self.assertEqual((pf.returncode, pf.stderr), (0, b""), pf)
        self.assertEqual(pf.stdout, qmqp_t.counter_output(100) + b"\n")
        rep = json.loads(ours.stdout)
        self.assertEqual(rep["messages"], {"asked": 200, "sent": 200, "accepted": 200})
        self.assertEqual(rep["replies"], {"dot": {"K": 200}})
        self.assertEqual(rep["bytes_accepted"], 200 * 1000)
        self.assertEqual(sink.stop(), -signal.SIGTERM)
        sink_rep = last_json(sink.stdout())
        request = len(qmqp_t.netstring(qmqp_t.netstring(b"x" * 1000) + qmqp_t.netstring(SENDER) +
                                       qmqp_t.netstring(RCPT)))
        self.assertEqual((sink_rep["connections"], sink_rep["sessions"], sink_rep["messages"]), (300, 300, 300))
        self.assertEqual(sink_rep["replies"], {"K": 300})
        self.assertEqual(sink_rep["data_bytes"], 300 * request)
        self.assertEqual(sink.stderr(), b"")


# ================================================================================================
# A. SIGTERM with sessions mid-DATA
# ================================================================================================

class RawSession:
    """A client speaking SMTP by hand, one command at a time, each reply awaited."""

    def __init__(self, test, target):
        self.sock = support.connect_to(target)
        test.addCleanup(self.sock.close)
        self.reader = support.LineReader(self.sock)
        self.expect(b"220 ")

    def expect(self, prefix):
        line = self.reader.readline(STEP)
        if not line.startswith(prefix):
            raise AssertionError("expected %r, got %r" % (prefix, line))
        return line

    def command(self, line, prefix=b"250 "):
        self.sock.sendall(line + b"\r\n")
        return self.expect(prefix)

    def open_data(self, tag):
        self.command(b"MAIL FROM:<%s@a.example>" % tag)
        self.command(b"RCPT TO:<%s@b.example>" % tag)
        self.command(b"DATA", b"354 ")


def message_wire(tag, size=2000):
    return (b"Subject: %s\r\n\r\n..dot stuffed\r\n" % tag + b"".join(b"%s line %d\r\n" % (tag, i)
                                                                     for i in range(size // 12)) + b".\r\n")


def open_dump_sizes(pid, d):
    """Sizes of the dump files process `pid` holds open under d (a -D temporary file too, unlinked)."""
    sizes = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith(d + "/"):
                sizes.append(os.stat("/proc/%d/fd/%s" % (pid, fd)).st_size)
        except OSError:
            continue
    return sizes


class StopBySignalTest(DumpChecks, unittest.TestCase):
    """Extends DeliberateDifferencesTest.test_stop_by_sigterm_leaves_no_partial_dump: six
    sessions, three messages complete (one session idle after it, one in a second message, one
    gone after QUIT), two mid-DATA with 100 kB sent (part of it written to their dumps), one
    between RCPT and DATA; then SIGTERM."""

    def scenario(self, shared):
        d = dump_dir(self, "term")
        flag, where = ("-D", d + "/all") if shared else ("-d", d + "/m.")
        server, _, target = start_sink(self, OUR_SMTP_SINK, ["-c", "--report=json", flag, where])
        wires = {}
        a, b, c = (RawSession(self, target) for _ in range(3))
        for tag, s in ((b"A", a), (b"B", b), (b"C", c)):
            s.command(b"HELO h" + tag)
            s.open_data(tag)
            wires[tag] = message_wire(tag)
            s.sock.sendall(wires[tag])
            s.expect(b"250 2.0.0 Ok")
        c.command(b"QUIT", b"221 ")
        b.open_data(b"B2")
        b.sock.sendall(b"Subject: B2\r\n\r\n" + b"b" * 100000)
        mid = []
        for tag in (b"D", b"E"):
            s = RawSession(self, target)
            s.command(b"HELO h" + tag)
            s.open_data(tag)
            s.sock.sendall(b"Subject: %s\r\n\r\n" % tag + b"y" * 100000 + b"\r\n..half")
            mid.append(s)
        f = RawSession(self, target)
        f.command(b"HELO hF")
        f.command(b"MAIL FROM:<F@a.example>")
        f.command(b"RCPT TO:<F@b.example>")
        # four dumps open (B2, D, E, F), three of them with at least 64 kB written already
        def partials_written():
            sizes = open_dump_sizes(server.pid, d)
            return len(sizes) == 4 and sum(size >= 65536 for size in sizes) == 3
        support.wait_until(partials_written, STEP, "the partial dumps to be written")
        if shared:
            self.assertEqual(os.listdir(d), ["all"], "temporary files are unlinked at once")
        else:
            self.assertEqual(len(os.listdir(d)), 7)
        self.assertEqual(server.stop(), -signal.SIGTERM, "ends as the signal would have (after its report)")
        for s in (a, b, mid[0], mid[1], f):
            self.assertEqual(qmqp_t.read_to_close(s.sock, STEP)[0], b"")
        report = last_json(server.stdout())
        self.assertEqual(report["stopped_by"], "SIGTERM")
        self.assertEqual((report["connections"], report["sessions"], report["quits"]), (6, 6, 1))
        self.assertEqual((report["messages"], report["recipients"]), (3, 3))
        self.assertEqual(support.sink_counters(server.stdout().split(b"\n")[0])[-1], {"sess": 6, "quit": 1, "mesg": 3})
        self.assertEqual(server.stderr(), b"")
        return d, wires

    def expected(self, tag):
        return envelope(helo=b"h" + tag, mail=b"<%s@a.example>" % tag, rcpts=(b"<%s@b.example>" % tag,))

    def test_sigterm_mid_data_d(self):
        d, wires = self.scenario(shared=False)
        paths = files_under(d)
        self.assertEqual(len(paths), 3, paths)
        seen = []
        for path in paths:
            with open(path, "rb") as f:
                data = f.read()
            tag = re.search(rb"^X-Helo-Args: h(\w+)$", data, re.M).group(1)
            seen.append(tag)
            self.check_dump(data, self.expected(tag), unstuff(wires[tag]), helo=b"h" + tag, file_id=path[-8:].encode())
        self.assertEqual(sorted(seen), [b"A", b"B", b"C"])

    def test_sigterm_mid_data_D(self):
        d, wires = self.scenario(shared=True)
        self.assertEqual(os.listdir(d), ["all"])
        with open(os.path.join(d, "all"), "rb") as f:
            messages = split_shared(f.read())
        self.assertEqual(len(messages), 3)
        seen = []
        for data in messages:
            tag = re.search(rb"^X-Helo-Args: h(\w+)$", data, re.M).group(1)
            seen.append(tag)
            self.check_dump(data, self.expected(tag), unstuff(wires[tag]), helo=b"h" + tag)
        self.assertEqual(sorted(seen), [b"A", b"B", b"C"])


# ================================================================================================
# B. security: chroot, privileges, unix socket modes, no shell
# ================================================================================================

def need_root(test):
    test.assertEqual(os.geteuid(), 0, "this test needs root (chroot, setuid, a port below 1024)")


class ChrootTest(DumpChecks, unittest.TestCase):
    """-R ROOT -u nobody: a template that climbs out with ../, or goes through a symlink (inside
    the root) whose target is a directory outside, still writes inside ROOT; with -d and -D.
    ChrootDumpTest already covers an absolute template."""

    def setUp(self):
        need_root(self)
        self.outside = dump_dir(self, "outside")      # the directory an escape would write into
        depth = len(os.getcwd().strip("/").split("/"))
        self.climb = "../" * (depth + 4) + self.outside.lstrip("/")   # from any cwd: OUTSIDE

    def make_root(self):
        root = dump_dir(self, "root")
        link = "link%d" % support.serial()
        os.makedirs(root + self.outside, 0o777)      # the symlink's target inside the root
        os.chmod(root + self.outside, 0o777)
        os.symlink(self.outside, os.path.join(root, link))
        return root, link

    def send_two(self, sink_options):
        sink, address, _ = start_sink(self, OUR_SMTP_SINK, ["-u", "nobody"] + sink_options)
        res = support.run([OUR_SMTP_SOURCE, "-m", "2", "-d", "-F", MESSAGE_FILE] + SOURCE_ADDRESSES + [address])
        self.assertEqual(res.returncode, 0, res)
        sink.stop()
        self.assertEqual(sink.stderr(), b"")

    def test_control_without_R_the_template_does_climb_out(self):
        """Without -R the same relative template reaches OUTSIDE: the checks below can fail."""
        self.send_two(["-d", self.climb + "/rel/m."])
        self.check_d_files(self.outside, 2, envelope(), file_dump_content(FILE_CONTENT))
        self.assertTrue(all(p.startswith(self.outside + "/rel/m.") for p in files_under(self.outside)))

    def test_d_and_D_templates_stay_inside_the_root(self):
        for flag in ("-d", "-D"):
            for how in ("climb", "symlink"):
                with self.subTest(flag=flag, how=how):
                    root, link = self.make_root()
                    before = names_under(TMP.path)
                    template = (self.climb if how == "climb" else "/" + link) + ("/%Y/m." if flag == "-d" else "/all")
                    self.send_two(["-R", root, flag, template])
                    self.assertEqual(files_under(self.outside), [], "nothing outside the root")
                    self.assertFalse(os.path.lexists("/" + link))
                    inside = files_under(root)
                    want = os.path.join(root + self.outside, time.strftime("%Y") + "/m." if flag == "-d" else "all")
                    if flag == "-d":
                        self.assertEqual(len(inside), 2, inside)
                        self.assertTrue(all(p.startswith(want) for p in inside), inside)
                        self.check_d_files(root, 2, envelope(), file_dump_content(FILE_CONTENT))
                    else:
                        self.assertEqual(inside, [want])
                        with open(want, "rb") as f:
                            messages = split_shared(f.read())
                        self.assertEqual(len(messages), 2)
                        for data in messages:
                            self.check_dump(data, envelope(), file_dump_content(FILE_CONTENT))
                    for p in inside:
                        self.assertEqual(os.stat(p).st_uid, NOBODY.pw_uid)
                    # nothing new in the test directory but in the root, and the sink's logs
                    rel_root = os.path.relpath(root, TMP.path) + "/"
                    self.assertEqual({k for k in names_under(TMP.path) - before if not k.startswith(rel_root)
                                      and not re.fullmatch(r"sink\.\d+\.std(out|err)", k)}, set())


def bindable(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def start_on_privileged_port(test, make_args):
    """Start `make_args(port)` on 127.0.0.1 at a free port below 1024 (it must bind it itself,
    as root, before it drops privileges)."""
    for port in [25, 587, 465] + list(range(1023, 900, -1)):
        if not bindable(port):
            continue
        server = support.ServerProcess(make_args(port), TMP.path, name="priv-sink")
        try:
            server.wait_listening(port=port)
        except (RuntimeError, TimeoutError):
            server.stop()
            continue
        test.addCleanup(server.stop)
        return server, port
    raise RuntimeError("no free port below 1024 on 127.0.0.1")


class PrivilegeTest(DumpChecks, unittest.TestCase):

    def test_u_drops_everything_before_client_input(self):
        """smtp-sink -u nobody -R ROOT on a port < 1024: while a client is mid-session, the
        sink's uids, gids, groups and capabilities are nobody's, its root is ROOT, and its dump
        file belongs to nobody."""
        need_root(self)
        root = dump_dir(self, "privroot")
        server, port = start_on_privileged_port(
            self, lambda p: [OUR_SMTP_SINK, "-u", "nobody", "-R", root, "-d", "/in/m.", "127.0.0.1:%d" % p, "5"])
        self.assertLess(port, 1024)
        uid, gid = NOBODY.pw_uid, NOBODY.pw_gid

        def assert_dropped(when):
            status = proc_status(server.pid)
            self.assertEqual(status["Uid"].split(), [str(uid)] * 4, when)
            self.assertEqual(status["Gid"].split(), [str(gid)] * 4, when)
            self.assertEqual(sorted(map(int, status["Groups"].split())), sorted(set(os.getgrouplist("nobody", gid))),
                             when)
            self.assertEqual((int(status["CapEff"], 16), int(status["CapPrm"], 16)), (0, 0), when)
            self.assertEqual(os.readlink("/proc/%d/root" % server.pid), os.path.realpath(root), when)
            self.assertEqual(os.readlink("/proc/%d/cwd" % server.pid), os.path.realpath(root), when)
        s = RawSession(self, ("127.0.0.1", port))
        assert_dropped("greeted, nothing sent yet")   # the greeting comes from the serving loop
        s.command(b"HELO hP")
        assert_dropped("a command read and answered")
        self.assertTrue(support.is_listening(server.pid, port=port), "still holds the port < 1024")
        s.open_data(b"P")
        wire = message_wire(b"P")
        s.sock.sendall(wire)
        s.expect(b"250 2.0.0 Ok")
        s.command(b"QUIT", b"221 ")
        paths = self.check_d_files(root, 1, envelope(helo=b"hP", mail=b"<P@a.example>", rcpts=(b"<P@b.example>",)),
                                   unstuff(wire), helo=b"hP")
        self.assertTrue(paths[0].startswith(root + "/in/m."))
        st = os.stat(paths[0])
        self.assertEqual((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)), (uid, gid, 0o644))
        self.assertEqual(os.stat(root + "/in").st_uid, uid)

    def test_qmqp_sink_has_no_u(self):
        """qmqp-sink takes no -u (as Postfix's: spec §6.1): it refuses the option instead of
        running with privileges it was told to drop."""
        res = support.run([OUR_QMQP_SINK, "-u", "nobody", "127.0.0.1:%d" % support.free_port(), "5"], timeout=20)
        self.assertEqual(res.returncode, 1, res)
        self.assertIn(b"fatal: usage: ", res.stderr)


class UnixSocketModeTest(unittest.TestCase):
    """What CountingTest.test_unix_socket_mode does not cover: qmqp-sink and smtp-sink -L, under
    umask 077, ours and Postfix's: the socket is 0666, and a client running as nobody is served."""

    def start_under_umask(self, program, options):
        old = os.umask(0o077)
        try:
            server, _, path = start_sink(self, program, options, "unix")
        finally:
            os.umask(old)
        return server, path

    def as_nobody(self, path, send):
        code = ("import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.settimeout(10)\ns.connect(sys.argv[1])\n"
                "s.sendall(bytes.fromhex(sys.argv[2]))\nd=b''\nwhile True:\n c=s.recv(4096)\n if not c: break\n d+=c\n"
                "sys.stdout.buffer.write(d)\n")
        return support.run(smtp_t.AS_NOBODY + [sys.executable, "-c", code, path, send.hex()], timeout=20)

    def test_modes_and_a_nobody_client(self):
        need_root(self)
        cases = [(OUR_QMQP_SINK, [], b"5:hello,", b"3:KOk,"),
                 (POSTFIX_QMQP_SINK, [], None, None),
                 (OUR_SMTP_SINK, ["-L"], b"LHLO x\r\nQUIT\r\n", None),
                 (POSTFIX_SMTP_SINK, ["-u", "nobody", "-L"], None, None)]
        for program, options, send, want in cases:
            with self.subTest(program=program, options=options):
                server, path = self.start_under_umask(program, options)
                st = os.stat(path)
                self.assertTrue(stat.S_ISSOCK(st.st_mode))
                self.assertEqual(stat.S_IMODE(st.st_mode), 0o666)
                if send:
                    res = self.as_nobody(path, send)
                    self.assertEqual(res.returncode, 0, res)
                    if want:
                        self.assertEqual(res.stdout, want)
                    else:
                        self.assertTrue(res.stdout.startswith(b"220 smtp-sink ESMTP\r\n250-smtp-sink\r\n"), res)
                        self.assertTrue(res.stdout.endswith(b"221 Bye\r\n"), res)


class NoShellTest(unittest.TestCase):
    """Nothing is ever handed to a shell: no system(), popen(), exec*(), posix_spawn*(),
    wordexp() and no /bin/sh in include/ and examples/ (a static check)."""

    CALL_RE = re.compile(rb"\b(?:system|popen|execl|execlp|execle|execv|execvp|execvpe|execve|execveat|fexecve"
                         rb"|posix_spawnp?|wordexp)\s*\(|/bin/sh\b")

    def test_no_shell_calls(self):
        # the pattern finds what it must, and not what merely looks alike
        for hit in (b'std::system("x")', b"::popen(cmd, \"r\")", b"execvp(argv[0], argv)", b"posix_spawn (&pid",
                    b'"/bin/sh"', b"execve(path"):
            self.assertRegex(hit, self.CALL_RE)
        for miss in (b"boost::system::error_code ec(e)", b"system_category()", b"executor_for(0)",
                     b"boost::asio::execution::x(", b"sansio::exec_state("):
            self.assertNotRegex(miss, self.CALL_RE)
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        scanned, hits = 0, []
        for top in ("include", "examples"):
            for path in files_under(os.path.join(root, top)):
                if not path.endswith((".hpp", ".cpp", ".h", ".cc")):
                    continue
                scanned += 1
                with open(path, "rb") as f:
                    for n, line in enumerate(f, 1):
                        if self.CALL_RE.search(line):
                            hits.append("%s:%d: %s" % (os.path.relpath(path, root), n,
                                                       line.strip().decode(errors="replace")))
        self.assertGreater(scanned, 30)
        self.assertEqual(hits, [])


# ================================================================================================
# B. every length from the network is bounded
# ================================================================================================

RSS_GROWTH_KB = 12 * 1024   # what a sink's peak RSS may grow by in these tests (each sends >= 16 MB)


class BoundsTest(DumpChecks, unittest.TestCase):

    def test_qmqp_length_claims(self):
        """QMQP length prefixes of 20 digits (SIZE_MAX and one below), 12 nines, and one byte
        over the default 1 GiB limit: `netstring size error`, no reply.  A claim of exactly the
        limit is taken and its bytes counted, not stored: 16 MB of it leave the peak RSS small,
        and another client is answered meanwhile."""
        sink, _, target = start_sink(self, OUR_QMQP_SINK, ["-c"])
        base = vm_hwm_kb(sink.pid)
        claims = [b"18446744073709551615:", b"18446744073709551614:", b"9" * 12 + b":", b"1073741825:"]
        for n, claim in enumerate(claims, 1):
            self.assertEqual(qmqp_t.send_parts(target, [claim]), (b"", "eof"), claim)
            support.wait_until(lambda n=n: sink.stderr().count(b"warning: netstring size error") == n, STEP,
                               "the size error for %r" % claim)
        big = support.connect_to(target)
        self.addCleanup(big.close)
        big.sendall(b"1073741824:")
        chunk = b"z" * (1 << 20)
        for _ in range(16):
            big.sendall(chunk)
        support.wait_tcp_consumed(big, 11 + 16 * len(chunk), timeout=STEP)
        self.assertEqual(qmqp_t.send_parts(target, [b"5:hello,"]), (b"3:KOk,", "eof"))
        growth = vm_hwm_kb(sink.pid) - base
        support.log("qmqp-sink peak RSS growth with a 1 GiB claim, 16 MB of it sent: %d kB" % growth)
        self.assertLess(growth, RSS_GROWTH_KB)
        big.close()
        support.wait_until(lambda: b"warning: lost connection" in sink.stderr(), STEP, "the lost connection")
        self.assertEqual(qmqp_t.norm_diag(sink.stderr(), OUR_QMQP_SINK),
                         b"<ARGV0>: warning: netstring size error\n" * len(claims) +
                         b"<ARGV0>: warning: lost connection\n")
        self.assertEqual(sink.stdout(), b"1\r")

    def test_smtp_line_at_and_over_the_limit_with_dumps(self):
        """A MAIL line of exactly 2048 bytes (CR LF included) is taken and dumped whole; a RCPT of
        2049 closes the session with `command line too long` and leaves no dump; 16 MB without
        a CR LF are cut off after the limit; a normal client is served meanwhile; the peak RSS
        stays small."""
        d = dump_dir(self, "lines")
        sink, _, target = start_sink(self, OUR_SMTP_SINK, ["-c", "-d", d + "/m."])
        base = vm_hwm_kb(sink.pid)
        mail = b"MAIL FROM:<" + b"a" * (2048 - 2 - 12) + b">"
        self.assertEqual(len(mail) + 2, 2048)
        over = RawSession(self, target)
        over.command(b"HELO hX")
        over.command(mail)
        over.sock.sendall(b"RCPT TO:<" + b"b" * (2049 - 2 - 10) + b">\r\n")
        self.assertEqual(qmqp_t.read_to_close(over.sock, STEP)[0], b"")
        flood = support.connect_to(target)
        self.addCleanup(flood.close)
        self.assertEqual(support.LineReader(flood).readline(STEP), smtp_t.GREETING)
        try:
            for _ in range(16):
                flood.sendall(b"N" * (1 << 20))
        except OSError:      # the sink closed after 2048 bytes: the rest cannot be sent
            pass
        self.assertEqual(qmqp_t.read_to_close(flood, STEP)[0], b"")
        ok = RawSession(self, target)
        ok.command(b"HELO hY")
        ok.command(mail)
        ok.command(b"RCPT TO:<y@b.example>")
        ok.command(b"DATA", b"354 ")
        wire = message_wire(b"Y")
        ok.sock.sendall(wire)
        ok.expect(b"250 2.0.0 Ok")
        ok.command(b"QUIT", b"221 ")
        smtp_t.wait_counters(sink, lambda r: r["sess"] == 3, STEP)
        self.assertEqual(smtp_t.norm_diag(sink.stderr(), OUR_SMTP_SINK),
                         b"<ARGV0>: warning: command line too long\n" * 2)
        self.assertEqual(smtp_t.counters(sink)[-1], {"sess": 3, "quit": 1, "mesg": 1})
        self.check_d_files(d, 1, envelope(helo=b"hY", mail=mail[10:], rcpts=(b"<y@b.example>",)), unstuff(wire),
                           helo=b"hY")
        self.assertLess(vm_hwm_kb(sink.pid) - base, RSS_GROWTH_KB)

    def test_twenty_thousand_rcpts_with_dumps(self):
        """20,000 RCPTs of 2 kB (40 MB of envelope) with -d: they go to the dump file as they come
        (the sink's peak RSS stays small; it grew by some 65 MB before this test), the dump has
        every one, and another client is served meanwhile."""
        d = dump_dir(self, "rcpts")
        sink, _, target = start_sink(self, OUR_SMTP_SINK, ["-c", "-d", d + "/m."])
        base = vm_hwm_kb(sink.pid)
        s = RawSession(self, target)
        s.command(b"HELO hR")
        s.command(b"MAIL FROM:<R@a.example>")
        n, rcpt = 20000, b"<" + b"r" * 2026 + b">"
        line = b"RCPT TO:" + rcpt + b"\r\n"
        self.assertEqual(len(line), 2038)
        batch = 200
        replies = bytearray()
        for i in range(0, n, batch):     # a batch at a time, its replies read before the next
            s.sock.sendall(line * batch)
            while replies.count(b"\n") < i + batch:
                replies += s.reader.readline(STEP)
            if i == n // 2:
                other = RawSession(self, target)
                other.command(b"HELO hO")
                other.open_data(b"O")
                other.sock.sendall(message_wire(b"O"))
                other.expect(b"250 2.0.0 Ok")
                other.command(b"QUIT", b"221 ")
        self.assertEqual(bytes(replies), b"250 2.1.5 Ok\r\n" * n)
        growth = vm_hwm_kb(sink.pid) - base
        support.log("smtp-sink -d peak RSS growth after %d RCPTs of %d bytes: %d kB" % (n, len(line), growth))
        self.assertLess(growth, RSS_GROWTH_KB)
        s.command(b"DATA", b"354 ")
        wire = message_wire(b"R")
        s.sock.sendall(wire)
        s.expect(b"250 2.0.0 Ok")
        s.command(b"QUIT", b"221 ")
        smtp_t.wait_counters(sink, lambda r: r["sess"] == 2, STEP)
        paths = files_under(d)
        self.assertEqual(len(paths), 2)
        for path in paths:
            with open(path, "rb") as f:
                data = f.read()
            if b"X-Helo-Args: hR\n" in data:
                self.check_dump(data, envelope(helo=b"hR", mail=b"<R@a.example>", rcpts=[rcpt] * n), unstuff(wire),
                                helo=b"hR", file_id=path[-8:].encode())
            else:
                self.check_dump(data, envelope(helo=b"hO", mail=b"<O@a.example>", rcpts=(b"<O@b.example>",)),
                                unstuff(message_wire(b"O")), helo=b"hO", file_id=path[-8:].encode())
        self.assertEqual(sink.stderr(), b"")

    def test_sixteen_megabyte_data_line(self):
        """Data lines have no length limit (spec §3.8), memory does: one line of 16 MB is dumped
        whole with the peak RSS small."""
        d = dump_dir(self, "bigline")
        sink, _, target = start_sink(self, OUR_SMTP_SINK, ["-d", d + "/m."])
        base = vm_hwm_kb(sink.pid)
        s = RawSession(self, target)
        s.command(b"HELO hL")
        s.open_data(b"L")
        line = bytes(range(32, 127)) * (16 * 1024 * 1024 // 95)
        s.sock.sendall(b"." + line + b"\r\n.\r\n")
        s.expect(b"250 2.0.0 Ok")
        s.command(b"QUIT", b"221 ")
        self.check_d_files(d, 1, envelope(helo=b"hL", mail=b"<L@a.example>", rcpts=(b"<L@b.example>",)),
                           line + b"\n\n", helo=b"hL")
        self.assertLess(vm_hwm_kb(sink.pid) - base, RSS_GROWTH_KB)

    def test_qmqp_source_reply_lengths(self):
        """Replies of 1 MB, of 10,241 bytes and claiming SIZE_MAX: `netstring size exceeds limit
        while receiving server reply` (spec §5.3: at most 10240 bytes), as Postfix's says; one of
        exactly 10,240 is taken."""
        big = b"1048576:K" + b"x" * 1048575 + b","
        cases = [(big, 1), (b"10241:K" + b"x" * 10240 + b",", 1), (b"18446744073709551615:K", 1),
                 (b"10240:K" + b"x" * 10239 + b",", 0)]
        servers = []
        for reply, _ in cases:
            for _ in range(2):
                servers.append(qmqp_t.reply_server(reply))
                self.addCleanup(servers[-1].close)

        def run(i):
            program = (OUR_QMQP_SOURCE, PF_QMQP_SOURCE)[i % 2]
            return support.run([program, servers[i].address])
        results = qmqp_t.parallel(run, range(len(servers)))
        for k, (reply, status) in enumerate(cases):
            ours, pf = results[2 * k], results[2 * k + 1]
            with self.subTest(reply=reply[:24]):
                self.assertEqual(ours.returncode, status, ours)
                want = b"" if status == 0 else \
                    ARGV0 + b": fatal: netstring size exceeds limit while receiving server reply\n"
                self.assertEqual(support.normalise_argv0(ours.stderr, OUR_QMQP_SOURCE, ARGV0), want)
                self.assertEqual((pf.returncode, support.normalise_argv0(pf.stderr, PF_QMQP_SOURCE, ARGV0)),
                                 (status, want), "Postfix's reference")


if __name__ == "__main__":
    unittest.main()
