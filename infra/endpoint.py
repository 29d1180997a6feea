"""One SageMaker endpoint as its plan describes it: roles, models, config, endpoint, alarms, hook."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, assert_never

import pulumi
import pulumi_aws as aws

from sagemaker_rollouts.infra import iam, secrets
from sagemaker_rollouts.infra.alarms import metric_alarm
from sagemaker_rollouts.infra.hook import CanaryHook
from sagemaker_rollouts.infra.shared import Account, StackResources
from sagemaker_rollouts.strategies import autoscaling, dashboard
from sagemaker_rollouts.strategies.native import ATTEMPT_TAG, DEPLOYED_CONFIG_TAG
from sagemaker_rollouts.strategies.plan import (
    ABPlan,
    AlarmPlan,
    BlueGreenPlan,
    CanaryPlan,
    DataCapturePlan,
    EndpointPlan,
    ModelPlan,
    RecreatePlan,
    RollingPlan,
    ShadowPlan,
    VariantPlan,
    VpcPlan,
    weight,
)
from sagemaker_rollouts.strategies.relative_gates import EXPRESSION_ID, RelativeAlarmPlan
from sagemaker_rollouts.strategies.rollback import RollbackAlarmPlan, rollback_alarm

if TYPE_CHECKING:
    from sagemaker_rollouts.infra.evaluators import AbEvaluator, DriftJob

TOKEN = "sagemaker-rollouts:index:SageMakerEndpoint"
# What an adopted endpoint keeps from its live state until `adopt` is unset.
ADOPT_IGNORES = ("endpointConfigName", "deploymentConfig", "tags")

sm = aws.sagemaker


@dataclass(frozen=True, slots=True)
class Rendering:
    """What this `up` declares for an endpoint: the plan, or the plan after a finished canary."""

    production_variants: tuple[VariantPlan, ...]
    shadow_variants: tuple[VariantPlan, ...]
    alarms: tuple[AlarmPlan, ...]
    canary: CanaryPlan | None  # the hook to install, if any


def rendering(endpoint: EndpointPlan, *, completed: bool) -> Rendering:
    """The endpoint as planned; after a completed canary, the candidate alone at weight 100.

    A completed candidate keeps its variant name and instance type and gets at least the stable
    fleet's instance count (it now carries all of the traffic). Alarms on variants that are gone
    are dropped (they could only sit in INSUFFICIENT_DATA), and no hook is installed: there is
    nothing left to step, and a schedule pointing at a missing stable variant would only notify.
    """
    match endpoint.strategy_plan:
        case CanaryPlan() as canary:
            pass
        case RecreatePlan() | ShadowPlan() | ABPlan() | BlueGreenPlan() | RollingPlan():
            canary = None
        case _:
            assert_never(endpoint.strategy_plan)
    if not completed or canary is None:
        return Rendering(
            endpoint.production_variants, endpoint.shadow_variants, endpoint.alarms, canary
        )
    spec = canary.rollout
    by_name = {v.name: v for v in endpoint.production_variants}
    candidate = by_name[spec.candidate_variant]
    stable = by_name.get(spec.stable_variant)
    count = candidate.instance_count
    if stable is not None and stable.instance_count > count:
        count = stable.instance_count
    only = replace(candidate, weight=100, instance_count=count)
    kept = tuple(a for a in endpoint.alarms if a.variant is None or a.variant == only.name)
    return Rendering((only,), endpoint.shadow_variants, kept, None)


def deployment_config(
    endpoint: EndpointPlan, alarm_names: list[str]
) -> sm.EndpointDeploymentConfigArgs | None:
    """SageMaker-native blue/green or rolling, rolled back by SageMaker on the listed alarms.

    `alarm_names` is the endpoint's one stable rollback alarm (`strategies.rollback`): the
    provider marks `auto_rollback_configuration` ForceNew (terraform-provider-aws
    internal/service/sagemaker/endpoint.go), so anything that varies with the gates here would
    replace the live endpoint.
    """
    rollback = (
        sm.EndpointDeploymentConfigAutoRollbackConfigurationArgs(
            alarms=[
                sm.EndpointDeploymentConfigAutoRollbackConfigurationAlarmArgs(alarm_name=a)
                for a in alarm_names
            ]
        )
        if alarm_names
        else None
    )
    match endpoint.strategy_plan:
        case RecreatePlan() | ShadowPlan() | CanaryPlan() | ABPlan():
            return None
        case BlueGreenPlan() as bg:
            routing = sm.EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationArgs(
                type=bg.routing,
                wait_interval_in_seconds=bg.wait_seconds,
                canary_size=None
                if bg.canary_size is None
                else sm.EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationCanarySizeArgs(
                    type=bg.canary_size.type, value=bg.canary_size.value
                ),
                linear_step_size=None
                if bg.linear_step is None
                else sm.EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationLinearStepSizeArgs(
                    type=bg.linear_step.type, value=bg.linear_step.value
                ),
            )
            return sm.EndpointDeploymentConfigArgs(
                blue_green_update_policy=sm.EndpointDeploymentConfigBlueGreenUpdatePolicyArgs(
                    traffic_routing_configuration=routing,
                    termination_wait_in_seconds=bg.termination_wait_seconds,
                    maximum_execution_timeout_in_seconds=bg.max_execution_timeout_seconds,
                ),
                auto_rollback_configuration=rollback,
            )
        case RollingPlan() as rp:
            back = rp.rollback_maximum_batch_size
            return sm.EndpointDeploymentConfigArgs(
                rolling_update_policy=sm.EndpointDeploymentConfigRollingUpdatePolicyArgs(
                    maximum_batch_size=sm.EndpointDeploymentConfigRollingUpdatePolicyMaximumBatchSizeArgs(
                        type=rp.maximum_batch_size.type, value=rp.maximum_batch_size.value
                    ),
                    wait_interval_in_seconds=rp.wait_seconds,
                    maximum_execution_timeout_in_seconds=rp.max_execution_timeout_seconds,
                    rollback_maximum_batch_size=None
                    if back is None
                    else sm.EndpointDeploymentConfigRollingUpdatePolicyRollbackMaximumBatchSizeArgs(
                        type=back.type, value=back.value
                    ),
                ),
                auto_rollback_configuration=rollback,
            )
        case _:
            assert_never(endpoint.strategy_plan)


def capture_uri(capture: DataCapturePlan, bucket: aws.s3.Bucket | None) -> pulumi.Output[str]:
    """Where captured requests land: an explicit S3 URI, or the stack bucket + prefix."""
    if capture.destination_s3_uri is not None:
        return pulumi.Output.from_input(secrets.resolve(capture.destination_s3_uri))
    if bucket is None:
        raise ValueError("data capture without a destination needs the stack's capture bucket")
    prefix = capture.destination_prefix.strip("/")
    return bucket.bucket.apply(lambda b: f"s3://{b}/{prefix}")


def model_data_source(
    url: pulumi.Input[str],
) -> sm.ModelPrimaryContainerModelDataSourceArgs:
    """Uncompressed model data (CreateModel ModelDataSource.S3DataSource, CompressionType None):
    every object under a prefix ending in "/" (S3Prefix), else the one object (S3Object)."""
    return sm.ModelPrimaryContainerModelDataSourceArgs(
        s3_data_sources=[
            sm.ModelPrimaryContainerModelDataSourceS3DataSourceArgs(
                s3_uri=url,
                s3_data_type=pulumi.Output.from_input(url).apply(
                    lambda u: "S3Prefix" if u.endswith("/") else "S3Object"
                ),
                compression_type="None",
            )
        ]
    )


class SageMakerEndpoint(pulumi.ComponentResource):
    """A SageMaker real-time endpoint rendered from its `EndpointPlan`.

    Models are immutable in SageMaker, and so are endpoint configs: both are autonamed so a
    change creates the new one before the old one is deleted, and the endpoint (explicit name)
    moves to the new config with UpdateEndpoint, except for recreate (see `_endpoint_options`).
    """

    # Attribute types for type checkers only: Pulumi resolves a resource class's runtime
    # annotations with typing.get_type_hints on every registration (pulumi._types), which
    # would import the pulumi_aws modules they name (e.g. glue) in every stack.
    if TYPE_CHECKING:
        endpoint: sm.Endpoint
        alarm_names: list[str]
        rollback_alarm_name: str | None
        variant_names: list[str]
        shadow_variant_names: list[str]
        capture_uri: pulumi.Output[str] | None
        hook: CanaryHook | None
        ab_evaluator: AbEvaluator | None
        dashboard: aws.cloudwatch.Dashboard
        scaling_targets: dict[str, aws.appautoscaling.Target]  # by variant name
        drift_job: DriftJob | None
        glue_table: aws.glue.CatalogTable | None  # only with `strategy.shadow.athena: true`

    def __init__(
        self,
        name: str,
        *,
        plan: EndpointPlan,
        stack: StackResources,
        account: Account,
        tags: dict[str, str],
        completed: bool = False,
        execution_role_arn: pulumi.Input[str] | None = None,
        vpc: sm.ModelVpcConfigArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
        target: str,
    ) -> None:
        """`target`: the `rollout` arguments that address this endpoint once deployed
        (`DeploymentPlan.operator_args`), for the commands its Lambdas' notifications print."""
        super().__init__(TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        view = rendering(plan, completed=completed)
        tags = {**tags, **{k: secrets.resolve(v) for k, v in plan.tags}}
        key_arn = stack.key_arn
        # A model without its own execution role uses this one instead of a new scoped role.
        self._default_role_arn = execution_role_arn
        # ... and a model without its own VPC config runs in this one (a platform's own VPC).
        self._default_vpc = vpc

        self.capture_uri = None
        if plan.data_capture is not None:
            self.capture_uri = capture_uri(plan.data_capture, stack.bucket)

        used = {v.model for v in (*view.production_variants, *view.shadow_variants)}
        models: dict[str, sm.Model] = {}
        for model in plan.models:
            if model.key in used:
                models[model.key] = self._model(name, plan, model, key_arn, account, tags)

        match plan.strategy_plan:
            case BlueGreenPlan() | RollingPlan() as deployment:
                attempt, native = deployment.attempt, True
            case RecreatePlan() | ShadowPlan() | CanaryPlan() | ABPlan():
                attempt, native = 1, False
            case _:
                assert_never(plan.strategy_plan)
        config = sm.EndpointConfiguration(
            f"{name}-config",
            production_variants=[
                sm.EndpointConfigurationProductionVariantArgs(
                    variant_name=v.name,
                    model_name=models[v.model].name,
                    instance_type=secrets.resolve(v.instance_type),
                    initial_instance_count=v.instance_count,
                    initial_variant_weight=weight(v.weight),
                )
                for v in view.production_variants
            ],
            shadow_production_variants=[
                sm.EndpointConfigurationShadowProductionVariantArgs(
                    variant_name=v.name,
                    model_name=models[v.model].name,
                    instance_type=secrets.resolve(v.instance_type),
                    initial_instance_count=v.instance_count,
                    initial_variant_weight=weight(v.weight),
                )
                for v in view.shadow_variants
            ]
            or None,
            data_capture_config=self._data_capture(plan.data_capture, key_arn),
            # plan.endpoint_kms: `auto` leaves it off where local NVMe storage would make it
            # encrypt nothing (strategies/common.py endpoint_kms).
            kms_key_arn=key_arn if plan.endpoint_kms else None,
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                # A replaced config is kept, not deleted: SageMaker may still run it (a
                # blue/green or rolling rollback returns to it). `rollout prune` deletes the
                # retained configs no endpoint runs.
                retain_on_delete=True,
                # Raising `strategy.<blue_green|rolling>.attempt` after a SageMaker rollback
                # replaces the config, so the provider calls UpdateEndpoint again.
                replacement_trigger=None if attempt <= 1 else attempt,
            ),
        )

        alarms = [self._alarm(name, plan, a, tags) for a in view.alarms]
        self.alarm_names = [a.name for a in view.alarms]
        # Canary gates relative to the stable variant, while there is a stable variant to judge
        # against (a completed canary renders the candidate alone, without them).
        for rel in () if view.canary is None else view.canary.relative_alarms:
            alarms.append(self._relative_alarm(name, rel, tags))
            self.alarm_names.append(rel.name)
        # Blue/green and rolling: SageMaker watches one rollback alarm whose name never changes;
        # the gates are its metric-math definition (strategies/rollback.py).
        rollback = rollback_alarm(plan)
        rollback_names: list[str] = []
        if rollback is not None:
            alarms.append(self._rollback_alarm(name, rollback, tags))
            self.alarm_names.append(rollback.name)
            rollback_names.append(rollback.name)
        self.rollback_alarm_name = None if rollback is None else rollback.name
        endpoint_tags: pulumi.Input[dict[str, str]] = {**tags, **dict(plan.endpoint_tags)}
        if native:
            # What this stack deployed, for `rollout status` and the next `pulumi up` to compare
            # with the config SageMaker actually runs (strategies/native.py).
            endpoint_tags = config.name.apply(
                lambda c: {
                    **tags,
                    **dict(plan.endpoint_tags),
                    DEPLOYED_CONFIG_TAG: c,
                    ATTEMPT_TAG: str(attempt),
                }
            )
        self.endpoint = sm.Endpoint(
            f"{name}-endpoint",
            name=plan.endpoint_name,
            endpoint_config_name=config.name,
            deployment_config=deployment_config(plan, rollback_names),
            tags=endpoint_tags,
            # Alarms first: auto-rollback and the hook read them by name from the start.
            opts=self._endpoint_options(plan, alarms),
        )
        self.variant_names = [v.name for v in view.production_variants]
        self.shadow_variant_names = [v.name for v in view.shadow_variants]

        def table_users(what: str) -> dict[str, Any]:
            """What the hook and the A/B evaluator take alike: this endpoint, the stack's state
            table, topic and keys (brought or declared)."""
            if stack.table_name is None or stack.table_arn is None or stack.topic_arn is None:
                raise ValueError(
                    f"endpoint {plan.endpoint_name}: {what} needs the stack's state table"
                )
            return {
                "endpoint_arn": self.endpoint.arn,
                "table_name": stack.table_name,
                "table_arn": stack.table_arn,
                "topic_arn": stack.topic_arn,
                "topic_key_arn": stack.topic_key_arn,
                "table_key_arn": stack.table_key_arn,
                "key_arn": key_arn,
                "account": account,
                "tags": tags,
                "depends_on": [self.endpoint],
                "opts": child,
                "target": target,
            }

        self.hook = None
        if view.canary is not None:
            self.hook = CanaryHook(
                f"{name}-hook",
                spec=view.canary.rollout,
                reserved_concurrency=view.canary.hook_reserved_concurrency,
                **table_users("a canary"),
            )

        self.ab_evaluator = None
        evaluator = plan.strategy_plan.evaluator if isinstance(plan.strategy_plan, ABPlan) else None
        if evaluator is not None:
            from sagemaker_rollouts.infra.evaluators import AbEvaluator  # A/B stacks only

            self.ab_evaluator = AbEvaluator(
                f"{name}-ab-evaluator", spec=evaluator, **table_users("an A/B evaluator")
            )
        self.dashboard = self._dashboard(name, plan, view, alarms, account)
        self.scaling_targets = {
            v.name: self._autoscaling(name, plan, v, tags)
            for v in view.production_variants
            if v.autoscaling is not None
        }

        self.drift_job = None
        if plan.drift is not None:
            if stack.bucket is None:
                raise ValueError(
                    f"endpoint {plan.endpoint_name}: the drift job reads the stack's capture bucket"
                )
            from sagemaker_rollouts.infra.evaluators import DriftJob  # drift stacks only

            self.drift_job = DriftJob(
                f"{name}-drift",
                plan=plan.drift,
                bucket=stack.bucket,
                key_arn=key_arn,
                tags=tags,
                topic_arn=stack.topic_arn,
                topic_key_arn=stack.topic_key_arn,
                depends_on=[self.endpoint],
                opts=child,
                target=target,
            )

        self.glue_table = self._glue_table(name, plan, stack, child)

        self.register_outputs(
            {
                "endpoint_name": self.endpoint.name,
                "variant_names": self.variant_names,
                "alarm_names": self.alarm_names,
                "dashboard_name": self.dashboard.dashboard_name,
            }
        )

    def _autoscaling(
        self, name: str, plan: EndpointPlan, variant: VariantPlan, tags: dict[str, str]
    ) -> aws.appautoscaling.Target:
        """One scalable target per variant, with a target-tracking policy on invocations per
        instance and/or a custom metric (strategies/autoscaling.py).

        The endpoint's live instance count is no input of any resource here: a `pulumi up` that
        declares no new endpoint config leaves what autoscaling did alone. A new endpoint config
        starts each variant at its configured instance_count (UpdateEndpoint), then target
        tracking takes over again within min..max.
        """
        a = variant.autoscaling
        assert a is not None
        target = aws.appautoscaling.Target(
            f"{name}-scaling-{variant.name}",
            service_namespace=autoscaling.SERVICE_NAMESPACE,
            scalable_dimension=autoscaling.SCALABLE_DIMENSION,
            resource_id=autoscaling.resource_id(plan.endpoint_name, variant.name),
            min_capacity=autoscaling.min_capacity_at(a, variant.weight),
            max_capacity=a.max_capacity,
            # The stack's tag: the CI role registers targets only with it (infra/ci_policy.py).
            tags=tags,
            # The variant must exist before it can be registered. An adopted endpoint keeps its
            # scaling on `pulumi destroy` as it keeps the endpoint (deregistering would leave a
            # production endpoint at whatever count it had): retained while adopted.
            opts=self._scaling_options(plan, depends_on=[self.endpoint]),
        )
        track = aws.appautoscaling
        policies: list[tuple[str, track.PolicyTargetTrackingScalingPolicyConfigurationArgs]] = []
        if a.invocations_per_instance is not None:
            policies.append(
                (
                    "invocations",
                    track.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                        target_value=a.invocations_per_instance,
                        predefined_metric_specification=track.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                            predefined_metric_type=autoscaling.PREDEFINED_METRIC
                        ),
                        scale_in_cooldown=a.scale_in_cooldown_seconds,
                        scale_out_cooldown=a.scale_out_cooldown_seconds,
                    ),
                )
            )
        if a.custom is not None:
            c = a.custom
            policies.append(
                (
                    "custom",
                    track.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                        target_value=c.target,
                        customized_metric_specification=track.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationArgs(
                            namespace=c.namespace,
                            metric_name=c.metric,
                            statistic=c.statistic,
                            dimensions=[
                                track.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationDimensionArgs(
                                    name=k, value=val
                                )
                                for k, val in c.dimensions
                            ],
                        ),
                        scale_in_cooldown=a.scale_in_cooldown_seconds,
                        scale_out_cooldown=a.scale_out_cooldown_seconds,
                    ),
                )
            )
        for role, config in policies:
            track.Policy(
                f"{name}-scaling-{variant.name}-{role}",
                name=f"{plan.endpoint_name}-{variant.name}-{role}",
                policy_type="TargetTrackingScaling",
                service_namespace=target.service_namespace,
                scalable_dimension=target.scalable_dimension,
                resource_id=target.resource_id,
                target_tracking_scaling_policy_configuration=config,
                opts=self._scaling_options(plan),
            )
        return target

    def _scaling_options(
        self, plan: EndpointPlan, depends_on: list[pulumi.Resource] | None = None
    ) -> pulumi.ResourceOptions:
        """Options of a variant's scalable target and policies.

        Recreate deletes the endpoint before creating its replacement, and deleting an endpoint
        deregisters its variants from Application Auto Scaling (SageMaker Developer Guide,
        "Delete endpoints configured for auto scaling"), while their inputs (a resource id
        spelling the endpoint's fixed name) stay the same, so Pulumi would keep believing they
        exist. They are replaced with the endpoint instead (the trigger is its config name,
        which changes exactly when recreate replaces it), deleted first: deregistering what is
        already gone succeeds (the provider ignores ObjectNotFoundException), then they are
        registered on the new endpoint, after it (they depend on it).
        """
        recreate = isinstance(plan.strategy_plan, RecreatePlan) and not plan.adopt
        return pulumi.ResourceOptions(
            parent=self,
            depends_on=depends_on,
            retain_on_delete=plan.adopt,
            replacement_trigger=self.endpoint.endpoint_config_name if recreate else None,
            delete_before_replace=recreate,
        )

    def _dashboard(
        self,
        name: str,
        plan: EndpointPlan,
        view: Rendering,
        alarms: list[aws.cloudwatch.MetricAlarm],
        account: Account,
    ) -> aws.cloudwatch.Dashboard:
        """Traffic, errors, latency, rollout progress and alarm states (strategies/dashboard.py)."""
        shown = replace(
            plan,
            production_variants=view.production_variants,
            shadow_variants=view.shadow_variants,
        )
        completed = view.canary is None
        stack = pulumi.get_stack()
        body = pulumi.Output.all(*[a.arn for a in alarms]).apply(
            lambda arns: json.dumps(
                dashboard.dashboard_body(
                    shown,
                    region=account.region,
                    stack=stack,
                    alarm_arns=list(arns),
                    completed=completed,
                ),
                sort_keys=True,
            )
        )
        return aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=dashboard.dashboard_name(plan.endpoint_name, account.region),
            dashboard_body=body,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _endpoint_options(
        self, plan: EndpointPlan, alarms: list[aws.cloudwatch.MetricAlarm]
    ) -> pulumi.ResourceOptions:
        if plan.adopt:
            # Adoption (`adopt: true`): import the live endpoint by name (the provider's import
            # id for aws_sagemaker_endpoint is the name). An import fails unless the declared
            # inputs match the live endpoint, and this stack's config is new, so the config,
            # deployment settings and tags are left as they are while `adopt` is set. Unset
            # it and the next `up` moves the endpoint to this stack's config (UpdateEndpoint).
            # Retained on delete while adopted: `pulumi destroy` (or dropping the endpoint from
            # the config) must not delete a production endpoint this stack never created; an
            # import is otherwise deleted like any resource (pulumi/pulumi#3842, and Pulumi's
            # import guide recommends `retain_on_delete` for imported resources).
            return pulumi.ResourceOptions(
                parent=self,
                depends_on=alarms,
                import_=plan.endpoint_name,
                ignore_changes=list(ADOPT_IGNORES),
                retain_on_delete=True,
            )
        if not isinstance(plan.strategy_plan, RecreatePlan):
            return pulumi.ResourceOptions(parent=self, depends_on=alarms)
        # Recreate. pulumi_aws updates an endpoint in place when `endpointConfigName` changes
        # (UpdateEndpoint: SageMaker brings up the new fleet, shifts traffic, then drops the
        # old one). Recreate means the opposite: replace the endpoint when its config changes.
        # Its name is explicit, so the old endpoint must be deleted before the new one is
        # created (two endpoints cannot share a name): that is the recreate downtime.
        return pulumi.ResourceOptions(
            parent=self,
            depends_on=alarms,
            replace_on_changes=["endpointConfigName"],
            delete_before_replace=True,
        )

    def _model(
        self,
        name: str,
        plan: EndpointPlan,
        model: ModelPlan,
        key_arn: pulumi.Output[str] | None,
        account: Account,
        tags: dict[str, str],
    ) -> sm.Model:
        depends: list[pulumi.Resource] = []
        role_arn: pulumi.Input[str]
        if model.execution_role_arn is not None:
            role_arn = secrets.resolve(model.execution_role_arn)
        elif self._default_role_arn is not None:
            role_arn = self._default_role_arn
        else:
            role = aws.iam.Role(
                f"{name}-role-{model.key}",
                assume_role_policy=json.dumps(iam.assume_role("sagemaker.amazonaws.com")),
                description=f"execution role of model {model.key} on {plan.endpoint_name}",
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self),
            )
            capture_arn: pulumi.Input[str | None] = None
            if self.capture_uri is not None:
                capture_arn = self.capture_uri.apply(iam.s3_folder_arn)
            use_key = key_arn if (plan.endpoint_kms or _captures_with_key(plan)) else None
            # a component's secret Outputs (infra/secrets.py): grants from the real URL and image
            real = secrets.resolve_model(model) if secrets.has_tokens(model) else model
            # The platform's VPC (component args) needs the same EC2 grants as a model's own.
            default_vpc = self._default_vpc if model.vpc is None else None
            subnets = None if default_vpc is None else default_vpc.subnets
            groups = None if default_vpc is None else default_vpc.security_group_ids
            policy = pulumi.Output.all(
                account.account_id, account.partition, use_key, capture_arn, real, subnets, groups
            ).apply(
                lambda a: json.dumps(
                    iam.execution_role_policy(
                        model=a[4],
                        vpc=None
                        if a[5] is None or a[6] is None
                        else VpcPlan(security_group_ids=tuple(a[6]), subnets=tuple(a[5])),
                        endpoint_name=plan.endpoint_name,
                        rollback_alarm_arns=[
                            f"arn:{a[1]}:cloudwatch:{account.region}:{a[0]}:alarm:{n}"
                            for n in _rollback_names(plan)
                        ],
                        account=a[0],
                        region=account.region,
                        partition=a[1],
                        key_arn=a[2],
                        capture_prefix_arn=a[3],
                    )
                )
            )
            # CreateModel checks that the role can pull the image: the policy must exist first.
            depends.append(
                aws.iam.RolePolicy(
                    f"{name}-role-{model.key}-policy",
                    role=role.id,
                    policy=policy,
                    opts=pulumi.ResourceOptions(parent=self),
                )
            )
            role_arn = role.arn
        return sm.Model(
            f"{name}-model-{model.key}",
            execution_role_arn=role_arn,
            primary_container=sm.ModelPrimaryContainerArgs(
                image=secrets.resolve(model.image),
                model_data_url=secrets.resolve(model.model_data_url)
                if model.model_data_compressed
                else None,
                model_data_source=None
                if model.model_data_compressed or model.model_data_url is None
                else model_data_source(secrets.resolve(model.model_data_url)),
                environment={k: secrets.resolve(v) for k, v in model.environment} or None,
            ),
            vpc_config=self._default_vpc
            if model.vpc is None
            else sm.ModelVpcConfigArgs(
                security_group_ids=[secrets.resolve(x) for x in model.vpc.security_group_ids],
                subnets=[secrets.resolve(x) for x in model.vpc.subnets],
            ),
            enable_network_isolation=model.network_isolation,
            tags=tags,
            # Kept when replaced, like the configs that name it: a rolling rollback provisions
            # the old config's instances again. `rollout prune` deletes the unused ones.
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends, retain_on_delete=True),
        )

    def _glue_table(
        self, name: str, plan: EndpointPlan, stack: StackResources, child: pulumi.ResourceOptions
    ) -> aws.glue.CatalogTable | None:
        """The Glue table `rollout shadow-report --engine athena` queries: one `line` column over
        the endpoint's capture prefix, partitions projected by Athena (see
        `shadow_compare.glue_table_spec` for the layout and the AWS docs it follows)."""
        match plan.strategy_plan:
            case ShadowPlan(report=report) if report.glue is not None:
                glue = report.glue
            case (
                RecreatePlan()
                | ShadowPlan()
                | CanaryPlan()
                | ABPlan()
                | BlueGreenPlan()
                | RollingPlan()
            ):
                return None  # a Glue table only for a shadow with `athena`
            case _:
                assert_never(plan.strategy_plan)
        capture = plan.data_capture
        if capture is None or self.capture_uri is None or stack.glue_database is None:
            raise ValueError(
                f"endpoint {plan.endpoint_name}: strategy.shadow.athena needs data capture on "
                "(the Glue table reads the capture prefix)"
            )
        from sagemaker_rollouts.strategies.shadow_compare import (  # shadow.athena only
            DEFAULT_HISTORY_DAYS,
            glue_table_spec,
        )

        variants = (report.production, report.shadow)
        # Our own bucket expires captures after retention_days: project no older hours.
        history = (
            capture.retention_days + 1
            if capture.destination_s3_uri is None
            else DEFAULT_HISTORY_DAYS
        )
        spec = self.capture_uri.apply(
            lambda uri: glue_table_spec(
                glue,
                capture_uri=uri,
                endpoint_name=plan.endpoint_name,
                variants=variants,
                history_days=history,
            )
        )
        return aws.glue.CatalogTable(
            f"{name}-glue-table",
            name=glue.table,
            database_name=stack.glue_database.name,
            table_type="EXTERNAL_TABLE",
            description=f"SageMaker data capture of endpoint {plan.endpoint_name}",
            parameters=spec.apply(lambda s: dict(s.parameters)),
            partition_keys=spec.apply(
                lambda s: [
                    aws.glue.CatalogTablePartitionKeyArgs(name=n, type=t)
                    for n, t in s.partition_keys
                ]
            ),
            storage_descriptor=aws.glue.CatalogTableStorageDescriptorArgs(
                location=spec.apply(lambda s: s.location),
                input_format=spec.apply(lambda s: s.input_format),
                output_format=spec.apply(lambda s: s.output_format),
                columns=spec.apply(
                    lambda s: [
                        aws.glue.CatalogTableStorageDescriptorColumnArgs(name=n, type=t)
                        for n, t in s.columns
                    ]
                ),
                ser_de_info=aws.glue.CatalogTableStorageDescriptorSerDeInfoArgs(
                    serialization_library=spec.apply(lambda s: s.serde),
                    parameters=spec.apply(lambda s: dict(s.serde_parameters)),
                ),
            ),
            opts=child,
        )

    def _data_capture(
        self, capture: DataCapturePlan | None, key_arn: pulumi.Output[str] | None
    ) -> sm.EndpointConfigurationDataCaptureConfigArgs | None:
        if capture is None or self.capture_uri is None:
            return None
        modes = [
            m
            for m, on in (("Input", capture.capture_input), ("Output", capture.capture_output))
            if on
        ]
        return sm.EndpointConfigurationDataCaptureConfigArgs(
            enable_capture=True,
            initial_sampling_percentage=capture.sampling_percent,
            destination_s3_uri=self.capture_uri,
            capture_options=[
                sm.EndpointConfigurationDataCaptureConfigCaptureOptionArgs(capture_mode=m)
                for m in modes
            ],
            kms_key_id=key_arn if capture.kms else None,
        )

    def _rollback_alarm(
        self, name: str, rollback: RollbackAlarmPlan, tags: dict[str, str]
    ) -> aws.cloudwatch.MetricAlarm:
        """`MAX([gate conditions]) >= 1` as a metric-math alarm with a stable name."""
        queries = metric_queries(
            [(m, m.gate_key) for m in rollback.metrics],
            aws.cloudwatch.MetricAlarmMetricQueryArgs(
                id="rollback",
                expression=rollback.expression,
                label="any gate breaching",
                return_data=True,
            ),
        )
        return aws.cloudwatch.MetricAlarm(
            f"{name}-rollback-alarm",
            name=rollback.name,
            alarm_description=rollback.description,
            metric_queries=queries,
            threshold=1.0,
            comparison_operator="GreaterThanOrEqualToThreshold",
            evaluation_periods=rollback.evaluation_periods,
            datapoints_to_alarm=rollback.datapoints_to_alarm,
            # Missing data per gate is already folded into the expression with FILL.
            treat_missing_data="notBreaching",
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _relative_alarm(
        self, name: str, rel: RelativeAlarmPlan, tags: dict[str, str]
    ) -> aws.cloudwatch.MetricAlarm:
        """A metric-math gate: per-variant MetricStat queries and one expression that returns
        data (strategies/relative_gates.py)."""
        queries = metric_queries(
            [(m, m.label) for m in rel.metrics],
            aws.cloudwatch.MetricAlarmMetricQueryArgs(
                id=EXPRESSION_ID, expression=rel.expression, label=rel.label, return_data=True
            ),
        )
        return aws.cloudwatch.MetricAlarm(
            f"{name}-alarm-{rel.key}",
            name=rel.name,
            alarm_description=rel.description,
            metric_queries=queries,
            threshold=rel.threshold,
            comparison_operator=rel.comparison,
            evaluation_periods=rel.evaluation_periods,
            datapoints_to_alarm=rel.datapoints_to_alarm,
            treat_missing_data=rel.treat_missing_data,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _alarm(
        self, name: str, plan: EndpointPlan, alarm: AlarmPlan, tags: dict[str, str]
    ) -> aws.cloudwatch.MetricAlarm:
        # its role, read back by `rollout status --endpoint NAME` (no stack file there)
        return metric_alarm(
            f"{name}-alarm-{alarm.key}",
            alarm,
            dimensions=dict(alarm.dimensions) or None,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )


def metric_queries(
    metrics: Sequence[tuple[Any, str]], expression: aws.cloudwatch.MetricAlarmMetricQueryArgs
) -> list[aws.cloudwatch.MetricAlarmMetricQueryArgs]:
    """A metric-math alarm's queries: one MetricStat per `(metric, label)` (a rollback or
    relative gate's metric: id, namespace, metric, stat, period_seconds, dimensions), returning
    no data, then the `expression` query, the one that returns data (CloudWatch PutMetricAlarm:
    exactly one query returns data)."""
    return [
        aws.cloudwatch.MetricAlarmMetricQueryArgs(
            id=m.id,
            label=label,
            return_data=False,
            metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                namespace=m.namespace,
                metric_name=m.metric,
                stat=m.stat,
                period=m.period_seconds,
                dimensions=dict(m.dimensions) or None,
            ),
        )
        for m, label in metrics
    ] + [expression]


def _rollback_names(plan: EndpointPlan) -> list[str]:
    found = rollback_alarm(plan)
    return [] if found is None else [found.name]


def _captures_with_key(plan: EndpointPlan) -> bool:
    return plan.data_capture is not None and plan.data_capture.kms
