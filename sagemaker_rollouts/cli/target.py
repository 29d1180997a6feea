"""Which deployed endpoint a live command acts on, and where its rollout lives.

Two ways to address an endpoint, whichever way it was declared:

- `--stack S [--endpoint E]`: a stack file (`Pulumi.S.yaml`, the project's own program). The plan
  is built offline exactly as `pulumi up` builds it, so the CLI and the deployed hook agree on the
  rollout id; the state table and topic are named by the plan, until an operator command
  (`pause|resume|promote|abort`, which publishes) reads the deployed hook's environment
  (`as_deployed`): the topic it publishes to is the one the hook really uses, a brought one
  included (a component's `notification_topic_arn`, a stack file's `notifications.topic_arn`).
- `--endpoint E [--region R]` and no `--stack`: from AWS alone, for an endpoint declared by a
  `RolloutEndpoint` (Python or any other language) or a stack file. `E` is a SageMaker endpoint
  name, or the name it was declared under (a `RolloutEndpoint`'s resource name or a stack file's
  endpoint key: the `rollouts:endpoint` tag). What the command needs is read back from what the
  program put in the account:
  1. DescribeEndpoint + ListTags: the tags every endpoint the program declares carries
     (`strategies/common.py`: `managed-by` (the Pulumi project), `rollouts:stack`,
     `rollouts:endpoint`, `rollouts:strategy`); without them the endpoint is not ours;
  2. a canary: its hook Lambda (named from the endpoint name, `strategies/lambda_names.py`),
     whose environment holds the rollout spec (`ROLLOUT_SPEC`), the state table (`STATE_TABLE`)
     and the topic (`TOPIC_ARN`), as the hook itself reads them; an A/B endpoint with an
     evaluator: the evaluator's `AB_SPEC` and `STATE_TABLE`;
  3. its alarms: DescribeAlarms by the `<endpoint>-` name prefix, kept when their tags name this
     endpoint (`rollouts:endpoint`, `rollouts:stack`, `managed-by`) and carry their role and key
     (`rollouts:alarm-role`, gate or watch; `rollouts:alarm-key`): the endpoint's own alarms and
     its Lambda functions' errors alarms (`<function>-errors`, watch; by name too, where a long
     endpoint name shortened the function's name).
  IAM: `sagemaker:DescribeEndpoint`, `sagemaker:ListTags` (and `sagemaker:ListEndpoints` when `E`
  is not an endpoint name), `lambda:GetFunctionConfiguration`, `cloudwatch:DescribeAlarms`,
  `cloudwatch:ListTagsForResource`, besides what the command itself reads and writes.

Every way ends in the same `Target`, so `status`, `history`, `pause|resume|promote|abort` and
`ab-report` behave the same however the endpoint was addressed.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sagemaker_rollouts.cli.errors import UsageError
from sagemaker_rollouts.strategies.plan import (
    ALARM_KEY_TAG,
    ALARM_ROLE_TAG,
    DeploymentPlan,
    EndpointPlan,
)

if TYPE_CHECKING:
    from sagemaker_rollouts.lambdas.ab_winner import EvaluatorSpec
    from sagemaker_rollouts.lambdas.rollout import RolloutSpec
    from sagemaker_rollouts.simulator.provision import AwsClients

# The tags `strategies/common.py` puts on every resource of an endpoint the program declares.
ENDPOINT_TAG = "rollouts:endpoint"
STACK_TAG = "rollouts:stack"
STRATEGY_TAG = "rollouts:strategy"
PROJECT_TAG = "managed-by"
OURS = (ENDPOINT_TAG, STACK_TAG, STRATEGY_TAG, PROJECT_TAG)
NATIVE = frozenset({"blue_green", "rolling"})  # SageMaker runs the deployment (strategies/native)


@dataclass(frozen=True, slots=True)
class Alarm:
    """One alarm `status` lists: its name and whether it gates the rollout."""

    name: str
    gate: bool
    key: str  # the config key (`candidate.errors_5xx`), for history's rows


@dataclass(frozen=True, slots=True)
class Target:
    """One deployed endpoint, as the live commands see it, however it was addressed.

    `address`: the `rollout` arguments that address it (`--stack S --endpoint E`, or
    `--endpoint E --region R`), for messages. `topic_arn` is known when read from AWS (the
    hook's `TOPIC_ARN`, also for `--stack` once `as_deployed` has read it) or brought by the
    stack file; otherwise only the stack's own topic's name is (`topic_name`, `find_topic`).
    """

    key: str  # the stack file's endpoint key, or the RolloutEndpoint's name
    endpoint_name: str
    strategy: str
    region: str
    stack: str  # the Pulumi stack it was deployed with
    alarms: tuple[Alarm, ...]
    canary: RolloutSpec | None
    ab: EvaluatorSpec | None
    state_table: str | None
    address: str
    topic_name: str | None = None
    topic_arn: str | None = None
    # What the deployed hook's notifications print to address it (its `ROLLOUT_TARGET`); the
    # CLI's own decisions publish the same.
    notify_target: str = ""
    # Read from AWS (`discover`: the hook's environment), not planned from a stack file.
    from_aws: bool = False

    @property
    def native(self) -> bool:
        """Blue/green or rolling: SageMaker's deployment guardrails move the traffic."""
        return self.strategy in NATIVE

    @property
    def gates(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.alarms if a.gate)

    @classmethod
    def of_plan(cls, plan: DeploymentPlan, ep: EndpointPlan) -> Target:
        """`ep` of a stack file's plan (addressed with `--stack`)."""
        from sagemaker_rollouts.cli.cmd_ab import evaluator_of
        from sagemaker_rollouts.cli.stack import rollout_of
        from sagemaker_rollouts.strategies.function_alarms import errors_alarms

        return cls(
            key=ep.key,
            endpoint_name=ep.endpoint_name,
            strategy=ep.strategy,
            region=plan.region,
            stack=plan.stack,
            alarms=tuple(Alarm(a.name, a.gate, a.key) for a in (*ep.alarms, *errors_alarms(ep))),
            canary=rollout_of(ep),
            ab=evaluator_of(ep),
            state_table=plan.state_table_name,
            address=f"--stack {plan.stack} --endpoint {ep.key}",
            topic_name=plan.topic_name,
            topic_arn=brought_topic(plan),
            notify_target=plan.operator_args(ep),
        )


def every_or_one(plan: DeploymentPlan, wanted: str | None) -> list[EndpointPlan]:
    """With `--stack`: every endpoint of the stack, or the one `--endpoint` names."""
    from sagemaker_rollouts.cli.stack import select_endpoint

    if wanted is None:
        return list(plan.endpoints)
    return [select_endpoint(plan, wanted, canary_only=False)]


def the_canary(plan: DeploymentPlan, wanted: str | None) -> list[EndpointPlan]:
    """With `--stack`: the canary endpoint (`--endpoint` names it when there are several)."""
    from sagemaker_rollouts.cli.stack import select_endpoint

    return [select_endpoint(plan, wanted, canary_only=True)]


def brought_topic(plan: DeploymentPlan) -> str | None:
    """The topic a stack file brings (`notifications.topic_arn`) when the plan knows it: the
    program then declares no topic of its own, so none has the plan's `topic_name`. None for a
    stack's own topic, and for a brought one unknown offline (a `secure:` value)."""
    n = plan.notifications
    if n is None or n.topic_arn is None or not n.topic_arn.startswith("arn:"):
        return None
    return n.topic_arn


def as_deployed(target: Target, aws: AwsClients) -> Target:
    """`target` (a canary) with the state table, topic and notification target its deployed hook
    runs with: the hook Lambda's environment (`ROLLOUT_SPEC`: the rollout it steps, `STATE_TABLE`,
    `TOPIC_ARN`, `ROLLOUT_TARGET`, set
    by `infra/hook.py` `hook_environment` from what the program really declared or was brought:
    a component's `notification_topic_arn`, even a `pulumi.Output` the offline plan cannot
    know). The operator commands publish where the hook publishes. Unchanged for a target read
    from AWS already (`discover` read that environment), for other strategies, and when the
    hook is not deployed (the plan's names stand; the state table read then says what is
    missing). IAM: `lambda:GetFunctionConfiguration` on `<endpoint>-canary-hook`; without it
    (Lambda answers AccessDeniedException) the plan's names stand too, with a warning on stderr:
    an operator role that may abort must not be stopped by a read only the notice needs."""
    import sys

    from botocore.exceptions import ClientError

    from sagemaker_rollouts.strategies.lambda_names import hook_function_name

    if target.canary is None or target.from_aws:
        return target
    function = hook_function_name(target.endpoint_name)
    try:
        env = _function_environment(aws, function)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") not in (
            "AccessDeniedException",
            "AccessDenied",
        ):
            raise
        print(
            f"warning: could not read the canary hook's configuration ({function}: "
            "lambda:GetFunctionConfiguration denied): using the stack file's state table "
            f"{target.state_table!r}, its rollout and its topic (a topic the hook was handed "
            "in the program, or a rollout deployed since, is not known)",
            file=sys.stderr,
        )
        return target
    if env is None:
        return target
    return dataclasses.replace(
        target,
        canary=_deployed_rollout(target, env.get("ROLLOUT_SPEC")),
        state_table=env.get("STATE_TABLE") or target.state_table,
        topic_name=None,
        topic_arn=env.get("TOPIC_ARN") or None,
        notify_target=env.get("ROLLOUT_TARGET") or target.notify_target,
        from_aws=True,
    )


def _deployed_rollout(target: Target, deployed: str | None) -> RolloutSpec | None:
    """The rollout the deployed hook steps (its `ROLLOUT_SPEC`), which an operator's decision
    must reach: the stack file's plan names another rollout id when the file changed after the
    last `pulumi up` (a raised `attempt`, a new candidate), and an intent for that id is never
    read by the running hook, whose next tick would carry on. Said on stderr when they differ;
    the plan's when the hook has none that reads back."""
    import sys

    from sagemaker_rollouts.lambdas.rollout import RolloutSpec

    planned = target.canary
    if not deployed:
        return planned
    try:
        spec = RolloutSpec.from_json(deployed)
    except (ValueError, KeyError, TypeError):
        return planned
    if planned is not None and spec.rollout_id != planned.rollout_id:
        print(
            f"warning: the deployed canary hook steps rollout {spec.rollout_id!r}, not the "
            f"stack file's {planned.rollout_id!r} (the stack file changed since the last "
            "`pulumi up`): this decision is for the deployed rollout",
            file=sys.stderr,
        )
    return spec


def find_topic(target: Target, sns: Any) -> str | None:
    """The notification topic's ARN: read from AWS already (the hook's environment), the stack
    file's brought one, or (the hook not deployed) found by the plan's exact name."""
    if target.topic_arn:
        return target.topic_arn
    if target.topic_name is None:
        return None
    for page in sns.get_paginator("list_topics").paginate():
        for topic in page.get("Topics", []):
            arn = str(topic["TopicArn"])
            if arn.rsplit(":", 1)[-1] == target.topic_name:
                return arn
    return None


# --------------------------------------------------------------------------- from the CLI


def check_address(args: argparse.Namespace) -> str | None:
    """What is wrong with how `args` address an endpoint (None: nothing): `--stack` or
    `--endpoint` must be given; `--region` only goes with `--endpoint` and no `--stack`."""
    stack, endpoint, region = args.stack, args.endpoint, getattr(args, "region", None)
    if stack is None and endpoint is None:
        return (
            "give --stack NAME (the endpoints of Pulumi.NAME.yaml) or --endpoint NAME (one "
            "endpoint, however it was declared: its SageMaker endpoint name, or the name of its "
            "RolloutEndpoint or stack endpoint key; with --region)"
        )
    if stack is not None and region is not None:
        return (
            "--region: only with --endpoint and no --stack (a stack file's aws:region says "
            "where its endpoints are)"
        )
    return None


def region_of(args: argparse.Namespace) -> str:
    """`--region`, else the region boto3 would use (AWS_REGION, AWS_DEFAULT_REGION, the
    profile's); UsageError naming `--region` when there is none."""
    if getattr(args, "region", None):
        return str(args.region)
    import boto3

    region = boto3.session.Session().region_name
    if not region:
        raise UsageError(
            f"--region: needed to find endpoint {args.endpoint!r} without --stack "
            "(or set AWS_REGION); e.g. --region us-east-1"
        )
    return str(region)


@dataclass(frozen=True, slots=True)
class Resolved:
    """The endpoints a command acts on, where they are, and a label for its JSON (`stack`)."""

    targets: tuple[Target, ...]
    region: str
    stack: str


def resolve(
    args: argparse.Namespace,
    *,
    select: Callable[[DeploymentPlan, str | None], list[EndpointPlan]],
    clients: Callable[[str], AwsClients],
    want: str = "any",
) -> tuple[Resolved, AwsClients]:
    """The endpoints `args` address and the AWS clients for their region.

    With `--stack`: the stack file's plan, `select(plan, args.endpoint)` picks its endpoints.
    Without: `args.endpoint` read from AWS (`discover`); `want` "canary" or "ab" refuses any
    other endpoint, naming the argument.
    Raises UsageError (exit 2) naming the argument and what is allowed.
    """
    problem = check_address(args)
    if problem is not None:
        raise UsageError(f"{args.command}: {problem}")
    if args.stack is not None:
        from sagemaker_rollouts.cli.stack import load_stack

        plan = load_stack(Path(args.dir), args.stack, endpoint=args.endpoint).plan
        chosen = select(plan, args.endpoint)
        aws = clients(plan.region)
        return Resolved(
            tuple(Target.of_plan(plan, e) for e in chosen), plan.region, plan.stack
        ), aws
    region = region_of(args)
    aws = clients(region)
    target = discover(aws, str(args.endpoint), region, want=want)
    return Resolved((target,), region, target.stack), aws


# --------------------------------------------------------------------------- from AWS


def _tags(aws: AwsClients, arn: str) -> dict[str, str]:
    pages = aws.sagemaker.get_paginator("list_tags").paginate(ResourceArn=arn)
    return {str(t["Key"]): str(t["Value"]) for page in pages for t in page.get("Tags", [])}


def _describe(aws: AwsClients, name: str) -> dict[str, Any] | None:
    """DescribeEndpoint, None when there is no such endpoint (ValidationException "Could not
    find endpoint", as `lambdas.aws_adapter.read_endpoint` reads it)."""
    from botocore.exceptions import ClientError

    try:
        return dict(aws.sagemaker.describe_endpoint(EndpointName=name))
    except ClientError as err:
        error = err.response.get("Error", {})
        if error.get("Code") == "ValidationException" and "not find" in str(
            error.get("Message", "")
        ):
            return None
        raise


def managed_endpoints(aws: AwsClients) -> list[tuple[str, dict[str, str]]]:
    """Every endpoint in the region that carries our tags, with its tags (ListEndpoints, then
    ListTags of each: SageMaker has no server-side tag filter on ListEndpoints)."""
    found: list[tuple[str, dict[str, str]]] = []
    for page in aws.sagemaker.get_paginator("list_endpoints").paginate():
        for e in page.get("Endpoints", []):
            tags = _tags(aws, str(e["EndpointArn"]))
            if all(k in tags for k in OURS):
                found.append((str(e["EndpointName"]), tags))
    return sorted(found)


def _listing(managed: Iterable[tuple[str, Mapping[str, str]]]) -> str:
    shown = [
        f"{name} ({t[PROJECT_TAG]}/{t[STACK_TAG]}, {t[ENDPOINT_TAG]}, {t[STRATEGY_TAG]})"
        for name, t in managed
    ]
    return ", ".join(shown) if shown else "none"


def discover(aws: AwsClients, wanted: str, region: str, *, want: str = "any") -> Target:
    """The endpoint `wanted` names (an endpoint name, else the `rollouts:endpoint` tag of exactly
    one endpoint), rebuilt from what the program put in AWS. See the module docstring.

    Raises UsageError naming `--endpoint`: no such endpoint (listing the ones we manage in the
    region), an endpoint without our tags, a name several endpoints were declared under, a
    strategy the command does not drive (`want`), or a canary whose hook is missing.
    """
    described = _describe(aws, wanted)
    if described is not None:
        tags = _tags(aws, str(described["EndpointArn"]))
        missing = [k for k in OURS if k not in tags]
        if missing:
            raise UsageError(
                f"--endpoint {wanted}: endpoint {wanted} in {region} is not managed by "
                f"sagemaker-rollouts (no {', '.join(missing)} tag); give one declared with "
                f"RolloutEndpoint or a stack file: {_listing(managed_endpoints(aws))}"
            )
        name = wanted
    else:
        managed = managed_endpoints(aws)
        matches = [(n, t) for n, t in managed if t[ENDPOINT_TAG] == wanted]
        if not matches:
            raise UsageError(
                f"--endpoint {wanted}: no SageMaker endpoint named {wanted} in {region}, and "
                f"none declared under that name (a RolloutEndpoint's name or a stack endpoint "
                f"key, tag {ENDPOINT_TAG}); endpoints sagemaker-rollouts manages there: "
                f"{_listing(managed)}. Wrong account or region?"
            )
        if len(matches) > 1:
            raise UsageError(
                f"--endpoint {wanted}: {len(matches)} endpoints in {region} were declared under "
                f"the name {wanted}: {_listing(matches)}; give the endpoint name instead, e.g. "
                f"--endpoint {matches[0][0]}"
            )
        name, tags = matches[0]
    strategy = tags[STRATEGY_TAG]
    _check_strategy(wanted, strategy, want)
    canary, ab, env = _lambda_environment(aws, name, strategy, region, wanted)
    address = f"--endpoint {name} --region {region}"
    return Target(
        key=tags[ENDPOINT_TAG],
        endpoint_name=name,
        strategy=strategy,
        region=region,
        stack=tags[STACK_TAG],
        alarms=_alarms(aws, name, tags),
        canary=canary,
        ab=ab,
        state_table=env.get("STATE_TABLE") or None,
        address=address,
        topic_arn=env.get("TOPIC_ARN") or None,
        notify_target=env.get("ROLLOUT_TARGET") or address,
        from_aws=True,
    )


def _check_strategy(wanted: str, strategy: str, want: str) -> None:
    if want == "canary" and strategy != "canary":
        raise UsageError(
            f"--endpoint {wanted}: endpoint uses the {strategy} strategy; this command drives "
            "canary rollouts only (SageMaker runs blue/green and rolling itself)"
        )
    if want == "ab" and strategy != "ab":
        raise UsageError(
            f"--endpoint {wanted}: no A/B evaluator; it uses the {strategy} strategy "
            "(ab-report reads A/B endpoints)"
        )


def _function_environment(aws: AwsClients, function: str) -> dict[str, str] | None:
    """A Lambda's environment variables (GetFunctionConfiguration), None when it does not exist."""
    from botocore.exceptions import ClientError

    try:
        conf = aws.lambda_.get_function_configuration(FunctionName=function)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise
    variables = conf.get("Environment", {}).get("Variables", {})
    return {str(k): str(v) for k, v in variables.items()}


def _lambda_environment(
    aws: AwsClients, name: str, strategy: str, region: str, wanted: str
) -> tuple[RolloutSpec | None, EvaluatorSpec | None, dict[str, str]]:
    """(rollout spec, A/B spec, the Lambda's whole environment: STATE_TABLE, TOPIC_ARN,
    ROLLOUT_TARGET, ...) from the endpoint's hook or A/B evaluator; empty for other strategies."""
    from sagemaker_rollouts.strategies.lambda_names import (
        AB_SUFFIX,
        function_name,
        hook_function_name,
    )

    if strategy == "canary":
        from sagemaker_rollouts.lambdas.rollout import RolloutSpec

        function = hook_function_name(name)
        env = _function_environment(aws, function)
        if env is None or "ROLLOUT_SPEC" not in env or not env.get("STATE_TABLE"):
            raise UsageError(
                f"--endpoint {wanted}: canary endpoint {name}'s hook Lambda {function} "
                f"{'is not in ' + region if env is None else 'has no ROLLOUT_SPEC/STATE_TABLE'}"
                "; the rollout spec and state table are read from it (has `pulumi up` finished?)"
            )
        return RolloutSpec.from_json(env["ROLLOUT_SPEC"]), None, env
    if strategy == "ab":
        env = _function_environment(aws, function_name(name, AB_SUFFIX))
        if env is not None and "AB_SPEC" in env:
            from sagemaker_rollouts.lambdas.ab_winner import EvaluatorSpec

            return None, EvaluatorSpec.from_json(env["AB_SPEC"]), env
    return None, None, {}


def _alarms(aws: AwsClients, name: str, tags: Mapping[str, str]) -> tuple[Alarm, ...]:
    """The alarms the program declared for endpoint `name` (see the module docstring): those
    named `<name>-...`, and its functions' errors alarms (`strategies/function_alarms.py`)
    by name where a long endpoint name shortened the function's name (`lambda_names`)."""
    from sagemaker_rollouts.strategies.function_alarms import errors_alarm_name
    from sagemaker_rollouts.strategies.lambda_names import SUFFIXES, function_name

    paginator = aws.cloudwatch.get_paginator("describe_alarms")
    queries: list[dict[str, Any]] = [{"AlarmNamePrefix": f"{name}-"}]
    shortened = [
        alarm
        for suffix in SUFFIXES.values()
        if not (alarm := errors_alarm_name(function_name(name, suffix))).startswith(f"{name}-")
    ]
    if shortened:  # DescribeAlarms takes a prefix or names, not both
        queries.append({"AlarmNames": shortened})
    found: list[Alarm] = []
    for query in queries:
        for page in paginator.paginate(AlarmTypes=["MetricAlarm"], **query):
            for a in page.get("MetricAlarms", []):
                resp = aws.cloudwatch.list_tags_for_resource(ResourceARN=a["AlarmArn"])
                own = {str(t["Key"]): str(t["Value"]) for t in resp.get("Tags", [])}
                if any(own.get(k) != tags[k] for k in (ENDPOINT_TAG, STACK_TAG, PROJECT_TAG)):
                    continue  # another endpoint's alarm whose name starts with ours
                role, key = own.get(ALARM_ROLE_TAG), own.get(ALARM_KEY_TAG)
                if role in ("gate", "watch") and key:
                    found.append(Alarm(str(a["AlarmName"]), role == "gate", key))
    return tuple(found)
