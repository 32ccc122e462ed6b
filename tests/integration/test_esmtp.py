#!/usr/bin/env python3
"""ESMTP in smtp-source and smtp-sink (issue 7): every opt-in long option, end to end.

    python3 tests/integration/test_esmtp.py --bindir DIR [unittest options]

DIR holds our built smtp-source and smtp-sink.  The peers are each other, swaks, Python's smtplib
and ssl, `openssl s_client`, hand-written sockets and a private Postfix smtpd
(postfix_smtpd.PostfixSmtpd).  Certificates are made with the `openssl` command in the module's
temporary directory.

1. OurSourceOurSinkTest: --ehlo, --chunking (whole message; --chunk-size 1, 7, 100), chunks with
   --pipelining -d, --binarymime, LMTP with chunks and three recipients (unix socket), --starttls
   and --tls-on-connect (IPv4 and IPv6), AUTH PLAIN and LOGIN (a wrong password, with and without
   -A; -v never shows credentials), --smtputf8 --8bitmime --size (SIZE= of -l and -F messages),
   all at once: the source's JSON report and the sink's agree, and both equal what the options
   imply (message sizes computed from the message's definition, not read back).
2. MissingExtensionTest: an option whose extension the sink does not announce is fatal
   ("server does not announce X"), or with -A a warning per connection and plain delivery.
3. BdatWireTest: the bytes our source writes (support.Relay): BDAT sizes, LAST, the chunks
   concatenated = the message (not dot-stuffed), against DATA's dot-stuffed bytes.
4. DumpTest: the same messages sent with DATA and in chunks of many sizes leave dump files equal
   byte for byte but for the Received: id and date; --max-size: an oversize message (DATA, BDAT,
   SIZE=) leaves no dump, is not counted, and the source reports the 552 at the right stage.
5. TlsVerifyTest: --tls-verify, --tls-ca-file and --tls-servername against a sink with an
   openssl-made certificate, with STARTTLS and on connect; the sink's own self-signed one.
6. ThirdPartyClientTest: swaks (STARTTLS, TLS on connect, AUTH PLAIN/LOGIN right and wrong,
   pipelining; its TLS needs Net::SSLeay: libnet-ssleay-perl, from tools/setup.sh), smtplib (STARTTLS, login,
   sendmail, a wrong password), BDAT and STARTTLS dialogs by hand, a clean TLS close after QUIT,
   `openssl s_client -starttls smtp`.
7. PostfixSmtpdTest: our source against Postfix's real smtpd: STARTTLS with session resumption,
   CHUNKING with and without pipelining, chunk sizes, SIZE against message_size_limit, SMTPUTF8;
   Postfix's own count of accepted messages.

Needs root (Postfix), postfix, swaks and openssl.  Waiting is always on a reply, a file, /proc or
a log line, with a deadline; every process started here is stopped by its PID; all load goes to
127.0.0.1, ::1 or a unix socket in a private directory.
"""

import base64
import json
import math
import os
import re
import signal
import smtplib
import ssl
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import support  # noqa: E402
from postfix_smtpd import PostfixSmtpd  # noqa: E402

BINDIR = support.take_option(sys.argv, "--bindir")
SWAKS = "/usr/bin/swaks"

TMP = None              # module temp dir (support.TempDir)
SOURCE = SINK = None    # our programs
CERT = KEY = None       # certificate (CN=localhost, SAN DNS:localhost, IP:127.0.0.1) and its key
OTHER_CERT = None       # a certificate nobody uses: the wrong CA
DOT_FILE = None         # the -F file with dot lines
BIG_FILE = None         # the -F file over the --max-size limit of the oversize tests

SENDER, RCPT, HELO = "sender@example.com", "rcpt@example.com", "source.example"
ADDRS = ["-M", HELO, "-f", SENDER, "-t", RCPT]
STEP = 10               # seconds: limit for each expected reply of a hand-written client

# Lines that start with dots (stuffed by DATA, not by BDAT), a bare CR, a CRLF line, an empty
# line and a last line without its LF.
DOT_CONTENT = (b"Subject: dots\nX-8bit: \xe9\xff\n\n.leading dot\n..two dots\n.\n. dot space\n"
               b"bare\rCR inside\nCRLF line\r\n\r\n.\r\nend\n.last line without LF")
# 30 lines of 70 bytes: 2162 bytes as sent in chunks, over LIMIT
BIG_CONTENT = b"".join(b"%02d" % i + b"b" * 68 + b"\n" for i in range(30))
LIMIT = 1000            # the sink's --max-size in the oversize tests


def setUpModule():
    global TMP, SOURCE, SINK, CERT, KEY, OTHER_CERT, DOT_FILE, BIG_FILE
    if not BINDIR:
        raise RuntimeError("usage: test_esmtp.py --bindir DIR [unittest args]")
    SOURCE = os.path.join(BINDIR, "smtp-source")
    SINK = os.path.join(BINDIR, "smtp-sink")
    for program in (SOURCE, SINK):
        if not os.access(program, os.X_OK):
            raise RuntimeError("no executable %s" % program)
    TMP = support.TempDir("mailload-esmtp-")
    CERT, KEY = make_certificate("localhost", "DNS:localhost,IP:127.0.0.1")
    OTHER_CERT, _ = make_certificate("other-ca.example", "DNS:other-ca.example")
    DOT_FILE = TMP.join("dots.txt")
    BIG_FILE = TMP.join("big.txt")
    for path, content in ((DOT_FILE, DOT_CONTENT), (BIG_FILE, BIG_CONTENT)):
        with open(path, "wb") as f:
            f.write(content)


def tearDownModule():
    if TMP:
        TMP.cleanup()


def make_certificate(cn, san):
    """A self-signed P-256 certificate and its key, made by the openssl command in TMP."""
    n = support.serial()
    cert, key = TMP.join("cert%d.pem" % n), TMP.join("key%d.pem" % n)
    r = support.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                     "-nodes", "-days", "2", "-subj", "/CN=" + cn, "-addext", "subjectAltName=" + san,
                     "-keyout", key, "-out", cert])
    if r.returncode != 0:
        raise RuntimeError("openssl could not make a certificate: %r" % r)
    return cert, key


# ------------------------------------------------------------------------------------------------
# running the tools
# ------------------------------------------------------------------------------------------------

def start_sink(test, options=(), family="inet"):
    """Our smtp-sink --report=json `options` on 127.0.0.1, [::1] or a unix socket in TMP, stopped
    at cleanup.  Returns (ServerProcess, smtp-source's address, support.connect_to() target)."""
    opts = ["--report=json"] + list(options)
    if family == "unix":
        path = TMP.join("s%d.sock" % support.serial())
        sink, _ = support.start_listening_process(lambda p: [SINK] + opts + ["unix:" + p, "256"], TMP.path,
                                                  name="sink", unix_path=path)
        test.addCleanup(sink.stop)
        return sink, "unix:" + path, path
    if family == "wild":            # ':port', every address (IPv6 and IPv4 on one socket)
        sink, port = support.start_listening_process(lambda p: [SINK] + opts + [":%d" % p, "256"], TMP.path,
                                                     name="sink")
        test.addCleanup(sink.stop)
        return sink, "127.0.0.1:%d" % port, ("127.0.0.1", port)
    host = "::1" if family == "inet6" else "127.0.0.1"
    fmt = "[%s]:%d" if family == "inet6" else "%s:%d"
    sink, port = support.start_listening_process(lambda p: [SINK] + opts + [fmt % (host, p), "256"], TMP.path,
                                                 name="sink", host=host)
    test.addCleanup(sink.stop)
    return sink, fmt % (host, port), (host, port)


def last_json(stdout):
    """A report: the last line of stdout."""
    return json.loads(stdout.rstrip(b"\n").rsplit(b"\n", 1)[-1])


def stop_sink(test, sink):
    """SIGTERM the sink; its report (it must have been stopped by the signal, silently)."""
    test.assertEqual(sink.stop(), -signal.SIGTERM, sink.stderr())
    rep = last_json(sink.stdout())
    test.assertEqual(rep["stopped_by"], "SIGTERM")
    test.assertIsNone(rep["error"])
    test.assertEqual(sink.stderr(), b"")
    return rep


def run_source(args, address, addrs=True):
    """Our smtp-source --report=json `args` (and the fixed addresses); (Result, report)."""
    res = support.run([SOURCE, "--report=json"] + list(args) + (ADDRS if addrs else []) + [address])
    try:
        rep = json.loads(res.stdout)
    except ValueError:
        raise AssertionError("no JSON report: %r" % res) from None
    return res, rep


def replies_by_code(rep):
    """The source's replies by code, summed over the stages (as the sink counts them)."""
    out = {}
    for codes in rep["replies"].values():
        for code, n in codes.items():
            out[code] = out.get(code, 0) + n
    return out


def nonzero(d):
    return {k: v for k, v in d.items() if v}


def warning_lines(res):
    """The source's stderr lines, its argv[0] taken off."""
    prefix = SOURCE.encode() + b": "
    lines = res.stderr.decode("utf-8", "replace").splitlines()
    for line in lines:
        if not line.startswith(SOURCE + ": "):
            raise AssertionError("stderr line without the program name: %r" % line)
    return [line[len(prefix):] for line in lines]


# ------------------------------------------------------------------------------------------------
# what the messages are (from their definition: man smtp-source, -l and -F)
# ------------------------------------------------------------------------------------------------

def payload(length):
    """smtp-source's -l body: X's, byte 80(k-1) the digit k mod 10, CR LF at 80k-2."""
    p = bytearray(b"X" * length)
    for end in range(80, length, 80):
        p[end - 80] = ord("0") + (end // 80) % 10
        p[end - 2:end] = b"\r\n"
    return bytes(p)


def date_length():
    """The length of a Date: value as Postfix's mail_date() writes it in this time zone:
    'Sun,  6 Dec 2026 23:51:05 +0000 (UTC)' (the day padded with a space)."""
    t = time.localtime()
    return len(time.strftime("%a, %e %b %Y %H:%M:%S ", t)) + len("+0000") + len(time.strftime(" (%Z)", t))


def generated_size(length, pid):
    """Bytes of a generated -l message as BDAT sends it (headers, payload, CR LF): the same for
    every message of a run (Message-Id fields of at least four hex digits each)."""
    headers = (len("From: <%s>\r\n" % SENDER) + len("To: <%s>\r\n" % RCPT) + len("Date: \r\n") + date_length() +
               len("Message-Id: <%04x.0000.0000@%s>\r\n" % (pid, HELO)) + len("\r\n"))
    return headers + length + 2


GENERATED_RE = re.compile(rb"From: <%s>\r\nTo: <%s>\r\nDate: [^\r\n]+\r\nMessage-Id: <[0-9a-f]{4,}\.[0-9a-f]{4}\."
                          rb"[0-9a-f]{4}@%s>\r\n\r\n" % (re.escape(SENDER.encode()), re.escape(RCPT.encode()),
                                                        re.escape(HELO.encode())))


def file_wire(content, stuff):
    """A -F file as sent: each line (the last may lack its LF) with CR LF for its LF, with `stuff`
    a '.' before a leading '.'; then the CR LF that ends the message with an empty line."""
    lines = content.split(b"\n")
    if content.endswith(b"\n"):
        lines.pop()
    return b"".join((b"." + line if stuff and line.startswith(b".") else line) + b"\r\n" for line in lines) + b"\r\n"


def chunks_for(size, chunk_size=None):
    """BDAT commands per message: one without --chunk-size."""
    return 1 if chunk_size is None else math.ceil(size / chunk_size)


# ------------------------------------------------------------------------------------------------
# shared assertions
# ------------------------------------------------------------------------------------------------

class Checks:
    maxDiff = 4000

    def assert_clean(self, res, rep, messages, rcpts=1):
        """Exit 0, nothing on stderr, every message and recipient accepted, nothing rejected."""
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(res.stderr, b"", res)
        self.assertIsNone(rep["error"])
        self.assertEqual({k: rep["messages"][k] for k in ("asked", "sent", "accepted")},
                         {"asked": messages, "sent": messages, "accepted": messages})
        self.assertEqual(rep["recipients"], {"sent": messages * rcpts, "accepted": messages * rcpts})
        self.assertEqual(nonzero(rep["rejected_by_stage"]), {})
        self.assertEqual(rep["io_errors"], {})

    def assert_agree(self, rep, sink_rep):
        """The sink's report says what the source's says."""
        self.assertEqual(sink_rep["messages"], rep["messages"]["accepted"])
        self.assertEqual(sink_rep["recipients"], rep["recipients"]["accepted"])
        self.assertEqual(sink_rep["data_bytes"], rep["bytes_accepted"])
        self.assertEqual(sink_rep["connections"], rep["connections"]["established"])
        self.assertEqual(sink_rep["sessions"], rep["connections"]["established"])
        self.assertEqual(sink_rep["tls"]["handshakes"], rep["connections"].get("tls_handshakes", 0))
        self.assertEqual(sink_rep["auth"]["authenticated"], rep["replies"].get("auth", {}).get("235", 0))
        self.assertEqual(sink_rep["replies"], replies_by_code(rep))


# ================================================================================================
# 1. our source against our sink
# ================================================================================================

class OurSourceOurSinkTest(Checks, unittest.TestCase):
    """Each option of the source against a sink that announces its extension."""

    def dump_dir(self):
        d = TMP.join("dumps-%d" % support.serial())
        self.addCleanup(support.remove_tempdir, d)
        return d

    def dumps(self, d):
        out = []
        for root, _, names in os.walk(d):
            for name in names:
                with open(os.path.join(root, name), "rb") as f:
                    out.append(f.read())
        return out

    def test_ehlo(self):
        d = self.dump_dir()
        sink, address, _ = start_sink(self, ["-d", d + "/m."])
        res, rep = run_source(["--ehlo", "-m", "5", "-s", "2", "-l", "500"], address)
        self.assert_clean(res, rep, 5)
        size = generated_size(500, res.pid) + 3           # with DATA's ".\r\n"
        self.assertEqual(rep["bytes_accepted"], 5 * size)
        self.assertEqual(rep["replies"], {"greeting": {"220": 5}, "helo": {"250": 5}, "mail": {"250": 5},
                                          "rcpt": {"250": 5}, "data": {"354": 5}, "dot": {"250": 5},
                                          "quit": {"221": 5}})
        self.assertNotIn("bdat_chunks", rep["messages"])
        self.assertNotIn("tls_handshakes", rep["connections"])
        sink_rep = stop_sink(self, sink)
        self.assert_agree(rep, sink_rep)
        dumps = self.dumps(d)
        self.assertEqual(len(dumps), 5)
        for dump in dumps:      # the sink saw EHLO, not HELO
            self.assertTrue(dump.startswith(b"X-Client-Addr: 127.0.0.1\nX-Client-Proto: ESMTP\nX-Helo-Args: %s\n"
                                            % HELO.encode()), dump[:200])

    def test_chunking_whole_message(self):
        sink, address, _ = start_sink(self, ["--chunking"])
        res, rep = run_source(["--chunking", "-m", "6", "-s", "2", "-l", "1000"], address)
        self.assert_clean(res, rep, 6)
        size = generated_size(1000, res.pid)
        self.assertEqual(rep["messages"]["bdat_chunks"], 6)
        self.assertEqual(rep["bytes_accepted"], 6 * size)
        self.assertEqual(rep["replies"], {"greeting": {"220": 6}, "helo": {"250": 6}, "mail": {"250": 6},
                                          "rcpt": {"250": 6}, "bdat": {"250": 6}, "quit": {"221": 6}})
        self.assert_agree(rep, stop_sink(self, sink))

    def test_chunk_sizes(self):
        """--chunk-size 1, 7 and 100 with -l 1000: ceil(size / N) chunks a message."""
        sink, address, _ = start_sink(self, ["--chunking"])
        total = {"messages": 0, "bytes": 0}
        for n in (1, 7, 100):
            with self.subTest(chunk_size=n):
                res, rep = run_source(["--chunk-size=%d" % n, "-m", "3", "-s", "1", "-d", "-l", "1000"], address)
                self.assert_clean(res, rep, 3)
                size = generated_size(1000, res.pid)
                chunks = 3 * chunks_for(size, n)
                self.assertEqual(rep["messages"]["bdat_chunks"], chunks)
                self.assertEqual(rep["replies"]["bdat"], {"250": chunks})
                self.assertEqual(rep["bytes_accepted"], 3 * size)
                self.assertEqual(rep["replies"]["helo"], {"250": 1})
                self.assertNotIn("data", rep["replies"])
                self.assertNotIn("dot", rep["replies"])
                total["messages"] += 3
                total["bytes"] += 3 * size
        sink_rep = stop_sink(self, sink)
        self.assertEqual((sink_rep["messages"], sink_rep["data_bytes"]), (total["messages"], total["bytes"]))

    def test_chunking_pipelining_keep_connection(self):
        d = self.dump_dir()
        sink, address, _ = start_sink(self, ["--chunking", "-d", d + "/m."])
        res, rep = run_source(["--chunking", "--chunk-size=100", "--pipelining", "-d", "-m", "10", "-s", "2",
                               "-l", "1000"], address)
        self.assert_clean(res, rep, 10)
        size = generated_size(1000, res.pid)
        chunks = 10 * chunks_for(size, 100)
        self.assertEqual(rep["messages"]["bdat_chunks"], chunks)
        self.assertEqual(rep["bytes_accepted"], 10 * size)
        self.assertEqual(rep["connections"]["established"], 2)
        self.assertEqual(rep["replies"], {"greeting": {"220": 2}, "helo": {"250": 2}, "mail": {"250": 10},
                                          "rcpt": {"250": 10}, "bdat": {"250": chunks}, "quit": {"221": 2}})
        self.assert_agree(rep, stop_sink(self, sink))
        self.assertEqual(len(self.dumps(d)), 10)

    def test_binarymime(self):
        d = self.dump_dir()
        sink, address, _ = start_sink(self, ["--chunking", "-d", d + "/m."])
        res, rep = run_source(["--binarymime", "-m", "4", "-s", "2", "-F", DOT_FILE], address)
        self.assert_clean(res, rep, 4)
        size = len(file_wire(DOT_CONTENT, False))
        self.assertEqual(rep["messages"]["bdat_chunks"], 4)
        self.assertEqual(rep["bytes_accepted"], 4 * size)
        self.assertEqual(rep["replies"]["bdat"], {"250": 4})
        self.assert_agree(rep, stop_sink(self, sink))
        dumps = self.dumps(d)
        self.assertEqual(len(dumps), 4)
        for dump in dumps:
            self.assertIn(b"\nX-Mail-Args: <%s> BODY=BINARYMIME\n" % SENDER.encode(), dump)

    def test_lmtp_chunks_three_recipients(self):
        """-L on both sides over a unix socket, --chunking -r 3: the LAST chunk gets one reply per
        recipient, the other chunks one each."""
        sink, address, _ = start_sink(self, ["-L", "--chunking"], family="unix")
        res, rep = run_source(["-L", "--chunking", "--chunk-size=50", "-r", "3", "-m", "4", "-s", "2",
                               "-F", DOT_FILE], address)
        self.assert_clean(res, rep, 4, rcpts=3)
        size = len(file_wire(DOT_CONTENT, False))
        per_message = chunks_for(size, 50)
        self.assertEqual(rep["messages"]["bdat_chunks"], 4 * per_message)
        self.assertEqual(rep["replies"]["bdat"], {"250": 4 * (per_message - 1) + 4 * 3})
        self.assertEqual(rep["replies"]["rcpt"], {"250": 12})
        self.assertEqual(rep["bytes_accepted"], 4 * size)
        sink_rep = stop_sink(self, sink)
        self.assert_agree(rep, sink_rep)
        self.assertEqual(sink_rep["recipients"], 12)

    def test_starttls(self):
        """Six connections over two sessions: each after a session's first resumes (our sink
        issues a ticket after every handshake)."""
        sink, address, _ = start_sink(self, ["--starttls"])
        res, rep = run_source(["--starttls", "-m", "6", "-s", "2", "-l", "300"], address)
        self.assert_clean(res, rep, 6)
        self.assertEqual(rep["connections"], {"established": 6, "connect_failures": 0, "tls_handshakes": 6,
                                              "tls_resumed": 4})
        self.assertEqual(rep["replies"]["starttls"], {"220": 6})
        self.assertEqual(rep["replies"]["helo"], {"250": 12}, "EHLO before and after STARTTLS")
        self.assertEqual(rep["latency_ms"]["tls_handshake"]["count"], 6)
        self.assertEqual(rep["bytes_accepted"], 6 * (generated_size(300, res.pid) + 3))
        sink_rep = stop_sink(self, sink)
        self.assert_agree(rep, sink_rep)
        self.assertEqual(sink_rep["tls"], {"handshakes": 6, "failed": 0})

    def test_tls_on_connect(self):
        for family in ("inet", "inet6"):
            with self.subTest(family=family):
                sink, address, _ = start_sink(self, ["--tls-on-connect", "--chunking"], family=family)
                res, rep = run_source(["--tls-on-connect", "--chunking", "-m", "6", "-s", "2", "-F", DOT_FILE],
                                      address)
                self.assert_clean(res, rep, 6)
                self.assertEqual(rep["connections"], {"established": 6, "connect_failures": 0,
                                                      "tls_handshakes": 6, "tls_resumed": 4})
                self.assertNotIn("starttls", rep["replies"])
                self.assertEqual(rep["replies"]["greeting"], {"220": 6})
                self.assertEqual(rep["replies"]["helo"], {"250": 6})
                self.assertEqual(rep["bytes_accepted"], 6 * len(file_wire(DOT_CONTENT, False)))
                sink_rep = stop_sink(self, sink)
                self.assert_agree(rep, sink_rep)
                self.assertEqual(sink_rep["tls"], {"handshakes": 6, "failed": 0})

    def test_auth_plain_and_login(self):
        """PLAIN (its initial response: one 235) and LOGIN (two 334 challenges, then 235) on every
        connection; with --starttls too (AUTH after the second EHLO)."""
        cases = [(["--auth-mech=PLAIN"], [], {"235": 4}),
                 (["--auth-mech=LOGIN"], [], {"334": 8, "235": 4}),
                 ([], [], {"235": 4}),           # PLAIN when the server announces it
                 (["--auth-mech=LOGIN", "--starttls"], ["--starttls"], {"334": 8, "235": 4})]
        for src_opts, sink_opts, auth_replies in cases:
            with self.subTest(source=src_opts):
                sink, address, _ = start_sink(self, ["--auth-user=other:secret", "--auth-user=user1:pass word"] +
                                              sink_opts)
                res, rep = run_source(["--auth-user=user1", "--auth-password=pass word", "-m", "4", "-s", "2"] +
                                      src_opts, address)
                self.assert_clean(res, rep, 4)
                self.assertEqual(rep["replies"]["auth"], auth_replies)
                sink_rep = stop_sink(self, sink)
                self.assert_agree(rep, sink_rep)
                self.assertEqual(sink_rep["auth"], {"authenticated": 4, "failed": 0})
                self.assertEqual(sink_rep["tls"]["handshakes"], 4 if "--starttls" in src_opts else 0)

    def test_auth_wrong_password(self):
        for mech in ("PLAIN", "LOGIN"):
            with self.subTest(mech=mech):
                sink, address, _ = start_sink(self, ["--auth-user=user1:right"])
                res, rep = run_source(["--auth-user=user1", "--auth-password=wrong", "--auth-mech=" + mech,
                                       "-m", "3", "-s", "1"], address)
                self.assertEqual(res.returncode, 1, res)
                text = "authentication failed: 535 5.7.8 Error: authentication failed"
                self.assertEqual(res.stderr, b"%s: fatal: %s\n" % (SOURCE.encode(), text.encode()))
                self.assertEqual(rep["error"], text)
                self.assertEqual(nonzero(rep["rejected_by_stage"]), {"auth": 1})
                self.assertEqual(rep["replies"]["auth"], {"535": 1} if mech == "PLAIN" else {"334": 2, "535": 1})
                self.assertEqual((rep["messages"]["sent"], rep["messages"]["accepted"]), (0, 0))
                sink_rep = stop_sink(self, sink)
                self.assertEqual(sink_rep["auth"], {"authenticated": 0, "failed": 1})
                self.assertEqual((sink_rep["connections"], sink_rep["messages"]), (1, 0))

    def test_auth_wrong_password_with_A(self):
        """-A: a warning per connection, and every message goes unauthenticated."""
        sink, address, _ = start_sink(self, ["--auth-user=user1:right"])
        res, rep = run_source(["--auth-user=user1", "--auth-password=wrong", "-A", "-m", "3", "-s", "2"], address)
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(warning_lines(res),
                         ["warning: authentication failed: 535 5.7.8 Error: authentication failed"] * 3)
        self.assertEqual(nonzero(rep["rejected_by_stage"]), {"auth": 3})
        self.assertEqual(rep["replies"]["auth"], {"535": 3})
        self.assertEqual((rep["messages"]["sent"], rep["messages"]["accepted"]), (3, 3))
        sink_rep = stop_sink(self, sink)
        self.assert_agree(rep, sink_rep)
        self.assertEqual(sink_rep["auth"], {"authenticated": 0, "failed": 3})

    def test_verbose_never_prints_credentials(self):
        secrets = [b"user1", b"s3cret-Pw", base64.b64encode(b"user1"), base64.b64encode(b"s3cret-Pw"),
                   base64.b64encode(b"\0user1\0s3cret-Pw")]
        for mech, shown in (("PLAIN", [b"AUTH PLAIN (credentials)"]),
                            ("LOGIN", [b"AUTH LOGIN", b"(credentials)", b"(credentials)"])):
            with self.subTest(mech=mech):
                sink, address, _ = start_sink(self, ["--starttls", "--auth-user=user1:s3cret-Pw"])
                res, rep = run_source(["-v", "--starttls", "--auth-mech=" + mech, "--auth-user=user1",
                                       "--auth-password=s3cret-Pw", "-m", "1"], address)
                self.assertEqual(res.returncode, 0, res)
                self.assertEqual(rep["replies"]["auth"]["235"], 1)
                lines = [line.split(b": ", 1)[1] for line in res.stderr.splitlines()]
                self.assertIn(b"TLS connection established", lines)
                auth = lines.index(shown[0])
                self.assertEqual([line for line in lines[auth:] if not line.startswith(b"<<< ")][:len(shown)], shown)
                for secret in secrets:
                    self.assertNotIn(secret, res.stderr)
                    self.assertNotIn(secret, res.stdout)
                self.assertEqual(stop_sink(self, sink)["auth"], {"authenticated": 1, "failed": 0})

    def test_everything_at_once(self):
        """STARTTLS, AUTH LOGIN, pipelined chunks, SIZE, SMTPUTF8, 8BITMIME, -d, three sessions."""
        sink, address, _ = start_sink(self, ["--starttls", "--chunking", "--smtputf8", "--max-size=100000",
                                             "--auth-user=user1:secret"])
        res, rep = run_source(["--starttls", "--auth-user=user1", "--auth-password=secret", "--auth-mech=LOGIN",
                               "--pipelining", "--chunk-size=333", "--size", "--smtputf8", "--8bitmime", "-d",
                               "-s", "3", "-m", "30", "-l", "2000"], address)
        self.assert_clean(res, rep, 30)
        size = generated_size(2000, res.pid)
        chunks = 30 * chunks_for(size, 333)
        self.assertEqual(rep["messages"]["bdat_chunks"], chunks)
        self.assertEqual(rep["bytes_accepted"], 30 * size)
        self.assertEqual(rep["connections"], {"established": 3, "connect_failures": 0, "tls_handshakes": 3,
                                              "tls_resumed": 0})
        self.assertEqual(rep["replies"], {"greeting": {"220": 3}, "starttls": {"220": 3}, "helo": {"250": 6},
                                          "auth": {"334": 6, "235": 3}, "mail": {"250": 30}, "rcpt": {"250": 30},
                                          "bdat": {"250": chunks}, "quit": {"221": 3}})
        sink_rep = stop_sink(self, sink)
        self.assert_agree(rep, sink_rep)
        self.assertEqual(sink_rep["tls"], {"handshakes": 3, "failed": 0})
        self.assertEqual(sink_rep["auth"], {"authenticated": 3, "failed": 0})

    def test_smtputf8_8bitmime_size(self):
        """SMTPUTF8, BODY=8BITMIME and SIZE=<the message's size> on MAIL, with DATA and BDAT."""
        for extra, data in (([], True), (["--chunking"], False)):
            with self.subTest(extra=extra):
                d = self.dump_dir()
                sink, address, _ = start_sink(self, ["--chunking", "--smtputf8", "--max-size=100000",
                                                     "-d", d + "/m."])
                res, rep = run_source(["--smtputf8", "--8bitmime", "--size", "-m", "3", "-s", "2", "-l", "2000"] +
                                      extra, address)
                self.assert_clean(res, rep, 3)
                size = generated_size(2000, res.pid)
                self.assertEqual(rep["bytes_accepted"], 3 * (size + 3 if data else size))
                sink_rep = stop_sink(self, sink)
                self.assert_agree(rep, sink_rep)
                dumps = self.dumps(d)
                self.assertEqual(len(dumps), 3)
                for dump in dumps:
                    m = re.search(rb"\nX-Mail-Args: ([^\n]*)\n", dump)
                    self.assertEqual(sorted(m.group(1).split()),
                                     sorted([b"<%s>" % SENDER.encode(), b"BODY=8BITMIME", b"SMTPUTF8",
                                             b"SIZE=%d" % size]))

    def test_size_parameter_of_a_file_message(self):
        """SIZE= of a -F message is the file as sent (no headers are generated with -F)."""
        d = self.dump_dir()
        sink, address, _ = start_sink(self, ["--chunking", "--max-size=100000", "-d", d + "/m."])
        res, rep = run_source(["--size", "--chunking", "-m", "1", "-F", DOT_FILE], address)
        self.assert_clean(res, rep, 1)
        stop_sink(self, sink)
        dumps = self.dumps(d)
        self.assertEqual(len(dumps), 1)
        self.assertIn(b"\nX-Mail-Args: <%s> SIZE=%d\n" % (SENDER.encode(), len(file_wire(DOT_CONTENT, False))),
                      dumps[0])

    def test_size_lets_a_file_message_under_the_limit_through(self):
        """A -F message smaller than the server's SIZE limit is not refused at MAIL."""
        content = b"Subject: small\n\nhello\n"         # 30 bytes with DATA, 27 in a chunk
        small = TMP.join("small%d.txt" % support.serial())
        with open(small, "wb") as f:
            f.write(content)
        sink, address, _ = start_sink(self, ["--max-size=100"])
        res, rep = run_source(["--size", "-m", "2", "-F", small], address)
        self.assert_clean(res, rep, 2)
        self.assertEqual(rep["bytes_accepted"], 2 * (len(file_wire(content, True)) + 3))
        self.assert_agree(rep, stop_sink(self, sink))


# ================================================================================================
# 2. an extension the sink does not announce
# ================================================================================================

class MissingExtensionTest(Checks, unittest.TestCase):
    """(source option, sink options, the name in the diagnostic)."""

    CASES = [
        (["--chunking"], [], "CHUNKING"),
        (["--chunk-size=10"], [], "CHUNKING"),
        (["--starttls"], [], "STARTTLS"),
        (["--auth-user=u", "--auth-password=p"], ["-a"], "AUTH PLAIN or LOGIN"),
        (["--smtputf8"], [], "SMTPUTF8"),
        (["--size"], [], "SIZE"),
        (["--8bitmime"], ["-8"], "8BITMIME"),
    ]

    def test_fatal_without_A(self):
        for src_opts, sink_opts, name in self.CASES + [(["--binarymime"], [], "CHUNKING")]:
            with self.subTest(option=src_opts):
                sink, address, _ = start_sink(self, sink_opts)
                res, rep = run_source(src_opts + ["-m", "3"], address)
                self.assertEqual(res.returncode, 1, res)
                self.assertEqual(res.stderr, b"%s: fatal: server does not announce %s\n" % (SOURCE.encode(),
                                                                                          name.encode()))
                self.assertEqual(rep["error"], "server does not announce " + name)
                self.assertEqual((rep["messages"]["sent"], rep["messages"]["accepted"]), (0, 0))
                sink_rep = stop_sink(self, sink)
                self.assertEqual((sink_rep["connections"], sink_rep["messages"]), (1, 0))

    def test_warning_and_fallback_with_A(self):
        """-A: one warning per connection, and every message goes as if the option were not
        given: DATA, no TLS, no AUTH, no MAIL parameter."""
        for src_opts, sink_opts, name in self.CASES:
            with self.subTest(option=src_opts):
                d = TMP.join("dumps-%d" % support.serial())
                self.addCleanup(support.remove_tempdir, d)
                sink, address, _ = start_sink(self, sink_opts + ["-d", d + "/m."])
                res, rep = run_source(src_opts + ["-A", "-m", "4", "-s", "2", "-F", DOT_FILE], address)
                self.assertEqual(res.returncode, 0, res)
                self.assertEqual(warning_lines(res),
                                 ["warning: server does not announce %s: going on without it" % name] * 4)
                self.assertIsNone(rep["error"])
                self.assertEqual({k: rep["messages"][k] for k in ("sent", "accepted")}, {"sent": 4, "accepted": 4})
                self.assertEqual(rep["messages"].get("bdat_chunks", 0), 0)
                self.assertEqual(rep["replies"], {"greeting": {"220": 4}, "helo": {"250": 4}, "mail": {"250": 4},
                                                  "rcpt": {"250": 4}, "data": {"354": 4}, "dot": {"250": 4},
                                                  "quit": {"221": 4}})
                self.assertEqual(rep["connections"].get("tls_handshakes", 0), 0)
                self.assertEqual(rep["bytes_accepted"], 4 * (len(file_wire(DOT_CONTENT, True)) + 3))
                sink_rep = stop_sink(self, sink)
                self.assert_agree(rep, sink_rep)
                self.assertEqual(sink_rep["tls"]["handshakes"], 0)
                self.assertEqual(sink_rep["auth"], {"authenticated": 0, "failed": 0})
                for root, _, names in os.walk(d):
                    for n in names:
                        with open(os.path.join(root, n), "rb") as f:
                            self.assertIn(b"\nX-Mail-Args: <%s>\n" % SENDER.encode(), f.read())


# ================================================================================================
# 3. the bytes on the wire
# ================================================================================================

def split_client_bytes(data):
    """A client's bytes as [("cmd", line) | ("bdat", size, last, payload) | ("data", content)]:
    a BDAT command takes the `size` bytes after it, DATA the content up to CR LF . CR LF."""
    out = []
    pos = 0
    after_data = False
    while pos < len(data):
        if after_data:
            end = data.index(b"\r\n.\r\n", pos - 2) + 5
            out.append(("data", data[pos:end]))
            pos = end
            after_data = False
            continue
        eol = data.index(b"\r\n", pos)
        line = data[pos:eol]
        pos = eol + 2
        m = re.fullmatch(rb"BDAT (\d+)( LAST)?", line)
        if m:
            size = int(m.group(1))
            out.append(("bdat", size, bool(m.group(2)), data[pos:pos + size]))
            pos += size
        else:
            out.append(("cmd", line))
            after_data = line == b"DATA"
    return out


class BdatWireTest(Checks, unittest.TestCase):

    def relayed(self, args, sink_options=("--chunking",), connections=1):
        sink, _, target = start_sink(self, sink_options)
        with support.Relay(target) as relay:
            res, rep = run_source(args, relay.address)
            conns = relay.wait_idle(expected=connections)
        stop_sink(self, sink)
        self.assertEqual(len(conns), connections)
        return res, rep, [split_client_bytes(bytes(c.client_to_server)) for c in conns]

    def messages_of(self, parts):
        """The chunks of each message: [[(size, last, payload), ...], ...]."""
        messages, current = [], []
        for p in parts:
            if p[0] == "bdat":
                current.append(p[1:])
                if p[2]:
                    messages.append(current)
                    current = []
        self.assertEqual(current, [], "a chunk after the last LAST")
        return messages

    def check_chunks(self, chunks, content, n):
        sizes = [c[0] for c in chunks]
        expected = [n] * (len(content) // n) + ([len(content) % n] if len(content) % n else [])
        if n >= len(content):
            expected = [len(content)]
        self.assertEqual(sizes, expected)
        self.assertEqual([c[1] for c in chunks], [False] * (len(chunks) - 1) + [True], "LAST on the last only")
        self.assertEqual([len(c[2]) for c in chunks], sizes)
        self.assertEqual(b"".join(c[2] for c in chunks), content)

    def test_chunk_sizes_of_a_dotted_file(self):
        content = file_wire(DOT_CONTENT, False)
        for n in (1, 7, 64, len(content) - 1, len(content), len(content) + 1, 100000):
            with self.subTest(chunk_size=n):
                res, rep, [parts] = self.relayed(["--chunk-size=%d" % n, "-d", "-m", "2", "-F", DOT_FILE])
                self.assert_clean(res, rep, 2)
                messages = self.messages_of(parts)
                self.assertEqual(len(messages), 2)
                for chunks in messages:
                    self.check_chunks(chunks, content, n)
                self.assertEqual(rep["messages"]["bdat_chunks"], 2 * chunks_for(len(content), n))
                self.assertEqual(rep["messages"]["bdat_chunks"], sum(len(m) for m in messages))
                self.assertEqual(rep["bytes_accepted"], 2 * len(content))
                cmds = [p[1] for p in parts if p[0] == "cmd"]
                self.assertEqual(cmds, [b"EHLO " + HELO.encode()] +
                                 [b"MAIL FROM:<%s>" % SENDER.encode(), b"RCPT TO:<%s>" % RCPT.encode()] * 2 +
                                 [b"QUIT"])

    def test_data_is_stuffed_and_bdat_is_not(self):
        """The same -F file: DATA sends dot-stuffed lines and the end-of-data line, BDAT the lines
        as they are; unstuffed, DATA's content is BDAT's plus '.\\r\\n'."""
        _, _, [data_parts] = self.relayed(["--ehlo", "-m", "1", "-F", DOT_FILE])
        _, _, [bdat_parts] = self.relayed(["--chunking", "-m", "1", "-F", DOT_FILE])
        data = [p[1] for p in data_parts if p[0] == "data"]
        bdat = [p[3] for p in bdat_parts if p[0] == "bdat"]
        self.assertEqual(data, [file_wire(DOT_CONTENT, True) + b".\r\n"])
        self.assertEqual(bdat, [file_wire(DOT_CONTENT, False)])
        self.assertNotEqual(data[0][:-3], bdat[0])
        self.assertIn(b"\r\n..leading dot\r\n", data[0])
        self.assertIn(b"\r\n.leading dot\r\n", bdat[0])
        unstuffed = b"\r\n".join(line[1:] if line.startswith(b".") else line for line in data[0].split(b"\r\n"))
        self.assertEqual(unstuffed, bdat[0] + b"\r\n")     # the end line "." unstuffed is empty
        self.assertNotIn(b"DATA", [p[1] for p in bdat_parts if p[0] == "cmd"])

    def test_generated_message_in_chunks_with_pipelining(self):
        """-l 1000 in chunks of 100, pipelined, two messages on one connection: the headers the
        source generates, then the payload; the size is the one the other tests compute."""
        res, rep, [parts] = self.relayed(["--chunk-size=100", "--pipelining", "-d", "-m", "2", "-l", "1000"])
        self.assert_clean(res, rep, 2)
        size = generated_size(1000, res.pid)
        messages = self.messages_of(parts)
        self.assertEqual(len(messages), 2)
        for chunks in messages:
            content = b"".join(c[2] for c in chunks)
            m = GENERATED_RE.match(content)
            self.assertIsNotNone(m, content[:300])
            self.assertEqual(content[m.end():], payload(1000) + b"\r\n")
            self.assertEqual(len(content), size)
            self.check_chunks(chunks, content, 100)
        self.assertEqual(rep["messages"]["bdat_chunks"], 2 * chunks_for(size, 100))


# ================================================================================================
# 4. dump files
# ================================================================================================

RECEIVED_RE = re.compile(rb"(Received: from [^\n]*\n\tby smtp-sink \(smtp-sink\) with [A-Z]+ id )[0-9a-f]{8}"
                         rb"(;\n\t)[^\n]*\n")


def normalise(dump):
    """The Received: id and date out, nothing else; exactly one Received: line is expected."""
    out, n = RECEIVED_RE.subn(lambda m: m.group(1) + b"<ID>" + m.group(2) + b"<DATE>\n", dump)
    if n != 1:
        raise AssertionError("%d Received: lines in %r" % (n, dump[:400]))
    return out


def files_under(d):
    out = []
    for root, _, names in os.walk(d):
        out += [os.path.join(root, n) for n in names]
    return sorted(out)


def read(path):
    with open(path, "rb") as f:
        return f.read()


class DumpTest(Checks, unittest.TestCase):

    def send_and_dump(self, args, sink_options=(), shared=False, messages=2):
        """-m `messages` -d over one connection to a fresh sink with -d (or -D); the dumps."""
        d = TMP.join("dumps-%d" % support.serial())
        self.addCleanup(support.remove_tempdir, d)
        sink, address, _ = start_sink(self, ["--chunking", "-D" if shared else "-d", d + "/m."] + list(sink_options))
        res, rep = run_source(list(args) + ["-d", "-m", str(messages)], address)
        self.assert_clean(res, rep, messages)
        sink_rep = stop_sink(self, sink)
        self.assert_agree(rep, sink_rep)
        paths = files_under(d)
        if shared:
            self.assertEqual(len(paths), 1)
            parts = re.split(rb"(?m)^(?=X-Client-Addr: )", read(paths[0]))
            return [p for p in parts if p]
        return [read(p) for p in paths]

    def test_data_and_chunks_dump_the_same(self):
        small = file_wire(DOT_CONTENT, False)
        sizes = (1, 2, 3, 5, 7, 13, 64)
        splitting = [n for n in sizes if any(small[k - 1:k + 1] == b"\r\n" for k in range(n, len(small), n))]
        self.assertGreaterEqual(len(splitting), 3, "chunk boundaries between CR and LF: %r" % splitting)
        cases = [(DOT_FILE, None)] + [(DOT_FILE, n) for n in sizes] + [(DOT_FILE, 0)]
        # the integrity test's kind of file: a 70,000-byte line (over the dump's buffer), NUL, CRs
        big = TMP.join("long%d.txt" % support.serial())
        with open(big, "wb") as f:
            f.write(b"Subject: long\n\n..x\n" + b"L" * 70000 + b"\r\n.\n\x00\rmid\r\nend\r")
        cases += [(big, None), (big, 4095), (big, 65537), (big, 0)]
        reference = {}
        for path, n in cases:
            with self.subTest(file=os.path.basename(path), chunk_size=n):
                args = ["-F", path] + (["--ehlo"] if n is None else ["--chunking"] if n == 0 else
                                       ["--chunk-size=%d" % n])
                dumps = [normalise(x) for x in self.send_and_dump(args)]
                self.assertEqual(len(dumps), 2)
                if n is None:
                    reference[path] = dumps[0]
                    # the reference itself: the envelope, then the file as Postfix's sink dumps DATA
                    self.assertTrue(dumps[0].startswith(b"X-Client-Addr: 127.0.0.1\nX-Client-Proto: ESMTP\n"))
                for dump in dumps:
                    self.assertEqual(dump, reference[path])

    def test_shared_dump_file(self):
        """-D: one file, each message appended; DATA and chunks the same."""
        data = [normalise(x) for x in self.send_and_dump(["--ehlo", "-F", DOT_FILE], shared=True)]
        bdat = [normalise(x) for x in self.send_and_dump(["--chunk-size=3", "-F", DOT_FILE], shared=True)]
        self.assertEqual(len(data), 2)
        self.assertEqual(bdat, data)

    def test_lmtp_dump(self):
        """LMTP over a unix socket, three recipients: DATA and 5-byte chunks dump the same."""
        dumps = []
        for args in (["-L"], ["-L", "--chunk-size=5"]):
            d = TMP.join("dumps-%d" % support.serial())
            self.addCleanup(support.remove_tempdir, d)
            sink, address, _ = start_sink(self, ["-L", "--chunking", "-d", d + "/m."], family="unix")
            res, rep = run_source(args + ["-r", "3", "-m", "2", "-F", DOT_FILE], address)
            self.assert_clean(res, rep, 2, rcpts=3)
            self.assert_agree(rep, stop_sink(self, sink))
            dumps.append([normalise(read(p)) for p in files_under(d)])
        self.assertEqual(len(dumps[0]), 2)
        self.assertIn(b"X-Client-Addr: local\nX-Client-Proto: LMTP\n", dumps[0][0])
        self.assertIn(b"\nX-Rcpt-Args: <3%s>\nX-Rcpt-Args: <2%s>\nX-Rcpt-Args: <%s>\n"
                      % (RCPT.encode(), RCPT.encode(), RCPT.encode()), dumps[0][0])
        self.assertEqual(dumps[1], dumps[0])

    # ------------------------------------------------------------------------------ --max-size
    # (source options, stage of the 552, its warning, messages sent, other replies of that stage,
    # RSET after it: the transaction is still open after a refused MAIL or a refused chunk that
    # is not the LAST one; DATA's end and the LAST chunk end it)
    OVERSIZE = [
        (["--ehlo"], "dot", "end of data rejected", 2, {}, False),
        (["--chunking"], "bdat", "BDAT rejected", 2, {}, False),
        (["--chunk-size=100"], "bdat", "BDAT rejected", 0, {"250": 2 * (LIMIT // 100)}, True),
        (["--size"], "mail", "sender rejected", 0, {}, True),
        (["--size", "--chunking"], "mail", "sender rejected", 0, {}, True),
    ]

    def test_oversize_message(self):
        """A message over --max-size: 552 at the end of its data (DATA or the chunk that passes
        the limit) or at MAIL (SIZE=); no dump, not counted; the same session goes on."""
        size = len(file_wire(BIG_CONTENT, False))
        self.assertGreater(size, LIMIT + 100)
        for opts, stage, what, sent, other, rset in self.OVERSIZE:
            with self.subTest(source=opts):
                d = TMP.join("dumps-%d" % support.serial())
                self.addCleanup(support.remove_tempdir, d)
                sink, address, _ = start_sink(self, ["--chunking", "--max-size=%d" % LIMIT, "-d", d + "/m."])
                res, rep = run_source(opts + ["-A", "-d", "-m", "2", "-F", BIG_FILE], address)
                self.assertEqual(res.returncode, 0, res)
                self.assertEqual(warning_lines(res),
                                 ["warning: %s: 552 5.3.4 Message size exceeds fixed limit" % what] * 2)
                self.assertEqual(nonzero(rep["rejected_by_stage"]), {stage: 2})
                self.assertEqual(rep["replies"][stage], dict(other, **{"552": 2}))
                self.assertEqual((rep["messages"]["sent"], rep["messages"]["accepted"]), (sent, 0))
                self.assertEqual(rep["bytes_accepted"], 0)
                self.assertEqual(rep["replies"].get("rset"), {"250": 2} if rset else None)
                if "--chunk-size=100" in opts:
                    self.assertEqual(rep["messages"]["bdat_chunks"], 2 * (LIMIT // 100 + 1))
                self.assertEqual(files_under(d), [])
                # the sink goes on: a small message afterwards is accepted and dumped
                small, small_rep = run_source(opts + ["-m", "1", "-F", DOT_FILE], address)
                self.assert_clean(small, small_rep, 1)
                self.assertEqual(len(files_under(d)), 1)
                sink_rep = stop_sink(self, sink)
                self.assertEqual(sink_rep["messages"], 1)
                self.assertEqual(sink_rep["replies"]["552"], 2)
                both = replies_by_code(rep)
                for code, n in replies_by_code(small_rep).items():
                    both[code] = both.get(code, 0) + n
                self.assertEqual(sink_rep["replies"], both)

    def test_oversize_data_bytes_not_counted(self):
        """The sink's data_bytes are the bytes of the messages it counts (man smtp-sink: 'their
        data bytes ... exactly [smtp-source's] bytes_accepted'): an oversize message is not
        counted, so its bytes are not either."""
        for opts in (["--ehlo"], ["--chunking"], ["--chunk-size=100"]):
            with self.subTest(source=opts):
                sink, address, _ = start_sink(self, ["--chunking", "--max-size=%d" % LIMIT])
                res, rep = run_source(opts + ["-A", "-m", "2", "-F", BIG_FILE], address)
                self.assertEqual((res.returncode, rep["messages"]["accepted"], rep["bytes_accepted"]), (0, 0, 0))
                sink_rep = stop_sink(self, sink)
                self.assertEqual(sink_rep["messages"], 0)
                self.assertEqual(sink_rep["data_bytes"], rep["bytes_accepted"])

    def test_size_limit_boundary(self):
        """A message of exactly --max-size bytes is accepted, one byte more is refused; for DATA
        the size is the content as sent without the end-of-data line."""
        wire = file_wire(BIG_CONTENT, False)         # no dot lines: DATA's content is the same
        for limit, accepted in ((len(wire), 1), (len(wire) - 1, 0)):
            for opts in (["--ehlo"], ["--chunking"], ["--chunk-size=1000"]):
                with self.subTest(limit=limit, source=opts):
                    sink, address, _ = start_sink(self, ["--chunking", "--max-size=%d" % limit])
                    res, rep = run_source(opts + ["-A", "-m", "1", "-F", BIG_FILE], address)
                    self.assertEqual(res.returncode, 0, res)
                    self.assertEqual(rep["messages"]["accepted"], accepted)
                    self.assertEqual(stop_sink(self, sink)["messages"], accepted)


# ================================================================================================
# 5. TLS verification
# ================================================================================================

class TlsVerifyTest(Checks, unittest.TestCase):
    """A sink with an openssl-made certificate for localhost and 127.0.0.1."""

    FATAL = b": fatal: certificate verify failed (SSL routines) while performing the TLS handshake\n"

    def test_verification(self):
        cases = [  # (source options, address host, passes)
            (["--tls-ca-file={CERT}"], "127.0.0.1", True),
            (["--tls-ca-file={CERT}", "--tls-servername=localhost"], "127.0.0.1", True),
            (["--tls-ca-file={CERT}", "-4"], "localhost", True),
            ([], "127.0.0.1", True),                      # no verification: any certificate
            (["--tls-ca-file={OTHER}"], "127.0.0.1", False),
            (["--tls-ca-file={CERT}", "--tls-servername=wrong.example"], "127.0.0.1", False),
            (["--tls-verify"], "127.0.0.1", False),        # the system's CAs do not know it
        ]
        for mode in ("--starttls", "--tls-on-connect"):
            sink, _, (_, port) = start_sink(self, [mode, "--tls-cert=" + CERT, "--tls-key=" + KEY])
            good = bad = 0
            for opts, host, passes in cases:
                opts = [o.replace("{CERT}", CERT).replace("{OTHER}", OTHER_CERT) for o in opts]
                with self.subTest(mode=mode, source=opts, host=host):
                    res, rep = run_source([mode, "-m", "2"] + opts, "%s:%d" % (host, port))
                    if passes:
                        good += 1
                        self.assert_clean(res, rep, 2)
                        self.assertEqual(rep["connections"]["tls_handshakes"], 2)
                    else:
                        bad += 1
                        self.assertEqual(res.returncode, 1, res)
                        self.assertEqual(res.stderr, SOURCE.encode() + self.FATAL)
                        self.assertIn("certificate verify failed", rep["error"])
                        self.assertEqual(rep["messages"]["sent"], 0)
                        self.assertEqual(rep["connections"]["tls_handshakes"], 0)
            sink_rep = stop_sink(self, sink)
            self.assertEqual(sink_rep["tls"], {"handshakes": 2 * good, "failed": bad})
            self.assertEqual(sink_rep["messages"], 2 * good)


    def test_sink_self_signed_certificate(self):
        """Without --tls-cert the sink makes a certificate for its -h name, localhost, 127.0.0.1
        and ::1: trusted as a CA (fetched with Python's ssl), it passes verification for each."""
        sink, _, (_, port) = start_sink(self, ["--tls-on-connect", "-h", "mx.example.org"], family="wild")
        with ssl._create_unverified_context().wrap_socket(support.connect_to(("127.0.0.1", port))) as t:
            t.settimeout(STEP)
            der = t.getpeercert(binary_form=True)
            self.assertEqual(t.recv(100), b"220 mx.example.org ESMTP\r\n")
            t.sendall(b"QUIT\r\n")
            self.assertEqual(t.recv(100), b"221 Bye\r\n")
        ca = TMP.join("sink-cert%d.pem" % support.serial())
        with open(ca, "w") as f:
            f.write(ssl.DER_cert_to_PEM_cert(der))
        cases = [([], "127.0.0.1", True), ([], "[::1]", True), (["-4"], "localhost", True),
                 (["--tls-servername=mx.example.org"], "127.0.0.1", True),
                 (["--tls-servername=other.example"], "127.0.0.1", False)]
        for opts, host, passes in cases:
            with self.subTest(source=opts, host=host):
                res, rep = run_source(["--tls-on-connect", "--tls-ca-file=" + ca, "-m", "1"] + opts,
                                      "%s:%d" % (host, port))
                if passes:
                    self.assert_clean(res, rep, 1)
                else:
                    self.assertEqual(res.returncode, 1, res)
                    self.assertEqual(res.stderr, SOURCE.encode() + self.FATAL)
        sink_rep = stop_sink(self, sink)
        self.assertEqual(sink_rep["tls"], {"handshakes": 5, "failed": 1})     # ours included
        self.assertEqual(sink_rep["messages"], 4)


# ================================================================================================
# 6. other clients against our sink
# ================================================================================================

class ThirdPartyClientTest(Checks, unittest.TestCase):

    def swaks(self, address, args):
        host, port = address.rsplit(":", 1)
        return support.run([SWAKS, "--server", "%s:%s" % (host, port), "--to", "a@b.example", "--from",
                            "c@d.example", "--helo", "client.example", "--timeout", "10"] + list(args))

    SWAKS_CASES = [
        # (sink options, swaks options, exit status, messages, tls, authenticated, failed)
        (["--auth-user=u:p"], ["--auth", "PLAIN", "--auth-user", "u", "--auth-password", "p"], 0, 1, 0, 1, 0),
        (["--auth-user=u:p"], ["--auth", "LOGIN", "--auth-user", "u", "--auth-password", "p"], 0, 1, 0, 1, 0),
        (["--auth-user=u:p"], ["--auth", "PLAIN", "--auth-user", "u", "--auth-password", "x"], 28, 0, 0, 0, 1),
        (["--auth-user=u:p"], ["--auth", "LOGIN", "--auth-user", "u", "--auth-password", "x"], 28, 0, 0, 0, 1),
        ([], ["--pipeline"], 0, 1, 0, 0, 0),
    ]
    SWAKS_TLS_CASES = [
        (["--starttls"], ["--tls"], 0, 1, 1, 0, 0),
        (["--starttls", "--auth-user=u:p"], ["--tls", "--auth", "PLAIN", "--auth-user", "u", "--auth-password", "p"],
         0, 1, 1, 1, 0),
        (["--starttls", "--auth-user=u:p"], ["--tls", "--auth", "LOGIN", "--auth-user", "u", "--auth-password", "x"],
         28, 0, 1, 0, 1),
        (["--starttls", "--auth-user=u:p"], ["--tls", "--pipeline", "--auth", "LOGIN", "--auth-user", "u",
                                              "--auth-password", "p"], 0, 1, 1, 1, 0),
        (["--tls-on-connect", "--auth-user=u:p"], ["--tls-on-connect", "--auth", "PLAIN", "--auth-user", "u",
                                                   "--auth-password", "p"], 0, 1, 1, 1, 0),
    ]

    def run_swaks_cases(self, cases):
        for sink_opts, args, status, messages, tls, authenticated, failed in cases:
            with self.subTest(swaks=args):
                sink, address, _ = start_sink(self, ["-c"] + sink_opts)
                res = self.swaks(address, args)
                self.assertEqual(res.returncode, status, res)
                if "--tls" in args or "--tls-on-connect" in args:
                    self.assertIn(b"=== TLS started with cipher ", res.stdout)
                sink_rep = stop_sink(self, sink)
                self.assertEqual(support.sink_counters(sink.stdout().split(b"\n")[0])[-1],
                                 {"sess": 1, "quit": 1, "mesg": messages})
                self.assertEqual(sink_rep["messages"], messages)
                self.assertEqual(sink_rep["connections"], 1)
                self.assertEqual(sink_rep["quits"], 1)
                self.assertEqual(sink_rep["tls"], {"handshakes": tls, "failed": 0})
                self.assertEqual(sink_rep["auth"], {"authenticated": authenticated, "failed": failed})
                self.assertEqual(sink_rep["replies"].get("535", 0), failed)

    def test_swaks(self):
        self.run_swaks_cases(self.SWAKS_CASES)

    def test_swaks_tls(self):
        self.run_swaks_cases(self.SWAKS_TLS_CASES)

    def test_smtplib_starttls_login_sendmail(self):
        sink, _, (host, port) = start_sink(self, ["--starttls", "--auth-user=user1:secret"])
        s = smtplib.SMTP(host, port, timeout=STEP)
        self.addCleanup(s.close)
        s.ehlo("client.example")
        self.assertTrue(s.has_extn("starttls"))
        self.assertEqual(s.starttls(context=ssl._create_unverified_context())[0], 220)
        self.assertIsInstance(s.sock, ssl.SSLSocket)
        s.ehlo("client.example")
        self.assertFalse(s.has_extn("starttls"), "STARTTLS is announced until the session is secured")
        self.assertEqual(s.esmtp_features.get("auth", "").split(), ["PLAIN", "LOGIN"])
        self.assertEqual(s.login("user1", "secret")[0], 235)
        self.assertEqual(s.sendmail("a@example.com", ["b@example.org", "c@example.org"],
                                    b"Subject: smtplib\r\n\r\nhello\r\n"), {})
        self.assertEqual(s.quit()[0], 221)
        # LOGIN explicitly, on a second connection
        s2 = smtplib.SMTP(host, port, timeout=STEP)
        self.addCleanup(s2.close)
        s2.starttls(context=ssl._create_unverified_context())
        s2.ehlo("client.example")
        s2.user, s2.password = "user1", "secret"
        self.assertEqual(s2.auth("LOGIN", s2.auth_login)[0], 235)
        self.assertEqual(s2.sendmail("a@example.com", ["b@example.org"], b"Subject: 2\r\n\r\nhi\r\n"), {})
        s2.quit()
        sink_rep = stop_sink(self, sink)
        self.assertEqual((sink_rep["messages"], sink_rep["recipients"]), (2, 3))
        self.assertEqual(sink_rep["tls"], {"handshakes": 2, "failed": 0})
        self.assertEqual(sink_rep["auth"], {"authenticated": 2, "failed": 0})

    def test_smtplib_wrong_password(self):
        sink, _, (host, port) = start_sink(self, ["--auth-user=user1:secret"])
        s = smtplib.SMTP(host, port, timeout=STEP)
        self.addCleanup(s.close)
        s.ehlo("client.example")
        with self.assertRaises(smtplib.SMTPAuthenticationError) as cm:
            s.login("user1", "wrong")
        self.assertEqual(cm.exception.smtp_code, 535)
        self.assertEqual(cm.exception.smtp_error, b"5.7.8 Error: authentication failed")
        # still unauthenticated, the session goes on: the right password then works
        self.assertEqual(s.login("user1", "secret")[0], 235)
        s.quit()
        sink_rep = stop_sink(self, sink)
        # smtplib's login() tries each mechanism it shares with the server (PLAIN, then LOGIN)
        self.assertEqual(sink_rep["auth"], {"authenticated": 1, "failed": 2})
        self.assertEqual(sink_rep["replies"]["535"], 2)

    def test_bdat_by_hand(self):
        d = TMP.join("dumps-%d" % support.serial())
        self.addCleanup(support.remove_tempdir, d)
        sink, _, target = start_sink(self, ["--chunking", "-d", d + "/m."])
        sock = support.connect_to(target)
        self.addCleanup(sock.close)
        reader = support.LineReader(sock)

        def reply():
            lines = []
            while True:
                line = reader.readline(STEP)
                if not line:
                    raise AssertionError("connection closed after %r" % lines)
                lines.append(line)
                if line[3:4] != b"-":
                    return b"".join(lines)

        def command(data):
            sock.sendall(data)
            return reply()

        self.assertEqual(reply(), b"220 smtp-sink ESMTP\r\n")
        ehlo = command(b"EHLO client.example\r\n")
        self.assertIn(b"250-CHUNKING\r\n", ehlo)
        self.assertIn(b"250-BINARYMIME\r\n", ehlo)
        self.assertEqual(command(b"BDAT 4\r\nabcd"), b"503 5.5.1 Error: need RCPT command\r\n")
        self.assertEqual(command(b"MAIL FROM:<a@example.com> BODY=BINARYMIME\r\n"), b"250 2.1.0 Ok\r\n")
        self.assertEqual(command(b"RCPT TO:<b@example.org>\r\n"), b"250 2.1.5 Ok\r\n")
        chunk1 = b"Subject: by hand\r\n\r\n.\r\nQUIT\r\nRSET\r\n\r"      # commands in a chunk are data
        self.assertEqual(command(b"BDAT %d\r\n" % len(chunk1) + chunk1), b"250 2.0.0 Ok: %d octets received\r\n"
                         % len(chunk1))
        self.assertEqual(command(b"RCPT TO:<c@example.org>\r\n"), b"503 5.5.1 Error: RCPT after BDAT\r\n")
        self.assertEqual(command(b"DATA\r\n"), b"503 5.5.1 Error: DATA after BDAT\r\n")
        self.assertEqual(command(b"BDAT 0\r\n"), b"250 2.0.0 Ok: 0 octets received\r\n")
        chunk2 = b"\n..end\r\n"
        self.assertEqual(command(b"BDAT %d LAST\r\n" % len(chunk2) + chunk2), b"250 2.0.0 Ok\r\n")
        self.assertEqual(command(b"QUIT\r\n"), b"221 Bye\r\n")
        sink_rep = stop_sink(self, sink)
        self.assertEqual((sink_rep["messages"], sink_rep["recipients"]), (1, 1))
        self.assertEqual(sink_rep["data_bytes"], len(chunk1) + len(chunk2))
        [path] = files_under(d)
        # the envelope, Received:, then the chunks with every CR out and nothing unstuffed, then
        # the empty line DATA's end leaves
        self.assertEqual(normalise(read(path)),
                         b"X-Client-Addr: 127.0.0.1\nX-Client-Proto: ESMTP\nX-Helo-Args: client.example\n"
                         b"X-Mail-Args: <a@example.com> BODY=BINARYMIME\nX-Rcpt-Args: <b@example.org>\n"
                         b"Received: from client.example ([127.0.0.1])\n\tby smtp-sink (smtp-sink) with ESMTP id <ID>;"
                         b"\n\t<DATE>\nSubject: by hand\n\n.\nQUIT\nRSET\n\n..end\n\n")

    def test_bdat_bad_size_closes(self):
        sink, _, target = start_sink(self, ["--chunking"])
        sock = support.connect_to(target)
        self.addCleanup(sock.close)
        reader = support.LineReader(sock)
        self.assertEqual(reader.readline(STEP), b"220 smtp-sink ESMTP\r\n")
        sock.sendall(b"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 12x\r\n")
        lines = []
        while True:
            line = reader.readline(STEP)
            if not line:
                break
            lines.append(line)
        self.assertEqual(lines[-3:], [b"250 2.1.0 Ok\r\n", b"250 2.1.5 Ok\r\n",
                                      b"501 5.5.4 Syntax: BDAT count [LAST]\r\n"])
        self.assertEqual(stop_sink(self, sink)["messages"], 0)

    def test_starttls_drops_what_follows_in_the_same_packet(self):
        """STARTTLS with a command behind it in one write: 220, then only the handshake (the
        NOOP is never answered, in clear or after TLS)."""
        sink, _, (host, port) = start_sink(self, ["--starttls"])
        sock = support.connect_to((host, port))
        self.addCleanup(sock.close)
        reader = support.LineReader(sock)
        self.assertEqual(reader.readline(STEP), b"220 smtp-sink ESMTP\r\n")
        sock.sendall(b"EHLO x\r\n")
        while reader.readline(STEP)[3:4] == b"-":
            pass
        sock.sendall(b"STARTTLS\r\nNOOP\r\n")
        self.assertEqual(reader.readline(STEP), b"220 2.0.0 Ready to start TLS\r\n")
        self.assertEqual(reader.buf, b"")
        tls = ssl._create_unverified_context().wrap_socket(sock, server_hostname="localhost")
        tls.settimeout(STEP)
        tls.sendall(b"QUIT\r\n")
        self.assertEqual(tls.recv(100), b"221 Bye\r\n")
        tls.close()
        self.assertEqual(stop_sink(self, sink)["tls"], {"handshakes": 1, "failed": 0})

    def test_openssl_s_client_starttls(self):
        sink, _, (host, port) = start_sink(self, ["--starttls", "--tls-cert=" + CERT, "--tls-key=" + KEY])
        commands = TMP.join("s_client%d.in" % support.serial())
        with open(commands, "wb") as f:
            f.write(b"EHLO client.example\nQUIT\n")
        with open(commands, "rb") as stdin:
            res = support.run(["openssl", "s_client", "-starttls", "smtp", "-connect", "%s:%d" % (host, port),
                               "-CAfile", CERT, "-verify_return_error", "-crlf", "-ign_eof"], stdin=stdin)
        self.assertEqual(res.returncode, 0, res)
        self.assertIn(b"Verify return code: 0 (ok)", res.stdout)
        self.assertIn(b"250-smtp-sink", res.stdout)         # EHLO's reply, after the handshake
        self.assertNotIn(b"STARTTLS", res.stdout)          # not announced once secured
        self.assertIn(b"221 Bye", res.stdout)
        sink_rep = stop_sink(self, sink)
        self.assertEqual(sink_rep["tls"], {"handshakes": 1, "failed": 0})
        self.assertEqual(sink_rep["quits"], 1)


    def test_tls_close_notify_after_quit(self):
        """After 221 the sink ends TLS with a close_notify before it closes the connection (RFC 8446
        6.1: each party MUST send one before closing its write side): a strict client (Python's
        ssl without ragged EOFs, openssl s_client) sees a clean end, not a truncation."""
        for mode in ("--starttls", "--tls-on-connect"):
            with self.subTest(mode=mode):
                sink, _, target = start_sink(self, [mode])
                sock = support.connect_to(target)
                self.addCleanup(sock.close)
                if mode == "--starttls":
                    reader = support.LineReader(sock)
                    self.assertEqual(reader.readline(STEP), b"220 smtp-sink ESMTP\r\n")
                    sock.sendall(b"STARTTLS\r\n")
                    self.assertEqual(reader.readline(STEP), b"220 2.0.0 Ready to start TLS\r\n")
                tls = ssl._create_unverified_context().wrap_socket(sock, server_hostname="localhost",
                                                                   suppress_ragged_eofs=False)
                tls.settimeout(STEP)
                if mode == "--tls-on-connect":
                    self.assertEqual(tls.recv(100), b"220 smtp-sink ESMTP\r\n")
                tls.sendall(b"QUIT\r\n")
                self.assertEqual(tls.recv(100), b"221 Bye\r\n")
                try:
                    end = tls.recv(100)
                except ssl.SSLEOFError as e:
                    end = "no close_notify: %s" % e
                self.assertEqual(end, b"", "a close_notify, then EOF")
                tls.close()
                self.assertEqual(stop_sink(self, sink)["quits"], 1)


# ================================================================================================
# 7. our source against Postfix's smtpd
# ================================================================================================

PF_LIMIT = 20000


class PostfixSmtpdTest(Checks, unittest.TestCase):
    """One private Postfix instance: STARTTLS, CHUNKING, PIPELINING, SIZE PF_LIMIT, SMTPUTF8.
    Every test waits until Postfix's log shows its accepted messages, so the next one starts from
    an exact count."""

    @classmethod
    def setUpClass(cls):
        cls.tls_context = ssl._create_unverified_context()    # sessions resume in their context only
        cls.pf = PostfixSmtpd(message_size_limit=PF_LIMIT, smtputf8=True).start()
        cls.address = "127.0.0.1:%d" % cls.pf.port

    @classmethod
    def tearDownClass(cls):
        cls.pf.stop()

    def run_counted(self, args, messages, addrs=True):
        """Run our source; wait until Postfix logged exactly `messages` more accepted ones."""
        before = self.pf.accepted_count()
        res, rep = run_source(args, self.address, addrs=addrs)
        if messages:
            self.assertEqual(self.pf.wait_accepted(before + messages), before + messages)
        return res, rep, before

    def test_starttls(self):
        res, rep, _ = self.run_counted(["--starttls", "-m", "20", "-s", "2"], 20)
        self.assert_clean(res, rep, 20)
        self.assertEqual(rep["connections"]["established"], 20)
        self.assertEqual(rep["connections"]["tls_handshakes"], 20)
        self.assertEqual(rep["replies"]["starttls"], {"220": 20})
        self.assertEqual(rep["replies"]["helo"], {"250": 40})
        self.assertGreater(rep["connections"]["tls_resumed"], 0, "Postfix issues session tickets")

    def tls_connection(self, session):
        """A STARTTLS connection by Python's ssl offering `session`: (reused, its session)."""
        s = smtplib.SMTP("127.0.0.1", self.pf.port, timeout=STEP)
        try:
            s.ehlo("client.example")
            self.assertEqual(s.docmd("STARTTLS")[0], 220)
            s.sock = self.tls_context.wrap_socket(s.sock, server_hostname="localhost", session=session)
            s.file = None
            s.ehlo("client.example")
            s.noop()                       # a TLS 1.3 ticket comes after the handshake
            reused, new = s.sock.session_reused, s.sock.session
            s.quit()
        finally:
            s.close()
        return reused, new

    def test_starttls_resumes_every_later_connection(self):
        """Postfix's smtpd issues one RFC 5077 ticket per full handshake (tickets are on by default,
        smtpd_tls_session_cache_timeout 3600s, keys from tlsmgr) and none when a client resumes
        with a ticket it can decrypt (its ticket callback says the ticket is reusable): a ticket
        resumes again and again.  Python's ssl shows it; so every connection after a session's
        first can resume, as man smtp-source promises: 20 connections over 2 sessions, 18."""
        reused, first = self.tls_connection(None)
        self.assertFalse(reused)
        reused, second = self.tls_connection(first)
        self.assertTrue(reused)
        self.assertEqual(second.id, first.id, "no new ticket after a resumption")
        self.assertTrue(self.tls_connection(second)[0], "the session of a resumed connection resumes")
        self.assertTrue(self.tls_connection(first)[0], "the first ticket resumes again")
        res, rep, _ = self.run_counted(["--starttls", "-m", "20", "-s", "2"], 20)
        self.assert_clean(res, rep, 20)
        self.assertEqual(rep["connections"]["tls_handshakes"], 20)
        self.assertEqual(rep["connections"]["tls_resumed"], 18)

    def test_chunking(self):
        for extra in ([], ["--pipelining"], ["--pipelining", "-d"]):
            with self.subTest(extra=extra):
                res, rep, _ = self.run_counted(["--chunking", "-m", "10", "-s", "2", "-l", "3000"] + extra, 10)
                self.assert_clean(res, rep, 10)
                self.assertEqual(rep["messages"]["bdat_chunks"], 10)
                self.assertEqual(rep["replies"]["bdat"], {"250": 10})
                self.assertNotIn("data", rep["replies"])
                self.assertEqual(rep["bytes_accepted"], 10 * generated_size(3000, res.pid))
                self.assertEqual(rep["connections"]["established"], 2 if "-d" in extra else 10)

    def test_chunk_size(self):
        res, rep, _ = self.run_counted(["--chunk-size=1000", "-m", "4", "-s", "2", "-l", "5000"], 4)
        self.assert_clean(res, rep, 4)
        chunks = 4 * chunks_for(generated_size(5000, res.pid), 1000)
        self.assertEqual(rep["messages"]["bdat_chunks"], chunks)
        self.assertEqual(rep["replies"]["bdat"], {"250": chunks})

    def test_size_against_message_size_limit(self):
        # under the limit: accepted, with SIZE= and with DATA or chunks
        for extra in ([], ["--chunking"]):
            with self.subTest(size="under", extra=extra):
                res, rep, _ = self.run_counted(["--size", "-m", "2", "-l", "1000"] + extra, 2)
                self.assert_clean(res, rep, 2)
        # over it: 552 at MAIL with --size, at the end of the data without
        for extra, stage, what in ((["--size"], "mail", "sender rejected"),
                                   (["--size", "--chunking"], "mail", "sender rejected"),
                                   ([], "dot", "end of data rejected"),
                                   (["--chunking"], "bdat", "BDAT rejected")):
            with self.subTest(size="over", extra=extra):
                before = self.pf.accepted_count()
                res, rep = run_source(extra + ["-A", "-m", "2", "-l", str(2 * PF_LIMIT)], self.address)
                self.assertEqual(res.returncode, 0, res)
                self.assertEqual(nonzero(rep["rejected_by_stage"]), {stage: 2})
                self.assertEqual(rep["replies"][stage], {"552": 2})
                self.assertEqual(rep["messages"]["accepted"], 0)
                lines = warning_lines(res)
                self.assertEqual(len(lines), 2)
                for line in lines:
                    self.assertTrue(line.startswith("warning: %s: 552 5.3.4 " % what), line)
                # nothing queued: the next accepted message is the only one counted
                res, rep, _ = self.run_counted(["-m", "1"], 1)
                self.assertEqual(self.pf.accepted_count(), before + 1)
        with self.subTest(size="over", fatal=True):
            res, rep = run_source(["--size", "-m", "2", "-l", str(2 * PF_LIMIT)], self.address)
            self.assertEqual(res.returncode, 1)
            self.assertRegex(res.stderr.decode(), r"fatal: sender rejected: 552 5\.3\.4 .*\n$")

    def test_smtputf8_8bitmime(self):
        """The instance announces SMTPUTF8: MAIL with SMTPUTF8 and BODY=8BITMIME (seen through a
        relay), a UTF-8 sender, three messages accepted."""
        before = self.pf.accepted_count()
        with support.Relay(("127.0.0.1", self.pf.port)) as relay:
            res, rep = run_source(["--smtputf8", "--8bitmime", "--chunking", "-m", "3", "-s", "3", "-M", HELO,
                                   "-f", "s\u00e9nder@example.com", "-t", RCPT], relay.address, addrs=False)
            conns = relay.wait_idle(expected=3)
        self.assert_clean(res, rep, 3)
        self.assertEqual(self.pf.wait_accepted(before + 3), before + 3)
        for c in conns:
            mail = [line for line in bytes(c.client_to_server).split(b"\r\n") if line.startswith(b"MAIL ")]
            self.assertEqual(len(mail), 1)
            self.assertEqual(sorted(mail[0].split()[2:]), [b"BODY=8BITMIME", b"SMTPUTF8"])
        self.assertIn("from=<s\u00e9nder@example.com>", self.pf.maillog())


if __name__ == "__main__":
    unittest.main(verbosity=2)
