"""pulumi_aws's service packages loaded class by class (infra/aws_loader.py): what a program sees
is what the ordinary import gives it, only the classes it uses are executed, and anything the
loader does not understand is imported the ordinary way.

The speed is measured in bench/bench_cli.py and bench/bench_program.py; these tests check the
behaviour. Real pulumi_aws runs in fresh interpreters (this test process may have loaded its
services already); the loader's rules are pinned on a small package of the same shape.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sagemaker_rollouts.infra import aws_loader

ROOT = Path(__file__).resolve().parents[2]
STACKS = sorted(ROOT.glob("Pulumi.*.yaml"))


def python(code: str, *args: str) -> Any:
    """Run code in a fresh interpreter at the repository root; its last stdout line as JSON.
    The loader's cache is the user's, as `rollout plan` has it (filled once per machine)."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


# Every sample stack under the offline runner (which installs the loader), as comparable data:
# every recorded field of every resource, the wire inputs and outputs the engine would see, the
# stack outputs, warnings and error. argv: "lazy" or the comma-separated services to import the
# ordinary way before the runs (the runner then has nothing left to load lazily), stack files.
RECORD = """
import dataclasses, importlib, json, sys
from pathlib import Path
services = [s for s in sys.argv[1].split(",") if s and s != "lazy"]
import pulumi_aws
for svc in services:  # any attribute but the introspection ones makes pulumi's stub load it
    getattr(importlib.import_module("pulumi_aws." + svc), "__no_such_name__", None)
from google.protobuf import json_format
from sagemaker_rollouts.simulator.mockrun import redact, run_offline

def wire(message):
    return None if message is None else json_format.MessageToDict(message)

runs = {}
for stack in sys.argv[2:]:
    run = run_offline(Path(stack))
    rows = []
    for r in run.resources:
        row = {f.name: getattr(r, f.name) for f in dataclasses.fields(r)}
        row.update(inputs=redact(r.inputs), depends_on=sorted(r.depends_on),
                   wire_inputs=wire(r.wire_inputs), wire_outputs=wire(r.wire_outputs))
        rows.append(row)
    runs[Path(stack).name] = {"resources": rows, "outputs": redact(run.outputs),
                              "warnings": run.warnings, "error": repr(run.error)}
services = sorted(n.split(".")[1] for n, m in sys.modules.items()
                  if n.count(".") == 1 and n.startswith("pulumi_aws.") and "__path__" in m.__dict__
                  and type(m).__name__ == "module")
lazy = sorted(n for n, m in sys.modules.items()
              if n.startswith("pulumi_aws.") and "__getattr__" in m.__dict__)
print(json.dumps({"runs": runs, "services": services, "lazy": lazy}, default=repr, sort_keys=True))
"""


def test_every_sample_stack_records_the_same_with_and_without_the_loader() -> None:
    lazy = python(RECORD, "lazy", *map(str, STACKS))
    used = lazy["services"]
    assert {"sagemaker", "cloudwatch", "iam", "lambda_", "s3", "kms", "sns"} <= set(used)
    # the loader did the loading: every used service and its type modules came through it
    for svc in used:
        assert f"pulumi_aws.{svc}" in lazy["lazy"]
    assert "pulumi_aws.sagemaker._inputs" in lazy["lazy"]
    assert "pulumi_aws.sagemaker.outputs" in lazy["lazy"]
    eager = python(RECORD, ",".join(used), *map(str, STACKS))
    assert eager["lazy"] == [], "the ordinary side loaded something through the loader"
    assert eager["services"] == used
    assert set(lazy["runs"]) == {s.name for s in STACKS}
    for stack in lazy["runs"]:
        assert lazy["runs"][stack] == eager["runs"][stack], stack
        assert lazy["runs"][stack]["resources"], stack


# The real pulumi_aws: names, classes executed, `import *` and isinstance, in one fresh process.
REAL = """
import json, sys
from sagemaker_rollouts.infra import aws_loader
aws_loader.install()
import pulumi_aws as aws
inputs = sys.modules.get("pulumi_aws.sagemaker._inputs")
out = {"inputs_before": inputs is not None}
sm = aws.sagemaker                               # a reference to pulumi's stub, kept
Endpoint = sm.Endpoint
inputs = sys.modules["pulumi_aws.sagemaker._inputs"]
name = "EndpointConfigurationProductionVariantArgs"
out["executed_before"] = name in vars(inputs)
out["unrelated_before"] = "AlgorithmTrainingSpecificationArgs" in vars(inputs)
Variant = getattr(sm, name)
out["executed_after"] = name in vars(inputs)
out["same_class"] = Variant is getattr(inputs, name) and Variant.__module__ == inputs.__name__
variant = Variant(model_name="m", variant_name="v", initial_instance_count=1)
from pulumi_aws.sagemaker import EndpointConfigurationProductionVariantArgs as Imported
out["isinstance"] = isinstance(variant, Imported) and isinstance(variant, Variant)
out["mro_resource"] = issubclass(Endpoint, __import__("pulumi").CustomResource)
ns = {}
exec("from pulumi_aws.sagemaker import *", ns)
out["star_names"] = sorted(k for k in ns if k != "__builtins__")
out["star_same"] = ns[name] is Variant and ns["Endpoint"] is Endpoint
ns2 = {}
exec("from pulumi_aws.sagemaker.outputs import *", ns2)
out["outputs_star"] = sorted(k for k in ns2 if k != "__builtins__")
out["dir_has"] = "EndpointConfiguration" in dir(sm)
try:
    sm.NoSuchThing
except AttributeError as exc:
    out["missing"] = str(exc)
print(json.dumps(out))
"""

EAGER_NAMES = """
import json
ns = {}
exec("from pulumi_aws.sagemaker import *", ns)
import pulumi_aws.sagemaker.outputs as outputs
print(json.dumps({"star_names": sorted(k for k in ns if k != "__builtins__"),
                  "outputs_star": sorted(outputs.__all__)}))
"""


# The types Pulumi resolves from annotations (get_type_hints with a copy of the module's globals)
# when it serializes inputs and deserializes a resource's outputs, for classes whose forward
# references name other classes of their module or of `outputs`: first thing in the process, so
# only what the loader bound along with each class is there to resolve them.
HINTS = """
import json, sys
from sagemaker_rollouts.infra import aws_loader
if sys.argv[1] == "lazy":
    aws_loader.install()
import pulumi_aws as aws
from pulumi import _types
sm = aws.sagemaker
out = {
    "resource": _types.resource_types(sm.EndpointConfiguration),
    "endpoint": _types.resource_types(sm.Endpoint),
    "output": _types.output_type_types(sm.outputs.EndpointConfigurationProductionVariant),
    "input": _types.input_type_types(sm.EndpointConfigurationProductionVariantArgs),
    "alarm": _types.resource_types(aws.cloudwatch.MetricAlarm),
    "lazy": "__getattr__" in vars(sys.modules["pulumi_aws.sagemaker._inputs"]),
}
print(json.dumps(out, default=repr, sort_keys=True))
"""


def test_pulumi_resolves_the_same_types_for_classes_loaded_on_first_access() -> None:
    lazy, eager = python(HINTS, "lazy"), python(HINTS, "ordinary")
    assert lazy.pop("lazy") is True and eager.pop("lazy") is False
    assert lazy == eager
    assert "outputs.EndpointConfigurationProductionVariant" in str(lazy["resource"])


def test_real_pulumi_aws_classes_load_on_first_access_and_import_star_and_isinstance_hold() -> None:
    lazy = python(REAL)
    eager = python(EAGER_NAMES)
    assert lazy["inputs_before"] is False
    assert lazy["executed_before"] is False  # Endpoint's module does not mention it
    assert lazy["unrelated_before"] is False
    assert lazy["executed_after"] is True
    assert lazy["same_class"] is True
    assert lazy["isinstance"] is True
    assert lazy["mro_resource"] is True
    assert lazy["star_same"] is True
    assert lazy["dir_has"] is True
    assert lazy["missing"] == "module 'pulumi_aws.sagemaker' has no attribute 'NoSuchThing'"
    # `import *` gives every name the ordinary import gives; the lazy package also lists its
    # resource modules (which the ordinary package binds as a side effect of importing them)
    assert set(eager["star_names"]) <= set(lazy["star_names"])
    extra = set(lazy["star_names"]) - set(eager["star_names"])
    assert extra <= {"__all__", "endpoint"} | {n for n in extra if n.islower()}
    assert lazy["outputs_star"] == eager["outputs_star"]


# A small package of pulumi_aws's shape, under a root name of its own, to pin the loader's rules.
_roots = itertools.count()

SERVICE_INIT = """
import typing
from .widget import *
from ._inputs import *
from . import outputs
"""
WIDGET = """
from . import outputs
from ._inputs import *
from .. import LOG

__all__ = ['WidgetArgs', 'Widget']

class WidgetArgs:
    size: 'SizeArgs'
    LOG.append('WidgetArgs')

class Widget:
    LOG.append('Widget')
    def state(self) -> 'outputs.WidgetState':
        return outputs.WidgetState()
"""
INPUTS = """
from .. import LOG

__all__ = ['SizeArgs', 'UnitArgs', 'UnusedArgs', 'LoopArgs']

class SizeArgs:
    unit: 'UnitArgs'
    LOG.append('SizeArgs')

class UnitArgs:
    LOG.append('UnitArgs')

class LoopArgs:
    again: 'LoopArgs'
    other: 'UnusedArgs'
    LOG.append('LoopArgs')

class UnusedArgs:
    back: 'LoopArgs'
    LOG.append('UnusedArgs')
"""
OUTPUTS = """
from .. import LOG

__all__ = ['WidgetState']

class WidgetState:
    LOG.append('WidgetState')
"""


@pytest.fixture
def fake_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    root = f"fakeaws{next(_roots)}_{os.getpid()}"
    pkg = tmp_path / root
    (pkg / "svc").mkdir(parents=True)
    (pkg / "__init__.py").write_text("LOG = []\n")
    (pkg / "pulumi-plugin.json").write_text('{"version": "1.0.0"}')
    for name, text in {
        "__init__": SERVICE_INIT,
        "widget": WIDGET,
        "_inputs": INPUTS,
        "outputs": OUTPUTS,
    }.items():
        (pkg / "svc" / f"{name}.py").write_text(textwrap.dedent(text))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("SAGEMAKER_ROLLOUTS_CACHE", str(tmp_path / "cache"))
    finder = aws_loader._Finder(root)  # pyright: ignore[reportPrivateUsage]
    sys.meta_path.insert(0, finder)
    try:
        yield root, pkg
    finally:
        sys.meta_path.remove(finder)
        for name in [n for n in sys.modules if n == root or n.startswith(root + ".")]:
            del sys.modules[name]


def _import(root: str) -> tuple[Any, list[str]]:
    import importlib

    top = importlib.import_module(root)
    return importlib.import_module(f"{root}.svc"), top.LOG


def test_a_class_runs_on_first_access_with_the_names_it_mentions_and_nothing_else(
    fake_root: tuple[str, Path],
) -> None:
    svc, log = _import(fake_root[0])
    assert log == []  # the package and its type modules are imported; no class has run
    widget = svc.Widget
    assert log == ["Widget"]  # its module mentions WidgetArgs only in __all__
    assert svc.SizeArgs is sys.modules[f"{fake_root[0]}.svc._inputs"].SizeArgs
    # SizeArgs ran with UnitArgs, which its annotation names; UnusedArgs never ran
    assert "UnitArgs" in log and "UnusedArgs" not in log and "LoopArgs" not in log
    assert widget().state().__class__.__name__ == "WidgetState"
    assert isinstance(widget(), svc.widget.Widget)


def test_forward_references_resolve_from_the_module_globals_including_cycles(
    fake_root: tuple[str, Path],
) -> None:
    import typing

    svc, log = _import(fake_root[0])
    loop = svc.LoopArgs
    assert sorted(log) == ["LoopArgs", "UnusedArgs"]  # each once, though they name each other
    inputs = sys.modules[f"{fake_root[0]}.svc._inputs"]
    # what pulumi does: get_type_hints with a plain copy of the module's globals
    hints = typing.get_type_hints(loop, globalns=dict(vars(inputs)))
    assert hints == {"again": loop, "other": svc.UnusedArgs}
    widget_args = svc.WidgetArgs
    hints = typing.get_type_hints(widget_args, globalns=dict(vars(svc.widget)))
    assert hints == {"size": svc.SizeArgs}


def test_import_star_gives_every_name_the_ordinary_import_gives(
    fake_root: tuple[str, Path],
) -> None:
    root = fake_root[0]
    ns: dict[str, Any] = {}
    exec(f"from {root}.svc import *", ns)
    names = {k for k in ns if k != "__builtins__"}
    assert {"Widget", "WidgetArgs", "SizeArgs", "UnitArgs", "UnusedArgs", "LoopArgs"} <= names
    assert {"outputs", "typing", "widget"} <= names
    assert not any(n.startswith("_") for n in names)


@pytest.mark.parametrize(
    ("module", "statement"),
    [
        ("_inputs", "COUNT = 3"),  # a top-level assignment other than __all__
        ("_inputs", "for _ in []: pass"),
        ("widget", "from .elsewhere import *"),  # a star import of no sibling file
        ("__init__", "from .nomodule import *"),
    ],
)
def test_a_file_the_loader_does_not_understand_is_imported_the_ordinary_way(
    fake_root: tuple[str, Path], module: str, statement: str
) -> None:
    root, pkg = fake_root
    path = pkg / "svc" / f"{module}.py"
    if "nomodule" in statement or "elsewhere" in statement:
        # the sibling exists as a package, not a module file: allowed by Python, not by the loader
        name = statement.split(".")[1].split()[0]
        (pkg / "svc" / name).mkdir()
        (pkg / "svc" / name / "__init__.py").write_text("__all__ = []\n")
    path.write_text(path.read_text() + "\n" + statement + "\n")
    svc, log = _import(root)
    assert svc.Widget.__name__ == "Widget"
    assert svc.SizeArgs.__name__ == "SizeArgs"
    loaded = sys.modules[f"{root}.svc.{module}"] if module != "__init__" else svc
    assert "__getattr__" not in vars(loaded)  # ordinary: everything ran at import
    if module == "_inputs":
        assert {"SizeArgs", "UnitArgs", "UnusedArgs", "LoopArgs"} <= set(log)


def test_the_cached_plan_follows_the_source_file(fake_root: tuple[str, Path]) -> None:
    root, pkg = fake_root
    svc, _ = _import(root)
    assert svc.UnitArgs.__name__ == "UnitArgs"
    assert svc.Widget.__name__ == "Widget"
    plans = list((Path(os.environ["SAGEMAKER_ROLLOUTS_CACHE"]) / "pulumi_aws-classes").iterdir())
    assert len(plans) == 4  # the package, widget, _inputs, outputs
    for name in [n for n in sys.modules if n == root or n.startswith(root + ".")]:
        del sys.modules[name]
    inputs = pkg / "svc" / "_inputs.py"
    inputs.write_text(
        inputs.read_text().replace("class UnitArgs:", "class UnitArgs:\n    mark = 2")
    )
    svc, _ = _import(root)
    assert svc.UnitArgs.mark == 2


def test_installed_is_undone_and_leaves_the_import_system_as_it_found_it() -> None:
    was = aws_loader.is_installed()
    aws_loader.uninstall()
    before = list(sys.meta_path)
    try:
        with aws_loader.installed():
            assert sys.meta_path[0] is aws_loader._FINDER  # pyright: ignore[reportPrivateUsage]
        assert sys.meta_path == before
        aws_loader.install()
        aws_loader.install()  # idempotent
        assert aws_loader.is_installed() and len(sys.meta_path) == len(before) + 1
        aws_loader.uninstall()
        assert sys.meta_path == before
    finally:
        if was:
            aws_loader.install()


def test_the_off_switch_leaves_the_import_system_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(aws_loader.OFF_SWITCH, "0")
    if aws_loader.is_installed():  # another test's program left it on in this worker
        monkeypatch.setattr(
            sys, "meta_path", [f for f in sys.meta_path if f is not aws_loader._FINDER]
        )  # pyright: ignore[reportPrivateUsage]
    before = list(sys.meta_path)
    with aws_loader.installed():
        assert sys.meta_path == before
    aws_loader.install()
    assert sys.meta_path == before


def test_threads_asking_for_one_class_at_once_get_one_class_executed_once(
    fake_root: tuple[str, Path],
) -> None:
    import threading

    svc, log = _import(fake_root[0])
    start = threading.Barrier(8)
    got: list[object] = []

    def ask() -> None:
        start.wait()
        got.append(svc.SizeArgs)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8 and all(g is got[0] for g in got)
    assert sorted(log) == ["SizeArgs", "UnitArgs"]


# --- Faults: each ends in the ordinary import (correct, slower) or a clear error, never a wrong
# class or a hang.


def _plans() -> list[Path]:
    folder = aws_loader.cache_dir()
    assert folder is not None
    return sorted(folder.glob("*.plan"))


def _forget(root: str) -> None:
    for name in [n for n in sys.modules if n == root or n.startswith(root + ".")]:
        del sys.modules[name]


def _header_of(plan: Path) -> object:
    import marshal

    return marshal.loads(plan.read_bytes())[0]


@pytest.mark.parametrize(
    "damage",
    [
        "empty",  # a crash between create and write
        "truncated",  # a copy cut short
        "garbage",  # not marshal data at all
        "other_python",  # another interpreter's bytecode magic
        "wrong_shape",  # the right header over a plan of another layout
        "wrong_code",  # the right header and shape over code that is not code
        "directory",  # something else made a folder of that name
    ],
)
def test_a_damaged_cache_file_is_rebuilt_and_the_classes_are_right(
    fake_root: tuple[str, Path], damage: str
) -> None:
    import marshal

    root, pkg = fake_root
    svc, _ = _import(root)
    assert svc.SizeArgs.__name__ == "SizeArgs" and svc.Widget.__name__ == "Widget"
    _forget(root)
    for plan in _plans():
        data = plan.read_bytes()
        header, body = marshal.loads(data)
        if damage == "empty":
            plan.write_bytes(b"")
        elif damage == "truncated":
            plan.write_bytes(data[: len(data) // 2])
        elif damage == "garbage":
            plan.write_bytes(b"\xff" * 64)
        elif damage == "other_python":
            plan.write_bytes(marshal.dumps(((header[0], b"\x00\x00\r\n", header[2]), body)))
        elif damage == "wrong_shape":
            plan.write_bytes(marshal.dumps((header, (body[0], {"x": 1}))))
        elif damage == "wrong_code":
            defs = {name: (b"not code", deps) for name, (_, deps) in body[2].items()}
            plan.write_bytes(marshal.dumps((header, (*body[:2], defs, *body[3:]))))
        else:
            plan.unlink()
            plan.mkdir()
    svc, log = _import(root)
    assert svc.SizeArgs.__name__ == "SizeArgs" and svc.SizeArgs.__module__.endswith("_inputs")
    assert svc.Widget().state().__class__.__name__ == "WidgetState"
    assert "SizeArgs" in log and "UnitArgs" in log
    if damage != "directory":
        header = aws_loader._cache_header(str(pkg / "svc" / "__init__.py"))  # pyright: ignore[reportPrivateUsage]
        assert [_header_of(plan) for plan in _plans()] == [header] * 4  # rewritten whole


@pytest.mark.parametrize("where", ["missing", "a_file", "under_a_file"])
def test_an_unusable_cache_folder_means_the_ordinary_speed_not_an_error(
    fake_root: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    base = tmp_path / "elsewhere"
    if where == "a_file":
        base.mkdir()
        (base / "pulumi_aws-classes").write_text("not a folder")
    elif where == "under_a_file":
        base.write_text("not a folder")
    monkeypatch.setenv("SAGEMAKER_ROLLOUTS_CACHE", str(base))
    svc, log = _import(fake_root[0])
    assert svc.SizeArgs.__name__ == "SizeArgs" and sorted(log) == ["SizeArgs", "UnitArgs"]
    if where == "missing":
        assert len(list((base / "pulumi_aws-classes").glob("*.plan"))) >= 2
    assert not list(tmp_path.rglob("*.tmp"))


def test_without_a_home_the_cache_is_never_a_folder_named_tilde_in_the_project(
    fake_root: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pwd

    def no_entry(uid: int) -> Any:
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    for var in ("SAGEMAKER_ROLLOUTS_CACHE", "XDG_CACHE_HOME", "HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(pwd, "getpwuid", no_entry)  # a container user with no passwd entry
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)  # where `pulumi up` runs the program
    assert aws_loader.cache_dir() is None
    svc, _ = _import(fake_root[0])
    assert svc.Widget.__name__ == "Widget" and svc.SizeArgs.__name__ == "SizeArgs"
    assert list(project.iterdir()) == []


@pytest.mark.parametrize("xdg", ["relative/cache", "~/cache", ""])
def test_a_relative_xdg_cache_home_is_ignored_as_the_xdg_spec_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, xdg: str
) -> None:
    # XDG Base Directory Specification: "All paths set in these environment variables must be
    # absolute. If an implementation encounters a relative path in any of these variables it
    # should consider the path invalid and ignore it."
    monkeypatch.delenv("SAGEMAKER_ROLLOUTS_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", xdg)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert aws_loader.cache_dir() == tmp_path / ".cache/sagemaker-rollouts/pulumi_aws-classes"


def test_two_writers_of_one_plan_never_share_a_temporary_file(
    fake_root: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two processes with one pid (two CI containers sharing a cache volume, each its own pid
    # namespace) or two threads: each writes its own temporary file, so a rename never moves a
    # file another writer is still filling, and every file renamed into place is whole.
    import marshal

    root, pkg = fake_root
    origin = str(pkg / "svc" / "_inputs.py")
    renamed: list[tuple[str, object]] = []
    real_replace = os.replace

    def replace(src: Any, dst: Any) -> None:
        renamed.append((str(src), marshal.loads(Path(src).read_bytes())[0]))
        if len(renamed) == 1:  # the second writer runs while the first is about to rename
            Path(dst).unlink(missing_ok=True)
            aws_loader._load_plan(origin)  # pyright: ignore[reportPrivateUsage]
        real_replace(src, dst)

    monkeypatch.setattr(aws_loader.os, "replace", replace)
    aws_loader._load_plan(origin)  # pyright: ignore[reportPrivateUsage]
    assert len(renamed) == 2 and renamed[0][0] != renamed[1][0]
    monkeypatch.setattr(aws_loader.os, "replace", real_replace)
    (plan,) = [p for p in _plans()]
    assert _header_of(plan) == renamed[0][1]
    assert not list(plan.parent.glob("*.tmp"))
    svc, _ = _import(root)
    assert svc.SizeArgs.__name__ == "SizeArgs"


FULL_DISK = """
import json, resource, signal, sys
sys.path.insert(0, sys.argv[1])
from sagemaker_rollouts.infra import aws_loader
sys.meta_path.insert(0, aws_loader._Finder(sys.argv[2]))
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (200, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
import importlib
svc = importlib.import_module(sys.argv[2] + ".svc")
print(json.dumps([svc.SizeArgs.__name__, svc.Widget().state().__class__.__name__]))
"""


def test_a_full_disk_leaves_no_partial_files_and_the_import_still_works(
    fake_root: tuple[str, Path], tmp_path: Path
) -> None:
    root, _ = fake_root
    assert python(FULL_DISK, str(tmp_path), root) == ["SizeArgs", "WidgetState"]
    folder = aws_loader.cache_dir()
    assert folder is not None
    left = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
    assert all(p.endswith(".plan") for p in left), left
    for plan in folder.glob("*.plan"):  # whatever fitted is whole
        _header_of(plan)


GATE = """
import threading

class _Gate:
    def __init__(self):
        self.in_fallen = threading.Event()
        self.a_locked = threading.Event()

    def importing(self):  # thread B, inside the ordinary import of `fallen` (its module lock)
        self.in_fallen.set()
        self.a_locked.wait(60)

    def locked(self):  # thread A, executing a class of a lazily loaded module
        self.a_locked.set()

GATE = _Gate()
LOG = []
"""
GATED = """
from .. import GATE
from .fallen import *

__all__ = ['AAA', 'Holder']

class AAA:
    GATE.locked()

class Holder:
    first: 'AAA'
    then: 'Fallen'
"""
FALLEN = """
from .. import GATE
GATE.importing()
from ._inputs import *

__all__ = ['Fallen']
COUNT = 3  # a statement the loader does not understand: the ordinary import runs this file

class Fallen:
    size: 'SizeArgs'
"""
RACE = """
import importlib, json, os, sys, threading
sys.path.insert(0, sys.argv[1])
from sagemaker_rollouts.infra import aws_loader
sys.meta_path.insert(0, aws_loader._Finder(sys.argv[2]))
top = importlib.import_module(sys.argv[2])
gated = importlib.import_module(sys.argv[2] + ".svc.gated")
got = {}

def a():  # resolves a class whose names include one from `fallen`
    top.GATE.in_fallen.wait(60)
    got["a"] = gated.Holder.__name__

def b():  # imports `fallen`, which the loader left to the ordinary import
    got["b"] = importlib.import_module(sys.argv[2] + ".svc.fallen").Fallen.__name__

threads = [threading.Thread(target=f, daemon=True) for f in (a, b)]
for t in threads:
    t.start()
for t in threads:
    t.join(60)
print(json.dumps(got if not any(t.is_alive() for t in threads) else "deadlock"))
sys.stdout.flush()
os._exit(0)
"""


def test_a_class_resolved_while_another_thread_imports_a_fallen_back_module_never_deadlocks(
    fake_root: tuple[str, Path], tmp_path: Path
) -> None:
    # The loader's lock against Python's per-module import lock: thread A executes a class of a
    # lazy module and needs `fallen` (imported the ordinary way) while thread B is inside that
    # ordinary import, whose `from ._inputs import *` asks the lazy `_inputs` for its classes.
    root, pkg = fake_root
    (pkg / "__init__.py").write_text(textwrap.dedent(GATE))
    (pkg / "svc" / "gated.py").write_text(textwrap.dedent(GATED))
    (pkg / "svc" / "fallen.py").write_text(textwrap.dedent(FALLEN))
    assert python(RACE, str(tmp_path), root) == {"a": "Holder", "b": "Fallen"}


def test_reload_executes_the_module_again_as_the_ordinary_reload_does(
    fake_root: tuple[str, Path],
) -> None:
    import importlib

    root, pkg = fake_root
    svc, _ = _import(root)
    assert svc.SizeArgs.__name__ == "SizeArgs"
    inputs = sys.modules[f"{root}.svc._inputs"]
    size, unit = inputs.SizeArgs, inputs.UnitArgs
    path = pkg / "svc" / "_inputs.py"
    path.write_text(path.read_text().replace("class UnitArgs:", "class UnitArgs:\n    mark = 2"))
    assert importlib.reload(inputs) is inputs
    assert inputs.UnitArgs.mark == 2 and inputs.UnitArgs is not unit
    assert inputs.SizeArgs is not size
    assert typing_hints(inputs.SizeArgs, inputs) == {"unit": inputs.UnitArgs}


def typing_hints(cls: type, module: Any) -> dict[str, Any]:
    import typing

    return typing.get_type_hints(cls, globalns=dict(vars(module)))


@pytest.mark.parametrize(
    ("body", "raised"),
    [
        ("x = 1 / 0", ZeroDivisionError),
        ("x = undefined_name", NameError),
        ("x = SizeArgs.no_such_attribute", AttributeError),  # would read as "no such name"
    ],
)
def test_an_error_inside_a_class_body_surfaces_with_its_traceback_into_the_real_file(
    fake_root: tuple[str, Path], body: str, raised: type[Exception]
) -> None:
    import traceback

    root, pkg = fake_root
    path = pkg / "svc" / "_inputs.py"
    text = path.read_text().replace("'LoopArgs']", "'LoopArgs', 'Broken']")
    path.write_text(text + f"\nclass Broken:\n    {body}\n")
    line = len(text.splitlines()) + 3
    svc, _ = _import(root)
    for attempt in (lambda: svc.Broken, lambda: exec(f"from {root}.svc import Broken", {})):
        with pytest.raises(Exception) as caught:
            attempt()
        error: BaseException = caught.value
        while not isinstance(error, raised) and error.__cause__ is not None:
            error = error.__cause__
        assert isinstance(error, raised), caught.value
        last = traceback.extract_tb(error.__traceback__)[-1]
        assert (last.filename, last.lineno) == (str(path), line)
    with pytest.raises(raised if raised is not AttributeError else ImportError):
        hasattr(svc, "Broken")  # never a silent False
    assert svc.SizeArgs.__name__ == "SizeArgs"  # the rest of the module still loads


FORK = """
import importlib, json, os, signal, sys, threading
sys.path.insert(0, sys.argv[1])
from sagemaker_rollouts.infra import aws_loader
sys.meta_path.insert(0, aws_loader._Finder(sys.argv[2]))
svc = importlib.import_module(sys.argv[2] + ".svc")
held, release = threading.Event(), threading.Event()

def hold():  # a thread executing a class when the process forks
    with aws_loader._LOCK:
        held.set()
        release.wait(60)

threading.Thread(target=hold, daemon=True).start()
held.wait(60)
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    signal.alarm(60)  # a child that hangs is ended
    os.write(w, svc.SizeArgs.__name__.encode())
    os._exit(0)
release.set()
os.close(w)
_, status = os.waitpid(pid, 0)
print(json.dumps({"child": os.read(r, 100).decode(), "signal": os.WIFSIGNALED(status)}))
"""


def test_a_child_forked_while_another_thread_executes_a_class_can_load_classes(
    fake_root: tuple[str, Path], tmp_path: Path
) -> None:
    root, _ = fake_root
    assert python(FORK, str(tmp_path), root) == {"child": "SizeArgs", "signal": False}


OPTIMIZED = """
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
from sagemaker_rollouts.infra import aws_loader
sys.meta_path.insert(0, aws_loader._Finder(sys.argv[2]))
svc = importlib.import_module(sys.argv[2] + ".svc")
try:
    svc.UnitArgs.checked()
    asserted = False
except AssertionError:
    asserted = True
print(json.dumps({"doc": svc.UnitArgs.__doc__, "asserted": asserted}))
"""


@pytest.mark.parametrize("order", [("", "-OO"), ("-OO", ""), ("-O", "")])
def test_a_plan_cached_at_one_optimisation_level_is_not_used_at_another(
    fake_root: tuple[str, Path], tmp_path: Path, order: tuple[str, str]
) -> None:
    # As the ordinary import keeps `.pyc`, `.opt-1.pyc` and `.opt-2.pyc` apart: `-O` drops
    # asserts, `-OO` docstrings too.
    root, pkg = fake_root
    inputs = pkg / "svc" / "_inputs.py"
    inputs.write_text(
        inputs.read_text().replace(
            "class UnitArgs:",
            'class UnitArgs:\n    """A unit."""\n    def checked(self=None):\n        assert False',
        )
    )
    seen = []
    for flag in order:
        done = subprocess.run(
            [sys.executable, *([flag] if flag else []), "-c", OPTIMIZED, str(tmp_path), root],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        seen.append(json.loads(done.stdout.strip().splitlines()[-1]))
    expected = {
        "": {"doc": "A unit.", "asserted": True},
        "-O": {"doc": "A unit.", "asserted": False},
        "-OO": {"doc": None, "asserted": False},
    }
    assert seen == [expected[flag] for flag in order]


def test_a_name_a_sibling_lists_in_all_but_does_not_define_is_a_clear_import_error(
    fake_root: tuple[str, Path],
) -> None:
    # The ordinary import fails on it (`from ._inputs import *` raises); lazily, it must not
    # read as "no such name" (`from m import X`'s "cannot import name", `hasattr` False).
    root, pkg = fake_root
    path = pkg / "svc" / "_inputs.py"
    path.write_text(path.read_text().replace("'LoopArgs']", "'LoopArgs', 'Ghost']"))
    svc, _ = _import(root)
    with pytest.raises(ImportError, match=r"_inputs lists 'Ghost' in its __all__") as caught:
        exec(f"from {root}.svc import Ghost", {})
    assert isinstance(caught.value.__cause__, AttributeError)
    with pytest.raises(ImportError, match="Ghost"):
        hasattr(svc, "Ghost")
    assert svc.SizeArgs.__name__ == "SizeArgs"


def test_writing_a_plan_removes_what_dead_writers_and_old_venvs_left(
    fake_root: tuple[str, Path],
) -> None:
    import time

    root, _ = fake_root
    folder = aws_loader.cache_dir()
    assert folder is not None
    folder.mkdir(parents=True)
    now = time.time()
    ages = {
        "a.123.tmp": aws_loader.STALE_TMP_S + 60,  # a writer killed mid-write
        "b.456.tmp": 5,  # a writer at work now
        "0123456789abcdef01234567.plan": aws_loader.STALE_PLAN_S + 60,  # a venv long gone
        "89abcdef0123456789abcdef.plan": 3600,
        "notes.txt": aws_loader.STALE_PLAN_S * 2,  # not the loader's
    }
    for name, age in ages.items():
        (folder / name).write_bytes(b"x")
        os.utime(folder / name, (now - age, now - age))
    svc, _ = _import(root)
    assert svc.SizeArgs.__name__ == "SizeArgs"
    left = {p.name for p in folder.iterdir()}
    assert left >= {"b.456.tmp", "89abcdef0123456789abcdef.plan", "notes.txt"}
    assert not left & {"a.123.tmp", "0123456789abcdef01234567.plan"}


def test_a_plan_in_use_is_kept_fresh_so_pruning_removes_only_unused_ones(
    fake_root: tuple[str, Path],
) -> None:
    import time

    root, _ = fake_root
    svc, _ = _import(root)
    assert svc.SizeArgs.__name__ == "SizeArgs"
    _forget(root)
    old = time.time() - aws_loader.STALE_PLAN_S - 60
    for plan in _plans():
        os.utime(plan, (old, old))
    contents = {plan: plan.read_bytes() for plan in _plans()}
    svc, _ = _import(root)
    assert svc.SizeArgs.__name__ == "SizeArgs"
    for plan, data in contents.items():  # read from the cache, not rebuilt, and marked used
        assert plan.read_bytes() == data and plan.stat().st_mtime > old + 3600, plan.name
