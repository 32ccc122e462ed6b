#!/usr/bin/env python3
# SPDX-License-Identifier: BSL-1.0
"""The ways to consume mailload, each built and run from a clean install prefix (issue 8).

    run.py --cmake-build DIR [--cxx COMPILER]   # cmake --install DIR into a fresh prefix, then:
        installed tree, find_package(mailload), pkg-config, add_subdirectory
    run.py --meson-build DIR [--cxx COMPILER]   # meson install --destdir into a fresh directory, then:
        installed tree, pkg-config (the .pc is relocatable: it works under DESTDIR), Meson subproject

Each consumer is a copy of tests/consumers/<kind>/ with my_tool.cpp beside it, built with the
compiler given and run: it must print "consumer: mailload <version>, 20 accepted, 20 received".
The bare `g++ -std=c++20 -I single_include` build is tools/test.sh's step f. Stdlib only.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TOOLS = ("smtp-source", "smtp-sink", "qmqp-source", "qmqp-sink")
MPI_TOOLS = ("smtp-source-mpi", "qmqp-source-mpi")
TIMEOUT = 600  # seconds, for any one build step


def project_version():
    text = open(os.path.join(ROOT, "include/mailload/version.hpp"), encoding="utf-8").read()
    return re.search(r'#define MAILLOAD_VERSION_STRING "([^"]+)"', text).group(1)


def listed(var):
    """A file list of CMakeLists.txt (the same as meson.build's: tools/check_tree.py)."""
    text = open(os.path.join(ROOT, "CMakeLists.txt"), encoding="utf-8").read()
    body = re.search(r"set\(%s\n(.*?)\n\)" % var, text, re.S).group(1)
    return [line.strip() for line in body.splitlines() if line.strip() and not line.strip().startswith("#")]


VERSION = project_version()
EXPECTED = "consumer: mailload %s, 20 accepted, 20 received\n" % VERSION


def run(cmd, **kw):
    """Runs cmd; on failure the assertion shows its output."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=TIMEOUT, **kw)
    if p.returncode != 0:
        raise AssertionError("%s exited with %d:\n%s" % (" ".join(cmd), p.returncode, p.stdout[-4000:]))
    return p.stdout


class Installed:
    """What both build systems' installs must give; a subclass installs (setUpClass)."""
    build = None     # the build directory installed
    cxx = "c++"
    prefix = None    # where the install's <prefix> is
    cmake_package = False

    def project(self, kind):
        """A fresh copy of tests/consumers/<kind>/ (if there is one) with my_tool.cpp beside it."""
        where = tempfile.mkdtemp(prefix=kind + "-", dir=self.tmp)
        if os.path.isdir(os.path.join(HERE, kind)):
            shutil.copytree(os.path.join(HERE, kind), where, dirs_exist_ok=True)
        shutil.copy(os.path.join(HERE, "my_tool.cpp"), where)
        return where

    def run_consumer(self, exe):
        self.assertEqual(run([exe]), EXPECTED)

    def cmake_consumer(self, kind, *defines):
        src = self.project(kind)
        out = os.path.join(src, "build")
        run(["cmake", "-S", src, "-B", out, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Debug",
             "-DCMAKE_CXX_COMPILER=" + self.cxx] + list(defines))
        run(["cmake", "--build", out])
        self.run_consumer(os.path.join(out, "my_tool"))
        return out

    # -- the installed tree ----------------------------------------------------------------

    def test_installed_tree(self):
        p = self.prefix
        for header in listed("MAILLOAD_HEADERS"):
            self.assertTrue(os.path.isfile(os.path.join(p, "include", header)), header)
        installed = {os.path.relpath(os.path.join(d, f), os.path.join(p, "include"))
                     for d, _, fs in os.walk(os.path.join(p, "include")) for f in fs}
        self.assertEqual(installed, set(listed("MAILLOAD_HEADERS")), "headers installed and no others")
        self.assertTrue(os.path.isfile(os.path.join(p, "share/pkgconfig/mailload.pc")))
        if self.cmake_package:
            for f in ("mailload-config.cmake", "mailload-config-version.cmake", "mailload-targets.cmake"):
                self.assertTrue(os.path.isfile(os.path.join(p, "share/cmake/mailload", f)), f)
        # The MPI sources are built (and installed) when MPI is found.
        tools = TOOLS + tuple(t for t in MPI_TOOLS if os.path.isfile(os.path.join(self.build, t)))
        self.assertEqual(sorted(os.listdir(os.path.join(p, "bin"))), sorted(tools), "the tools, no other example")
        for tool in tools:
            self.assertEqual(run([os.path.join(p, "bin", tool), "--version"]), "%s (mailload) %s\n" % (tool, VERSION))
            man1 = os.path.join(p, "share/man/man1")
            self.assertTrue(os.path.isfile(os.path.join(man1, tool + ".1")), tool)
            found = run(["man", "-M", os.path.join(p, "share/man"), "-w", tool]).strip()  # .so followed
            self.assertEqual(os.path.dirname(found), man1, tool)

    # -- pkg-config --------------------------------------------------------------------------

    def test_pkg_config(self):
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(self.prefix, "share/pkgconfig"))
        self.assertEqual(run(["pkg-config", "--modversion", "mailload"], env=env).strip(), VERSION)
        flags = run(["pkg-config", "--cflags", "--libs", "mailload"], env=env).split()
        self.assertIn("-I" + os.path.join(self.prefix, "include"), [os.path.normpath(f) if f.startswith("-I")
                                                                    else f for f in flags])
        src = self.project("pkg_config")
        exe = os.path.join(src, "my_tool")
        run([self.cxx, os.path.join(src, "my_tool.cpp"), "-o", exe] + flags)
        self.run_consumer(exe)


class CMakeInstall(Installed, unittest.TestCase):
    cmake_package = True

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mailload-consumers-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.prefix = os.path.join(cls.tmp, "prefix")
        run(["cmake", "--install", cls.build, "--prefix", cls.prefix])

    def test_find_package(self):
        self.cmake_consumer("find_package", "-DCMAKE_PREFIX_PATH=" + self.prefix)

    def test_find_package_rejects_another_minor_version(self):
        src = self.project("find_package")
        text = open(os.path.join(src, "CMakeLists.txt")).read().replace("find_package(mailload 0.1 ",
                                                                         "find_package(mailload 0.2 ")
        open(os.path.join(src, "CMakeLists.txt"), "w").write(text)
        p = subprocess.run(["cmake", "-S", src, "-B", os.path.join(src, "build"), "-G", "Ninja",
                            "-DCMAKE_PREFIX_PATH=" + self.prefix], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT)
        self.assertNotEqual(p.returncode, 0)
        self.assertRegex(p.stdout, r"considered but not accepted:\s+\S+/mailload-config\.cmake, version: %s"
                         % re.escape(VERSION))

    def test_add_subdirectory(self):
        out = self.cmake_consumer("add_subdirectory", "-DMAILLOAD_SOURCE_DIR=" + ROOT)
        self.assertFalse(os.path.exists(os.path.join(out, "mailload", "mailload_tests")),
                         "a subdirectory build of mailload builds none of its tests")


class MesonInstall(Installed, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mailload-consumers-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        destdir = os.path.join(cls.tmp, "destdir")
        run(["meson", "install", "-C", cls.build, "--no-rebuild", "--destdir", destdir])
        options = json.loads(run(["meson", "introspect", "--buildoptions", cls.build]))
        cls.prefix = destdir + next(o["value"] for o in options if o["name"] == "prefix")

    def test_meson_subproject(self):
        src = self.project("meson_subproject")
        os.mkdir(os.path.join(src, "subprojects"))
        os.symlink(ROOT, os.path.join(src, "subprojects", "mailload"))
        out = os.path.join(src, "build")
        run(["meson", "setup", out, src, "--force-fallback-for=mailload", "--buildtype=debug"],
            env=dict(os.environ, CXX=self.cxx))
        run(["meson", "compile", "-C", out])
        self.run_consumer(os.path.join(out, "my_tool"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    which = ap.add_mutually_exclusive_group(required=True)
    which.add_argument("--cmake-build")
    which.add_argument("--meson-build")
    ap.add_argument("--cxx", default=os.environ.get("CXX", "c++"))
    args = ap.parse_args()
    cls = CMakeInstall if args.cmake_build else MesonInstall
    cls.build = os.path.abspath(args.cmake_build or args.meson_build)
    cls.cxx = args.cxx
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(cls)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
