#!/usr/bin/env python3
"""The library examples beyond the four tools, run as their users would run them.

    python3 tests/integration/test_examples.py --bindir DIR [unittest options]

* reply-callback (a source driven from code, a callback per reply) against Postfix's smtp-sink
  and against ours: the same reply lines from both, one per command, in the dialog's order, and
  totals that add up to them.
* sink-in-a-test is a Boost.Test program; ctest and meson test run it directly.
* fixed-source is tested with smtp-source (test_smtp_source.py §7) and in docs/tutorial.md.

All load goes to 127.0.0.1; only processes started here are stopped, by their PID.
"""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import support  # noqa: E402

BINDIR = support.take_option(sys.argv, "--bindir")
TMP = None

# One message on its own connection, as smtp-sink (Postfix's and ours) answers it by default.
DIALOG = [
    "greeting 220 smtp-sink ESMTP",
    "helo     250 smtp-sink",
    "mail     250 2.1.0 Ok",
    "rcpt     250 2.1.5 Ok",
    "data     354 End data with <CR><LF>.<CR><LF>",
    "dot      250 2.0.0 Ok",
    "quit     221 Bye",
]


def setUpModule():
    global TMP
    if not BINDIR:
        raise RuntimeError("usage: test_examples.py --bindir DIR [unittest args]")
    TMP = support.TempDir("mailload-examples-")


def tearDownModule():
    TMP.cleanup()


class ReplyCallbackTest(unittest.TestCase):
    def run_against(self, sink, messages, options=()):
        server, target, _ = support.start_smtp_sink(TMP.path, list(options), sink=sink)
        try:
            result = support.run([os.path.join(BINDIR, "reply-callback"), target, str(messages)])
        finally:
            server.stop()
        return result

    def check_output(self, result, messages, dialog=DIALOG):
        self.assertEqual(result.returncode, 0, result)
        self.assertEqual(result.stderr, b"")
        lines = result.stdout.decode().splitlines()
        self.assertEqual(lines[:len(dialog) * messages], dialog * messages)
        totals = lines[len(dialog) * messages:]
        expected = ["total %s %s: %d" % (line.split()[0], line.split()[1], messages) for line in dialog]
        self.assertEqual(totals, expected + ["accepted: %d of %d" % (messages, messages)])

    def test_against_postfix_smtp_sink(self):
        self.check_output(self.run_against(support.SMTP_SINK, 3), 3)

    def test_against_our_smtp_sink(self):
        self.check_output(self.run_against(os.path.join(BINDIR, "smtp-sink"), 3), 3)

    def test_both_sinks_give_the_same_lines(self):
        ours = self.run_against(os.path.join(BINDIR, "smtp-sink"), 2)
        theirs = self.run_against(support.SMTP_SINK, 2)
        self.assertEqual(ours.stdout, theirs.stdout)

    def test_a_rejected_recipient_is_the_last_reply(self):
        # smtp-sink -f rcpt: the hard error; the source (no -A) stops the run there, and the
        # callback has seen every reply up to and including the rejection.
        for sink in (support.SMTP_SINK, os.path.join(BINDIR, "smtp-sink")):
            with self.subTest(sink=sink):
                result = self.run_against(sink, 1, ["-f", "rcpt"])
                self.assertEqual(result.returncode, 1, result)
                lines = result.stdout.decode().splitlines()
                self.assertEqual(lines[:4], DIALOG[:3] + ["rcpt     500 5.3.0 Error: command failed"])
                self.assertIn("total rcpt 500: 1", lines)
                self.assertEqual(lines[-1], "accepted: 0 of 1")
                self.assertTrue(re.search(rb"fatal: recipient rejected: 500 5\.3\.0 Error: command failed",
                                          result.stderr), result)


if __name__ == "__main__":
    unittest.main(verbosity=2)
