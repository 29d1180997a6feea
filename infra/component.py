"""The public component: `RolloutEndpoint`, one safely rolled-out SageMaker endpoint in your program.

```python
from sagemaker_rollouts import RolloutEndpoint, RolloutEndpointArgs

fraud = RolloutEndpoint("fraud", RolloutEndpointArgs.parse(yaml_or_dict), opts=...)
pulumi.export("endpoint", fraud.endpoint_name)
```

Theory of operation. The args are the stack config's own pydantic model for one endpoint
(`sagemaker_rollouts.strategies.config.EndpointConfig`: one source of truth) plus the resources a
platform already has (KMS key, SNS topic, IAM permissions boundary, canary state table, default
execution role) and the region. On construction, before anything is declared:
1. the args are validated: shapes, then the same cross-field rules as the stack config; every
   problem is raised at once in one `ConfigError` whose lines name the args' key paths
   (`strategy.canary.steps[2]: ...`);
2. the endpoint is planned by the same pure planner as the project's stacks;
3. deploy-time awareness reads the candidate's recorded outcome (a rolled-back canary candidate
   raises `RolledBackCandidateError`, a completed one is rendered alone).
Then it declares its children under itself (`parent=self`): a `StackResources` (key, capture
bucket, state table, topic, each only if needed and not brought) and the `SageMakerEndpoint`.
`opts` (provider, parent, aliases, protect...) apply to the component; Pulumi hands the provider
and aliases down to every child, and the identity lookups use the same provider. Library code
never calls `pulumi.export`: read the attributes below.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Annotated, Any, cast

import pulumi
import pulumi_aws as aws
import yaml
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError, create_model

from sagemaker_rollouts.infra import awareness, names, scaling_guard, secrets
from sagemaker_rollouts.infra.endpoint import SageMakerEndpoint
from sagemaker_rollouts.infra.errors import ComponentArgsError, TypedArgsError
from sagemaker_rollouts.infra.limits import Brought, deploy_limit_errors
from sagemaker_rollouts.infra.shared import (
    Account,
    BringYourOwn,
    StackResources,
    boundary_rule,
)
from sagemaker_rollouts.strategies.config_errors import (
    ConfigError,
    describe_validation_error,
    field_type,
    unknown_key,
)
from sagemaker_rollouts.strategies.config_load import (
    provider_region_problems,
    validate_allowing_unknowns,
)
from sagemaker_rollouts.strategies.config_model import PROJECT, EndpointConfig
from sagemaker_rollouts.strategies.pipeline import Validated, claims, validate_component
from sagemaker_rollouts.strategies.plan import DeploymentPlan, EndpointPlan

__all__ = ["ConfigError", "RolloutEndpoint", "RolloutEndpointArgs", "StackResources"]

TOKEN = "sagemaker-rollouts:index:RolloutEndpoint"


def _arn_input(pattern: str, what: str) -> PlainValidator:
    """A string matching `pattern` (checked now) or a `pulumi.Output` (resolved by the engine)."""
    rx = re.compile(pattern)

    def check(value: Any) -> Any:
        if isinstance(value, pulumi.Output):
            return value  # pyright: ignore[reportUnknownVariableType]
        if isinstance(value, str) and rx.fullmatch(value):
            return value
        raise ValueError(f"must be {what} (a string or a pulumi Output), got {value!r}")

    return PlainValidator(check)


# ARN shapes: IAM's and each service's documented ARN formats (`aws[a-z-]*` covers aws-cn and
# aws-us-gov). Plain strings are checked here; Outputs (e.g. `key.arn`) only by the engine.
KmsKeyArn = Annotated[
    str | pulumi.Output[str],
    _arn_input(
        r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+",
        "a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)",
    ),
]
TopicArn = Annotated[
    str | pulumi.Output[str],
    _arn_input(
        r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}",
        "an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)",
    ),
]
PolicyArn = Annotated[
    str | pulumi.Output[str],
    _arn_input(
        r"arn:aws[a-z-]*:iam::(\d{12}|aws):policy/.+",
        "an IAM managed policy ARN (arn:aws:iam::ACCOUNT:policy/NAME)",
    ),
]
RoleArn = Annotated[
    str | pulumi.Output[str],
    _arn_input(
        r"arn:aws[a-z-]*:iam::\d{12}:role/.+", "an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"
    ),
]


def _ids_input(prefix: str, what: str) -> PlainValidator:
    """A list of `prefix...` ids (each a string or an Output), or an Output of such a list."""

    def check(value: Any) -> Any:
        if isinstance(value, pulumi.Output):
            return value  # pyright: ignore[reportUnknownVariableType]
        if not isinstance(value, list | tuple) or not value:
            raise ValueError(f"must be a non-empty list of {what} ids, got {value!r}")
        items: list[Any] = list(value)  # pyright: ignore[reportUnknownArgumentType]
        bad = [
            v
            for v in items
            if not isinstance(v, pulumi.Output)
            and not (isinstance(v, str) and re.fullmatch(rf"{prefix}-[0-9a-f]{{8,17}}", v))
        ]
        if bad:
            raise ValueError(f"must be {what} ids ({prefix}-...), got {bad!r}")
        return items

    return PlainValidator(check)


SubnetIds = Annotated[
    list[str | pulumi.Output[str]] | pulumi.Output[list[str]], _ids_input("subnet", "subnet")
]
SecurityGroupIds = Annotated[
    list[str | pulumi.Output[str]] | pulumi.Output[list[str]],
    _ids_input("sg", "security group"),
]
# botocore dynamodb service model, shape TableName: min 3, max 255, pattern [a-zA-Z0-9_.-]+.
TableName = Annotated[str, Field(min_length=3, max_length=255, pattern=r"^[a-zA-Z0-9_.-]+$")]
# Which Regions: checked with the provider's own list (`region_problems`), which names them all.
Region = Annotated[str, Field(min_length=1)]

_OWN_FIELDS = (
    "region",
    "kms_key_arn",
    "notification_topic_arn",
    "notification_topic_kms_key_arn",
    "permissions_boundary_arn",
    "state_table_name",
    "state_table_kms_key_arn",
    "execution_role_arn",
    "vpc_subnet_ids",
    "vpc_security_group_ids",
)


class RolloutEndpointArgs(EndpointConfig):
    """One endpoint's config (every `EndpointConfig` key: models, variants, strategy, alarms,
    data_capture, volume_kms, tags, endpoint_name) plus what your platform brings.

    Bring-your-own (all optional; None means the component declares its own):
    - `kms_key_arn`: key for capture, state table, logs and the endpoint volume. Its key policy
      must let CloudWatch Logs, SNS, DynamoDB and SageMaker in this account use it.
    - `notification_topic_arn`: SNS topic the canary hook notifies (rollback, completion, stuck).
    - `notification_topic_kms_key_arn`: the KMS key that topic is encrypted with, if it is: the
      hook and the A/B evaluator get `kms:GenerateDataKey*` and `kms:Decrypt` on it (SNS needs
      them to publish to an encrypted topic; without them every notification fails).
    - `permissions_boundary_arn`: set on every IAM role the component creates.
    - `state_table_name`: the canary state table (hash key `pk`, range key `sk`, both strings).
    - `state_table_kms_key_arn`: the customer managed KMS key that table is encrypted with, if
      it is: the hook and the A/B evaluator get `kms:Decrypt`, `kms:Encrypt` and
      `kms:GenerateDataKey` on it through DynamoDB (without them every read and write fails).
    - `execution_role_arn`: SageMaker execution role for models without their own
      (`models.<key>.execution_role_arn`); it needs ECR/S3 read, and `cloudwatch:DescribeAlarms`
      for deployment guardrails.
    - `vpc_subnet_ids` + `vpc_security_group_ids` (together): the VPC that models without their
      own `models.<key>.vpc` run in; SageMaker's VpcConfig takes 1-16 subnets, 1-5 groups.
    - `region`: where the endpoint is deployed (framework images, ARNs); defaults to the `aws:region`
      config, else us-east-1. Set it when `opts` carries a provider for another region.
    ARN inputs take a string (checked now) or a `pulumi.Output[str]` (e.g. `key.arn`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    region: Region | None = None
    kms_key_arn: KmsKeyArn | None = None
    notification_topic_arn: TopicArn | None = None
    notification_topic_kms_key_arn: KmsKeyArn | None = None
    permissions_boundary_arn: PolicyArn | None = None
    state_table_name: TableName | None = None
    state_table_kms_key_arn: KmsKeyArn | None = None
    execution_role_arn: RoleArn | None = None
    vpc_subnet_ids: SubnetIds | None = None
    vpc_security_group_ids: SecurityGroupIds | None = None

    def __init__(self, /, **data: Any) -> None:
        """Typed args; raises `TypedArgsError` (a `ConfigError` and a `pulumi.RunError`, so
        Pulumi prints the message without a traceback) with every problem (shapes and
        relations, args key paths, did-you-mean), never pydantic's own error."""
        try:
            super().__init__(**data)
        except ValidationError:
            problems = args_problems(data)
            if not problems:
                # Only values unknown here (secret Outputs) failed their checks: the caller
                # (`validate_allowing_unknowns`) keeps them as they are.
                raise
            raise TypedArgsError(problems) from None

    def problems(self) -> list[str]:
        """Rules between the brought inputs (the endpoint config's own rules are the stack's)."""
        return _brought_problems(self)

    @classmethod
    def parse(cls, value: RolloutEndpointArgs | Mapping[str, Any] | str) -> RolloutEndpointArgs:
        """Args from a model (returned as is), a mapping, or a YAML/JSON snippet.

        Raises `TypedArgsError` (a `ConfigError` and a `pulumi.RunError`) listing every problem
        as `key.path: message`.
        """
        if isinstance(value, RolloutEndpointArgs):
            return value
        data: Any = value
        if isinstance(value, str):
            try:
                data = yaml.safe_load(value)
            except yaml.YAMLError as exc:
                raise TypedArgsError([f"args: not valid YAML: {exc}"]) from None
        if not isinstance(data, Mapping):
            raise TypedArgsError([f"args: must be a mapping of keys to values, got {data!r}"])
        items: dict[str, Any] = {str(k): v for k, v in data.items()}  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
        own = {k: v for k, v in items.items() if k in _OWN_FIELDS}
        rest = {k: v for k, v in items.items() if k not in _OWN_FIELDS}
        tokenized, refused = secrets.tokenize(rest, prefix=("endpoints", "_"))
        if refused:
            # every other problem too: the refused Outputs count as not given, and what that
            # alone says at their own paths (required, wrong type) is theirs to explain
            others = args_problems(own | _without_outputs(tokenized))
            raise TypedArgsError(
                [_output_refused(path) for path in refused]
                + [e for e in others if not under_paths(e, refused)]
            )
        merged = own | tokenized
        try:
            return validate_allowing_unknowns(cls, merged)
        except ConfigError as exc:
            # every problem, relations included, in the stack config's words
            raise TypedArgsError(args_problems(merged) or exc.errors) from None
        except ValidationError as exc:
            raise TypedArgsError(
                args_problems(merged) or describe_validation_error(exc, cls)
            ) from None

    def endpoint_config(self) -> dict[str, Any]:
        """The `EndpointConfig` part, as the stack config would hold it."""
        return self.model_dump(exclude=set(_OWN_FIELDS), exclude_none=False)


def _brought_problems(brought: Any) -> list[str]:
    """Rules between the brought inputs: a topic key only with its topic, a table key only with
    its table, VPC ids together and
    within SageMaker's VpcConfig sizes."""
    errs: list[str] = []
    if (
        brought.notification_topic_kms_key_arn is not None
        and brought.notification_topic_arn is None
    ):
        errs.append(
            "notification_topic_kms_key_arn: the key of a brought topic; set "
            "notification_topic_arn too (the component's own topic uses kms_key_arn)"
        )
    if brought.state_table_kms_key_arn is not None and brought.state_table_name is None:
        errs.append(
            "state_table_kms_key_arn: the key of a brought state table; set state_table_name "
            "too (the component's own table uses kms_key_arn)"
        )
    if (brought.vpc_subnet_ids is None) != (brought.vpc_security_group_ids is None):
        errs.append("vpc_subnet_ids: set together with vpc_security_group_ids (both or neither)")
    # botocore sagemaker VpcConfig: Subnets 1..16, SecurityGroupIds 1..5.
    for key, most in (("vpc_subnet_ids", 16), ("vpc_security_group_ids", 5)):
        ids = getattr(brought, key)
        if isinstance(ids, list) and len(ids) > most:  # pyright: ignore[reportUnknownArgumentType]
            errs.append(f"{key}: at most {most} ids, got {len(ids)}")  # pyright: ignore[reportUnknownArgumentType]
    return errs


# The brought inputs alone, validated apart from the endpoint config (whose problems the pipeline
# finds, relations included).
_Brought: type[BaseModel] = create_model(
    "_Brought",
    __config__=ConfigDict(extra="ignore", frozen=True, arbitrary_types_allowed=True),
    **{k: (field_type(RolloutEndpointArgs, k), None) for k in _OWN_FIELDS},  # pyright: ignore[reportArgumentType, reportCallIssue]
)


_PLAIN_OWN = ("region", "state_table_name")  # decide names and ARNs: never a pulumi Output


def _without_outputs(value: Any) -> Any:
    """`value` with every `pulumi.Output` in it replaced by None (nested mappings and lists)."""
    if isinstance(value, pulumi.Output):
        return None
    if isinstance(value, Mapping):
        items = cast(Mapping[Any, Any], value)
        return {k: _without_outputs(v) for k, v in items.items()}
    if isinstance(value, list):
        return [_without_outputs(v) for v in cast(list[Any], value)]
    return value


def under_paths(line: str, paths: Iterable[str]) -> bool:
    """Whether problem `line` (`key.path: message`) is about one of `paths` or a key inside it."""
    at = line.partition(": ")[0]
    return any(at == p or at.startswith((f"{p}.", f"{p}[")) for p in paths)


def _output_refused(path: str) -> str:
    return (
        f"{path}: a pulumi Output is unknown until deployment, and the plan needs "
        "this key's value itself; pass a plain value (keys that may be Outputs: "
        "image, model_data_url, execution_role_arn, environment values, vpc ids, "
        "instance_type, data_capture.destination_s3_uri, tag values)"
    )


def args_problems(
    data: Mapping[str, Any], name: str = "args", *, region: str | None = None
) -> list[str]:
    """Every problem in component args, as the stack config reports them: shapes and relations
    together, args key paths, did-you-mean over every args key. Empty when the args are valid.

    `name`: the component's name where it is known (it is the endpoint name by default).
    """
    errs: list[str] = []
    endpoint: dict[str, Any] = {}
    for key, value in data.items():
        if key in _OWN_FIELDS:
            continue
        if key not in RolloutEndpointArgs.model_fields:
            errs.append(f"{key}: {unknown_key(RolloutEndpointArgs, (key,))}")
        else:
            endpoint[key] = value
    own = {k: v for k, v in data.items() if k in _OWN_FIELDS}
    outputs = [k for k in _PLAIN_OWN if isinstance(own.get(k), pulumi.Output)]
    errs += [_output_refused(k) for k in outputs]
    own = {k: v for k, v in own.items() if k not in outputs}
    brought: Any = None
    failed: set[str] = set()
    try:
        brought = _Brought.model_validate(own)
    except ValidationError as exc:
        errs = describe_validation_error(exc, _Brought) + errs
        # The rules between brought inputs still run: a malformed input counts as given.
        failed = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
        try:
            good = _Brought.model_validate({k: v for k, v in own.items() if k not in failed})
        except ValidationError:
            good = None
        if good is not None:
            given = {**dict(good), **{k: own[k] for k in failed if k in own}}
            brought = _Brought.model_construct(**given)
    if brought is not None:
        errs = _brought_problems(brought) + errs
        if region is None and "region" not in failed:  # a malformed one is reported already
            region = brought.region
            errs = region_problems(region) + errs
    try:
        validate_component(
            name,
            endpoint,
            region="us-east-1" if region is None else region,
            project=PROJECT,
            stack="args",
            problems=errs,
        )
    except ConfigError as exc:
        return exc.errors
    return errs


def region_problems(region_arg: str | None) -> list[str]:
    """What the AWS provider would refuse in the component's Region: the `region` argument when
    given, else the `aws:region` config (the provider's own), checked as a stack file's is
    (`config_load.provider_region_problems`; `aws:skipRegionValidation: true` skips it).
    A `region` argument that names no Region is refused even with a provider of another Region
    in `opts`: it names the framework images and ARNs. Empty when nothing is wrong."""
    aws_config = pulumi.Config("aws")
    skip = aws_config.get("skipRegionValidation")
    if region_arg is not None:
        return provider_region_problems(region_arg, skip, key="region")
    return provider_region_problems(aws_config.get("region"), skip)


def validate_args(
    name: str, args: RolloutEndpointArgs, *, project: str, stack: str, region: str
) -> Validated:
    """Component `name`'s validated config, plan (shared resources named for it) and warnings.

    Raises `ConfigError` (every problem, as args key paths; the Region as `region` or
    `aws:region`) before anything is declared.
    """
    validated = validate_component(
        name,
        args.endpoint_config(),
        region=region,
        project=project,
        stack=stack,
        problems=[*region_problems(args.region), *args.problems()],
        state_table_name=args.state_table_name,
    )
    brought = Brought(
        topic_arn=args.notification_topic_arn,
        topic_key_arn=args.notification_topic_kms_key_arn,
        table_key_arn=args.state_table_kms_key_arn,
    )
    # what AWS would refuse in what is generated, brought ARNs included
    sizes = deploy_limit_errors(validated.plan, brought)
    if sizes:
        raise ConfigError(validated.origin.relative(sizes))
    return validated


def plan_deployment(
    name: str, args: RolloutEndpointArgs, *, project: str, stack: str, region: str
) -> DeploymentPlan:
    """The one-endpoint plan of component `name`, its canary state table and topic named for it.

    Two components in one stack must not share a table or topic: the defaults are
    `<project>-<stack>-<name>-rollouts` and `...-rollout-events`; `args.state_table_name` wins.
    Raises `ConfigError` (every problem, as args key paths) before anything is declared.
    """
    return validate_args(name, args, project=project, stack=stack, region=region).plan


class RolloutEndpoint(pulumi.ComponentResource):
    """A SageMaker real-time endpoint with its rollout strategy, alarms and (canary) hook.

    Token `sagemaker-rollouts:index:RolloutEndpoint`. `args`: `RolloutEndpointArgs`, or a mapping
    or YAML snippet of the same keys. Raises `ComponentArgsError` (a `ConfigError` and a
    `pulumi.RunError`: all problems, args key paths) or `RolledBackCandidateError` before
    declaring anything.

    Attributes (all also registered as the component's outputs):
    `endpoint_name`, `endpoint_arn` (Output[str]); `variant_names`, `shadow_variant_names`,
    `alarm_names` (list[str]); `capture_uri` (Output[str] | None: s3 URI of data capture);
    `kms_key_arn`, `state_table_name`, `notification_topic_arn`, `hook_function_name`
    (Output[str] | None when unused); `plan` (the `EndpointPlan`); `completed` (bool: the canary
    candidate completed and is rendered as the only production variant).
    """

    # Attribute types for type checkers only: Pulumi resolves a resource class's runtime
    # annotations with typing.get_type_hints on every registration (pulumi._types), which
    # would import the pulumi_aws modules they name (e.g. glue) in every stack.
    if TYPE_CHECKING:
        endpoint_name: pulumi.Output[str]
        endpoint_arn: pulumi.Output[str]
        variant_names: list[str]
        shadow_variant_names: list[str]
        alarm_names: list[str]
        capture_uri: pulumi.Output[str] | None
        kms_key_arn: pulumi.Output[str] | None
        state_table_name: pulumi.Output[str] | None
        notification_topic_arn: pulumi.Output[str] | None
        hook_function_name: pulumi.Output[str] | None
        plan: EndpointPlan
        completed: bool
        shared: StackResources
        sagemaker: SageMakerEndpoint

    def __init__(
        self,
        name: str,
        args: RolloutEndpointArgs | Mapping[str, Any] | str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # Everything that can fail on input runs before the component itself is registered.
        # A user's mistake leaves as a `pulumi.RunError` (the CLI prints the message, no
        # traceback): `ComponentArgsError` is still a `ConfigError` with every problem.
        try:
            prepared = prepare(name, RolloutEndpointArgs.parse(args), opts)
        except ComponentArgsError:
            raise
        except ConfigError as exc:
            raise ComponentArgsError(exc.errors, component=name) from None
        super().__init__(TOKEN, name, None, prepared.opts)
        prepared.warn(self)
        built = declare(self, name, prepared)
        self.plan = prepared.plan
        self.completed = prepared.completed
        self.shared = built.shared
        self.sagemaker = built.endpoint
        ep = built.endpoint
        self.endpoint_name = ep.endpoint.name
        self.endpoint_arn = ep.endpoint.arn
        self.variant_names = ep.variant_names
        self.shadow_variant_names = ep.shadow_variant_names
        self.alarm_names = ep.alarm_names
        self.capture_uri = ep.capture_uri
        self.kms_key_arn = built.shared.key_arn
        self.state_table_name = built.shared.table_name
        self.notification_topic_arn = built.shared.topic_arn
        self.hook_function_name = None if ep.hook is None else ep.hook.function.name
        self.register_outputs(built.outputs())


@dataclasses.dataclass(frozen=True, slots=True)
class Prepared:
    """A component's validated args, plan and recorded outcome: everything decided before the
    component is registered (a bad input or a rolled-back candidate declares nothing)."""

    args: RolloutEndpointArgs
    deployment: DeploymentPlan  # one endpoint; shared resources named for the component
    region: str
    completed: bool
    opts: pulumi.ResourceOptions | None  # the caller's, plus the permissions-boundary rule
    warnings: tuple[str, ...] = ()  # legal but almost certainly a mistake (args key paths)

    def warn(self, component: pulumi.Resource) -> None:
        """Log the config warnings on `component` (`pulumi.log.warn`), as the project program does."""
        for warning in self.warnings:
            pulumi.log.warn(warning, resource=component)

    @property
    def plan(self) -> EndpointPlan:
        return self.deployment.endpoints[0]


def prepare(name: str, args: RolloutEndpointArgs, opts: pulumi.ResourceOptions | None) -> Prepared:
    """Validate, plan and check deploy-time awareness for component `name`.

    Raises `ConfigError` (every problem, args key paths) or `RolledBackCandidateError`.
    """
    aws_config = pulumi.Config("aws")
    region = args.region
    if region is None:
        region = aws_config.get("region")
    if region is None:
        region = "us-east-1"
    project, stack = pulumi.get_project(), pulumi.get_stack()
    validated = validate_args(name, args, project=project, stack=stack, region=region)
    brought = () if args.state_table_name is None else (args.state_table_name,)
    names.claim(claims(validated, brought=brought))
    deployment = validated.plan
    # secret Outputs are unknown to the plan: checked for real once the engine resolves them
    secrets.check(args.endpoint_config(), name, region)
    reader = awareness.default_reader(deployment, aws_config.get("profile"))
    aware = awareness.check(deployment, reader)
    deployment = aware.adjusted(deployment)  # a running canary keeps its traffic
    scaling_guard.guard(deployment, aware)  # leaving variants lose their autoscaling first
    if args.permissions_boundary_arn is not None:
        rule = boundary_rule(args.permissions_boundary_arn)
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(transformations=[rule]))
    completed = aware.completed(deployment.endpoints[0])
    return Prepared(args, deployment, region, completed, opts, validated.warnings)


@dataclasses.dataclass(frozen=True, slots=True)
class Declared:
    """The children `declare` registered under a component."""

    shared: StackResources
    endpoint: SageMakerEndpoint

    def outputs(self) -> dict[str, Any]:
        """The component's registered outputs, by attribute name."""
        ep, shared = self.endpoint, self.shared
        return {
            "endpoint_name": ep.endpoint.name,
            "endpoint_arn": ep.endpoint.arn,
            "variant_names": ep.variant_names,
            "shadow_variant_names": ep.shadow_variant_names,
            "alarm_names": ep.alarm_names,
            "capture_uri": ep.capture_uri,
            "kms_key_arn": shared.key_arn,
            "state_table_name": shared.table_name,
            "notification_topic_arn": shared.topic_arn,
            "hook_function_name": None if ep.hook is None else ep.hook.function.name,
        }


def declare(parent: pulumi.ComponentResource, name: str, prepared: Prepared) -> Declared:
    """Declare the shared resources and the endpoint under `parent` (children `<name>-...`).

    The identity lookups run with `parent`'s provider, so ARNs name the account deployed to.
    """
    args = prepared.args
    child = pulumi.ResourceOptions(parent=parent)
    invoke = pulumi.InvokeOutputOptions(parent=parent)
    account = Account(
        account_id=aws.get_caller_identity_output(opts=invoke).account_id,
        partition=aws.get_partition_output(opts=invoke).partition,
        region=prepared.region,
    )
    deployment = prepared.deployment
    tags = {k: secrets.resolve(v) for k, v in deployment.tags}
    shared = StackResources(
        f"{name}-shared",
        deployment,
        account,
        tags,
        opts=child,
        byo=BringYourOwn(
            kms_key_arn=args.kms_key_arn,
            topic_arn=args.notification_topic_arn,
            table_name=args.state_table_name,
            topic_kms_key_arn=args.notification_topic_kms_key_arn,
            table_kms_key_arn=args.state_table_kms_key_arn,
        ),
        key_alias=f"alias/{deployment.project}-{deployment.stack}-{name}",
    )
    endpoint = SageMakerEndpoint(
        f"{name}-endpoint",
        plan=prepared.plan,
        stack=shared,
        account=account,
        tags=tags,
        completed=prepared.completed,
        execution_role_arn=args.execution_role_arn,
        vpc=None
        if args.vpc_subnet_ids is None or args.vpc_security_group_ids is None
        else aws.sagemaker.ModelVpcConfigArgs(
            subnets=args.vpc_subnet_ids, security_group_ids=args.vpc_security_group_ids
        ),
        opts=child,
        target=deployment.operator_args(prepared.plan),
    )
    return Declared(shared, endpoint)
