"""Finding a stack file, validating it and planning it: the first step of every command.

Config errors become a UsageError (exit 2) with every `key.path: message` the config model found.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sagemaker_rollouts.cli.errors import UsageError
from sagemaker_rollouts.lambdas.rollout import RolloutSpec
from sagemaker_rollouts.strategies.config import PROJECT, strip_secure
from sagemaker_rollouts.strategies.plan import CanaryPlan, DeploymentPlan, EndpointPlan
from sagemaker_rollouts.strategies.stackfile import read_stack_yaml


@dataclass(frozen=True, slots=True)
class LoadedStack:
    name: str
    path: Path
    plan: DeploymentPlan
    config: dict[str, Any]  # the file's `config:` map, encrypted values as `[secret]`
    # Pulumi ESC (`environment:`): the environments, the config keys they supply that the file
    # does not set (raw, ESC secrets as `{secure: esc}`), and what could not be resolved offline.
    environments: tuple[str, ...] = ()
    esc_config: dict[str, Any] = field(default_factory=dict[str, Any])
    unresolved: tuple[str, ...] = ()
    # Stack-file problems Pulumi tolerates (duplicate keys: it keeps the last one), as warnings.
    warnings: tuple[str, ...] = ()


@contextmanager
def in_project_dir(directory: Path) -> Iterator[None]:
    """Run with the current directory at the project directory, as `pulumi up` runs its program
    there: relative paths in stack config (a drift job's `baseline: baselines/fraud.json`) resolve
    against the project (`--dir`), whatever directory the command was started from. Restored on
    exit. The CLI is one command per process, so changing the process's directory is safe."""
    previous = Path.cwd()
    os.chdir(directory.resolve())
    try:
        yield
    finally:
        os.chdir(previous)


@dataclass(frozen=True, slots=True)
class ProgramDir:
    """A Pulumi project whose own program is not this package's: `rollout plan --dir` runs its
    `__main__.py` (which declares `RolloutEndpoint` components) instead of the built-in program."""

    directory: Path
    project: str
    main: Path


def own_program(directory: Path) -> ProgramDir | None:
    """The directory's own program when its `Pulumi.yaml` names another project than ours and it
    has a `__main__.py` (Pulumi's Python entry point); None: the built-in, config-driven program."""
    manifest = directory / "Pulumi.yaml"
    main = directory / "__main__.py"
    if not manifest.is_file() or not main.is_file():
        return None
    try:
        data = yaml.safe_load(manifest.read_text())
    except yaml.YAMLError as e:
        raise UsageError(f"{manifest}: not valid YAML: {getattr(e, 'problem', e)}") from None
    name = data.get("name") if isinstance(data, dict) else None  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    if not isinstance(name, str) or not name:
        raise UsageError(f"{manifest}: name: a Pulumi project needs a name")
    if name == PROJECT:
        return None
    return ProgramDir(directory=directory, project=name, main=main)


@dataclass(frozen=True, slots=True)
class ProgramRun:
    """A project's own program run under mocks: what it declared (`mockrun.OfflineRun`) and the
    plan of each `RolloutEndpoint` component, in declaration order (its shared resources, such as
    the state table `<project>-<stack>-<component>-rollouts`, named as the component names them)."""

    offline: Any
    deployments: tuple[DeploymentPlan, ...]
    stack_file: Path


def run_program_offline(program: ProgramDir, stack: str) -> ProgramRun:
    """Run `program`'s `__main__.py` under Pulumi's mocks with `Pulumi.<stack>.yaml`'s config, in
    its directory (as `pulumi up` runs it), recording each component's plan. Raises UsageError
    when the stack file is missing or unreadable, or the program stops on invalid config (every
    `key.path: message` line, as for a stack file); any other failure is `offline.error`."""
    import runpy
    import sys

    from sagemaker_rollouts.infra import component
    from sagemaker_rollouts.simulator.mockrun import read_stack_config, run_function_offline

    stack_file = stack_path(program.directory, stack)
    try:
        config = read_stack_config(stack_file, program.project)
    except ValueError as e:
        raise UsageError(str(e)) from None
    deployments: list[DeploymentPlan] = []
    original = component.prepare

    def recording(*a: Any, **k: Any) -> Any:
        prepared = original(*a, **k)
        deployments.append(prepared.deployment)
        return prepared

    # Resolved before the program runs in its own directory: a relative `--dir examples/python`
    # names the program from where we started, not from inside that directory.
    main_path = str(program.main.resolve())

    def program_main() -> None:
        runpy.run_path(main_path, run_name="__main__")

    where = str(program.directory.resolve())
    sys.path.insert(0, where)
    component.prepare = recording  # collect each component's own plan
    try:
        with in_project_dir(program.directory):
            offline = run_function_offline(
                program_main, config=config, project=program.project, stack=stack
            )
    finally:
        component.prepare = original
        sys.path.remove(where)
    config_error = _config_error(offline.error)
    if config_error is not None:
        headline, *lines = str(config_error).splitlines()
        raise UsageError(f"{program.main}: {headline}", *lines)
    return ProgramRun(offline, tuple(deployments), stack_file)


def _config_error(error: BaseException | None) -> BaseException | None:
    """A program's failure that is invalid config (a component's args, a stack config): the
    user's to fix, reported like a stack file's (exit 2), not as a failed program."""
    from sagemaker_rollouts.infra.errors import ResolvedSecretError
    from sagemaker_rollouts.strategies.config import ConfigError

    return error if isinstance(error, ConfigError | ResolvedSecretError) else None


def load_program_stack(program: ProgramDir, stack: str, endpoint: str | None = None) -> LoadedStack:
    """The stack of a project with its own program (`own_program`), for the commands that act on
    a deployed endpoint (status, history, pause, resume, promote, abort, ...): the program runs
    under mocks and the plan is the one its `RolloutEndpoint` component made, so the state table
    and topic are the component's own. `endpoint` (a component name or an endpoint name) picks
    the component when the program declares several. Raises UsageError (exit 2) when the program
    fails, declares no component, or `endpoint` names none of them or is missing among several.
    """
    run = run_program_offline(program, stack)
    if run.offline.error is not None:
        raise UsageError(
            f"{program.main}: the Pulumi program failed under mocks", f"  {run.offline.error}"
        )
    found = list(run.deployments)
    names = ", ".join(f"{e.key} ({e.endpoint_name})" for d in found for e in d.endpoints)
    if endpoint is not None:
        found = [d for d in found if any(endpoint in (e.key, e.endpoint_name) for e in d.endpoints)]
        if not found:
            raise UsageError(
                f"{program.main}: no RolloutEndpoint component or endpoint named {endpoint!r}; "
                f"it declares: {names or 'none'}"
            )
    if not found:
        raise UsageError(f"{program.main}: declares no RolloutEndpoint component")
    if len(found) > 1:
        raise UsageError(
            f"{program.main}: declares {len(found)} RolloutEndpoint components ({names}); "
            "name one with --endpoint"
        )
    return LoadedStack(name=stack, path=run.stack_file, plan=found[0], config={})


def stack_path(directory: Path, stack: str, source: str | None = None) -> Path:
    """`Pulumi.<stack>.yaml` in `directory`; UsageError naming the stacks that exist when missing.

    `source`: where the name came from, for the error (default `--stack <stack>`; a scenario
    file passes `FILE:LINE: stack: <stack>`)."""
    path = directory / f"Pulumi.{stack}.yaml"
    if path.is_file():
        return path
    found = sorted(
        p.name.removeprefix("Pulumi.").removesuffix(".yaml")
        for p in directory.glob("Pulumi.*.yaml")
    )
    hint = f"; stacks here: {', '.join(found)}" if found else "; no Pulumi.<stack>.yaml files here"
    given = f"--stack {stack}" if source is None else source
    raise UsageError(f"{path}: stack file not found ({given}){hint}")


def esc_loader(esc_dir: Path) -> Callable[[str], dict[str, Any] | None]:
    """Reads ESC environment definitions exported to `<esc_dir>/<project>/<env>.yaml`."""

    def load(name: str) -> dict[str, Any] | None:
        parts = name.split("/")
        if any(p in ("", ".", "..") for p in parts):
            return None
        path = esc_dir.joinpath(*parts[:-1], f"{parts[-1]}.yaml")
        if not path.is_file():
            return None
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as e:
            raise UsageError(f"{path}: not valid YAML: {getattr(e, 'problem', e)}") from None
        return data if isinstance(data, dict) else None  # pyright: ignore[reportUnknownVariableType]

    return load


def load_stack(
    directory: Path,
    stack: str,
    esc_dir: Path | None = None,
    source: str | None = None,
    endpoint: str | None = None,
) -> LoadedStack:
    """Validate `Pulumi.<stack>.yaml` and build its DeploymentPlan (pure: no AWS, no Pulumi).

    Encrypted values (`secure: v1:...`) cannot be decrypted offline; like the offline Pulumi run,
    they stand as the placeholder `[secret]` and are never printed. A Pulumi ESC `environment:` is
    evaluated as far as it can be offline (`sagemaker_rollouts.strategies.esc`; definitions from
    `esc_dir`, default `<directory>/esc`): the config keys it supplies join the file's (the file's
    own values win) and what it could not resolve is kept in `unresolved` (and added to a config
    error, since a missing key may be one of them). A project with its own program (`own_program`,
    e.g. examples/python) is loaded by running it (`load_program_stack`; `endpoint` picks one of
    several components).
    """
    from sagemaker_rollouts.strategies.config import ConfigError, project_config
    from sagemaker_rollouts.strategies.config_load import stack_region_problems
    from sagemaker_rollouts.strategies.pipeline import validate_stack

    program = own_program(directory) if source is None else None
    if program is not None:  # a project with its own program: its components' plans
        return load_program_stack(program, stack, endpoint)
    path = stack_path(directory, stack, source)
    try:
        parsed = read_stack_yaml(path.read_text())  # as the Pulumi CLI reads it (go-yaml v2)
        doc = parsed.data
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise UsageError(f"{path}{line}: not valid YAML: {getattr(e, 'problem', e)}") from None
    if not isinstance(doc, dict):
        raise UsageError(f"{path}: a stack file is a mapping with a config: key")
    environments: tuple[str, ...] = ()
    esc_config: dict[str, Any] = {}
    unresolved: tuple[str, ...] = ()
    if doc.get("environment") is not None:  # pyright: ignore[reportUnknownMemberType]
        from sagemaker_rollouts.strategies import esc  # only stacks with ESC environments

        try:
            found = esc.resolve(
                doc, esc_loader(directory / "esc" if esc_dir is None else esc_dir), project=PROJECT
            )
        except ValueError as e:
            raise UsageError(f"{path}: {e}") from None
        environments, esc_config = found.environments, found.config
        unresolved = tuple(u.line() for u in found.unresolved)
    if esc_config:
        file_config = doc.get("config")
        own = dict(file_config) if isinstance(file_config, dict) else {}  # pyright: ignore[reportUnknownArgumentType]
        doc = {**doc, "config": {**esc_config, **own}}
    doc = strip_secure(doc)[0]
    try:
        ours, region = project_config(doc)
        with in_project_dir(directory):  # relative paths in config: from the project directory
            plan = validate_stack(
                ours,
                region=region,
                project=PROJECT,
                stack=stack,
                problems=stack_region_problems(doc),  # what the AWS provider would refuse
            ).plan
    except ConfigError as e:
        hints: list[str] = []
        if unresolved:
            hints = [
                "values from Pulumi ESC not resolved offline:",
                *(f"  {u}" for u in unresolved),
            ]
        raise UsageError(
            f"{path}: invalid stack config", *(f"  {line}" for line in e.errors), *hints
        ) from None
    raw = doc.get("config")
    return LoadedStack(
        name=stack,
        path=path,
        plan=plan,
        config=dict(raw) if isinstance(raw, dict) else {},
        environments=environments,
        esc_config=esc_config,
        unresolved=unresolved,
        warnings=tuple(
            f"{path}:{line}: duplicate key {key!r}; Pulumi keeps only the last value"
            for line, key in parsed.duplicates
        ),
    )


def rollout_of(ep: EndpointPlan) -> RolloutSpec | None:
    """The rollout the canary hook steps; None for the other strategies (no hook to drive)."""
    return ep.strategy_plan.rollout if isinstance(ep.strategy_plan, CanaryPlan) else None


def select_endpoint(plan: DeploymentPlan, wanted: str | None, *, canary_only: bool) -> EndpointPlan:
    """The endpoint a command acts on, by config key or endpoint name.

    Without `wanted` the stack must have exactly one (canary, when `canary_only`) endpoint.
    """
    candidates = [e for e in plan.endpoints if not canary_only or rollout_of(e) is not None]
    if wanted is not None:
        for e in plan.endpoints:
            if wanted in (e.key, e.endpoint_name):
                if canary_only and rollout_of(e) is None:
                    raise UsageError(
                        f"endpoint {wanted!r} uses the {e.strategy} strategy; this command drives "
                        "canary rollouts only (SageMaker runs blue/green and rolling itself)"
                    )
                return e
        known = ", ".join(f"{e.key} ({e.endpoint_name})" for e in plan.endpoints)
        raise UsageError(
            f"unknown endpoint {wanted!r} in stack {plan.stack}; --endpoint takes a key or "
            f"endpoint name of this stack: {known}"
        )
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        kinds = ", ".join(f"{e.key} ({e.strategy})" for e in plan.endpoints)
        raise UsageError(
            f"stack {plan.stack} has no canary endpoint ({kinds}); this command drives canary "
            "rollouts only"
        )
    names = ", ".join(e.key for e in candidates)
    raise UsageError(
        f"stack {plan.stack} has several endpoints ({names}); pick one with --endpoint"
    )
