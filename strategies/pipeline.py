"""One pipeline from raw config to a validated config, a plan and warnings.

Every entry point goes through here, so the same config gives the same answer everywhere: the
project program (`infra/program.py`, stack files), the `RolloutEndpoint` component (Python,
`infra/component.py`) and its multi-language twin (`infra/multilang.py`), `rollout plan` /
`rehearse` (`sagemaker_rollouts/cli/stack.py`) and the offline runner (`sagemaker_rollouts/simulator/mockrun.py`, which
runs the program).

Theory of operation. Raw values in (a stack file's project keys, or one component's args with the
problems only the shell can see, such as ARN inputs), together with their `Origin`; out comes a
`Validated` (config, plan, warnings) or one `ConfigError` with every problem: shapes and relations
together (`config_load`), then what only the planner sees. Messages name key paths as the user
wrote them: `endpoints.<key>.strategy...` for a stack file, `strategy...` for a component's args.
Pure: no pulumi, boto3 or botocore; the shells print the warnings (`pulumi.log.warn`, the CLI).

Names that must be unique per account and Region (SageMaker endpoint names, the canary state
table, the notification topic, the Glue database) are checked across every endpoint a program
declares, however it was declared: `name_clashes`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sagemaker_rollouts.strategies.config_errors import ConfigError
from sagemaker_rollouts.strategies.config_load import load_config
from sagemaker_rollouts.strategies.config_model import StackConfig
from sagemaker_rollouts.strategies.config_warnings import UNCHECKED_SECRET, config_warnings
from sagemaker_rollouts.strategies.deploy_checks import deployment_warnings
from sagemaker_rollouts.strategies.plan import DeploymentPlan, EndpointPlan, ShadowPlan
from sagemaker_rollouts.strategies.planner import build_plan


@dataclass(frozen=True, slots=True)
class Origin:
    """Where raw config came from: a stack file (`kind="stack"`, `name` the stack) or one
    component's args (`kind="component"`, `name` the component's resource name)."""

    kind: Literal["stack", "component"]
    name: str

    def relative(self, lines: Iterable[str]) -> list[str]:
        """Stack-config key paths as this origin's user wrote them.

        For a component, `endpoints.<name>.strategy...` becomes `strategy...` and a line about
        the endpoint as a whole (`endpoints.<name>: ...`) becomes `args: ...`.
        """
        if self.kind == "stack":
            return list(lines)
        prefix = f"endpoints.{self.name}"
        out: list[str] = []
        for line in lines:
            if line.startswith(prefix + "."):
                out.append(line[len(prefix) + 1 :])
            elif line.startswith(prefix + ":"):
                out.append("args" + line[len(prefix) :])
            else:
                out.append(line)
        return out


@dataclass(frozen=True, slots=True)
class Validated:
    """A validated config, its plan, and the warnings to show (key paths as the origin's)."""

    origin: Origin
    config: StackConfig
    plan: DeploymentPlan
    warnings: tuple[str, ...]


def validate_stack(
    raw: Mapping[str, Any],
    *,
    region: str,
    project: str,
    stack: str,
    problems: Sequence[str] = (),
) -> Validated:
    """A stack file's project keys (`endpoints`, `tags`, ...) to config, plan and warnings.

    `problems`: what the caller found outside the project's keys (the provider's `aws:region`,
    `config_load.provider_region_problems`), reported first with every other problem.
    Raises `ConfigError` with every problem (`endpoints.<key>...` paths) before anything is
    declared.
    """
    errs = list(problems)
    try:
        config = load_config(raw, region=region)
        plan = build_plan(config, project=project, stack=stack, region=region)
    except ConfigError as exc:
        raise ConfigError(errs + exc.errors) from None
    if errs:
        raise ConfigError(errs)
    # legal but almost certainly a mistake, or what `pulumi up` may run into (provider waits)
    warnings = (*config_warnings(config), *deployment_warnings(plan))
    return Validated(Origin("stack", stack), config, plan, warnings)


def validate_component(
    name: str,
    endpoint: Mapping[str, Any],
    *,
    region: str,
    project: str,
    stack: str,
    problems: Sequence[str] = (),
    state_table_name: str | None = None,
) -> Validated:
    """One component's endpoint args (the `EndpointConfig` keys) to config, plan and warnings.

    `problems`: what the shell found in the inputs only it knows (ARNs, ids), reported first.
    The plan's shared resources are named for the component, so two components in one stack
    never share them: state table `<project>-<stack>-<name>-rollouts` (or `state_table_name`,
    brought), topic `...-rollout-events` (whenever there is one: canary, drift), Glue database
    `<project>_<stack>_<name>`.
    Raises `ConfigError` with every problem, key paths relative to the args.
    """
    origin = Origin("component", name)
    errs = list(problems)
    try:
        v = validate_stack(
            {"endpoints": {name: dict(endpoint)}}, region=region, project=project, stack=stack
        )
    except ConfigError as exc:
        raise ConfigError(errs + origin.relative(exc.errors)) from None
    if errs:
        raise ConfigError(errs)
    plan = dataclasses.replace(
        _own_glue_database(v.plan, name, project=project, stack=stack), origin="component"
    )
    scope = f"{project}-{stack}-{name}"
    if plan.state_table_name is not None:
        table = f"{scope}-rollouts" if state_table_name is None else state_table_name
        plan = dataclasses.replace(plan, state_table_name=table)
    if plan.topic_name is not None or plan.state_table_name is not None:
        # A drift-only (or shadow with drift) component has a topic too: scoped like the table.
        plan = dataclasses.replace(plan, topic_name=f"{scope}-rollout-events")
    # A secret Output is checked for real once resolved: no "not checked" warning for it.
    warnings = [w for w in v.warnings if not w.endswith(f": {UNCHECKED_SECRET}")]
    return Validated(origin, v.config, plan, tuple(origin.relative(warnings)))


def _own_glue_database(
    plan: DeploymentPlan, name: str, *, project: str, stack: str
) -> DeploymentPlan:
    """Each component declares its own Glue database (`<project>_<stack>_<name>`), as it does its
    own state table: Glue database names are unique per account and Region, so two components
    with `strategy.shadow.athena` in one stack must not both declare `<project>_<stack>`."""
    from sagemaker_rollouts.strategies.shadow_compare import glue_names  # shadow.athena only

    def own(e: EndpointPlan) -> EndpointPlan:
        match e.strategy_plan:
            case ShadowPlan(report=report) if report.glue is not None:
                glue = glue_names(project, f"{stack}_{name}", e.endpoint_name)
                return dataclasses.replace(
                    e, strategy_plan=ShadowPlan(dataclasses.replace(report, glue=glue))
                )
            case _:
                return e

    return dataclasses.replace(plan, endpoints=tuple(own(e) for e in plan.endpoints))


# --------------------------------------------------------------------------- unique names


@dataclass(frozen=True, slots=True)
class Claim:
    """A resource name the program declares that must be unique per account and Region.

    `owner`: who declares it, for messages (`endpoints.fraud`, `RolloutEndpoint 'fraud'`);
    `path`: the key path an error about it names, in the owner's terms.
    """

    kind: str  # "SageMaker endpoint", "DynamoDB table", "SNS topic", "Glue database"
    name: str
    region: str
    owner: str
    path: str


def claims(v: Validated, *, brought: Iterable[str] = ()) -> list[Claim]:
    """The account-and-Region-unique names `v`'s plan declares (names in `brought` are the
    user's own resources, not declared, so not claimed)."""
    plan, origin, skip = v.plan, v.origin, set(brought)
    component = origin.kind == "component"
    owner = f"RolloutEndpoint {origin.name!r}" if component else f"stack {origin.name!r}"
    out: list[Claim] = []
    for e in plan.endpoints:
        where = "endpoint_name" if component else f"endpoints.{e.key}.endpoint_name"
        who = owner if component else f"endpoints.{e.key} of stack {origin.name!r}"
        out.append(Claim("SageMaker endpoint", e.endpoint_name, plan.region, who, where))
    shared = "args" if component else "endpoints"
    named = [("DynamoDB table", plan.state_table_name), ("SNS topic", plan.topic_name)]
    named += sorted(
        {
            ("Glue database", glue.database)
            for e in plan.endpoints
            if (glue := e.glue_table) is not None
        }
    )
    for kind, name in named:
        if name is not None and name not in skip:
            out.append(Claim(kind, name, plan.region, owner, shared))
    return out


def name_clashes(earlier: Sequence[Claim], new: Sequence[Claim]) -> list[str]:
    """One `path: message` line for each name in `new` already claimed (in `earlier` or before it
    in `new`) for the same kind of resource in the same Region."""
    seen = {(c.kind, c.name, c.region): c for c in earlier}
    out: list[str] = []
    for c in new:
        other = seen.get((c.kind, c.name, c.region))
        if other is not None and other.owner != c.owner:
            out.append(
                f"{c.path}: {c.kind} name {c.name!r} is also declared by {other.owner} in "
                f"{c.region}; it must be unique per account and Region"
            )
        seen.setdefault((c.kind, c.name, c.region), c)
    return out
