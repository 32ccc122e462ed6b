#!/usr/bin/env python3
# SPDX-License-Identifier: BSL-1.0
"""Consistency checks of the source tree (STYLE.md §3.9). Exit 1 with one line per problem.

1. The explicit file lists in CMakeLists.txt and meson.build match the tree:
   headers (include/**/*.hpp), unit tests (tests/main.cpp + tests/unit/**/*.cpp),
   examples (examples/<name>/*.cpp; examples/common/ must be header-only) and
   integration tests (tests/integration/test_*.py).
2. include/mailload/mailload.hpp directly includes every public header (all but detail/, impl/
   and the optional headers of tools/amalgamate.py's OPTIONAL, which no other header includes).
3. No file under include/mailload/sansio/ includes <boost/asio...>.
4. Every header starts with `// SPDX-License-Identifier: BSL-1.0`, has `#pragma once`, and
   includes no <mailload/...> inside #if/#ifdef/#ifndef.
5. The docs agree with the code: the ```cpp block after each `<!-- file: PATH -->` line of a
   docs/*.md page is byte for byte the file PATH (docs/tutorial.md must show
   examples/fixed-source/fixed_source.cpp so), that file has fewer than 40 lines, and each
   concept's requirements table in docs/concepts.md (the `| expression | type | semantics |`
   tables under its heading "## `name`") lists the expressions of the table in the comment above
   `concept name` in include/mailload/concepts.hpp, no more and no fewer.
Files are those of `git ls-files` plus untracked, non-ignored ones. Runs from any directory.
"""
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from amalgamate import OPTIONAL  # noqa: E402
SPDX = "// SPDX-License-Identifier: BSL-1.0"
UMBRELLA = "mailload/mailload.hpp"
PRIVATE_DIRS = ("mailload/detail/", "mailload/impl/")
MAILLOAD_INCLUDE_RE = re.compile(r'^\s*#\s*include\s*[<"](mailload/[^>"]+)[>"]')
ASIO_INCLUDE_RE = re.compile(r'^\s*#\s*include\s*[<"]boost/asio[/.>"]')
PRAGMA_ONCE_RE = re.compile(r"^\s*#\s*pragma\s+once\b")
IF_RE = re.compile(r"^\s*#\s*if(n?def)?\b")
ENDIF_RE = re.compile(r"^\s*#\s*endif\b")

CONCEPTS_HPP = "include/mailload/concepts.hpp"
CONCEPTS_MD = "docs/concepts.md"
TUTORIAL_MD = "docs/tutorial.md"
TUTORIAL_FILE = "examples/fixed-source/fixed_source.cpp"
TUTORIAL_MAX_LINES = 39
CONCEPT_RE = re.compile(r"^\s*concept\s+(\w+)\s*=")
CONCEPT_HEADING_RE = re.compile(r"^##\s+`(\w+)`\s*$")
FILE_MARK_RE = re.compile(r"^<!--\s*file:\s*(\S+)\s*-->\s*$")

# (what, CMake variables, meson variables, prefix of list entries relative to the repo root): the
# files of a kind are those of its lists together (the MPI ones are built only when MPI is found).
LISTS = [
    ("header", ["MAILLOAD_HEADERS"], ["mailload_headers"], "include/"),
    ("unit test source", ["MAILLOAD_TEST_SOURCES"], ["mailload_test_sources"], ""),
    ("example", ["MAILLOAD_EXAMPLES", "MAILLOAD_MPI_EXAMPLES"], ["mailload_examples", "mailload_mpi_examples"], ""),
    ("integration test", ["MAILLOAD_INTEGRATION_TESTS", "MAILLOAD_MPI_INTEGRATION_TESTS"],
     ["mailload_integration_tests", "mailload_mpi_integration_tests"], ""),
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
    for what, cvars, mvars, prefix in LISTS:
        want = expected(what, files)
        for build, listed in (("CMakeLists.txt", [x for v in cvars for x in cmake_list(cmake, v)]),
                              ("meson.build", [x for v in mvars for x in meson_list(meson, v)])):
            var = " + ".join(cvars if build == "CMakeLists.txt" else mvars)
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
                if m.group(1) in OPTIONAL and rel not in OPTIONAL:
                    error(f"{path}:{n}: <{m.group(1)}> is optional: only programs include it")
            if rel.startswith("mailload/sansio/") and ASIO_INCLUDE_RE.match(line):
                error(f"{path}:{n}: sansio/ must not include Boost.Asio")
    if "include/" + UMBRELLA not in headers:
        error(f"include/{UMBRELLA} does not exist")
        return
    for path in headers:
        rel = path[len("include/"):]
        if rel != UMBRELLA and not rel.startswith(PRIVATE_DIRS) and rel not in OPTIONAL and rel not in umbrella_includes:
            error(f"include/{UMBRELLA} does not include public header <{rel}>")


def table_expressions(lines, where):
    """The expressions of the requirement tables among `lines` (markdown table rows, without any
    `///`): first cells of the rows of tables headed `| expression | type | semantics |`, their
    backticks removed. A row whose first cell is empty continues the row above it."""
    found, in_table, header = [], False, None
    for line in lines:
        line = line.strip()
        if not line.startswith("|"):
            in_table, header = False, None
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if header is None:
            header = [c.lower() for c in cells]
            in_table = header[:3] == ["expression", "type", "semantics"]
            continue
        if not in_table or set(line) <= set("|-: ") or not cells[0]:
            continue
        if not (len(cells[0]) > 2 and cells[0].startswith("`") and cells[0].endswith("`")):
            error(f"{where}: expression {cells[0]!r} is not in backticks")
            continue
        found.append(" ".join(cells[0][1:-1].split()))
    return found


def hpp_concept_tables(text):
    """{concept name: its table's expressions}, from the `///` comment right above each concept."""
    tables, comment = {}, []
    for n, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("///"):
            comment.append(stripped[3:])
            continue
        m = CONCEPT_RE.match(line)
        if m:
            tables[m.group(1)] = (n, table_expressions(comment, f"{CONCEPTS_HPP}:{n}"))
        if not stripped.startswith("template"):
            comment = []
    return tables


def md_concept_tables(text):
    """{concept name: its tables' expressions}, from each "## `name`" section up to the next heading."""
    tables, name, body = {}, None, []
    for n, line in enumerate(text.splitlines() + ["#"], 1):
        if line.startswith("#"):
            if name is not None:
                tables[name] = (start, table_expressions(body, f"{CONCEPTS_MD}:{start}"))
            m = CONCEPT_HEADING_RE.match(line)
            name, start, body = (m.group(1), n, []) if m else (None, n, [])
        elif name is not None:
            body.append(line)
    return tables


def check_concept_docs():
    hpp_path, md_path = ROOT / CONCEPTS_HPP, ROOT / CONCEPTS_MD
    if not md_path.is_file():
        error(f"{CONCEPTS_MD} does not exist")
        return
    hpp = hpp_concept_tables(hpp_path.read_text(encoding="utf-8"))
    md = md_concept_tables(md_path.read_text(encoding="utf-8"))
    for name, (line, exprs) in sorted(hpp.items()):
        if not exprs:
            error(f"{CONCEPTS_HPP}:{line}: concept {name} has no requirements table in its comment")
        if name not in md:
            error(f"{CONCEPTS_MD}: no section \"## `{name}`\" for concept {name}")
            continue
        md_line, md_exprs = md[name]
        for e in sorted(set(md_exprs) - set(exprs)):
            error(f"{CONCEPTS_MD}:{md_line}: `{e}` is in the {name} table here but not in {CONCEPTS_HPP}")
        for e in sorted(set(exprs) - set(md_exprs)):
            error(f"{CONCEPTS_MD}:{md_line}: the {name} table lacks `{e}` (in {CONCEPTS_HPP}:{line})")
        for e in sorted({e for e in md_exprs if md_exprs.count(e) > 1}):
            error(f"{CONCEPTS_MD}:{md_line}: `{e}` is listed twice in the {name} table")
    for name, (md_line, _) in sorted(md.items()):
        if name not in hpp:
            error(f"{CONCEPTS_MD}:{md_line}: section for {name}, which is no concept in {CONCEPTS_HPP}")


def fenced_block(lines, i):
    """The text of the ``` block opening at or after lines[i] (None if none follows at once)."""
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i >= len(lines) or not lines[i].startswith("```"):
        return None
    end = next((j for j in range(i + 1, len(lines)) if lines[j].rstrip() == "```"), None)
    return None if end is None else "".join(line + "\n" for line in lines[i + 1:end])


def check_doc_files(files):
    shown = set()
    for page in sorted(f for f in files if f.startswith("docs/") and f.endswith(".md")):
        lines = (ROOT / page).read_text(encoding="utf-8").splitlines()
        for n, line in enumerate(lines, 1):
            m = FILE_MARK_RE.match(line)
            if not m:
                continue
            path, block = m.group(1), fenced_block(lines, n)
            shown.add((page, path))
            if block is None:
                error(f"{page}:{n}: no ``` block follows the mark for {path}")
            elif not (ROOT / path).is_file():
                error(f"{page}:{n}: {path} does not exist")
            elif block != (ROOT / path).read_text(encoding="utf-8"):
                error(f"{page}:{n}: the block differs from {path}; copy the file into it")
    if (ROOT / TUTORIAL_MD).is_file() and (TUTORIAL_MD, TUTORIAL_FILE) not in shown:
        error(f"{TUTORIAL_MD}: no '<!-- file: {TUTORIAL_FILE} -->' line before the whole file")
    if not (ROOT / TUTORIAL_MD).is_file():
        error(f"{TUTORIAL_MD} does not exist")
    if (ROOT / TUTORIAL_FILE).is_file():
        count = len((ROOT / TUTORIAL_FILE).read_text(encoding="utf-8").splitlines())
        if count > TUTORIAL_MAX_LINES:
            error(f"{TUTORIAL_FILE}: {count} lines; the tutorial's tool must stay under "
                  f"{TUTORIAL_MAX_LINES + 1} (comments included)")


def main():
    files = tree_files()
    check_lists(files)
    check_headers(files)
    check_concept_docs()
    check_doc_files(files)
    for e in errors:
        print(f"check_tree: {e}", file=sys.stderr)
    if errors:
        print(f"check_tree: {len(errors)} problem(s); see STYLE.md §3.9", file=sys.stderr)
        return 1
    print("check_tree: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
