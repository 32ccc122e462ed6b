"""A private Postfix smtpd on 127.0.0.1, for tests of SMTP clients against a real server.

    with PostfixSmtpd(message_size_limit=100000) as pf:
        smtplib.SMTP("127.0.0.1", pf.port) ...
        pf.wait_accepted(1)

Everything lives in a fresh temporary directory under /tmp: config_directory (main.cf, master.cf),
queue_directory, data_directory, the maillog file and a self-signed certificate made with the
`openssl` command.  Nothing outside it is written: /etc/postfix is only read (dynamicmaps.cf),
no system service is started.  Postfix's `master` runs in the foreground (-d) as our child, in a
new session, with `-c DIR`; as root no `alternate_config_directories` entry in the default main.cf
is needed (Postfix only asks for that of unprivileged callers).  Stopping sends SIGTERM to that
master (our child, by PID), which passes it on to its own process group; we then wait until that
process group is empty.

Every accepted message is discarded by the `discard` transport, after smtpd has queued it and
answered 250 with a real queue id.  accepted_count() counts the messages that qmgr took into the
active queue (one maillog line each), i.e. the messages Postfix accepted.

Early messages of master (before it has read main.cf, e.g. "fatal: bind ... Address already in
use") would go to syslog; POSTLOG_SERVICE in master's environment sends them to a datagram socket
of ours instead, so that a failed start() raises with Postfix's own words.

Needs (Debian): postfix (installed with "No configuration" is enough) and openssl; run as root.
"""

import grp
import os
import pwd
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import support  # noqa: E402

START_TIMEOUT = 20.0      # seconds: master start until the 220 greeting
STOP_TIMEOUT = 20.0       # seconds: SIGTERM until every Postfix process of the instance is gone
SYSLOG_NAME = "postfix-mailload"

# qmgr logs this line exactly once per message that entered the queue (then `discard` delivers
# it and qmgr logs "removed").  Group 1: the queue id.
_QUEUED_RE = re.compile(
    r"/qmgr\[\d+\]: ([0-9A-Za-z]+): from=<.*>, size=\d+, nrcpt=\d+ \(queue active\)$", re.M)


def _postconf_default(name):
    out = subprocess.run(["postconf", "-dh", name], check=True, capture_output=True, text=True,
                         timeout=support.RUN_TIMEOUT).stdout
    return out.strip()


def group_pids(pgid):
    """PIDs (zombies excepted) in process group `pgid`, from /proc."""
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()     # state ppid pgrp ...
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(name))
    return pids


class PostfixSmtpd:
    """A private Postfix instance whose smtpd listens on 127.0.0.1:self.port.

    starttls        offer STARTTLS (self-signed certificate for CN=localhost)
    tls_required    refuse MAIL before STARTTLS (smtpd_tls_security_level = encrypt)
    chunking        announce CHUNKING (BDAT)
    pipelining      announce PIPELINING
    message_size_limit  bytes; announced as SIZE; larger messages get 552
    smtputf8        announce SMTPUTF8
    extra_main_cf   dict of further main.cf settings (override the ones above)
    """

    def __init__(self, starttls=True, tls_required=False, chunking=True, pipelining=True,
                 message_size_limit=10240000, smtputf8=False, extra_main_cf=None):
        if tls_required and not starttls:
            raise ValueError("tls_required needs starttls")
        self.starttls = starttls
        self.tls_required = tls_required
        self.chunking = chunking
        self.pipelining = pipelining
        self.message_size_limit = message_size_limit
        self.smtputf8 = smtputf8
        self.extra_main_cf = dict(extra_main_cf or {})
        self.tmp = None
        self.port = None
        self.master = None          # subprocess.Popen of our master
        self.start_seconds = None
        self.stop_seconds = None
        self._bootlog = None        # our datagram socket for master's early log messages
        self._log_pos = 0           # maillog bytes already parsed into _accepted
        self._accepted = []

    # ---------------------------------------------------------------------------------- paths
    def path(self, *parts):
        return os.path.join(self.tmp.path, *parts)

    @property
    def config_dir(self):
        return self.path("etc")

    @property
    def maillog_path(self):
        return self.path("maillog")

    # ---------------------------------------------------------------------------------- setup
    def _main_cf(self):
        discard_keywords = ["silent-discard"]       # silent-: do not log each discarded keyword
        if not self.chunking:
            discard_keywords.append("chunking")
        if not self.pipelining:
            discard_keywords.append("pipelining")
        cf = {
            "compatibility_level": "3.6",
            "config_directory": self.config_dir,
            "queue_directory": self.path("spool"),
            "data_directory": self.path("data"),
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            # Logging to our own file through the postlog service (see master.cf); Postfix only
            # writes a maillog_file whose name starts with one of maillog_file_prefixes.
            "maillog_file": self.maillog_path,
            "maillog_file_prefixes": self.tmp.path,
            "syslog_name": SYSLOG_NAME,
            # Loopback only, IPv4 only; no DNS anywhere (fixed names, no client name lookup).
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "myhostname": "mailload-postfix.localdomain",
            "mydomain": "localdomain",
            "smtpd_peername_lookup": "no",
            "smtpd_banner": "$myhostname ESMTP Postfix (mailload test instance)",
            # Every recipient domain is "remote" (no mydestination, so no local recipient
            # lookups); loopback clients may relay; and every transport throws the mail away.
            "mydestination": "",
            "relay_domains": "",
            "mynetworks": "127.0.0.0/8",
            "smtpd_relay_restrictions": "permit_mynetworks, reject",
            "smtpd_recipient_restrictions": "permit_mynetworks, reject",
            "default_transport": "discard:mailload test instance",
            "relay_transport": "discard:mailload test instance",
            "local_transport": "discard:mailload test instance",
            "virtual_transport": "discard:mailload test instance",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "biff": "no",
            "message_size_limit": str(self.message_size_limit),
            "smtpd_discard_ehlo_keywords": ", ".join(discard_keywords),
            "smtputf8_enable": "yes" if self.smtputf8 else "no",
            # Tests send bursts from one client: no per-client rate or error-count throttling.
            "smtpd_client_connection_count_limit": "0",
            "smtpd_client_connection_rate_limit": "0",
            "smtpd_error_sleep_time": "0",
            "smtpd_soft_error_limit": "1000",
            "smtpd_hard_error_limit": "1000",
        }
        if self.starttls:
            cf.update({
                "smtpd_tls_security_level": "encrypt" if self.tls_required else "may",
                "smtpd_tls_chain_files": "%s, %s" % (self.path("tls", "key.pem"),
                                                     self.path("tls", "cert.pem")),
            })
        else:
            cf["smtpd_tls_security_level"] = "none"
        cf.update(self.extra_main_cf)
        return "".join("%s = %s\n" % kv for kv in cf.items())

    def _master_cf(self):
        # service type private unpriv chroot wakeup maxproc command; no chroot (the queue is not
        # set up as a chroot jail).
        return """\
postlog   unix-dgram n - n - 1 postlogd
127.0.0.1:%d inet n - n - - smtpd
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
tlsmgr    unix - - n 1000? 1 tlsmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
discard   unix - - n - - discard
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
""" % self.port

    def _make_dirs(self):
        postfix = pwd.getpwnam("postfix")
        postdrop = grp.getgrnam("postdrop").gr_gid
        # The daemons run as user postfix without chroot: they must reach the queue through
        # the temp dir (mkdtemp makes it 0700).
        os.chmod(self.tmp.path, 0o755)
        os.makedirs(self.path("etc"), 0o755)
        os.makedirs(self.path("tls"), 0o700)
        # Owners and modes as in Debian's /etc/postfix/postfix-files.
        spool = self.path("spool")
        os.makedirs(spool, 0o755)
        for sub, uid, gid, mode in [
                ("pid", 0, 0, 0o755),
                ("maildrop", postfix.pw_uid, postdrop, 0o730),
                ("public", postfix.pw_uid, postdrop, 0o710),
                ] + [(d, postfix.pw_uid, postfix.pw_gid, 0o700) for d in (
                    "active", "bounce", "corrupt", "defer", "deferred", "flush", "hold",
                    "incoming", "private", "saved", "trace")]:
            d = os.path.join(spool, sub)
            os.mkdir(d)
            os.chown(d, uid, gid)
            os.chmod(d, mode)
        data = self.path("data")
        os.mkdir(data, 0o700)
        os.chown(data, postfix.pw_uid, postfix.pw_gid)

    def _make_certificate(self):
        key, cert = self.path("tls", "key.pem"), self.path("tls", "cert.pem")
        r = support.run(["openssl", "req", "-x509", "-newkey", "ec",
                         "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                         "-subj", "/CN=localhost", "-keyout", key, "-out", cert])
        if r.returncode != 0:
            raise RuntimeError("openssl could not make a certificate: %r" % r)

    def _write(self, name, text):
        path = os.path.join(self.config_dir, name)
        with open(path, "w") as f:
            f.write(text)
        # Postfix does not read a main.cf modified in the current second (it dozes 300 ms at a
        # time until the file is older, to avoid reading a half-written file): back-date it.
        past = time.time() - 10
        os.utime(path, (past, past))

    # ---------------------------------------------------------------------------------- start
    def start(self, attempts=3):
        """Set up and start the instance; return once smtpd has sent its 220 greeting."""
        if os.geteuid() != 0:
            raise RuntimeError("a private Postfix instance needs root (master refuses otherwise)")
        if self.tmp is not None:
            raise RuntimeError("already started")
        t0 = time.monotonic()
        self.tmp = support.TempDir("mailload-pf-")
        self._log_pos, self._accepted = 0, []
        try:
            self._make_dirs()
            if self.starttls:
                self._make_certificate()
            try:
                master = os.path.join(_postconf_default("daemon_directory"), "master")
            except (OSError, subprocess.SubprocessError) as e:
                raise RuntimeError("Postfix's postconf does not work (apt-get install "
                                   "postfix): %s" % e) from None
            # Until master has read main.cf it logs to syslog (usually absent, so a "fatal:
            # bind ... Address already in use" would be lost), unless POSTLOG_SERVICE names a
            # datagram socket: this one is ours, and we read it while waiting.
            self._bootlog = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._bootlog.bind(self.path("bootlog"))
            self._bootlog.setblocking(False)
            env = dict(os.environ, POSTLOG_SERVICE=self.path("bootlog"),
                       POSTLOG_HOSTNAME="localhost")
            error = None
            for _ in range(attempts):       # another process may take the free port first
                self.port = support.free_port()
                self._bootlog_text = []
                self._log_start = len(self._read(self.maillog_path))   # retry: only new lines
                self._write("main.cf", self._main_cf())
                self._write("master.cf", self._master_cf())
                self._stderr = open(self.path("master.stderr"), "wb")
                # -d: stay in the foreground (our child); the new session makes master the
                # leader of a process group that holds exactly this instance's processes.
                self.master = subprocess.Popen(
                    [master, "-d", "-c", self.config_dir], stdin=subprocess.DEVNULL,
                    stdout=self._stderr, stderr=self._stderr, env=env, start_new_session=True)
                error = self._wait_greeting()
                if error is None:
                    self.start_seconds = time.monotonic() - t0
                    return self
                self._stop_master()
                if "Address already in use" not in error:
                    break
            raise RuntimeError("Postfix test instance did not start: %s" % error)
        except BaseException:
            self.stop()
            raise

    def _drain_bootlog(self):
        while True:
            try:
                self._bootlog_text.append(self._bootlog.recv(65536).decode("utf-8", "replace"))
            except OSError:
                return "\n".join(self._bootlog_text)

    def _wait_greeting(self):
        """None once 220 arrived; else a description of the failure with Postfix's logging."""
        deadline = time.monotonic() + START_TIMEOUT
        last = "nothing yet"
        while True:
            early = self._drain_bootlog()
            if self.master.poll() is not None:
                last = "master exited with status %s" % self.master.returncode
                break
            if re.search(r"\b(fatal|panic): ", early + self.maillog()[self._log_start:]):
                last = "Postfix reported a fatal error"
                break
            if time.monotonic() >= deadline:
                last = "no 220 greeting within %.0fs (last: %s)" % (START_TIMEOUT, last)
                break
            if not support.is_listening(self.master.pid, port=self.port):
                time.sleep(0.01)        # not yet (or the port is somebody else's)
                continue
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    s.settimeout(max(0.1, deadline - time.monotonic()))
                    line = s.makefile("rb").readline()
                    if line.startswith(b"220 "):
                        s.sendall(b"QUIT\r\n")
                        return None
                    last = "greeting %r" % line
            except OSError as e:
                last = "connect: %s" % e
            time.sleep(0.02)
        return ("%s\n--- master's early log ---\n%s\n--- master stdout/stderr ---\n%s\n"
                "--- maillog ---\n%s" % (last, self._drain_bootlog(),
                                         self._read(self.path("master.stderr")), self.maillog()))

    @staticmethod
    def _read(path):
        try:
            with open(path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    # ---------------------------------------------------------------------------------- stop
    def pids(self):
        """PIDs of the running instance: master and every process it started."""
        return group_pids(self.master.pid) if self.master is not None else []

    def _stop_master(self):
        if self.master is None:
            return
        pgid = self.master.pid
        # SIGTERM to our master; it passes SIGTERM on to its process group and exits.  A child
        # caught between fork and exec exits only after 1 s (Postfix's msg_fatal sleep).
        support.stop_process(self.master, STOP_TIMEOUT)
        self._stderr.close()
        try:
            support.wait_until(lambda: not group_pids(pgid), STOP_TIMEOUT,
                               "the Postfix instance's processes to exit")
        except TimeoutError:
            try:
                os.killpg(pgid, signal.SIGKILL)     # only the group our own master led
            except ProcessLookupError:
                pass
            support.wait_until(lambda: not group_pids(pgid), STOP_TIMEOUT,
                               "the Postfix instance's processes to die")
        self.master = None

    def stop(self):
        """Stop every process of the instance, wait for them, remove the directory. Idempotent."""
        t0 = time.monotonic()
        try:
            self._stop_master()
        finally:
            if self._bootlog is not None:
                self._bootlog.close()
                self._bootlog = None
            if self.tmp is not None:
                self.tmp.cleanup()
                self.tmp = None
        self.stop_seconds = time.monotonic() - t0

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---------------------------------------------------------------------------------- log
    def maillog(self):
        return self._read(self.maillog_path) if self.tmp is not None else ""

    def accepted_queue_ids(self):
        """Queue ids of the messages Postfix accepted (and queued) so far, in log order."""
        if self.tmp is not None:
            try:
                with open(self.maillog_path, "rb") as f:     # parse only complete new lines
                    f.seek(self._log_pos)
                    new = f.read()
            except FileNotFoundError:
                new = b""
            complete = new[:new.rfind(b"\n") + 1]
            self._log_pos += len(complete)
            self._accepted += _QUEUED_RE.findall(complete.decode("utf-8", "replace"))
        return list(self._accepted)

    def accepted_count(self):
        return len(self.accepted_queue_ids())

    def wait_accepted(self, count, timeout=10.0):
        """Wait until at least `count` messages were accepted; return the accepted count."""
        try:
            support.wait_until(lambda: self.accepted_count() >= count, timeout,
                               "%d accepted message(s) in the maillog" % count)
        except TimeoutError as e:
            raise TimeoutError("%s; maillog:\n%s" % (e, self.maillog())) from None
        return self.accepted_count()

    def wait_queued(self, *queue_ids, timeout=10.0):
        """Wait until the messages with these queue ids (from "queued as") were accepted."""
        try:
            support.wait_until(lambda: set(queue_ids) <= set(self.accepted_queue_ids()),
                               timeout, "queue ids %s in the maillog" % (queue_ids,))
        except TimeoutError as e:
            raise TimeoutError("%s; maillog:\n%s" % (e, self.maillog())) from None
