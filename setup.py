"""Builds perseus_core's compiled kernels: Cython for byte loops, mypyc for typed logic.

Every extension is optional. If no C compiler is found, a translator is missing or
compilation fails, the install still succeeds with the pure-Python twins, unless
PERSEUS_REQUIRE_COMPILED=1 (set in CI) asks for the failure to be loud.
PERSEUS_NO_COMPILE=1 skips compiling altogether.
"""

import os
import shutil
import sys
import sysconfig

from setuptools import setup
from setuptools.command.build_ext import build_ext

# Each kernel goes to exactly one translator.
CYTHON_MODULES = [
    "perseus_core/_escape_c.pyx",
    "perseus_core/_paths_c.pyx",
    "perseus_core/_routing_c.pyx",
    "perseus_core/_shell_c.pyx",
]
# Routing measured faster under Cython (one-pass byte matcher) than under mypyc.
MYPYC_MODULES = ["perseus_core/locales.py", "perseus_core/plan.py", "perseus_core/durations.py"]

# pip runs setup.py several times (egg_info, dist_info, bdist_wheel): translate
# only when something will actually be compiled.
_BUILD_COMMANDS = {"build", "build_ext", "bdist_wheel", "install", "develop", "editable_wheel"}


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def _have_compiler() -> bool:
    compiler = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    return shutil.which(compiler.split()[0]) is not None


def _give_up(reason: str) -> list:
    if _flag("PERSEUS_REQUIRE_COMPILED"):
        raise SystemExit(f"perseus: compiled core required but {reason}")
    print(f"perseus: compiled core skipped ({reason}); installing the pure build", file=sys.stderr)
    return []


def _extensions() -> list:
    if not _BUILD_COMMANDS.intersection(sys.argv[1:]):
        return []
    # NOTE: setuptools copies whatever lies in build/ into the wheel, so a module
    # that moved from one compiler to the other (or was removed) would ship its
    # stale .so, which then shadows the new .py. Always build from a clean slate.
    shutil.rmtree(os.path.join(os.path.dirname(os.path.abspath(__file__)), "build"), ignore_errors=True)
    if _flag("PERSEUS_NO_COMPILE"):
        return []
    if sys.implementation.name != "cpython":
        return _give_up("this interpreter is not CPython")
    if not _have_compiler():
        return _give_up("no C compiler was found")
    try:
        from Cython.Build import cythonize
        from mypyc.build import mypycify
    except ImportError as exc:
        return _give_up(f"a translator is missing: {exc}")
    try:
        extensions = cythonize(
            CYTHON_MODULES,
            quiet=True,
            compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False},
        )
        if MYPYC_MODULES:
            extensions += mypycify(MYPYC_MODULES, opt_level="3")
    except (Exception, SystemExit) as exc:  # mypycify calls sys.exit() on a type error
        return _give_up(f"translation failed: {exc}")
    return extensions


class OptionalBuildExt(build_ext):
    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:
            if _flag("PERSEUS_REQUIRE_COMPILED"):
                raise
            print(f"perseus: compiling the core failed ({exc}); pure build installed", file=sys.stderr)


setup(
    ext_modules=_extensions(),
    cmdclass={"build_ext": OptionalBuildExt},
    options={"build_ext": {"parallel": os.cpu_count() or 1}},
)
