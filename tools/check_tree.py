#!/usr/bin/env python3
# SPDX-License-Identifier: BSL-1.0
"""Consistency checks of the source tree (STYLE.md §3.9). Exit 1 with one line per problem.

1. The explicit file lists in CMakeLists.txt and meson.build match the tree:
   headers (include/**/*.hpp), unit tests (tests/main.cpp + tests/unit/**/*.cpp),
   examples (examples/<name>/*.cpp; examples/common/ must be header-only) and
   integration tests (tests/integration/test_*.py).
2. include/mailload/mailload.hpp directly includes every public header (all but detail/, impl/).
3. No file under include/mailload/sansio/ includes <boost/asio...>.
4. Every header starts with `// SPDX-License-Identifier: BSL-1.0`, has `#pragma once`, and
   includes no <mailload/...> inside #if/#ifdef/#ifndef.
Files are those of `git ls-files` plus untracked, non-ignored ones. Runs from any directory.
"""
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SPDX = "// SPDX-License-Identifier: BSL-1.0"
UMBRELLA = "mailload/mailload.hpp"
PRIVATE_DIRS = ("mailload/detail/", "mailload/impl/")
MAILLOAD_INCLUDE_RE = re.compile(r'^\s*#\s*include\s*[<"](mailload/[^>"]+)[>"]')
ASIO_INCLUDE_RE = re.compile(r'^\s*#\s*include\s*[<"]boost/asio[/.>"]')
PRAGMA_ONCE_RE = re.compile(r"^\s*#\s*pragma\s+once\b")
IF_RE = re.compile(r"^\s*#\s*if(n?def)?\b")
ENDIF_RE = re.compile(r"^\s*#\s*endif\b")

# (what, CMake variable, meson variable, prefix of list entries relative to the repo root)
LISTS = [
    ("header", "MAILLOAD_HEADERS", "mailload_headers", "include/"),
    ("unit test source", "MAILLOAD_TEST_SOURCES", "mailload_test_sources", ""),
    ("example", "MAILLOAD_EXAMPLES", "mailload_examples", ""),
    ("integration test", "MAILLOAD_INTEGRATION_TESTS", "mailload_integration_tests", ""),
]

errors = []


def error(msg):
    errors.append(msg)


def tree_files():
    """Repo-relative paths: tracked (and still present) plus untracked non-ignored files."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=ROOT, check=True, capture_output=True, text=True).stdout
        paths = {p for p in out.split("\0") if p}
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: walk the tree
        paths = {p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*")
                 if p.is_file() and "build" not in p.relative_to(ROOT).parts[:1]}
    return sorted(p for p in paths if (ROOT / p).is_file())


def strip_comments(text):
    """Drop `#` comments (neither build file uses `#` inside a string in the lists)."""
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


def cmake_list(text, var):
    m = re.search(r"\bset\(\s*" + var + r"\b(.*?)\)", text, re.S)
    if not m:
        error(f"CMakeLists.txt: no set({var} ...)")
        return []
    return [item.strip('"') for item in m.group(1).split()]


def meson_list(text, var):
    m = re.search(r"^" + var + r"\s*=\s*\[(.*?)\]", text, re.S | re.M)
    if not m:
        error(f"meson.build: no {var} = [...]")
        return []
    return re.findall(r"'([^']*)'", m.group(1))


def expected(what, files):
    if what == "header":
        return {f[len("include/"):] for f in files if f.startswith("include/") and f.endswith(".hpp")}
    if what == "unit test source":
        return {f for f in files if f == "tests/main.cpp"
                or (f.startswith("tests/unit/") and f.endswith(".cpp"))}
    if what == "example":
        found = set()
        for f in files:
            parts = f.split("/")
            if parts[0] != "examples" or not f.endswith(".cpp"):
                continue
            if len(parts) == 3 and parts[1] != "common":
                found.add(f)
            else:
                error(f"{f}: example sources go in examples/<name>/ (one main .cpp each); "
                      "examples/common/ is header-only")
        return found
    return {f for f in files if re.fullmatch(r"tests/integration/test_[^/]*\.py", f)}


def check_lists(files):
    cmake = strip_comments((ROOT / "CMakeLists.txt").read_text(encoding="utf-8"))
    meson = strip_comments((ROOT / "meson.build").read_text(encoding="utf-8"))
    for what, cvar, mvar, prefix in LISTS:
        want = expected(what, files)
        for build, listed in (("CMakeLists.txt", cmake_list(cmake, cvar)),
                              ("meson.build", meson_list(meson, mvar))):
            var = cvar if build == "CMakeLists.txt" else mvar
            for dup in sorted({x for x in listed if listed.count(x) > 1}):
                error(f"{build}: {dup} is listed twice in {var}")
            for missing in sorted(want - set(listed)):
                error(f"{build}: {what} {prefix}{missing} is not listed in {var}")
            for stale in sorted(set(listed) - want):
                if (ROOT / (prefix + stale)).is_file():
                    error(f"{build}: {var} lists {prefix}{stale}, which is not a {what} location")
                else:
                    error(f"{build}: {var} lists {prefix}{stale}, which does not exist")
        if what == "example":
            dirs = [f.split("/")[1] for f in want]
            for d in sorted({d for d in dirs if dirs.count(d) > 1}):
                error(f"examples/{d}/ has more than one .cpp; an example is one main .cpp")


def check_headers(files):
    headers = sorted(f for f in files if f.startswith("include/") and f.endswith(".hpp"))
    umbrella_includes = set()
    for path in headers:
        rel = path[len("include/"):]
        lines = (ROOT / path).read_text(encoding="utf-8", errors="replace").splitlines()
        if not lines or lines[0].rstrip() != SPDX:
            error(f"{path}:1: first line must be '{SPDX}'")
        if not any(PRAGMA_ONCE_RE.match(line) for line in lines):
            error(f"{path}: no '#pragma once'")
        depth = 0
        for n, line in enumerate(lines, 1):
            if IF_RE.match(line):
                depth += 1
            elif ENDIF_RE.match(line):
                depth -= 1
            m = MAILLOAD_INCLUDE_RE.match(line)
            if m:
                if depth > 0:
                    error(f"{path}:{n}: <{m.group(1)}> included inside #if/#ifdef "
                          "(the amalgamator inlines each header once, unconditionally)")
                if rel == UMBRELLA:
                    umbrella_includes.add(m.group(1))
            if rel.startswith("mailload/sansio/") and ASIO_INCLUDE_RE.match(line):
                error(f"{path}:{n}: sansio/ must not include Boost.Asio")
    if "include/" + UMBRELLA not in headers:
        error(f"include/{UMBRELLA} does not exist")
        return
    for path in headers:
        rel = path[len("include/"):]
        if rel != UMBRELLA and not rel.startswith(PRIVATE_DIRS) and rel not in umbrella_includes:
            error(f"include/{UMBRELLA} does not include public header <{rel}>")


def main():
    files = tree_files()
    check_lists(files)
    check_headers(files)
    for e in errors:
        print(f"check_tree: {e}", file=sys.stderr)
    if errors:
        print(f"check_tree: {len(errors)} problem(s); see STYLE.md §3.9", file=sys.stderr)
        return 1
    print("check_tree: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
