#!/usr/bin/env python3
"""Self-test of postfix_smtpd.PostfixSmtpd, the private Postfix smtpd used as a real SMTP server.

    python3 tests/integration/test_postfix_smtpd_fixture.py [--bindir DIR] [unittest options]

(--bindir, the integration tests' common option, is accepted and not used: nothing of ours runs.)

Proves each configured feature with Python's smtplib and raw sockets only: EHLO keywords
(STARTTLS, CHUNKING, PIPELINING, SIZE, SMTPUTF8, and their absence when turned off), STARTTLS,
required TLS, acceptance with a real queue id counted from the maillog, 552 for oversize mail
(SIZE= and content), BDAT, and that stop() leaves no process, listener or directory behind.
Needs root, postfix and openssl.  All traffic goes to 127.0.0.1.
"""

import os
import re
import socket
import ssl
import smtplib
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import support  # noqa: E402

support.take_option(sys.argv, "--bindir")
from postfix_smtpd import PostfixSmtpd, group_pids  # noqa: E402

LIMIT = 20000           # message_size_limit of the main instance
TIMEOUT = 10            # seconds, every socket operation
SMALL = b"From: a@example.com\r\nTo: b@example.org\r\nSubject: small\r\n\r\nhello\r\n"


def unverified():
    return ssl._create_unverified_context()


def queue_id(reply_text):
    """The queue id from Postfix's 250 reply text after DATA ("2.0.0 Ok: queued as ID") or
    BDAT LAST ("2.0.0 Ok: N bytes queued as ID")."""
    m = re.search(rb"^(?:250 )?2\.0\.0 Ok: (?:\d+ bytes )?queued as ([0-9A-Za-z]+)\s*$", reply_text)
    if not m:
        raise AssertionError("not a 'queued as' reply: %r" % reply_text)
    return m.group(1).decode()


class RawSmtp:
    """A bare SMTP client on a socket: send bytes, read one (multi-line) reply."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.file = self.sock.makefile("rb")
        self.greeting = self.reply()

    def reply(self):
        lines = []
        while True:
            line = self.file.readline()
            if not line:
                raise AssertionError("server closed the connection after %r" % lines)
            lines.append(line)
            if line[3:4] != b"-":
                return int(line[:3]), b"".join(lines)

    def starttls(self):
        code, text = self.command(b"STARTTLS\r\n")
        if code != 220:
            raise AssertionError("STARTTLS refused: %r" % text)
        self.file.close()
        self.sock = unverified().wrap_socket(self.sock, server_hostname="localhost")
        self.file = self.sock.makefile("rb")

    def command(self, data):
        self.sock.sendall(data)
        return self.reply()

    def close(self):
        self.file.close()
        self.sock.close()


class DefaultInstanceTest(unittest.TestCase):
    """STARTTLS offered, CHUNKING and PIPELINING on, SIZE limit LIMIT.

    Every test that gets mail accepted waits until the maillog shows it, so the next test
    starts from an exact accepted_count()."""

    @classmethod
    def setUpClass(cls):
        cls.pf = PostfixSmtpd(message_size_limit=LIMIT).start()
        support.log("postfix instance started in %.2fs" % cls.pf.start_seconds)

    @classmethod
    def tearDownClass(cls):
        cls.pf.stop()
        support.log("postfix instance stopped in %.2fs" % cls.pf.stop_seconds)

    def smtp(self):
        s = smtplib.SMTP("127.0.0.1", self.pf.port, timeout=TIMEOUT)
        self.addCleanup(s.close)
        code, _ = s.ehlo("client.example")
        self.assertEqual(code, 250)
        return s

    def test_ehlo_keywords(self):
        s = self.smtp()
        for keyword in ("starttls", "chunking", "pipelining"):
            self.assertTrue(s.has_extn(keyword), "%s missing from %r" % (keyword, s.ehlo_resp))
        self.assertEqual(s.esmtp_features.get("size"), str(LIMIT))
        self.assertFalse(s.has_extn("smtputf8"))        # off unless asked for
        self.assertFalse(s.has_extn("auth"))

    def test_starttls(self):
        s = self.smtp()
        code, _ = s.starttls(context=unverified())
        self.assertEqual(code, 220)
        self.assertIsInstance(s.sock, ssl.SSLSocket)
        self.assertEqual(s.sock.getpeercert(binary_form=True)[:1], b"\x30")   # a DER certificate
        s.ehlo("client.example")
        self.assertFalse(s.has_extn("starttls"))
        self.assertTrue(s.has_extn("chunking"))
        before = self.pf.accepted_count()
        self.assertEqual(s.sendmail("a@example.com", ["b@example.org"], SMALL), {})
        self.assertEqual(self.pf.wait_accepted(before + 1), before + 1)

    def test_small_message_accepted_and_counted(self):
        s = self.smtp()
        before = self.pf.accepted_count()
        self.assertEqual(s.mail("a@example.com")[0], 250)
        self.assertEqual(s.rcpt("b@example.org")[0], 250)
        code, text = s.data(SMALL)
        self.assertEqual(code, 250, text)
        qid = queue_id(text)
        self.pf.wait_queued(qid)
        self.assertEqual(self.pf.accepted_queue_ids()[before:], [qid])
        # sendmail() as a client would use it (two recipients): one more message
        self.assertEqual(s.sendmail("a@example.com", ["c@example.org", "d"], SMALL), {})
        self.assertEqual(self.pf.wait_accepted(before + 2), before + 2)

    def test_size_parameter_over_limit_gets_552(self):
        s = self.smtp()
        code, text = s.mail("a@example.com", ["SIZE=%d" % (LIMIT + 1)])
        self.assertEqual(code, 552, text)
        self.assertIn(b"5.3.4", text)
        s.rset()
        self.assertEqual(s.mail("a@example.com", ["SIZE=%d" % LIMIT])[0], 250)  # the limit itself

    def test_content_over_limit_gets_552(self):
        s = self.smtp()
        before = self.pf.accepted_count()
        self.assertEqual(s.mail("a@example.com")[0], 250)      # no SIZE= announced
        self.assertEqual(s.rcpt("b@example.org")[0], 250)
        code, text = s.data(b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * (2 * LIMIT // 1000))
        self.assertEqual(code, 552, text)
        # the session goes on: a small message is still accepted afterwards, and is the only
        # one counted
        self.assertEqual(s.sendmail("a@example.com", ["b@example.org"], SMALL), {})
        self.assertEqual(self.pf.wait_accepted(before + 1), before + 1)

    def test_bdat_last_over_raw_socket(self):
        before = self.pf.accepted_count()
        c = RawSmtp(self.pf.port)
        self.addCleanup(c.close)
        self.assertEqual(c.greeting[0], 220)
        code, text = c.command(b"EHLO client.example\r\n")
        self.assertEqual(code, 250)
        self.assertIn(b"CHUNKING", text)
        self.assertEqual(c.command(b"MAIL FROM:<a@example.com>\r\n")[0], 250)
        self.assertEqual(c.command(b"RCPT TO:<b@example.org>\r\n")[0], 250)
        code, text = c.command(b"BDAT %d LAST\r\n" % len(SMALL) + SMALL)
        self.assertEqual(code, 250, text)
        qid = queue_id(text)
        self.pf.wait_queued(qid)
        self.assertEqual(self.pf.accepted_queue_ids()[before:], [qid])
        self.assertEqual(c.command(b"QUIT\r\n")[0], 221)


class FeaturesOffInstanceTest(unittest.TestCase):
    """TLS required, CHUNKING and PIPELINING off, SMTPUTF8 on."""

    @classmethod
    def setUpClass(cls):
        cls.pf = PostfixSmtpd(tls_required=True, chunking=False, pipelining=False,
                              smtputf8=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.pf.stop()

    def test_keywords_and_required_tls(self):
        s = smtplib.SMTP("127.0.0.1", self.pf.port, timeout=TIMEOUT)
        self.addCleanup(s.close)
        s.ehlo("client.example")
        self.assertTrue(s.has_extn("starttls"))
        self.assertTrue(s.has_extn("smtputf8"))
        self.assertFalse(s.has_extn("chunking"))
        self.assertFalse(s.has_extn("pipelining"))
        self.assertEqual(s.esmtp_features.get("size"), "10240000")    # Postfix's default
        self.assertEqual(s.mail("a@example.com")[0], 530)             # STARTTLS first
        s.starttls(context=unverified())
        s.ehlo("client.example")
        self.assertEqual(s.sendmail("a@example.com", ["b@example.org"], SMALL), {})
        self.assertEqual(self.pf.wait_accepted(1), 1)      # the only message of this instance

    def test_bdat_refused_without_chunking(self):
        c = RawSmtp(self.pf.port)
        self.addCleanup(c.close)
        self.assertEqual(c.command(b"EHLO client.example\r\n")[0], 250)
        c.starttls()
        self.assertEqual(c.command(b"EHLO client.example\r\n")[0], 250)
        self.assertEqual(c.command(b"MAIL FROM:<a@example.com>\r\n")[0], 250)
        self.assertEqual(c.command(b"RCPT TO:<b@example.org>\r\n")[0], 250)
        self.assertEqual(c.command(b"BDAT 5 LAST\r\nhello")[0], 521)


class NoTlsInstanceTest(unittest.TestCase):

    def test_no_starttls_offered(self):
        with PostfixSmtpd(starttls=False) as pf:
            c = RawSmtp(pf.port)
            self.addCleanup(c.close)
            code, text = c.command(b"EHLO client.example\r\n")
            self.assertEqual(code, 250)
            self.assertNotIn(b"STARTTLS", text)
            self.assertIn(b"CHUNKING", text)
            self.assertEqual(c.command(b"STARTTLS\r\n")[0], 502)


class LifecycleTest(unittest.TestCase):

    def test_stop_leaves_nothing_behind(self):
        pf = PostfixSmtpd()
        try:
            pf.start()
            pgid, directory, port = pf.master.pid, pf.tmp.path, pf.port
            self.assertGreaterEqual(len(pf.pids()), 3)          # master, smtpd, qmgr, ...
            self.assertIn(pgid, pf.pids())
            self.assertTrue(support.tcp_listen_inodes(port))
            self.assertTrue(directory.startswith("/tmp/"))
        finally:
            pf.stop()
        self.assertEqual(group_pids(pgid), [])
        self.assertEqual(pf.pids(), [])
        self.assertFalse(os.path.exists(directory))
        self.assertFalse(support.tcp_listen_inodes(port))
        pf.stop()       # idempotent

    def test_start_failure_reports_postfix_log(self):
        t0 = time.monotonic()
        pf = PostfixSmtpd(extra_main_cf={"mail_owner": "no-such-user-mailload"})
        with self.assertRaises(RuntimeError) as cm:
            pf.start()
        self.assertIn("unknown user name value: no-such-user-mailload", str(cm.exception))
        self.assertLess(time.monotonic() - t0, 10)      # reported at once, not at the deadline
        self.assertIsNone(pf.tmp)                       # cleaned up


if __name__ == "__main__":
    unittest.main(verbosity=2)
