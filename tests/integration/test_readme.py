#!/usr/bin/env python3
"""The README's commands, run as written (issue 8).

    python3 tests/integration/test_readme.py --bindir DIR [unittest options]

* Every ```sh block runs line by line from the repository's root, exactly as a reader would type
  it: a line ending in '&' starts a server in the background (the next line waits until it
  listens on the address the line names, as a reader waits for the prompt); every other line must
  exit 0. Servers still running at the end of their block are stopped with SIGTERM (the reader's
  Ctrl-C) and must end cleanly. Where a block's source and sink print text reports, the messages
  the source says were accepted must be the messages the sink says it received.
* The quick start's `tools/demo.sh` runs as written; `tools/test.sh` is what runs this test
  (`.ci/run` calls it), so it is only checked to be that.
* Every ```cpp block is a verbatim excerpt of a file that the build compiles and runs (examples/,
  tests/consumers/), and every ```cmake or ```meson block's lines are in a consumer project under
  tests/consumers/ that tests/consumers/run.py builds: the README cannot drift from tested code.

The whole test runs in a network namespace of its own (unshare -n), so the README's fixed ports
(2525, 6280, ...) never collide with anything else on the machine. What the commands write goes
under build/ (the build trees' directory), never elsewhere. --bindir is accepted for
the common test interface; the README's commands name their own paths (build/gcc/...).
"""

import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import support  # noqa: E402

BINDIR = support.take_option(sys.argv, "--bindir")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
README = os.path.join(ROOT, "README.md")
COMMAND_TIMEOUT = 300   # seconds: limit for one foreground command (demo.sh builds, on a cold tree)
EXIT_TIMEOUT = 10       # seconds: limit for a background server to end by itself after its block
NETNS_MARK = "MAILLOAD_README_NETNS"


def blocks(lang):
    """(heading, [lines]) of every ```lang fenced block of the README, in order."""
    out, heading, current = [], "", None
    for line in open(README, encoding="utf-8").read().splitlines():
        if current is None:
            if line.startswith("#"):
                heading = line.lstrip("# ").strip()
            elif line.strip() == "```" + lang:
                current = []
        elif line.strip() == "```":
            out.append((heading, current))
            current = None
        else:
            current.append(line)
    return out


def listen_address(line):
    """What a background line listens on: (port, None) or (None, unix path)."""
    m = re.search(r"(?:^|\s)(?:inet:)?(?:127\.0\.0\.1|\[::1\]|localhost)?:(\d+)(?:\s|$)", line)
    u = re.search(r"(?:^|\s)unix:(\S+)", line)
    if u:
        return None, u.group(1)
    if m:
        return int(m.group(1)), None
    raise AssertionError("a background line names no address to wait for: " + line)


def target_address(line):
    """The address a source line sends to: its last word, as listen_address() reads it."""
    try:
        return listen_address(" " + line.split(" #")[0].split()[-1])
    except AssertionError:
        return None


def report_field(text, pattern):
    m = re.search(pattern, text, re.M)
    return int(m.group(1)) if m else None


class ShellBlocksTest(unittest.TestCase):
    def run_block(self, lines):
        """Runs one block; returns [(line, returncode, stdout, stderr)] in order of the lines."""
        tmp = support.TempDir("mailload-readme-")
        background, results = [], []
        try:
            for line in lines:
                command = line.split(" #")[0].strip() if not line.lstrip().startswith("#") else ""
                if not command:
                    continue
                if command.endswith("&"):
                    server = support.ServerProcess(["bash", "-c", "exec " + command[:-1].strip()], tmp.path,
                                                   name="readme")
                    port, path = listen_address(command)
                    server.wait_listening(port=port, unix_path=path)
                    background.append((line, server))
                    continue
                p = subprocess.run(["bash", "-c", command], cwd=ROOT, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=COMMAND_TIMEOUT)
                results.append((line, p.returncode, p.stdout.decode(errors="replace"),
                                p.stderr.decode(errors="replace")))
            for line, server in background:
                deadline = time.monotonic() + EXIT_TIMEOUT
                while server.alive() and time.monotonic() < deadline:
                    time.sleep(support.POLL_INTERVAL)
                status = server.stop()  # SIGTERM if still running: the reader's Ctrl-C
                self.assertIn(status, (0, -signal.SIGTERM), "%s: %r" % (line, server.stderr()))
                results.append((line, 0, server.stdout().decode(errors="replace"),
                                server.stderr().decode(errors="replace")))
        finally:
            for _, server in background:
                server.stop()
            tmp.cleanup()
        return results

    def test_every_block(self):
        ran = paired = 0
        for heading, lines in blocks("sh"):
            if any("tools/test.sh" in line for line in lines):
                continue  # the quick start: test_quick_start
            with self.subTest(heading=heading):
                results = self.run_block(lines)
                for line, rc, out, err in results:
                    self.assertEqual(rc, 0, "%s\nstdout: %s\nstderr: %s" % (line, out[-2000:], err[-2000:]))
                    ran += 1
                sinks = {listen_address(line): out for line, _, out, _ in results if line.rstrip().endswith("&")}
                pairs = [(out, sinks.get(target_address(line))) for line, _, out, _ in results
                         if "source report" in out]
                for source_out, sink_out in pairs:
                    if sink_out is None or "sink report" not in sink_out:
                        continue  # a sink without --report=text: only the exit statuses above
                    paired += 1
                    accepted = report_field(source_out, r"^  messages:\s+\d+ asked, \d+ sent, (\d+) accepted")
                    received = report_field(sink_out, r"^  messages:\s+(\d+),")
                    self.assertIsNotNone(accepted, source_out)
                    self.assertEqual(accepted, received, "%s\n%s" % (source_out, sink_out))
        self.assertGreater(ran, 4, "the README shows more than a few commands")
        self.assertGreater(paired, 2, "several blocks show a source's and a sink's report side by side")

    def test_quick_start(self):
        (heading, lines), = [(h, ls) for h, ls in blocks("sh") if any("tools/test.sh" in line for line in ls)]
        commands = [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]
        self.assertEqual(commands, ["tools/demo.sh", "tools/test.sh"], "exactly two commands")
        self.assertRegex(open(os.path.join(ROOT, ".ci/run")).read(), r"(?m)^exec bash tools/test\.sh$")
        p = subprocess.run(["bash", "-c", "tools/demo.sh"], cwd=ROOT, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30 * 60)
        out = p.stdout.decode(errors="replace")
        self.assertEqual(p.returncode, 0, out[-4000:])
        accepted = report_field(out, r"^  messages:\s+(\d+) asked, \d+ sent, \1 accepted")
        self.assertEqual(accepted, 10000, out[-4000:])
        self.assertEqual(report_field(out, r"^  messages:\s+(\d+), \d+ recipients"), 10000, out[-4000:])


class ExcerptsTest(unittest.TestCase):
    @staticmethod
    def files(top, suffixes):
        for d, _, names in os.walk(os.path.join(ROOT, top)):
            for n in names:
                if n.endswith(suffixes) or n in suffixes:
                    yield os.path.join(d, n)

    def test_cpp_blocks_are_tested_code(self):
        sources = {p: open(p, encoding="utf-8").read() for top in ("examples", "tests/consumers")
                   for p in self.files(top, (".cpp", ".hpp"))}
        found = 0
        for heading, lines in blocks("cpp"):
            text = "\n".join(lines) + "\n"
            with self.subTest(heading=heading, first=lines[0] if lines else ""):
                self.assertTrue(any(text in s for s in sources.values()),
                                "a ```cpp block of the README is in no compiled file:\n" + text)
                found += 1
        self.assertGreater(found, 0)

    def test_build_snippets_are_tested_projects(self):
        projects = {p: open(p, encoding="utf-8").read().splitlines()
                    for p in self.files("tests/consumers", ("CMakeLists.txt", "meson.build"))}
        found = 0
        for lang in ("cmake", "meson"):
            for heading, lines in blocks(lang):
                code = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
                with self.subTest(lang=lang, heading=heading):
                    self.assertTrue(any(all(c in (x.strip() for x in body) for c in code)
                                        for body in projects.values()),
                                    "a ```%s block of the README is in no consumer project:\n%s"
                                    % (lang, "\n".join(lines)))
                    found += 1
        self.assertGreater(found, 1)


def in_own_network_namespace():
    """Re-runs this script in a new network namespace with loopback up, unless already there."""
    if os.environ.get(NETNS_MARK) == "1":
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        return None
    unshare = ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-r", "-n"]
    env = dict(os.environ, **{NETNS_MARK: "1"})
    return subprocess.call(unshare + [sys.executable, os.path.abspath(__file__)] + sys.argv[1:], env=env)


if __name__ == "__main__":
    status = in_own_network_namespace()
    if status is not None:
        sys.exit(status)
    os.chdir(ROOT)  # the README's paths (build/gcc/..., unix:build/lmtp.sock) are the checkout's
    unittest.main(verbosity=2)
