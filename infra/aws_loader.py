"""Load pulumi_aws's service packages class by class: only the classes a program uses are executed.

Why: `import pulumi_aws` is cheap (every service package is a lazy stub), but the first use of a
service (`aws.sagemaker.Endpoint`) executes the whole service: its `__init__` does
`from .<resource> import *` for every resource of the service, and every resource module does
`from ._inputs import *` / `from . import outputs`, so each service's `_inputs.py` and `outputs.py`
(one class per input and output shape of the whole service: sagemaker's are 1.5 MB and 1.2 MB
of source) run in full. The canary stack uses 9 services, whose modules define about 3,300
classes; it needs about 600 of them (its resources' classes and every type they name, counted
after `rollout plan --stack canary`); executing the rest was most of `rollout plan`'s start-up
and most of a one-endpoint evaluation (bench/README.md).

What: a finder (`importlib.abc.MetaPathFinder`) for `pulumi_aws.<service>` packages and their
modules only (never `pulumi_aws` itself nor `pulumi_aws.config`) gives each of them a loader
that executes the module's imports and `__all__` as usual and leaves every top-level class and
function definition to be executed on first access (a PEP 562 module `__getattr__`). The code
executed is pulumi_aws's own source, unmodified: each top-level definition is compiled on its own
from the file's syntax tree (so line numbers and tracebacks point into the real file) and cached,
marshalled, under `cache_dir()`, keyed by the files' paths, sizes and mtimes, the pulumi_aws
version, the interpreter's bytecode magic number and its optimisation level (`-O`, `-OO`). Kept as the eager import has them:
- `from .x import *` inside a service (sibling modules and `_inputs`) binds each name on first
  use, from the sibling's literal `__all__`; a module without `__all__` (the service
  `__init__`) gets one listing every public name it would have had, so `import *` still
  imports everything (and then executes everything, as before);
- a definition is executed together with every name of its module it mentions (including
  string annotations such as `'EndpointDeploymentConfigArgs'` or `'outputs.X'`), so Pulumi's
  `get_type_hints` on a class finds its forward references in the module's globals, which it
  copies as a plain dict; cycles through forward references are fine (each name runs once);
- each class object is created once and stays bound in its module: `isinstance` and identity
  checks are unchanged; pulumi_aws's resource-module registration (`_utilities.register` in the
  root `__init__`) resolves classes with `getattr`, which reaches `__getattr__`;
- pulumi's own lazy stubs (`pulumi._utils.lazy_import`) call `find_spec` and then this loader's
  `exec_module` on the stub itself, so no module object is ever substituted in `sys.modules`.
Anything unexpected in a file (an unknown top-level statement, a parse failure, a sibling without
a literal `__all__`, no `pulumi-plugin.json` version) falls back to the ordinary import of that
module before any of its code runs: a module is either loaded lazily as a whole or eagerly, never
half-loaded. Faults of the cache only cost time: an unwritable, full, missing or misplaced cache
folder means compiling again in the next process (no partial files are left); a cache file that
does not read back as a plan of this layout (empty, cut short, damaged, another interpreter's) is
built again from the source; plans are written to a private temporary file renamed into place,
so concurrent writers (threads, processes, containers sharing the folder) never tear a file.
Threads: a class is executed once, under one lock held only while its own code runs (never
while a module is imported: see `_LazyNamespace.ensure`).

Who gets it:
- the project's own program (`__main__.py`, one evaluation per process) calls `install()` before
  the program runs (pulumi's stubs for services not loaded yet are switched to this loader);
- the offline runner (`simulator.mockrun.run_offline`: `rollout plan`, `rollout rehearse`, the
  tests) installs it for the length of each run with `installed()`;
- a user's own program that declares the `RolloutEndpoint` component is NOT changed: the
  component never touches the import system. The README shows the two lines a user can put at
  the top of their `__main__.py` to get the same effect.
Off switch: `SAGEMAKER_ROLLOUTS_AWS_LOADER=0` in the environment makes `install()` and `installed()`
do nothing (the ordinary import everywhere; `bench/bench_cli.py` times the product both ways).
Cost: the first run on a machine (or after upgrading pulumi_aws) parses and compiles the used
services' sources once to fill the cache (about 2.6 s of CPU and 11 MB of cache for the canary
stack's nine services); a service's module has an `__all__`/`__getattr__`/`__dir__` it did not
have before, and its `__dict__` (`vars()`) holds a class only once it was used (attribute
access, `getattr`, `dir`, `inspect.getmembers`, `import *`, pickling and `get_type_hints` all go
through `__getattr__` or the globals of a class already executed).
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import marshal
import os
import re
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any

FORMAT = 1
"""Bumped whenever the cached plan's layout changes."""

_ROOT = "pulumi_aws"
_NOT_LAZY = frozenset({"config"})  # pulumi_aws.config swaps its module class at import
_LOCK = threading.RLock()


def _new_lock_after_fork() -> None:
    """A child forked while another thread held `_LOCK` (executing a class) would wait for it
    forever: that thread does not exist in the child. Python re-creates its own import lock in
    a forked child the same way (`PyOS_AfterFork_Child`)."""
    global _LOCK
    _LOCK = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_after_fork)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ALL_LITERAL = re.compile(r"^__all__\s*=\s*(\[.*?\])", re.MULTILINE | re.DOTALL)


class _Unsupported(Exception):
    """A file this loader does not understand: the ordinary import handles it."""


def cache_dir() -> Path | None:
    """Where compiled plans are kept: `$SAGEMAKER_ROLLOUTS_CACHE`, else
    `$XDG_CACHE_HOME/sagemaker-rollouts` (default `~/.cache/sagemaker-rollouts`), sub-folder
    `pulumi_aws-classes`; None (nothing kept on disk) when there is no home to put it in.

    A relative or empty `XDG_CACHE_HOME` is ignored, as the XDG Base Directory Specification
    says ("If an implementation encounters a relative path in any of these variables it should
    consider the path invalid and ignore it"). Without `HOME` and without a passwd entry for this
    user (a container's arbitrary uid) `os.path.expanduser("~")` returns "~" unchanged: that
    relative path would put a folder named `~` in the project the program runs in, so there is
    no cache then (each process compiles what it uses again).
    """
    base = os.environ.get("SAGEMAKER_ROLLOUTS_CACHE")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        if not os.path.isabs(xdg):
            home = os.path.expanduser("~")
            if not os.path.isabs(home):
                return None
            xdg = os.path.join(home, ".cache")
        base = os.path.join(xdg, "sagemaker-rollouts")
    return Path(base) / "pulumi_aws-classes"


_headers: dict[Path, tuple[Any, ...]] = {}


def _cache_header(origin: str) -> tuple[Any, ...]:
    """(format, bytecode magic, pulumi_aws version, optimisation level) of the package holding
    origin."""
    package_dir = Path(origin).parent.parent
    header = _headers.get(package_dir)
    if header is None:
        try:
            plugin = json.loads((package_dir / "pulumi-plugin.json").read_text())
            version = str(plugin["version"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise _Unsupported(f"no pulumi-plugin.json version in {package_dir}") from exc
        # the optimisation level too: `-O` drops asserts and `-OO` docstrings from what
        # `compile` gives, which is why the ordinary import keeps `.opt-1.pyc`/`.opt-2.pyc` apart
        optimize = sys.flags.optimize
        header = (FORMAT, importlib.util.MAGIC_NUMBER, version, optimize)
        _headers[package_dir] = header
    return header


def _stat(path: str) -> tuple[str, int, int]:
    st = os.stat(path)
    return (path, st.st_size, st.st_mtime_ns)


# A plan: (sources, prelude code, defs {name: (code, deps)}, where {name: sibling or ""},
# submodules, public names or None).
Plan = tuple[
    tuple[tuple[str, int, int], ...],
    bytes,
    dict[str, tuple[bytes, tuple[str, ...]]],
    dict[str, str],
    tuple[str, ...],
    "tuple[str, ...] | None",
]


def _sibling_all(path: Path) -> tuple[str, ...]:
    """A sibling module's literal `__all__` (read without executing it)."""
    text = path.read_text(encoding="utf-8")
    found = _ALL_LITERAL.search(text)
    if found is None:
        raise _Unsupported(f"{path} has no literal __all__")
    try:
        names: object = ast.literal_eval(found.group(1))
    except (ValueError, SyntaxError) as exc:
        raise _Unsupported(f"{path}: __all__ is not a literal list") from exc
    if not isinstance(names, list):
        raise _Unsupported(f"{path}: __all__ is not a list")
    out = tuple(str(n) for n in names if isinstance(n, str))
    if len(out) != len(names):  # pyright: ignore[reportUnknownArgumentType]
        raise _Unsupported(f"{path}: __all__ is not a list of names")
    return out


def _bound_names(stmt: ast.stmt) -> list[str]:
    """Names a prelude statement binds in the module (imports, `__all__`, version checks)."""
    if isinstance(stmt, ast.Import):
        return [a.asname or a.name.split(".")[0] for a in stmt.names]
    if isinstance(stmt, ast.ImportFrom):
        return [a.asname or a.name for a in stmt.names]
    if isinstance(stmt, ast.If):
        return [n for s in (*stmt.body, *stmt.orelse) for n in _bound_names(s)]
    if isinstance(stmt, ast.Assign):
        return [t.id for t in stmt.targets if isinstance(t, ast.Name)]
    return []


def _check_prelude(stmt: ast.stmt) -> None:
    if isinstance(stmt, ast.Import | ast.ImportFrom):
        if any(a.name == "*" for a in stmt.names):
            raise _Unsupported(f"line {stmt.lineno}: a star import that is not a sibling's")
        return
    if isinstance(stmt, ast.If):
        for s in (*stmt.body, *stmt.orelse):
            _check_prelude(s)
        return
    if isinstance(stmt, ast.Assign):
        targets = [t.id for t in stmt.targets if isinstance(t, ast.Name)]
        if targets == ["__all__"] and len(stmt.targets) == 1:
            return
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
        return
    raise _Unsupported(f"line {stmt.lineno}: {type(stmt).__name__} at the top level")


def _docstrings(node: ast.AST) -> set[int]:
    """ids of the docstring constants under node (their words are not references)."""
    out: set[int] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and sub.body:
            first = sub.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def _mentions(node: ast.AST) -> set[str]:
    """Every name the definition mentions: names in its code and identifiers inside its string
    constants (forward references such as `'outputs.EndpointDeploymentConfig'`)."""
    skip = _docstrings(node)
    found: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            found.add(sub.id)
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str) and id(sub) not in skip:
            found.update(_IDENT.findall(sub.value))
    return found


def _build_plan(origin: str) -> Plan:
    path = Path(origin)
    source = path.read_bytes()
    try:
        tree = ast.parse(source, filename=origin)
    except SyntaxError as exc:
        raise _Unsupported(f"{origin} does not parse") from exc
    package_dir = path.parent
    prelude: list[ast.stmt] = []
    prelude_names: set[str] = set()
    def_nodes: dict[str, ast.stmt] = {}
    where: dict[str, str] = {}
    star_sources: list[str] = []
    for stmt in tree.body:
        if isinstance(stmt, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            if stmt.name in def_nodes:
                raise _Unsupported(f"{origin}: {stmt.name} defined twice")
            def_nodes[stmt.name] = stmt
            where[stmt.name] = ""
        elif (
            isinstance(stmt, ast.ImportFrom)
            and stmt.level == 1
            and stmt.module is not None
            and "." not in stmt.module
            and [a.name for a in stmt.names] == ["*"]
        ):
            sibling = package_dir / f"{stmt.module}.py"
            if not sibling.is_file():
                raise _Unsupported(f"{origin}: star import of {stmt.module}, not a module file")
            star_sources.append(str(sibling))
            for name in _sibling_all(sibling):
                where[name] = stmt.module
        else:
            _check_prelude(stmt)
            prelude.append(stmt)
            prelude_names.update(_bound_names(stmt))
    clash = prelude_names & where.keys()
    if clash:
        raise _Unsupported(f"{origin}: {sorted(clash)} bound by an import and a definition")
    defs: dict[str, tuple[bytes, tuple[str, ...]]] = {}
    for name, node in def_nodes.items():
        code = compile(ast.Module(body=[node], type_ignores=[]), origin, "exec")
        deps = tuple(sorted((_mentions(node) & where.keys()) - {name}))
        defs[name] = (marshal.dumps(code), deps)
    prelude_code = compile(ast.Module(body=prelude, type_ignores=[]), origin, "exec")
    submodules = tuple(sorted({Path(s).stem for s in star_sources}))
    public: tuple[str, ...] | None = None
    if "__all__" not in prelude_names:
        names = set(prelude_names) | where.keys() | set(submodules)
        public = tuple(sorted(n for n in names if not n.startswith("_")))
    sources = tuple(_stat(p) for p in (origin, *star_sources))
    return (sources, marshal.dumps(prelude_code), defs, where, submodules, public)


def _plan_file(origin: str) -> Path | None:
    folder = cache_dir()
    if folder is None:
        return None
    return folder / (hashlib.sha1(origin.encode()).hexdigest()[:24] + ".plan")


def _checked(plan: object) -> Plan:
    """plan if it has the layout `_build_plan` gives (else ValueError): a cache file with the
    right header but another layout (a build of this loader that forgot to bump FORMAT, a disk
    that returned other bytes) is rebuilt, never half-used."""
    if not (isinstance(plan, tuple) and len(plan) == 6):  # pyright: ignore[reportUnknownArgumentType]
        raise ValueError("not a plan")
    sources, prelude, defs, where, submodules, public = plan  # pyright: ignore[reportUnknownVariableType]
    ok = (
        isinstance(sources, tuple)
        and all(
            isinstance(s, tuple) and len(s) == 3 and isinstance(s[0], str)  # pyright: ignore[reportUnknownArgumentType]
            for s in sources  # pyright: ignore[reportUnknownVariableType]
        )
        and isinstance(prelude, bytes)
        and isinstance(marshal.loads(prelude), CodeType)
        and isinstance(defs, dict)
        and all(
            isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], bytes)  # pyright: ignore[reportUnknownArgumentType]
            for v in defs.values()  # pyright: ignore[reportUnknownVariableType]
        )
        and isinstance(where, dict)
        and all(v == "" or isinstance(v, str) for v in where.values())  # pyright: ignore[reportUnknownVariableType]
        and all(k in defs for k, v in where.items() if v == "")  # pyright: ignore[reportUnknownVariableType]
        and isinstance(submodules, tuple)
        and (public is None or isinstance(public, tuple))
    )
    if not ok:
        raise ValueError("not a plan")
    return plan  # pyright: ignore[reportReturnType]


def _load_plan(origin: str) -> Plan:
    """The plan of origin: from the cache when its header and every source's stat match, else
    built from the source and written to the cache (atomically: a private temporary file in the
    cache folder renamed over the plan, so a reader sees the old file or the new one, whole)."""
    header = _cache_header(origin)
    cached = _plan_file(origin)
    if cached is not None:
        try:
            stored_header, plan = marshal.loads(cached.read_bytes())
            if stored_header == header:
                plan = _checked(plan)
                if all(_stat(s[0]) == tuple(s) for s in plan[0]):
                    _mark_used(cached)
                    return plan
        except Exception:  # unreadable, damaged, another layout: built again below
            pass
    plan = _build_plan(origin)
    if cached is not None:
        _write_atomically(cached, marshal.dumps((header, plan)))
    return plan


def _write_atomically(path: Path, data: bytes) -> None:
    """Write data to path through a temporary file of its own (`tempfile.mkstemp`: unique per
    writer, whatever the pid namespace or thread) renamed over path; on any OSError (read-only
    or full disk, the folder is a file) nothing is left behind and the caller carries on."""
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.stem + ".", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
        tmp = None
        _prune(path.parent)
    except OSError:
        pass  # the plan is used from memory, built again by the next process
    finally:
        if tmp is not None:
            with suppress(OSError):
                os.unlink(tmp)


STALE_TMP_S = 3600
"""A temporary file older than this was left by a writer that died (SIGKILL, a CI timeout)."""
STALE_PLAN_S = 30 * 24 * 3600
"""A plan not used for this long is removed (its venv may be gone; if not, it is built
again once): each venv path has its own plans, so a CI runner making a venv per job would
otherwise fill the disk."""


def _mark_used(plan_file: Path) -> None:
    """Bring a plan's mtime up to now when it is over a day old, so that `_prune` removes plans
    not used (rather than not rewritten) for `STALE_PLAN_S`; a read-only cache is left as is."""
    import time

    try:
        if time.time() - plan_file.stat().st_mtime > 24 * 3600:
            os.utime(plan_file)
    except OSError:
        pass


def _prune(folder: Path) -> None:
    """Remove stale temporary files and plans from folder. Called after a plan is written (the
    rare, slow path), never when plans are only read; errors are ignored (another process may
    be pruning too)."""
    import time

    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        limit = (
            STALE_TMP_S
            if entry.name.endswith(".tmp")
            else STALE_PLAN_S
            if entry.name.endswith(".plan")
            else None
        )
        try:
            if limit is not None and now - entry.stat(follow_symlinks=False).st_mtime > limit:
                os.unlink(entry.path)
        except OSError:
            pass


class _LazyNamespace:
    """The materialising side of one lazily loaded module."""

    def __init__(self, module: ModuleType, plan: Plan, origin: str) -> None:
        self.ns = module.__dict__
        self.name = module.__name__
        self.origin = origin
        is_package = "__path__" in module.__dict__
        self.package = module.__name__ if is_package else module.__name__.rpartition(".")[0]
        self.defs = plan[2]
        self.where = plan[3]
        self.submodules = frozenset(plan[4])
        self.local = threading.local()  # .in_progress: this thread's names under way (cycles)

    def ensure(self, name: str) -> None:
        """Bind name in the module (with every module name its definition mentions).

        No lock is held while another module is imported (a sibling's names, a dependency's):
        a module the loader left to the ordinary import runs its `from ._inputs import *` under
        Python's per-module import lock and asks this loader for classes, so a thread holding
        `_LOCK` while waiting for that module's import lock would deadlock with it. `_LOCK` is
        held only while one definition's own code runs, so each class is executed once.
        """
        if name in self.ns:
            return
        source = self.where.get(name)
        if source is None:
            return
        if source:  # a sibling's name: the sibling binds it once; binding it here is idempotent
            sibling = importlib.import_module(f"{self.package}.{source}")
            try:
                value = getattr(sibling, name)
            except AttributeError as exc:  # as "no such name" it would be read as "no X here"
                raise ImportError(
                    f"{sibling.__name__} lists {name!r} in its __all__ but has no such "
                    f"attribute (`from .{source} import *` in {self.name}): {exc}",
                    name=self.name,
                    path=self.origin,
                ) from exc
            self.ns.setdefault(name, value)
            return
        in_progress: set[str] | None = getattr(self.local, "in_progress", None)
        if in_progress is None:
            in_progress = self.local.in_progress = set()
        if name in in_progress:
            return  # a cycle through forward references: the outer call executes it
        in_progress.add(name)
        try:
            for dep in self.defs[name][1]:
                self.ensure(dep)
            code = self._code(name)
            with _LOCK:
                if name not in self.ns:
                    try:
                        exec(code, self.ns)  # pulumi_aws's own code, unmodified
                    except AttributeError as exc:
                        # Raised out of the module's __getattr__, an AttributeError would read
                        # as "no such name": `from m import X` turns it into "cannot import
                        # name" without the cause, `hasattr` into False. The ordinary import
                        # would have failed with it: it stays the cause, with its traceback
                        # into pulumi_aws's file and line.
                        raise ImportError(
                            f"executing {name} of {self.name} ({self.origin}) raised "
                            f"AttributeError: {exc}",
                            name=self.name,
                            path=self.origin,
                        ) from exc
        finally:
            in_progress.discard(name)

    def _code(self, name: str) -> CodeType:
        """name's compiled definition; a cached one that does not unmarshal to code (a damaged
        cache file) is compiled again from the source file."""
        try:
            code = marshal.loads(self.defs[name][0])
            if isinstance(code, CodeType):
                return code
        except (ValueError, EOFError, TypeError):
            pass
        fresh = _build_plan(self.origin)
        _write_atomically_for(self.origin, fresh)
        self.defs = fresh[2]
        if name not in self.defs:
            raise ImportError(
                f"{self.origin} changed while {self.name} was in use: it no longer defines "
                f"{name}; run the program again"
            )
        return marshal.loads(self.defs[name][0])

    def getattr(self, name: str) -> Any:
        self.ensure(name)
        try:
            return self.ns[name]
        except KeyError:
            pass
        if name in self.submodules:
            return importlib.import_module(f"{self.package}.{name}")
        raise AttributeError(f"module {self.name!r} has no attribute {name!r}")

    def dir(self) -> list[str]:
        return sorted(set(self.ns) | self.where.keys() | self.submodules)


def _write_atomically_for(origin: str, plan: Plan) -> None:
    cached = _plan_file(origin)
    if cached is not None:
        try:
            header = _cache_header(origin)
        except _Unsupported:
            return
        _write_atomically(cached, marshal.dumps((header, plan)))


class _Loader(importlib.machinery.SourceFileLoader):
    """Executes a pulumi_aws service module lazily (see the module docstring); any file it does
    not understand is executed by the ordinary `SourceFileLoader`."""

    def exec_module(self, module: ModuleType) -> None:
        origin = self.get_filename(module.__name__)
        try:
            plan = _load_plan(origin)
            prelude = marshal.loads(plan[1])
            if not isinstance(prelude, CodeType):
                raise _Unsupported(f"{origin}: the cached prelude is not code")
        except Exception:  # anything unexpected: the ordinary import, nothing run yet
            super().exec_module(module)
            return
        lazy = _LazyNamespace(module, plan, origin)
        ns = module.__dict__
        # `importlib.reload` executes the module again in its own namespace: the ordinary
        # import's definitions run again, so the names this loader binds are forgotten too.
        for name in plan[3]:
            ns.pop(name, None)
        ns["__getattr__"] = lazy.getattr
        ns["__dir__"] = lazy.dir
        exec(prelude, ns)  # the module's own imports and __all__
        if plan[5] is not None:
            ns["__all__"] = list(plan[5])


def _wanted(fullname: str, root: str = _ROOT) -> bool:
    parts = fullname.split(".")
    return parts[0] == root and len(parts) in (2, 3) and parts[1] not in _NOT_LAZY


class _Finder(importlib.abc.MetaPathFinder):
    """Hands `<root>.<service>[.<module>]` (root: `pulumi_aws`) to `_Loader`; everything else
    is left alone."""

    def __init__(self, root: str = _ROOT) -> None:
        self.root = root

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not _wanted(fullname, self.root):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            return None
        if len(fullname.split(".")) == 2 and spec.submodule_search_locations is None:
            return None  # a root-level module of pulumi_aws (its `_inputs`), loaded eagerly
        assert spec.origin is not None
        spec.loader = _Loader(fullname, spec.origin)
        return spec


_FINDER = _Finder()
OFF_SWITCH = "SAGEMAKER_ROLLOUTS_AWS_LOADER"
"""Set to `0` in the environment: no lazy loading (`install()` and `installed()` do nothing)."""


def _switched_off() -> bool:
    return os.environ.get(OFF_SWITCH, "").strip() == "0"


def _stubs() -> Iterator[tuple[str, ModuleType]]:
    """pulumi's lazy stubs of service packages created before the finder was installed and not
    loaded yet (their class is still pulumi's `_LazyModule`)."""
    try:
        from pulumi._utils import _LazyModule  # pyright: ignore[reportPrivateUsage]
    except ImportError:
        return
    for name, module in list(sys.modules.items()):
        if type(module) is _LazyModule and _wanted(name):
            yield name, module


def _swap_stub_loaders(make: Callable[[str, Any], Any]) -> list[tuple[Any, Any]]:
    swapped: list[tuple[Any, Any]] = []
    for name, module in _stubs():
        spec = module.__spec__  # an introspection attribute: does not trigger the load
        if spec is None:
            continue
        new = make(name, spec)
        if new is not None and new is not spec.loader:
            swapped.append((spec, spec.loader))
            spec.loader = new
    return swapped


def _lazy_loader_for(name: str, spec: Any) -> Any:
    if type(spec.loader) is importlib.machinery.SourceFileLoader and spec.origin:
        if len(name.split(".")) == 2 and spec.submodule_search_locations is None:
            return None
        return _Loader(name, spec.origin)
    return None


def install() -> None:
    """Load pulumi_aws's service packages class by class for the rest of this process.

    Idempotent. Service packages already loaded stay as they are; pulumi's lazy stubs of
    packages not loaded yet are switched to the lazy loader. Nothing with
    `SAGEMAKER_ROLLOUTS_AWS_LOADER=0`.
    """
    if _switched_off():
        return
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
    _swap_stub_loaders(_lazy_loader_for)


def is_installed() -> bool:
    """Whether this process loads pulumi_aws's service packages class by class now."""
    return _FINDER in sys.meta_path


def uninstall() -> None:
    """Undo `install()`: later service packages load the ordinary way (those already loaded class
    by class stay so; pulumi's stubs switched by `install()` and not loaded yet load lazily)."""
    with _LOCK:
        if _FINDER in sys.meta_path:
            sys.meta_path.remove(_FINDER)


@contextmanager
def installed() -> Iterator[None]:
    """`install()` for the length of the block: afterwards the finder is removed and stubs not
    loaded meanwhile get their ordinary loader back (modules loaded lazily meanwhile stay so)."""
    if _FINDER in sys.meta_path or _switched_off():
        yield
        return
    sys.meta_path.insert(0, _FINDER)
    swapped = _swap_stub_loaders(_lazy_loader_for)
    try:
        yield
    finally:
        with _LOCK:
            if _FINDER in sys.meta_path:
                sys.meta_path.remove(_FINDER)
            for spec, loader in swapped:
                if isinstance(spec.loader, _Loader):
                    spec.loader = loader
