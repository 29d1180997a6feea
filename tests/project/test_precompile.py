"""The suite's bytecode precompiling (tests/precompile.py): the caches it writes are the ones the
workers' imports read, an edited source is never run from a stale one, and it runs only where
pytest-xdist's controller is about to start workers. On a small tree under tmp_path."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import textwrap
import types
from pathlib import Path
from typing import Any

import pytest
from _pytest.assertion.rewrite import PYC_TAIL, _read_pyc

from tests.precompile import Compiled, precompile, workers_will_start

TEST_MODULE = """
def test_two():
    got = 1
    assert got == 2
"""
HELPER = "VALUE = 41\n"


class _Counting(importlib.machinery.SourceFileLoader):
    """The ordinary source loader, counting the sources it had to compile (no usable cache) and
    writing no cache itself (where PYTHONDONTWRITEBYTECODE is unset it would)."""

    compiled: list[str] = []

    def set_data(self, path: Any, data: Any, *, _mode: int = 0o666) -> None:  # pyright: ignore[reportIncompatibleMethodOverride]
        del path, data, _mode

    def source_to_code(self, data: Any, path: Any, *, _optimize: int = -1) -> types.CodeType:  # pyright: ignore[reportIncompatibleMethodOverride]
        self.compiled.append(str(path))
        return super().source_to_code(data, path, _optimize=_optimize)  # pyright: ignore[reportCallIssue]


def _compiles(path: Path) -> bool:
    """Whether importing `path` the ordinary way compiles its source (rather than reading a
    cache): SourceFileLoader.get_code reads a valid cache and calls source_to_code otherwise."""
    _Counting.compiled = []
    _Counting(path.stem, str(path)).get_code(path.stem)
    return _Counting.compiled == [str(path)]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "__init__.py").write_text("")
    (tmp_path / "tests" / "test_small.py").write_text(TEST_MODULE)
    (tmp_path / "tests" / "helper.py").write_text(HELPER)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "core.py").write_text(HELPER)
    return tmp_path


def _run(config: pytest.Config, root: Path, processes: int = 1) -> Compiled:
    return precompile(config, root=root, ordinary=[root / "pkg"], plugins=[], processes=processes)


@pytest.mark.parametrize("processes", [1, 2], ids=["in-process", "forked"])
def test_the_caches_written_are_the_ones_the_imports_read(
    request: pytest.FixtureRequest, tree: Path, processes: int
) -> None:
    (tree / "tests" / "test_other.py").write_text(TEST_MODULE.replace("got = 1", "got = 5"))
    for module in (tree / "tests" / "helper.py", tree / "pkg" / "core.py"):
        assert _compiles(module)  # nothing cached yet
    done = _run(request.config, tree, processes)
    assert (done.ordinary, done.rewritten, done.kept, done.skipped) == (4, 2, 0, None)
    # ordinary modules (the package's, the test helpers): CPython's loader compiles nothing
    for module in (tree / "tests" / "helper.py", tree / "pkg" / "core.py"):
        assert not _compiles(module), module
    # the test module: pytest's hook finds its rewritten code, with pytest's assert messages
    test = tree / "tests" / "test_small.py"
    code = _read_pyc(test, test.parent / "__pycache__" / ("test_small" + PYC_TAIL))
    assert code is not None
    assert not Path(importlib.util.cache_from_source(str(test))).exists()  # only pytest's
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    with pytest.raises(AssertionError) as failed:
        namespace["test_two"]()
    assert "assert 1 == 2" in str(failed.value)
    other = tree / "tests" / "test_other.py"
    assert _read_pyc(other, other.parent / "__pycache__" / ("test_other" + PYC_TAIL)) is not None
    # a second run finds every cache valid and writes nothing
    again = _run(request.config, tree, processes)
    assert (again.ordinary, again.rewritten, again.kept) == (0, 0, 6)


def test_an_edited_source_is_never_run_from_its_old_cache(
    request: pytest.FixtureRequest, tree: Path
) -> None:
    _run(request.config, tree)
    test, helper = tree / "tests" / "test_small.py", tree / "pkg" / "core.py"
    stamp = helper.stat()
    # same size, same mtime for the helper: CPython's check is mtime and size, so the edit must
    # move one of them (an editor's save does); pytest's check is a hash of the bytes
    test.write_text(TEST_MODULE.replace("got = 1", "got = 3"))
    helper.write_text(HELPER.replace("41", "42"))
    os.utime(helper, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1_000_000_000))
    assert _read_pyc(test, test.parent / "__pycache__" / ("test_small" + PYC_TAIL)) is None
    assert _compiles(helper)
    done = _run(request.config, tree)
    assert (done.ordinary, done.rewritten, done.kept) == (1, 1, 3)
    code = _read_pyc(test, test.parent / "__pycache__" / ("test_small" + PYC_TAIL))
    assert code is not None
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    with pytest.raises(AssertionError, match=r"assert 3 == 2"):
        namespace["test_two"]()


class _Options:
    def __init__(self, **options: Any) -> None:
        self.options = options

    def getoption(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)


@pytest.mark.parametrize(
    ("options", "worker", "expected"),
    [
        ({"dist": "loadfile", "numprocesses": 2}, False, True),
        ({"dist": "no", "numprocesses": 0}, False, False),  # -n 0: one process
        ({"dist": "loadfile", "numprocesses": 2, "collectonly": True}, False, False),
        ({"dist": "loadfile", "numprocesses": 2}, True, False),  # a worker itself
        ({}, False, False),  # no pytest-xdist (conftest's stand-in options default to "no")
    ],
)
def test_only_a_controller_about_to_start_workers_precompiles(
    options: dict[str, Any], worker: bool, expected: bool
) -> None:
    config = _Options(**options)
    if worker:
        config.workerinput = {"workerid": "gw0"}  # type: ignore[attr-defined]
    assert workers_will_start(config) is expected  # type: ignore[arg-type]


def test_a_syntax_error_is_left_for_the_workers_import_to_report(
    request: pytest.FixtureRequest, tree: Path
) -> None:
    (tree / "tests" / "test_broken.py").write_text(textwrap.dedent("def test(:\n"))
    (tree / "pkg" / "broken.py").write_text("x = (\n")
    done = _run(request.config, tree)
    assert (done.ordinary, done.rewritten) == (4, 1)
    assert not list((tree / "tests" / "__pycache__").glob("test_broken*"))
