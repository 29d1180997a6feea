"""Bytecode for the test run, compiled once by pytest's controller before the workers start.

Every worker of `-n auto` imports the same modules: the project's, the test helpers, every test
module (each worker collects the whole suite), and the pytest plugins' packages (hypothesis,
xdist, platformdirs: pytest rewrites the asserts of every module of a distribution that declares
a `pytest11` entry point, `_mark_plugins_for_rewrite` in `_pytest/config/__init__.py`). Where
`PYTHONDONTWRITEBYTECODE` is set (these machines set it), no process writes a cache, so every
worker compiled all of it again in every run: per worker about 1.7 s of CPU rewriting the test
modules, 1.0 s rewriting the plugins' packages (pip's byte-compiling of site-packages writes
ordinary caches, which the rewriting import hook does not read) and 0.2-0.3 s compiling the
project (bench/README.md, "The test suite"). Where it is not set, the workers of a fresh clone
still compiled everything twice at once, racing to write the same caches.

`precompile(config)` writes those caches once, from the controller, before the workers start,
whatever `sys.dont_write_bytecode` says; a process reads a cache even when it may not write one:

- ordinary modules (the project's package, scripts/ that tests load by path, and the non-test
  modules under tests/): with
  `compileall.compile_file`, CPython's own cache (`importlib.util.cache_from_source`, so
  `PYTHONPYCACHEPREFIX` is honoured). The import system checks the source's mtime and size
  recorded in it on every import, so an edited source is never run from a stale cache.
- modules pytest rewrites (test modules, conftest files, the plugins' packages): with pytest's
  own functions, `_rewrite_test` then `_write_pyc` (`_pytest/assertion/rewrite.py`), the very
  code its import hook runs (`AssertionRewritingHook.exec_module`) when it may write; which files
  are rewritten is asked of the hook itself (`find_spec`, its import-protocol method, returns a
  spec only for a module it rewrites). Its cache is a checked-hash pyc named for the pytest
  version: `_read_pyc` compares a hash of the source's bytes on every import, so a stale cache is
  never used either. A cache already valid is left alone (the second run pays a stat and a hash).

These are private pytest functions (pinned in requirements/dev.lock); if a pytest release moves
them, `precompile` does nothing and says so once (the workers then compile as before). Nothing
is compiled with `-n 0` (one process compiles each module once anyway) or with `--assert=plain`.
"""

from __future__ import annotations

import compileall
import importlib.util
import multiprocessing
import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "sagemaker_rollouts"


@dataclass(frozen=True, slots=True)
class Compiled:
    """What `precompile` wrote: counts of files (a file whose cache was valid counts as kept)."""

    ordinary: int
    rewritten: int
    kept: int
    skipped: str | None = None
    """Why nothing was done, or None."""


def _walk(top: Path) -> Iterator[Path]:
    """Every .py file under `top`, following symlinked folders (sagemaker_rollouts/infra, ...)."""
    for folder, dirs, files in os.walk(top, followlinks=True):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
        for name in sorted(files):
            if name.endswith(".py"):
                yield Path(folder) / name


def _module_name(file: Path, top: Path) -> str:
    """Import name of `file` inside the package (or plain module) whose folder is `top`."""
    parts = list(file.relative_to(top.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _plugin_files(names: set[str]) -> Iterator[tuple[str, Path]]:
    """(module name, file) of every module of the packages and modules pytest marked for
    rewriting, found without importing them."""
    for name in sorted(names):
        if "." in name:
            continue  # finding a submodule would import its package: the worker compiles it
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
            continue
        origin = Path(spec.origin)
        if spec.submodule_search_locations is None:
            yield name, origin
            continue
        top = origin.parent
        for file in _walk(top):
            yield _module_name(file, top), file


def _test_files(top: Path) -> Iterator[tuple[str, Path]]:
    """(module name, file) of every .py file under tests/ (`top`); the hook decides which it
    rewrites. All of them, whatever the run selects: test modules import each other's tables."""
    for file in _walk(top):
        yield _module_name(file, top), file


def workers_will_start(config: pytest.Config) -> bool:
    """True in pytest-xdist's controller when it will start workers (`-n N`, N > 0, not
    `--collect-only`: xdist/plugin.py starts its DSession under the same condition)."""
    if hasattr(config, "workerinput"):
        return False
    dist = config.getoption("dist", "no")
    return dist != "no" and not config.getoption("collectonly", False)


def precompile(
    config: pytest.Config,
    root: Path = ROOT,
    ordinary: Sequence[Path] | None = None,
    plugins: Iterable[str] | None = None,
    processes: int = 1,
) -> Compiled:
    """Write the bytecode caches the workers will read (module docstring): for every .py file
    under `root`/tests, under the `ordinary` folders (default: the project's package folders and
    `root`/scripts) and in the `plugins` packages (default: those pytest marked for rewriting).
    The rewriting, most of the CPU (about 2.7 s of 3 s on a fresh clone), is shared by
    `processes` forked processes (as many as the workers about to start: the cores are idle
    until they do); the ordinary compiling runs meanwhile in this process. Returns what it did;
    never raises for a file it cannot compile or a folder it cannot write (the worker then
    compiles that module itself, as before)."""
    try:
        from _pytest.assertion.rewrite import (
            PYC_TAIL,
            AssertionRewritingHook,
            _read_pyc,
            get_cache_dir,
        )
    except ImportError as exc:
        return Compiled(0, 0, 0, skipped=f"pytest's rewrite functions moved: {exc}")

    hook = config.pluginmanager.rewrite_hook
    rewriting = isinstance(hook, AssertionRewritingHook)
    if ordinary is None:
        spec = importlib.util.find_spec(PACKAGE)
        package = [Path(p) for p in spec.submodule_search_locations or []] if spec else []
        ordinary = [*package, root / "scripts"]
    if plugins is None:
        plugins = set(hook._must_rewrite) if rewriting else set()  # pyright: ignore[reportPrivateUsage]
    plain = [f for top in ordinary for f in _walk(top)]
    rewrite: list[Path] = []
    kept = 0
    for name, file in [*_test_files(root / "tests"), *_plugin_files(set(plugins))]:
        # the folder the import system searches for `name`: a package's parent folder
        where = file.parent.parent if file.name == "__init__.py" else file.parent
        found = hook.find_spec(name, [str(where)]) if rewriting else None
        if found is None or found.loader is not hook or found.origin != str(file):
            if file.is_relative_to(root):
                plain.append(file)  # a test helper (or any test module under --assert=plain)
        elif _read_pyc(file, get_cache_dir(file) / (file.name[:-3] + PYC_TAIL)) is not None:
            kept += 1  # pytest's own check: a hash of the source's bytes
        else:
            rewrite.append(file)

    global _CONFIG
    _CONFIG = config
    rewrite.sort(key=lambda f: -f.stat().st_size)  # the big ones first: the processes end together
    pool = None
    if processes > 1 and len(rewrite) > 1 and "fork" in multiprocessing.get_all_start_methods():
        # fork: the children inherit this process's pytest config, which does not pickle
        context = multiprocessing.get_context("fork")
        pool = ProcessPoolExecutor(max_workers=min(processes, len(rewrite)), mp_context=context)
        results = pool.map(_rewrite, rewrite)
    else:
        results = map(_rewrite, rewrite)
    compiled = 0
    for file in plain:
        before = _cache_stamp(file)
        if compileall.compile_file(str(file), quiet=2, force=False):
            if before is None or _cache_stamp(file) != before:
                compiled += 1
            else:
                kept += 1
    rewritten = sum(results)
    if pool is not None:
        pool.shutdown()
    return Compiled(compiled, rewritten, kept)


_CONFIG: pytest.Config | None = None
"""The config `_rewrite` rewrites with (set before forking: a config does not pickle)."""


def _rewrite(file: Path) -> bool:
    """Rewrite one module's asserts and write pytest's cache of it, as pytest's import hook
    does when it may write (`AssertionRewritingHook.exec_module`); False if it could not."""
    from _pytest.assertion.rewrite import (
        PYC_TAIL,
        _rewrite_test,
        _write_pyc,
        assertstate_key,
        get_cache_dir,
        try_makedirs,
    )

    assert _CONFIG is not None
    cache_dir = get_cache_dir(file)
    if not try_makedirs(cache_dir):
        return False
    try:
        source_hash, code = _rewrite_test(file, _CONFIG)
    except (SyntaxError, ValueError, OSError):
        return False  # the worker's import reports it, with pytest's own message
    state = _CONFIG.stash[assertstate_key]
    return _write_pyc(state, code, source_hash, cache_dir / (file.name[:-3] + PYC_TAIL))


def _cache_stamp(file: Path) -> int | None:
    """mtime (ns) of `file`'s ordinary cache, None if there is none."""
    try:
        return os.stat(importlib.util.cache_from_source(str(file))).st_mtime_ns
    except (OSError, NotImplementedError):
        return None


__all__ = ["Compiled", "precompile", "workers_will_start"]
