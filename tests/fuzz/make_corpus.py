#!/usr/bin/env python3
# SPDX-License-Identifier: BSL-1.0
"""Writes the seed corpora tests/fuzz/corpus/<target>/ (committed; rerun after changing a
target's input header). Each seed is a target's header bytes (see the comment at the top of
tests/fuzz/<target>.cpp) followed by peer bytes taken from the Postfix captures in
/work/shared/spec/postfix-observed.txt (observation numbers in the names) and the unit tests.
Small on purpose: at most ten per target, a few hundred bytes each (a 2 KB long line, an
8 KB pipelined burst). The option parser targets options_* take command lines instead: at most
twenty each, from the tools' manual pages (EXAMPLES), the command lines of the integration tests
(tests/integration/*.py) and the spec (/work/shared/spec/postfix-test-tools.md), each seed the
arguments after argv[0] separated by NUL bytes.

    tests/fuzz/make_corpus.py [TARGET...]     (default: every target)"""
import pathlib
import shutil
import sys

ROOT = pathlib.Path(__file__).resolve().parent / "corpus"

MSG = (b"From: <foo@vm>\r\nTo: <foo@vm>\r\nDate: Tue, 24 Nov 2026 09:02:10 +0000 (UTC)\r\n"
       b"Message-Id: <7aeb.0003.0000@vm>\r\n\r\nLa de da de da 1.\r\nLa de da de da 2.\r\n"
       b"La de da de da 3.\r\nLa de da de da 4.\r\n.\r\n")
MSG_F = (b"Subject: test F\r\nFrom: x@y\r\n\r\n..leading dot\r\n...two dots\r\nnormal\r\n..\r\n"
         b"last line no newline\r\n\r\n.\r\n")  # obs 6, -F dot-stuffed
EHLO = (b"250-smtp-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n"
        b"250-XCLIENT NAME HELO\r\n250-XFORWARD NAME ADDR PROTO HELO\r\n250-ENHANCEDSTATUSCODES\r\n"
        b"250-DSN\r\n250 \r\n")
OBS1_CLIENT = b"HELO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\n" + MSG + b"QUIT\r\n"
OBS1_SERVER = (b"220 smtp-sink ESMTP\r\n250 smtp-sink\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
               b"354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok\r\n221 Bye\r\n")
OBS13_CLIENT = (b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\nDATA\r\nSubject: x\r\n\r\n"
                b"..dot\r\nbody\r\n.\r\nRSET\r\nNOOP\r\nQUIT\r\n")
OBS4_CLIENT = (b"LHLO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<3foo@vm>\r\nRCPT TO:<2foo@vm>\r\n"
               b"RCPT TO:<foo@vm>\r\nDATA\r\n" + MSG + b"QUIT\r\n")
OBS4_SERVER = (b"220 smtp-sink ESMTP\r\n" + EHLO + b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
               b"250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
               b"250 2.2.0 Ok\r\n250 2.2.0 Ok\r\n250 2.2.0 Ok\r\n221 Bye\r\n")
OBS12_CLIENT = (b"RCPT TO:<a@b>\r\nDATA\r\nmail from:<x@y> SIZE=10\r\nMAIL FROM:<x@y>\r\nDATA\r\n"
                b"RCPT TO:<a@b>\r\nRSET\r\nDATA\r\nNOOP\r\nVRFY foo\r\nFOO bar\r\n\r\n   \r\n.\r\nhelo\r\n"
                b"QUIT extra\r\n")
OBS14_CLIENT = b"HELO bare-lf\nNOOP\nNOOP\r\nQUIT\r\n"
OBS14B_CLIENT = b"NOOP \x00\x01\xff\x7f tail\r\nMAIL FROM:\x01<x>\r\nQUIT\r\n"
OBS17_CLIENT = (b"LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<a>\r\nRCPT TO:<b>\r\nDATA\r\nhi\r\n.\r\nMAIL FROM:<>\r\n"
                b"RCPT TO:<a>\r\nDATA\r\nhi\r\n.\r\n.\r\nHELO x\r\nEHLO x\r\nQUIT\r\n")
OBS33_CLIENT = b"NOOP\r\nHELO x\r\nRSET\r\nQUIT\r\n"
OBS2_CLIENT = (b"HELO vm\r\n" + (b"MAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\n" + MSG) * 3
               + b"QUIT\r\n")
OBS2_SERVER = (b"220 smtp-sink ESMTP\r\n250 smtp-sink\r\n"
               + b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok\r\n" * 3
               + b"221 Bye\r\n")
# a pipelined burst longer than the server's 8 KiB line buffer: a line straddles the end of a
# whole read, so the buffer is compacted (the one seed over 2 KB); CONNECT cannot be typed
BURST = b"CONNECT\r\n" + b"NOOP\r\n" * 1400 + b"QUIT\r\n"
LONG_LINE = b"NOOP " + b"x" * 2042 + b"\r\n"  # obs 15: 2047 bytes + CR LF, one over the limit
QMQP24 = (b"223:200:From: <foo@vm>\nTo: <foo@vm>\nDate: Tue, 24 Nov 2026 09:04:19 +0000 (UTC)\n"
          b"Message-Id: <3777@vm>\n\nX\nXX\nXXX\nXXXX\nXXXXX\nXXXXXX\nXXXXXXX\nXXXXXXXX\nXXXXXXXXX\n"
          b"XXXXXXXXXX\nXXXXXXXXXXX\nXXXXXXXXXXXX\nXXXXXXXXXXXXX\n\n,6:foo@vm,6:foo@vm,,")
QMQP25 = (b"132:100:From: <s@x>\nTo: <r@y>\nDate: Tue, 24 Nov 2026 09:04:20 +0000 (UTC)\n"
          b"Message-Id: <3851@h.example>\n\nX\nX\n,3:s@x,4:0r@y,4:1r@y,4:2r@y,,")


def header(*b):
    return bytes(b)


def zeros(n):
    return bytes(n)


def srv_hdr(flags=0, hard=0, soft=0, drop=0, close=0, log=0, delay=0, seed=0, mode=0, end=0, texts=0, ext=0, size=0,
            starttls_in=0):
    le = lambda v: bytes([v & 255, v >> 8])
    return (bytes([flags]) + le(hard) + le(soft) + le(drop) + le(close) + le(log)
            + bytes([delay, seed, mode, end, texts, ext, size, starttls_in]))


CMD = {n: i for i, n in enumerate(["connect", "helo", "ehlo", "lhlo", "xclient", "xforward", "auth", "mail",
                                    "rcpt", "data", ".", "rset", "noop", "vrfy", "quit", "bdat", "starttls"])}
# smtp_server's extensions (header byte 16): a session using them all, from the unit tests: AUTH
# PLAIN and LOGIN for the one user ("user", "pass"), SIZE=, BDAT chunks, STARTTLS, then DATA
EXT_CHUNKING, EXT_SMTPUTF8, EXT_STARTTLS, EXT_TLS_ON_CONNECT, EXT_USERS = 1, 2, 4, 8, 16
EXT_CLIENT = (b"EHLO c\r\nAUTH PLAIN AHVzZXIAcGFzcw==\r\nMAIL FROM:<a@b> SIZE=100\r\nRCPT TO:<c@d>\r\n"
              b"BDAT 5\r\nhelloBDAT 3 LAST\r\nxyzRSET\r\nSTARTTLS\r\nEHLO c\r\nAUTH LOGIN\r\ndXNlcg==\r\n"
              b"cGFzcw==\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n" + MSG)

SEEDS = {
    "reply_parser": {
        "greeting": header(0, 0) + b"220 smtp-sink ESMTP\r\n",
        "ehlo_multiline": header(3, 1) + EHLO,
        "pipelined_obs13": header(5, 2) + b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n",
        "lmtp_obs4": header(0, 0) + b"250 2.2.0 Ok\r\n250 2.2.0 Ok\r\n250 2.2.0 Ok\r\n",
        "closing": header(9, 3) + b"421 4.0.0 Server closing connection\r\n",
        "no_code_bare_lf": header(1, 8) + b"hello\n2500 x\n25 y\r\n",
        "control_bytes": header(0, 0) + b"550-\x00\x01\xff bad\r\r\n550 \tend\r\n",
    },
    "data_scanner": {
        "message_obs1": header(0, 0) + MSG,
        "empty_message": header(0, 0) + b".\r\n",
        "dot_stuffed_obs13": header(2, 3) + b"Subject: x\r\n\r\n..dot\r\nbody\r\n.\r\n",
        "file_obs6": header(1, 8) + MSG_F,
        "bare_lf_two": header(4, 4) + b"a\n.\nb\r\n.\r\n\r\n.\r\n",
    },
    "netstring": {
        "qmqp_obs24": header(0, 0, 0, 0) + QMQP24,
        "hello": header(0, 0, 0, 10) + b"5:hello,",
        "kok": header(3, 1, 1, 4) + b"3:KOk,",
        "empty": header(0, 0, 0, 0) + b"0:,",
        "two": header(1, 8, 0, 12) + b"12:hello,world!,",
        "too_long": header(0, 0, 0, 0) + b"99999999999999999999999:",
        "bad_comma": header(0, 0, 0, 0) + b"5:hello;",
    },
    "qmqp_server": {
        "request_obs24": header(0, 0, 0, 0) + QMQP24,
        "request_obs25": header(5, 3, 0, 1) + QMQP25,
        "extra_obs27": header(0, 0, 0, 0) + b"5:hello,EXTRA",
        "split_obs27": header(1, 8, 0, 0) + b"5:hello,",
        "bad_obs27": header(0, 0, 0, 0) + b"x:hello,",
        "empty_obs27": header(0, 0, 0, 3) + b"0:,",
    },
    "qmqp_client": {
        "kok_obs24": header(0, 0, 25, 0, 0) + b"3:KOk,",
        "defer_obs26": header(0, 0, 0, 0, 0) + b"8:Zdeferal,",
        "hard_obs26": header(1, 8, 0, 2, 0) + b"6:Dhard!,",
        "unknown_obs26": header(0, 0, 13, 0, 1) + b"4:Xwhy,",
        "junk_obs26": header(0, 0, 0, 0, 0) + b"junk",
        "short": header(2, 3, 0, 0, 0) + b"3:KOk",
    },
    "smtp_server": {
        "defaults_obs1": srv_hdr() + OBS1_CLIENT,
        "pipelined_obs13": srv_hdr(flags=16 | 32, mode=5, seed=7) + OBS13_CLIENT,
        "lmtp_obs4": srv_hdr(flags=1 | 16) + OBS4_CLIENT,
        "lmtp_soft_dot_obs17": srv_hdr(flags=1, soft=1 << CMD["."], mode=3) + OBS17_CLIENT,
        "delay_noop_obs33": srv_hdr(delay=1 + CMD["noop"], log=1 << CMD["noop"]) + OBS33_CLIENT,
        "keepalive_obs2": srv_hdr(flags=16, mode=6, seed=3) + OBS2_CLIENT,
        "long_line_obs15": srv_hdr(mode=7) + LONG_LINE,
        "hard_rcpt_obs28": srv_hdr(hard=1 << CMD["rcpt"], close=1 << CMD["quit"]) + OBS1_CLIENT,
        # -A after DATA (every wait fails), after the extensions
        "extensions_abort_data": srv_hdr(delay=64, end=4, mode=4, seed=1, size=50, flags=16,
                                         ext=EXT_CHUNKING | EXT_SMTPUTF8 | EXT_STARTTLS | EXT_USERS) + EXT_CLIENT,
        "burst": srv_hdr(flags=32) + BURST,
    },
    "smtp_command": {
        "defaults_obs1": header(0, 0, 0) + OBS1_CLIENT,
        "pipelined_obs13": header(0, 1, 4) + OBS13_CLIENT,
        "sequencing_obs12": header(0, 0, 0) + OBS12_CLIENT,
        "bare_lf_obs14": header(0, 2, 8) + OBS14_CLIENT,
        "control_bytes_obs14b": header(0, 0, 0) + OBS14B_CLIENT,
        "lmtp_obs17": header(1, 0, 0) + OBS17_CLIENT,
        "lmtp_obs4": header(1, 5, 6) + OBS4_CLIENT,
        "long_line_obs15": header(0, 0, 7) + LONG_LINE,
        "burst": header(0, 0, 0) + BURST,
        "file_obs6": header(0, 0, 0) + b"HELO vm\r\nMAIL FROM:<foo@vm>\r\nRCPT TO:<foo@vm>\r\nDATA\r\n" + MSG_F,
    },
    "smtp_client": {
        # 8 header bytes: see tests/fuzz/smtp_client.cpp
        "defaults_obs1": zeros(8) + OBS1_SERVER,
        "keepalive_obs2": header(4, 2 << 4, 0, 0, 0, 0, 0, 0) + OBS2_SERVER,
        "lmtp_obs4": header(1, 2 | 1 << 2, 0, 0, 0, 0, 0, 0) + OBS4_SERVER,
        "pipelining": header(64 | 16, 1, 0, 3, 5, 0, 0, 0) + b"220 smtp-sink ESMTP\r\n" + EHLO
        + b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
        b"250 2.0.0 Ok\r\n221 Bye\r\n",
        "rejected_obs28": zeros(8) + b"220 smtp-sink ESMTP\r\n250 smtp-sink\r\n250 2.1.0 Ok\r\n"
        b"500 5.3.0 Error: command failed\r\n",
        "ignore_rejects_obs29": header(1 | 8 | 32, 2 | 3 << 2, 0, 0, 0, 0, 0, 0) + b"220 fake LMTP\r\n250 fake\r\n"
        b"250 ok\r\n250 ok\r\n550 5.1.1 no such user\r\n250 ok\r\n354 go\r\n250 2.0.0 delivered to rcpt 1\r\n"
        b"250 2.0.0 delivered to rcpt 3\r\n",
        "closing_421": header(8, 0, 0, 0, 0, 0, 0, 0) + b"421 4.0.0 Server closing connection\r\n",
        "old_mode_obs8": header(2, 0, 25, 1, 8, 1, 0, 0) + b"220 smtp-sink ESMTP\r\n250 2.1.0 Ok\r\n"
        b"250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok\r\n221 Bye\r\n",
        # -v --starttls --chunking --chunk-size=100 --size --auth-mech=PLAIN (unit tests); one byte per
        # read, or the client drops what it read after STARTTLS's 220
        "starttls_auth_bdat": header(16, 0, 0, 0, 1, 0, 2 | 8 | 128, 2 | 10 << 4)
        + b"220 mx ESMTP\r\n250-mx\r\n250-STARTTLS\r\n250 SIZE 10240000\r\n220 2.0.0 Ready to start TLS\r\n"
        b"250-mx\r\n250-AUTH PLAIN LOGIN\r\n250-CHUNKING\r\n250 SIZE 10240000\r\n"
        b"235 2.7.0 Authentication successful\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 100 bytes\r\n"
        b"250 2.0.0 Ok: queued\r\n221 Bye\r\n",
        # -A -d -r 2 -m 2 --pipelining --tls-on-connect --binarymime --smtputf8 --auth-mech=LOGIN
        # --chunk-size=25: each message in 8 chunks
        "pipelined_bdat": header(64 | 8 | 4, 1 | 1 << 4, 0, 0, 0, 0, 1 | 4 | 8 | 16 | 64, 3 | 5 << 4)
        + b"220 mx ESMTP\r\n250-mx\r\n250-PIPELINING\r\n250-AUTH LOGIN\r\n250-CHUNKING\r\n250-BINARYMIME\r\n"
        b"250 SMTPUTF8\r\n334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 2.7.0 Ok\r\n"
        + (b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 no\r\n" + b"250 2.0.0 chunk\r\n" * 8) * 2
        + b"221 Bye\r\n",
    },
    "address": {
        "inet_v4": b"\x00inet:127.0.0.1:25",
        "v6_bracketed": b"\x00[::1]:2525",
        "unix": b"\x00unix:/tmp/x",
        "host_port": b"\x01127.0.0.1:25250",
        "host_only": b"\x00localhost",
        "ipv6_literal": b"\x01[ipv6:::1]",
        "port_only_obs23": b"\x0225282",
        "wildcard_obs23": b"\x02:25281",
    },
    "hostname": {
        "name": b"smtp-sink",
        "domain": b"mx.example",
        "ipv4": b"127.0.0.1",
        "ipv6": b"::1",
        "literal6": b"[ipv6:::1]",
        "literal4": b"[127.0.0.1]",
        "hyphen": b"-a.b",
        "empty_label": b"a..b",
    },
}


# Command lines for the option parser targets (the arguments after argv[0]).
OPTION_LINES = {
    "options_smtp_source": [
        ["-s", "10", "-m", "20000", "-d", "--report=text", "127.0.0.1:2525"],  # smtp-source(1) EXAMPLES
        ["-6", "-s", "10", "-m", "20000", "-d", "--pipelining", "--threads=2", "[::1]:2525"],
        ["-s", "50", "-r", "5", "--rate=500", "--duration=60", "--progress", "--report=json", "127.0.0.1:2525"],
        ["-L", "-l", "1024", "-m", "100", "unix:/tmp/lmtp.sock"],
        ["-c", "-s", "5", "-m", "50", "-l", "1000", "127.0.0.1:2525"],  # test_smtp_source.py
        ["-S", "subj", "-f", "a@b", "-t", "c@d", "-M", "myhost.example", "127.0.0.1:2525"],
        ["-F", "file", "127.0.0.1:2525"],
        ["-r", "3", "-N", "-A", "-o", "-v", "-c", "inet:127.0.0.1:25"],
        ["-w", "1", "-R", "1", "127.0.0.1:1"],
        ["-l", "10", "-F", "x", "127.0.0.1:1"],
        ["-M", "[1.2.3.4]", "-C", "3", "-T", "65536", "-w", "0.25", "127.0.0.1:1"],
        ["-m", "0", "127.0.0.1:1"],
        ["-w", "0x2", "-R", "inf", "localhost"],
        ["127.0.0.1:1", "-m", "2"],  # an option after the address
        ["--compat=3.9", "--timeout=2.5", "--connect-limit=1", "--thread-per-session", "-dcvNF", "f", "[::1]"],
        ["--rate=10", "-w", "1", "localhost"],
        ["--starttls", "--tls-ca-file=ca.pem", "--auth-user=joe", "--auth-password=pw", "--auth-mech=LOGIN",
         "--chunking", "--chunk-size=100", "--binarymime", "--8bitmime", "--smtputf8", "--size", "-o", "h"],
        ["-h"],
        ["--version"],
        ["-cv", "--help"],
    ],
    "options_smtp_sink": [
        ["--report=text", "127.0.0.1:2525", "1000"],  # smtp-sink(1) EXAMPLES
        ["-W", ".:0.5", "-W", "rcpt:0.1:50", "[::1]:2525", "100"],
        ["-L", "-d", "/tmp/dump/%H%M.", "-M", "100", "unix:/tmp/lmtp.sock", "100"],
        ["-c", "-8aCeEFNpPv", "-h", "sink.example", ":2525", "5"],  # test_smtp_sink.py
        ["-d", "a", "-D", "b", "127.0.0.1:2525", "5"],
        ["-W", "rcpt:1:100", "-f", "helo,mail", "-r", "rcpt", "-q", "data", "-Q", "quit", "127.0.0.1:25", "5"],
        ["-b", "421 4.7.0 x", "-B", "550 5.1.1 no", "-s", "connect ehlo", "127.0.0.1:25", "5"],
        ["-b", "4501 x", "127.0.0.1:25", "5"],
        ["-A", "0.5", "-H", "1", "-w", "2", "-t", "10", "-T", "8192", "-m", "10", "-n", "3", "inet:[::1]:25", "5"],
        ["-S", "X-Start: \\101\\n\\0tail", "-D", "/tmp/d", "--compat=3.9", "127.0.0.1:25", "5"],
        ["-u", "nobody", "-R", "/tmp", "--session-limit=60", "127.0.0.1:25", "5"],
        ["-4", "-6", "-w", "0", "127.0.0.1:25", "x"],
        ["-m", "0", "127.0.0.1:25", "0"],
        ["-W", "bogus:1", "[::1:25", "5", "x"],
        ["-h", "--help"],
        ["--version"],
        ["--compat=3.7", "--report=xml", "127.0.0.1:25", "5"],
        ["--starttls", "--tls-cert=c.pem", "--tls-key=k.pem", "--chunking", "--smtputf8", "--max-size=1000",
         "--auth-user=joe:pw", "--auth-user=ann:x:y", "127.0.0.1:25", "5"],
        ["--tls-on-connect", "--starttls", "--auth-user=nocolon", "-a", "--auth-user=:pw", "127.0.0.1:25", "5"],
    ],
    "options_qmqp_source": [
        ["-s", "5", "-m", "10000", "-l", "4096", "--report=text", "127.0.0.1:6628"],  # qmqp-source(1) EXAMPLES
        ["-s", "20", "--rate=200", "--duration=30", "--progress", "[::1]:6628"],
        ["-v", "-r", "3", "-m", "10", "unix:/tmp/qmqp.sock"],
        ["-c", "-m", "3", "127.0.0.1:6628"],  # test_qmqp.py
        ["-vv", "-f", "s@x", "-t", "r@y", "-M", "h.example", "-C", "2", "127.0.0.1:628"],
        ["-w", "0.5", "-R", "1", "localhost"],
        ["-l", "0", "-s", "x", "127.0.0.1:1"],
        ["--threads=4", "--thread-per-session", "--timeout=1", "--connect-limit=0", "--compat=3.8", "h"],
        ["--rate=5", "-R", "1", "h"],
        ["-h"],
        ["--version"],
        ["-m", "1", "--help"],
    ],
    "options_qmqp_sink": [
        ["-x", "60", "--report=text", "127.0.0.1:6628", "1000"],  # qmqp-sink(1) EXAMPLES
        ["-c", "[::1]:6628", "100"],
        ["--max-size=1000000", "unix:/tmp/qmqp.sock", "100"],
        ["-vv", "-4", "--timeout=5", "--session-limit=30", "--max-sessions=10", ":6628", "5"],  # test_qmqp.py
        ["-x", "0", "127.0.0.1:6628", "5"],
        ["-6c", "127.0.0.1:6628", "0"],
        ["--max-size=0", "--report=json", "127.0.0.1:6628", "5"],
        ["127.0.0.1:6628"],
        ["-h"],
        ["--version"],
        ["-c", "--help", "x"],
    ],
}
for _target, _lines in OPTION_LINES.items():
    SEEDS[_target] = {"line%02d" % i: "\0".join(args).encode() for i, args in enumerate(_lines)}


def report(failed=b"", buckets=((5, 3), (300, 2)), replies=((3, 250, 5),), errors=(b"Connection refused",)):
    """A source report as include/mailload/report/codec.hpp encodes it (11 stages)."""
    u64 = lambda v: v.to_bytes(8, "little")
    s = lambda b: u64(len(b)) + b
    out = s(b"mailload source_report 1") + u64(11) + u64(1 if failed else 0) + s(failed)
    out += b"".join(u64(v) for v in (5, 5, 5, 5, 5000, 0)) + u64(0) * 11 + b"".join(u64(v) for v in (2, 0, 0, 0, 0))
    out += u64(1_500_000_000)
    hist = u64(len(buckets)) + u64(buckets[0][0]) + u64(buckets[-1][0] * 2) + u64(1234)
    hist += b"".join(u64(i) + u64(n) for i, n in buckets)
    out += hist + u64(0) * 4 * 13  # latency; connect, tls and the 11 stages empty
    out += u64(len(replies)) + b"".join(u64(a) + u64(b) + u64(c) for a, b, c in replies)
    out += u64(len(errors)) + b"".join(s(e) + u64(1) for e in errors)
    return out


SEEDS["report_codec"] = {
    "ok": report(),
    "failed": report(failed=b"connect to 127.0.0.1:1: Connection refused"),
    "empty": report(buckets=((0, 0),), replies=(), errors=()),
}


def main():
    targets = sys.argv[1:] or list(SEEDS)
    for target in targets:
        seeds = SEEDS[target]
        assert len(seeds) <= (20 if target.startswith("options_") else 10), target
        d = ROOT / target
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        for name, data in seeds.items():
            (d / name).write_bytes(data)


if __name__ == "__main__":
    main()
