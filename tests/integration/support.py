"""Shared helpers for mailload's integration tests (python3 stdlib only).

Everything here is deterministic: waiting is always "poll a condition until a deadline", never a
fixed sleep used as synchronisation.  Every load goes only to 127.0.0.1, ::1 or a unix socket in a
temporary directory, and only processes started here are ever stopped (by their own PID).

Reused by the smtp-source, smtp-sink and qmqp tool tests.
"""

import itertools
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

RUN_TIMEOUT = 60          # seconds: limit for every process run to completion
LISTEN_TIMEOUT = 10       # seconds: limit for a server to start listening
STOP_TIMEOUT = 5          # seconds: grace period after SIGTERM before SIGKILL
POLL_INTERVAL = 0.005     # seconds between two looks at /proc while waiting for a condition

_serial = itertools.count(1)


def serial():
    """A number unique within this test process (names of files, sockets and directories);
    safe from any thread (itertools.count's next() holds the GIL)."""
    return next(_serial)


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------

def take_option(argv, name, default=None):
    """Remove `name VALUE` or `name=VALUE` from argv (in place) and return VALUE."""
    value = default
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg == name and i + 1 < len(argv):
            value = argv[i + 1]
            del argv[i:i + 2]
            continue
        if arg.startswith(name + "="):
            value = arg[len(name) + 1:]
            del argv[i]
            continue
        i += 1
    return value


# --------------------------------------------------------------------------------------------
# temporary directories
# --------------------------------------------------------------------------------------------

def make_tempdir(prefix="mailload-it-"):
    """A fresh private temporary directory (short path, so unix socket names fit in sun_path)."""
    base = "/tmp" if os.path.isdir("/tmp") else None
    return tempfile.mkdtemp(prefix=prefix, dir=base)


def remove_tempdir(path):
    shutil.rmtree(path, ignore_errors=True)


class TempDir:
    """Context manager / object form of make_tempdir()."""

    def __init__(self, prefix="mailload-it-"):
        self.path = make_tempdir(prefix)

    def join(self, *parts):
        return os.path.join(self.path, *parts)

    def cleanup(self):
        remove_tempdir(self.path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()


# --------------------------------------------------------------------------------------------
# ports
# --------------------------------------------------------------------------------------------

def free_port(host="127.0.0.1"):
    """A TCP port that was free on `host` a moment ago (bind to port 0, read it, close).

    Somebody else may take it before we use it; start_listening_process() retries on that.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class UnusedPort:
    """A loopback port on which nobody listens, for 'connection refused' tests.

    The socket stays bound (but never listens) while this object lives, so no other process can
    start listening on the port in the meantime: a connect() to it is refused deterministically.
    """

    def __init__(self, host="127.0.0.1"):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


# --------------------------------------------------------------------------------------------
# /proc inspection
# --------------------------------------------------------------------------------------------

def _socket_inodes_of(pid):
    """Inodes of the sockets process `pid` holds open, or None if /proc does not tell us."""
    inodes = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            m = re.match(r"socket:\[(\d+)\]$", link)
            if m:
                inodes.add(int(m.group(1)))
    except OSError:
        return None
    return inodes


def tcp_listen_inodes(port):
    """Inodes of TCP sockets (v4 and v6) in state LISTEN (0A) on local port `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10:
                continue
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A":
                continue
            if int(local.rsplit(":", 1)[1], 16) == port:
                found.add(int(inode))
    return found


def unix_listen_inodes(path):
    """Inodes of unix stream sockets bound to `path` that are listening (/proc/net/unix)."""
    found = set()
    try:
        with open("/proc/net/unix") as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        return found
    for line in lines:
        fields = line.split(None, 7)
        if len(fields) < 8:
            continue
        flags, typ, state, inode, name = fields[3], fields[4], fields[5], fields[6], fields[7]
        # __SO_ACCEPTCON (0x10000) in Flags marks a listening socket; Type 0001 = SOCK_STREAM.
        if name == path and typ == "0001" and int(flags, 16) & 0x10000:
            found.add(int(inode))
    return found


def is_listening(pid, port=None, unix_path=None):
    """True once process `pid` owns a listening socket on TCP `port` or unix `unix_path`."""
    inodes = tcp_listen_inodes(port) if port is not None else unix_listen_inodes(unix_path)
    if not inodes:
        return False
    own = _socket_inodes_of(pid)
    if own is None:          # cannot look into the process: the port itself must do
        return True
    return bool(inodes & own)


def wait_until(predicate, timeout, what="condition"):
    """Poll `predicate()` until it is true; raise TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() >= deadline:
            raise TimeoutError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(POLL_INTERVAL)


# --------------------------------------------------------------------------------------------
# processes
# --------------------------------------------------------------------------------------------

class ServerProcess:
    """A long-running process whose stdout/stderr go to files (never a pipe that could fill up)."""

    def __init__(self, args, workdir, name="server", env=None):
        self.args = list(args)
        self.name = name
        n = serial()
        self.stdout_path = os.path.join(workdir, "%s.%d.stdout" % (name, n))
        self.stderr_path = os.path.join(workdir, "%s.%d.stderr" % (name, n))
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=self._out,
                                     stderr=self._err, env=env)
        self.pid = self.proc.pid
        self.returncode = None

    def alive(self):
        return self.proc.poll() is None

    def wait_listening(self, port=None, unix_path=None, timeout=LISTEN_TIMEOUT):
        """Wait until this process LISTENs on `port` / `unix_path`. Raise if it exits first."""
        deadline = time.monotonic() + timeout
        while True:
            if is_listening(self.pid, port=port, unix_path=unix_path):
                return
            if not self.alive():
                raise RuntimeError("%s exited (status %s) before listening: %r" %
                                   (self.args, self.proc.returncode, self.stderr()))
            if time.monotonic() >= deadline:
                raise TimeoutError("%s not listening after %.1fs" % (self.args, timeout))
            time.sleep(POLL_INTERVAL)

    def stop(self, timeout=STOP_TIMEOUT):
        """Terminate this process (by its PID only), wait, kill if needed. Idempotent."""
        if self.returncode is None:
            self.returncode = stop_process(self.proc, timeout)
            self._out.close()
            self._err.close()
        return self.returncode

    def stdout(self):
        with open(self.stdout_path, "rb") as f:
            return f.read()

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read()


def stop_process(proc, timeout=STOP_TIMEOUT):
    """SIGTERM the given Popen (its own PID), wait up to `timeout`, then SIGKILL. Returns status."""
    if proc.poll() is None:
        try:
            proc.terminate()
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
    return proc.returncode


def start_listening_process(make_args, workdir, name="server", host="127.0.0.1", unix_path=None,
                            attempts=5, timeout=LISTEN_TIMEOUT):
    """Start `make_args(port_or_path)` and wait until it listens.

    For TCP a free port is chosen; if the process dies before listening (someone took the port),
    another port is tried.  Returns (ServerProcess, port_or_path).
    """
    last_error = None
    for _ in range(attempts):
        where = unix_path if unix_path is not None else free_port(host)
        server = ServerProcess(make_args(where), workdir, name=name)
        try:
            if unix_path is not None:
                server.wait_listening(unix_path=unix_path, timeout=timeout)
            else:
                server.wait_listening(port=where, timeout=timeout)
            return server, where
        except (RuntimeError, TimeoutError) as e:
            last_error = e
            server.stop()
    raise RuntimeError("could not start %s: %s" % (name, last_error))


class Result:
    """What a finished run produced (maxrss_kb: the program's peak resident set size, when asked)."""

    def __init__(self, args, returncode, stdout, stderr, pid, elapsed, maxrss_kb=None):
        self.args = args
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.pid = pid
        self.elapsed = elapsed
        self.maxrss_kb = maxrss_kb

    def __repr__(self):
        return "Result(args=%r, rc=%r, stdout=%r, stderr=%r)" % (self.args, self.returncode,
                                                                 self.stdout[:500], self.stderr[:2000])


def run(args, timeout=RUN_TIMEOUT, executable=None, cwd=None, stdin=subprocess.DEVNULL, rss=False):
    """Run a program to completion with a time limit; capture stdout and stderr (bytes).

    On timeout the process (our own child, by PID) is killed and TimeoutError is raised. With
    `rss`, the program runs under GNU time (package `time`), which forks it from its own small
    image and reports its peak RSS: a program's own rusage would count the test's image, which it
    had before its exec.
    """
    start = time.monotonic()
    if rss:
        fd, rss_file = tempfile.mkstemp(prefix="mailload-rss-")
        os.close(fd)
        args = ["/usr/bin/time", "-f", "%M", "-o", rss_file, "--"] + list(args)
    proc = subprocess.Popen(list(args), executable=executable, cwd=cwd, stdin=stdin,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise TimeoutError("%r did not finish within %ss; stderr=%r" % (args, timeout, err))
    maxrss = None
    if rss:
        with open(rss_file) as f:
            maxrss = int(f.read().split()[-1])
        os.unlink(rss_file)
        args = args[6:]
    return Result(list(args), proc.returncode, out, err, proc.pid, time.monotonic() - start, maxrss)


def program_link(directory, name, target):
    """Create directory/name as a symlink to target, so that two programs share a basename."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    if os.path.lexists(path):
        os.unlink(path)
    os.symlink(os.path.abspath(target), path)
    return path


def normalise_argv0(text, argv0, replacement):
    """Replace every occurrence of argv0 (bytes or str) in diagnostics by `replacement`."""
    if isinstance(text, bytes):
        argv0 = argv0.encode() if isinstance(argv0, str) else argv0
        replacement = replacement.encode() if isinstance(replacement, str) else replacement
    return text.replace(argv0, replacement)


# --------------------------------------------------------------------------------------------
# socket helpers
# --------------------------------------------------------------------------------------------

def connect_to(target, timeout=LISTEN_TIMEOUT):
    """target: (host, port) for TCP (host may be an IPv6 literal) or a str path for unix."""
    if isinstance(target, str):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    else:
        family = socket.AF_INET6 if ":" in target[0] else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(target)
    except OSError:
        s.close()
        raise
    s.settimeout(None)
    return s


def _shutdown(sock, how):
    try:
        sock.shutdown(how)
    except OSError:
        pass


# --------------------------------------------------------------------------------------------
# recording TCP relay
# --------------------------------------------------------------------------------------------

class RelayConnection:
    """One relayed connection: bytes seen in each direction, and whether both sides are closed."""

    def __init__(self, index):
        self.index = index
        self.client_to_server = bytearray()
        self.server_to_client = bytearray()
        self.connect_error = None
        self.done = False
        self._open_pumps = 2
        self.sockets = []

    def __repr__(self):
        return "RelayConnection(%d, c2s=%r)" % (self.index, bytes(self.client_to_server)[:300])


class Relay:
    """Accepts on 127.0.0.1:<free port>, connects each client to `target`, forwards both ways and
    records the client->server bytes (and server->client bytes) per connection.

    A connection's recording is finished when both directions have ended (EOF or error on each
    side); then both sockets are closed.  wait_idle() waits for that, deterministically.
    """

    def __init__(self, target):
        self.target = target
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(256)
        self.port = self.lsock.getsockname()[1]
        self.address = "127.0.0.1:%d" % self.port
        self.connections = []
        self._cond = threading.Condition()
        self._closing = False
        self._threads = []
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    # -- threads --
    def _accept_loop(self):
        while True:
            try:
                client, _ = self.lsock.accept()
            except OSError:
                return
            with self._cond:
                if self._closing:
                    client.close()
                    return
                conn = RelayConnection(len(self.connections))
                self.connections.append(conn)
                conn.sockets.append(client)
            try:
                server = connect_to(self.target)
            except OSError as e:
                with self._cond:
                    conn.connect_error = e
                    conn.done = True
                    conn._open_pumps = 0
                    self._cond.notify_all()
                client.close()
                continue
            with self._cond:
                conn.sockets.append(server)
            for src, dst, buf in ((client, server, conn.client_to_server),
                                  (server, client, conn.server_to_client)):
                t = threading.Thread(target=self._pump, args=(conn, src, dst, buf), daemon=True)
                self._threads.append(t)
                t.start()

    def _pump(self, conn, src, dst, record):
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            with self._cond:
                record.extend(data)
            try:
                dst.sendall(data)
            except OSError:
                break
        # Pass the end on: the other side sees EOF once it has read what was forwarded.
        _shutdown(dst, socket.SHUT_WR)
        _shutdown(src, socket.SHUT_RD)
        with self._cond:
            conn._open_pumps -= 1
            if conn._open_pumps == 0:
                for s in conn.sockets:
                    try:
                        s.close()
                    except OSError:
                        pass
                conn.done = True
                self._cond.notify_all()

    # -- API --
    def wait_idle(self, timeout=LISTEN_TIMEOUT, expected=None):
        """Wait until every accepted connection is finished (and, if given, at least `expected`
        connections have been accepted).  Returns the list of RelayConnection."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                enough = expected is None or len(self.connections) >= expected
                if enough and all(c.done for c in self.connections):
                    return list(self.connections)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("relay: connections still open after %.1fs: %r" %
                                       (timeout, [c for c in self.connections if not c.done]))
                self._cond.wait(left)

    def client_bytes(self):
        """Recorded client->server bytes, one bytes object per connection, in accept order."""
        with self._cond:
            return [bytes(c.client_to_server) for c in self.connections]

    def close(self):
        with self._cond:
            self._closing = True
            conns = list(self.connections)
        _shutdown(self.lsock, socket.SHUT_RDWR)
        self.lsock.close()
        self._acceptor.join(LISTEN_TIMEOUT)
        for c in conns:
            for s in list(c.sockets):
                _shutdown(s, socket.SHUT_RDWR)
        for t in self._threads:
            t.join(LISTEN_TIMEOUT)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --------------------------------------------------------------------------------------------
# scripted fake servers
# --------------------------------------------------------------------------------------------

class LineReader:
    """Reads CRLF/LF-terminated lines from a socket, with a per-call time limit."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.eof = False

    def readline(self, timeout=LISTEN_TIMEOUT):
        """Next line including its LF; b'' on EOF; raises socket.timeout after `timeout`."""
        self.sock.settimeout(timeout)
        while b"\n" not in self.buf:
            if self.eof:
                line, self.buf = self.buf, b""
                return line
            try:
                data = self.sock.recv(65536)
            except ConnectionError:
                data = b""
            if not data:
                self.eof = True
                continue
            self.buf += data
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"

    def read_data(self, timeout=LISTEN_TIMEOUT):
        """Message content up to and including CRLF.CRLF (the 354 has just been sent)."""
        self.sock.settimeout(timeout)
        data = b"\r\n"
        data_start = len(data)
        data += self.buf
        self.buf = b""
        while b"\r\n.\r\n" not in data:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionError:
                chunk = b""
            if not chunk:
                raise EOFError("EOF inside DATA")
            data += chunk
        end = data.index(b"\r\n.\r\n") + 5
        self.buf = data[end:]
        return data[data_start:end]


class FakeServer:
    """Listens on 127.0.0.1:<free port> (listen() is done before the constructor returns) and runs
    `handler(sock, index, server)` in a thread for every accepted connection.  Exceptions in a
    handler are stored in .errors.  `accept` may be False to leave connections in the backlog."""

    def __init__(self, handler, backlog=128, accept=True):
        self.handler = handler
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(backlog)
        self.port = self.lsock.getsockname()[1]
        self.address = "127.0.0.1:%d" % self.port
        self.cond = threading.Condition()
        self.accepted = 0
        self.finished = 0
        self.errors = []
        self.state = {}
        self.sockets = []
        self._closing = False
        self._threads = []
        self._acceptor = None
        if accept:
            self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
            self._acceptor.start()

    def _accept_loop(self):
        while True:
            try:
                sock, _ = self.lsock.accept()
            except OSError:
                return
            with self.cond:
                if self._closing:
                    sock.close()
                    return
                index = self.accepted
                self.accepted += 1
                self.sockets.append(sock)
                self.cond.notify_all()
            t = threading.Thread(target=self._run, args=(sock, index), daemon=True)
            self._threads.append(t)
            t.start()

    def _run(self, sock, index):
        try:
            self.handler(sock, index, self)
        except Exception as e:  # recorded, checked by the tests
            with self.cond:
                self.errors.append(e)
        finally:
            try:
                sock.close()
            except OSError:
                pass
            with self.cond:
                self.finished += 1
                self.cond.notify_all()

    def wait_for(self, predicate, timeout=LISTEN_TIMEOUT, what="fake server condition"):
        """Wait (on the condition variable) until predicate(self) holds, with a deadline."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("timed out waiting for " + what)
                self.cond.wait(left)

    def close(self):
        with self.cond:
            self._closing = True
            socks = list(self.sockets)
        _shutdown(self.lsock, socket.SHUT_RDWR)
        self.lsock.close()
        if self._acceptor:
            self._acceptor.join(LISTEN_TIMEOUT)
        for s in socks:
            _shutdown(s, socket.SHUT_RDWR)
        for t in self._threads:
            t.join(LISTEN_TIMEOUT)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def serve_smtp(sock, reader=None, greeting=b"220 fake ESMTP\r\n", lmtp=False, timeout=LISTEN_TIMEOUT):
    """A minimal well-behaved SMTP/LMTP server dialogue on `sock` until QUIT or EOF.

    Returns the number of messages received.
    """
    reader = reader or LineReader(sock)
    if greeting:
        sock.sendall(greeting)
    messages = 0
    rcpts = 0
    while True:
        line = reader.readline(timeout)
        if not line:
            return messages
        verb = line.strip().split(b" ", 1)[0].upper()
        if verb in (b"HELO", b"EHLO", b"LHLO"):
            sock.sendall(b"250 fake\r\n")
        elif verb.startswith(b"MAIL"):
            rcpts = 0
            sock.sendall(b"250 2.1.0 Ok\r\n")
        elif verb.startswith(b"RCPT"):
            rcpts += 1
            sock.sendall(b"250 2.1.5 Ok\r\n")
        elif verb == b"DATA":
            sock.sendall(b"354 go\r\n")
            reader.read_data(timeout)
            messages += 1
            sock.sendall(b"250 2.0.0 Ok\r\n" * (rcpts if lmtp else 1))
        elif verb == b"RSET":
            sock.sendall(b"250 2.1.0 Ok\r\n")
        elif verb == b"QUIT":
            sock.sendall(b"221 Bye\r\n")
            return messages
        else:
            sock.sendall(b"500 unknown\r\n")


# --------------------------------------------------------------------------------------------
# Postfix smtp-sink
# --------------------------------------------------------------------------------------------

SMTP_SINK = "/usr/sbin/smtp-sink"


def sink_user_args():
    """smtp-sink refuses to run as root without -u."""
    return ["-u", "nobody"] if os.geteuid() == 0 else []


def start_smtp_sink(workdir, options=(), family="inet", sink=SMTP_SINK, backlog=256, name="smtp-sink"):
    """Start Postfix's smtp-sink with `options` on 127.0.0.1 ('inet'), [::1] ('inet6') or a unix
    socket in `workdir` ('unix').  Returns (ServerProcess, client_address_string, relay_target).

    client_address_string is what a client program takes on its command line; relay_target is
    what Relay()/connect_to() take.
    """
    opts = sink_user_args() + list(options)
    if family == "unix":
        path = os.path.join(workdir, "sink%d.sock" % serial())
        server, _ = start_listening_process(
            lambda p: [sink] + opts + ["unix:" + p, str(backlog)], workdir, name=name, unix_path=path)
        return server, "unix:" + path, path
    if family == "inet6":
        server, port = start_listening_process(
            lambda p: [sink] + opts + ["[::1]:%d" % p, str(backlog)], workdir, name=name, host="::1")
        return server, "[::1]:%d" % port, ("::1", port)
    server, port = start_listening_process(
        lambda p: [sink] + opts + ["127.0.0.1:%d" % p, str(backlog)], workdir, name=name)
    return server, "127.0.0.1:%d" % port, ("127.0.0.1", port)


def sink_counters(stdout, complete_only=False):
    """Parse smtp-sink -c output (`sess=%d quit=%d mesg=%d\\r` records) into a list of dicts.

    complete_only: ignore a last record not yet terminated by CR (the sink may be writing it
    while we read the file); otherwise such a fragment is an error.
    """
    records = []
    parts = stdout.split(b"\r")
    if complete_only:
        parts = parts[:-1]
    for rec in parts:
        if not rec:
            continue
        m = re.fullmatch(rb"sess=(\d+) quit=(\d+) mesg=(\d+)", rec)
        if not m:
            raise ValueError("unexpected smtp-sink -c record %r" % rec)
        records.append({"sess": int(m.group(1)), "quit": int(m.group(2)), "mesg": int(m.group(3))})
    return records


def log(*args):
    print(*args, file=sys.stderr)


# --------------------------------------------------------------------------------------------
# has the server read what a loopback TCP client sent?
# --------------------------------------------------------------------------------------------

def tcp_server_side(server_port, client_port):
    """(state, Recv-Q, bytes_received) of the server's end of the loopback TCP connection between
    `client_port` and `server_port`, from `ss -tin`; None when there is no such socket (any more).

    The connection may still wait in the listener's backlog: its Recv-Q fills all the same."""
    out = subprocess.run(["ss", "-Htin", "( sport = :%d and dport = :%d )" % (server_port, client_port)],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=LISTEN_TIMEOUT).stdout
    entries = []        # [state, Recv-Q, details] per socket: a line, then indented details
    for line in out.decode(errors="replace").splitlines():
        if line[:1].isspace() and entries:
            entries[-1][2] += line
        elif line.split():
            fields = line.split()
            entries.append([fields[0], int(fields[1]), ""])
    if not entries:
        return None
    # an ESTAB one first (an old TIME-WAIT socket of the same two ports may linger beside it)
    state, recv_q, details = sorted(entries, key=lambda e: e[0] != "ESTAB")[0]
    m = re.search(r"\bbytes_received:(\d+)", details)
    return state, recv_q, int(m.group(1)) if m else 0


def wait_tcp_consumed(sock, sent, timeout=LISTEN_TIMEOUT):
    """Wait until the server end of the loopback TCP connection `sock` (a connected client
    socket) has received `sent` bytes in all AND its program has read every one of them
    (Recv-Q 0), or the server has closed its end: a part sent after this reaches the server
    as a separate read."""
    try:
        server_port = sock.getpeername()[1]
        client_port = sock.getsockname()[1]
    except OSError:    # reset by the server already
        return

    def consumed():
        state = tcp_server_side(server_port, client_port)
        if state is None or state[0] != "ESTAB":
            return True    # closed (and never to read again)
        return state[2] >= sent and state[1] == 0
    wait_until(consumed, timeout, "the server to read %d bytes from client port %d" % (sent, client_port))
