#!/usr/bin/env python3
"""Integration tests of the four tools' usage texts: --help, -h, --version and the manual pages.

    python3 tests/integration/test_usage.py --bindir DIR [unittest options]

DIR holds our built `smtp-source`, `smtp-sink`, `qmqp-source` and `qmqp-sink`; docs/man/ holds
their manual pages.  The options each tool accepts are read from its SOURCE, not from a list kept
here: every letter of the option string passed to getopt()/getopt_long(), and every name in its
`option` table (the sources' shared table too, examples/common's source_longopts()).  Then:

1. --help lists every one of them, exits 0, and fits one screen: at most 24 lines of at most 80
   columns, whatever directory the program is run from; its last line points to the manual page;
2. -h, where the option string has it without an argument, prints the same help; where it takes
   an argument (smtp-sink's -h hostname, Postfix's), it is not the help;
3. --version prints "<tool> (mailload) <version>", the version of include/mailload/version.hpp;
4. each manual page has that version in .TH, every option in a tag of its OPTIONS section (the
   long ones under "mailload's options"), no groff warning, and renders with man -l.

Nothing here listens or connects: the programs are only run with options that end them at once.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import support  # noqa: E402

BINDIR = support.take_option(sys.argv, "--bindir")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMMON = os.path.join(ROOT, "examples", "common")
MANDIR = os.path.join(ROOT, "docs", "man")
VERSION_HEADER = os.path.join(ROOT, "include", "mailload", "version.hpp")

TOOLS = {
    "smtp-source": "examples/smtp-source/smtp_source.cpp",
    "smtp-sink": "examples/smtp-sink/smtp_sink.cpp",
    "qmqp-source": "examples/qmqp-source/qmqp_source.cpp",
    "qmqp-sink": "examples/qmqp-sink/qmqp_sink.cpp",
}

SCREEN_LINES = 24
SCREEN_COLUMNS = 80


def setUpModule():
    if not BINDIR:
        raise RuntimeError("usage: test_usage.py --bindir DIR [unittest args]")
    for name in TOOLS:
        if not os.access(os.path.join(BINDIR, name), os.X_OK):
            raise RuntimeError("no executable %s in %s" % (name, BINDIR))


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


# --------------------------------------------------------------------------------------------
# the options, from the source
# --------------------------------------------------------------------------------------------

GETOPT_CALL = re.compile(r'\bgetopt(?:_long)?\s*\(\s*argc\s*,\s*argv\s*,\s*"((?:[^"\\]|\\.)*)"')
OPTION_ENTRY = re.compile(r'\{\s*"([A-Za-z0-9][A-Za-z0-9-]*)"\s*,\s*(?:no_argument|required_argument|optional_argument)\b')


def strip_comments(code):
    """C++ source without its // and /* */ comments (string literals are kept as they are)."""
    out, i, n = [], 0, len(code)
    while i < n:
        c = code[i]
        if c == '"':
            j = i + 1
            while j < n and code[j] != '"':
                j += 2 if code[j] == "\\" else 1
            out.append(code[i:j + 1])
            i = j + 1
        elif code.startswith("//", i):
            i = code.find("\n", i)
            i = n if i < 0 else i
        elif code.startswith("/*", i):
            j = code.find("*/", i + 2)
            i = n if j < 0 else j + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def function_body(code, signature):
    """The text between the braces of the function whose definition contains `signature`."""
    start = code.find(signature)
    if start < 0:
        return None
    i = code.find("{", start)
    depth = 0
    for j in range(i, len(code)):
        depth += {"{": 1, "}": -1}.get(code[j], 0)
        if depth == 0:
            return code[i:j + 1]
    raise ValueError("unbalanced braces after %r" % signature)


def shared_source_longopts():
    """The names in examples/common's source_longopts() table (both sources take them)."""
    for name in sorted(os.listdir(COMMON)):
        if name.endswith(".hpp"):
            body = function_body(strip_comments(read(os.path.join(COMMON, name))), "source_longopts(")
            if body is not None:
                return OPTION_ENTRY.findall(body)
    raise AssertionError("no source_longopts() in %s" % COMMON)


def options_of(tool):
    """(short option letters, long option names) that `tool` accepts, read from its source."""
    code = strip_comments(read(os.path.join(ROOT, TOOLS[tool])))
    strings = GETOPT_CALL.findall(code)
    if len(strings) != 1:
        raise AssertionError("%s: expected one getopt() option string, found %r" % (tool, strings))
    letters = strings[0].lstrip("+-:")
    short = [c for c in letters if c != ":"]
    takes_argument = {c: letters[i + 1:i + 2] == ":" for i, c in enumerate(letters) if c != ":"}
    longs = OPTION_ENTRY.findall(code)
    if re.search(r"\bsource_longopts\s*\(", code):
        longs += shared_source_longopts()
    return short, longs, takes_argument


def mentions_short(text, letter):
    return re.search(r"(?<![\w-])-%s(?![\w-])" % re.escape(letter), text) is not None


def mentions_long(text, name):
    return re.search(r"(?<![\w-])--%s(?![\w-])" % re.escape(name), text) is not None


# --------------------------------------------------------------------------------------------
# the manual pages
# --------------------------------------------------------------------------------------------

def roff_text(line):
    """A roff line as text: macro name gone, quotes gone, font and other escapes undone."""
    line = re.sub(r"^\.[A-Za-z]+\s*", "", line)
    line = re.sub(r"\\f(?:\[[^\]]*\]|\(..|.)", "", line)
    line = line.replace("\\-", "-").replace("\\&", "").replace("\\e", "\\").replace('"', "")
    return line


def man_sections(source):
    """{section name: [its lines]} of a man(7) page, by .SH."""
    sections, current = {}, None
    for line in source.splitlines():
        m = re.match(r"^\.SH\s+(.*)$", line)
        if m:
            current = m.group(1).strip().strip('"')
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    return sections


def tags_by_subsection(lines):
    """{subsection name: [text of each .TP tag line]} of a section, by .SS."""
    tags, sub, after_tp = {}, "", False
    for line in lines:
        m = re.match(r"^\.SS\s+(.*)$", line)
        if m:
            sub = m.group(1).strip().strip('"')
            continue
        if after_tp and not line.startswith(".\\\""):
            tags.setdefault(sub, []).append(roff_text(line))
            after_tp = False
        elif re.match(r"^\.TP\b", line):
            after_tp = True
    return tags


def version_header():
    m = re.search(r'#define\s+MAILLOAD_VERSION_STRING\s+"([^"]+)"', read(VERSION_HEADER))
    if not m:
        raise AssertionError("no MAILLOAD_VERSION_STRING in %s" % VERSION_HEADER)
    return m.group(1)


# --------------------------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------------------------

def run_as(tool, args, argv0=None):
    """Run our `tool`, with argv[0] `argv0` (the tool's bare name by default)."""
    path = os.path.join(BINDIR, tool)
    return support.run([argv0 or tool] + list(args), executable=path, timeout=20)


class SourceParsingTest(unittest.TestCase):
    """The options are really found in the sources (else every other test would pass vacuously)."""

    def test_every_tool_has_options(self):
        for tool in TOOLS:
            short, longs, _ = options_of(tool)
            with self.subTest(tool):
                self.assertTrue({"4", "6", "c", "v"} <= set(short), short)
                self.assertTrue({"help", "version"} <= set(longs), longs)
                self.assertEqual(len(short), len(set(short)), short)
                self.assertEqual(len(longs), len(set(longs)), longs)

    def test_the_sources_share_their_long_options(self):
        shared = set(shared_source_longopts())
        self.assertTrue({"threads", "rate", "report", "help"} <= shared, shared)
        self.assertTrue(shared <= set(options_of("smtp-source")[1]))
        self.assertTrue(shared <= set(options_of("qmqp-source")[1]))
        self.assertIn("pipelining", options_of("smtp-source")[1])

    def test_the_matchers(self):
        self.assertTrue(mentions_short("  -4, -6  IPv4", "6"))
        self.assertFalse(mentions_short("  --session-limit", "s"))
        self.assertFalse(mentions_short("  --connect-limit", "l"))
        self.assertTrue(mentions_long("--threads=N", "threads"))
        self.assertFalse(mentions_long("--thread-per-session", "thread"))


class HelpTest(unittest.TestCase):

    def check_screen(self, tool, text):
        lines = text.splitlines()
        self.assertLessEqual(len(lines), SCREEN_LINES, "%s --help: %d lines" % (tool, len(lines)))
        for line in lines:
            self.assertNotIn("\t", line)
            self.assertLessEqual(len(line), SCREEN_COLUMNS, "%s --help: %d columns: %r" % (tool, len(line), line))
        self.assertIn("man " + tool, lines[-1])

    def test_help_lists_every_option_on_one_screen(self):
        for tool in TOOLS:
            short, longs, _ = options_of(tool)
            res = run_as(tool, ["--help"])
            with self.subTest(tool):
                self.assertEqual((res.returncode, res.stderr), (0, b""), res)
                text = res.stdout.decode("ascii")
                self.check_screen(tool, text)
                self.assertEqual([c for c in short if not mentions_short(text, c)], [], text)
                self.assertEqual([n for n in longs if not mentions_long(text, n)], [], text)

    def test_help_fits_when_run_by_its_full_path(self):
        for tool in TOOLS:
            path = os.path.abspath(os.path.join(BINDIR, tool))
            res = support.run([path, "--help"], timeout=20)
            with self.subTest(tool):
                self.assertEqual(res.returncode, 0, res)
                self.check_screen(tool, res.stdout.decode("ascii"))

    def test_dash_h(self):
        for tool in TOOLS:
            short, _, takes_argument = options_of(tool)
            help_text = run_as(tool, ["--help"]).stdout
            with self.subTest(tool):
                if "h" in short and not takes_argument["h"]:
                    res = run_as(tool, ["-h"])
                    self.assertEqual((res.returncode, res.stdout, res.stderr), (0, help_text, b""), res)
                elif "h" in short:
                    # Postfix's -h hostname: it takes the next argument, and the address is missing
                    res = run_as(tool, ["-h", "name.example"])
                    self.assertEqual((res.returncode, res.stdout), (1, b""), res)
                    self.assertIn(b": fatal: usage: ", res.stderr)
                else:
                    res = run_as(tool, ["-h"])
                    self.assertEqual((res.returncode, res.stdout), (1, b""), res)
                    self.assertIn(b"invalid option -- 'h'", res.stderr)

    def test_version(self):
        version = version_header()
        self.assertRegex(version, r"^\d+\.\d+\.\d+")
        for tool in TOOLS:
            res = run_as(tool, ["--version"])
            with self.subTest(tool):
                self.assertEqual((res.returncode, res.stdout.decode(), res.stderr),
                                 (0, "%s (mailload) %s\n" % (tool, version), b""), res)


class ManualPageTest(unittest.TestCase):

    def page(self, tool):
        path = os.path.join(MANDIR, tool + ".1")
        self.assertTrue(os.path.isfile(path), path)
        return path, read(path)

    def test_title_line(self):
        version = version_header()
        for tool in TOOLS:
            _, source = self.page(tool)
            with self.subTest(tool):
                th = [line for line in source.splitlines() if re.match(r"^\.TH\s", line)]
                self.assertEqual(len(th), 1, th)
                fields = shlex.split(th[0])[1:]
                self.assertEqual(fields[:2], [tool.upper(), "1"], th)
                self.assertEqual(len(fields), 5, th)
                self.assertEqual(fields[3], "mailload " + version, th)
                self.assertEqual(fields[4], "mailload", th)

    def test_sections(self):
        for tool in TOOLS:
            _, source = self.page(tool)
            with self.subTest(tool):
                self.assertEqual([s for s in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS",
                                              "EXAMPLES", "DIFFERENCES FROM POSTFIX", "SEE ALSO")
                                  if s not in man_sections(source)], [])
                self.assertRegex(man_sections(source)["NAME"][0], r"^%s \\- " % re.escape(tool))

    def test_options_section_lists_every_option(self):
        for tool in TOOLS:
            short, longs, _ = options_of(tool)
            _, source = self.page(tool)
            tags = tags_by_subsection(man_sections(source).get("OPTIONS", []))
            with self.subTest(tool):
                self.assertEqual(sorted(tags), ["Postfix's options", "mailload's options"])
                every = "\n".join(tags["Postfix's options"] + tags["mailload's options"])
                ours = "\n".join(tags["mailload's options"])
                self.assertEqual([c for c in short if not mentions_short(every, c)], [], every)
                self.assertEqual([n for n in longs if not mentions_long(ours, n)], [], ours)

    def test_examples_stay_on_the_loopback(self):
        for tool in TOOLS:
            _, source = self.page(tool)
            text = "\n".join(roff_text(line) for line in man_sections(source)["EXAMPLES"])
            text = re.sub(r"\\\n\s*", " ", text)  # a shell line continued with a backslash
            with self.subTest(tool):
                commands = [line for line in text.splitlines() if re.match(r"^(smtp|qmqp)-(source|sink) ", line)]
                self.assertTrue(commands, text)
                for command in commands:
                    address = [a for a in command.split() if re.search(r"^(inet:|unix:|\[|\d+\.\d+\.\d+\.\d+:)", a)]
                    self.assertTrue(address, command)
                    for a in address:
                        self.assertRegex(a, r"^(unix:/|127\.0\.0\.1:|\[::1\]:)", command)

    def test_groff_gives_no_warning(self):
        groff = shutil.which("groff")
        self.assertIsNotNone(groff, "groff is not installed (tools/setup.sh installs groff-base)")
        for tool in TOOLS:
            path, _ = self.page(tool)
            res = support.run([groff, "-man", "-ww", "-z", "-Tutf8", path], timeout=30)
            with self.subTest(tool):
                self.assertEqual((res.returncode, res.stdout, res.stderr), (0, b"", b""), res)

    def test_man_renders_it(self):
        man = shutil.which("man")
        self.assertIsNotNone(man, "man is not installed (tools/setup.sh installs man-db)")
        env = dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat", LC_ALL="C.UTF-8")
        env.pop("MAN_KEEP_FORMATTING", None)
        for tool in TOOLS:
            path, _ = self.page(tool)
            proc = subprocess.run([man, "-l", path], env=env, stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=30)
            with self.subTest(tool):
                self.assertEqual((proc.returncode, proc.stderr), (0, b""), proc)
                text = proc.stdout.decode("utf-8")
                self.assertRegex(text, r"\nNAME\n +%s +- " % re.escape(tool), text[:300])
                self.assertIn("\nOPTIONS\n", text, text[:300])
                for line in text.splitlines():
                    self.assertLessEqual(len(line), SCREEN_COLUMNS, repr(line))


if __name__ == "__main__":
    unittest.main()
