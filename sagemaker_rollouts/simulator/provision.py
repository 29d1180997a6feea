"""Create in an AWS API (moto in rehearsals and tests) the runtime state a DeploymentPlan describes.

This is the rehearsal's stand-in for `pulumi up`: models, endpoint configs with the plan's production
(and shadow) variants, endpoints, CloudWatch alarms from each AlarmPlan (the endpoint's and its
Lambda functions' errors alarms, `strategies/function_alarms.py`), the rollout state table and
the SNS topic. It talks plain boto3, so it only ever runs against `AWS_ENDPOINT_URL` in practice; the
real stack is created by the Pulumi program in `infra/`.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config

from sagemaker_rollouts.lambdas import store
from sagemaker_rollouts.strategies.function_alarms import errors_alarms
from sagemaker_rollouts.strategies.plan import (
    AlarmPlan,
    CanaryPlan,
    DeploymentPlan,
    EndpointPlan,
    VariantPlan,
    alarm_tags,
    weight,
)
from sagemaker_rollouts.strategies.relative_gates import EXPRESSION_ID, RelativeAlarmPlan

_RETRIES = Config(retries={"mode": "standard", "max_attempts": 3})
ACCOUNT_ID = "123456789012"  # moto's default account


@functools.cache
def _shared_loader() -> Any:
    """botocore's model loader, shared by every session in the process: it caches the parsed
    service models (SageMaker's is large), so building clients for the next moto server or
    command is cheap. It holds no credentials."""
    return botocore.loaders.create_loader()


class AwsClients:
    """The boto3 clients the CLI uses, all from one session and region, each made on first use
    (a client costs ~50 ms to build). `AWS_ENDPOINT_URL` (moto) is honoured by boto3 itself."""

    def __init__(self, region: str) -> None:
        self.region = region
        core = botocore.session.get_session()
        core.register_component("data_loader", _shared_loader())
        self._session = boto3.session.Session(botocore_session=core, region_name=region)
        self._made: dict[str, Any] = {}

    @classmethod
    def create(cls, region: str) -> AwsClients:
        return cls(region)

    def _client(self, service: str) -> Any:
        if service not in self._made:
            self._made[service] = self._session.client(service, config=_RETRIES)  # type: ignore[call-overload]
        return self._made[service]

    @property
    def sagemaker(self) -> Any:
        return self._client("sagemaker")

    @property
    def cloudwatch(self) -> Any:
        return self._client("cloudwatch")

    @property
    def dynamodb(self) -> Any:
        return self._client("dynamodb")

    @property
    def sns(self) -> Any:
        return self._client("sns")

    @property
    def sts(self) -> Any:
        return self._client("sts")

    @property
    def s3(self) -> Any:
        return self._client("s3")

    @property
    def lambda_(self) -> Any:
        return self._client("lambda")

    @property
    def athena(self) -> Any:
        return self._client("athena")


@dataclass(frozen=True, slots=True)
class ProvisionedStack:
    topic_arn: str
    table_name: str | None
    endpoint_configs: tuple[tuple[str, str], ...]  # (endpoint key, endpoint config name)


def topic_name(plan: DeploymentPlan) -> str:
    """The notification topic's name, as the Pulumi program declares it (explicit, not autonamed)."""
    assert plan.topic_name is not None, "only canary stacks have a notification topic"
    return plan.topic_name


def find_topic_arn(plan: DeploymentPlan, sns: Any) -> str | None:
    """The stack's notification topic in the account, by its exact name."""
    if plan.topic_name is None:
        return None
    for page in sns.get_paginator("list_topics").paginate():
        for topic in page.get("Topics", []):
            arn = str(topic["TopicArn"])
            if arn.rsplit(":", 1)[-1] == plan.topic_name:
                return arn
    return None


def model_name(endpoint: EndpointPlan, model_key: str) -> str:
    m = endpoint.model(model_key)
    return _name(f"{endpoint.endpoint_name}-{m.key}", m.fingerprint)


def endpoint_config_name(endpoint: EndpointPlan) -> str:
    digest = hashlib.sha256(
        json.dumps(
            [
                (v.name, v.model, v.instance_type, v.instance_count, v.weight)
                for v in endpoint.production_variants + endpoint.shadow_variants
            ]
            + [endpoint.model(v.model).fingerprint for v in endpoint.production_variants],
        ).encode()
    ).hexdigest()[:8]
    return _name(endpoint.endpoint_name, digest)


def _name(base: str, suffix: str) -> str:
    """`base-suffix` within SageMaker's 63 characters, trimming the base."""
    return f"{base[: 62 - len(suffix)].rstrip('-')}-{suffix}"


def provision(plan: DeploymentPlan, clients: AwsClients) -> ProvisionedStack:
    """Create every endpoint of the plan with its alarms, plus the state table and topic.

    Invariant: after it returns, each endpoint is InService with the plan's initial weights
    (candidate at its first step for canaries), and every alarm exists (moto starts them OK).
    """
    role_arn = _execution_role(plan)
    configs: list[tuple[str, str]] = []
    for ep in plan.endpoints:
        tags = resource_tags(plan, ep)
        configs.append((ep.key, _provision_endpoint(ep, clients, role_arn, tags)))
        for alarm in (*ep.alarms, *errors_alarms(ep)):  # its own, its functions' errors
            put_alarm(alarm, clients, {**tags, **alarm_tags(alarm)})
        if isinstance(ep.strategy_plan, CanaryPlan):
            for rel in ep.strategy_plan.relative_alarms:
                put_relative_alarm(rel, clients)
    topic_arn = clients.sns.create_topic(Name=topic_name(plan))["TopicArn"]
    if plan.state_table_name is not None:
        store.create_state_table(clients.dynamodb, plan.state_table_name)
    return ProvisionedStack(
        topic_arn=topic_arn, table_name=plan.state_table_name, endpoint_configs=tuple(configs)
    )


def _execution_role(plan: DeploymentPlan) -> str:
    """A placeholder execution role for models that name none (the Pulumi program creates a
    scoped one); moto, the only API this provisioner targets, does not resolve it."""
    return f"arn:aws:iam::{ACCOUNT_ID}:role/{plan.project}-{plan.stack}-sagemaker"[:2048]


def _variant(v: VariantPlan, endpoint: EndpointPlan) -> dict[str, Any]:
    return {
        "VariantName": v.name,
        "ModelName": model_name(endpoint, v.model),
        "InstanceType": v.instance_type,
        "InitialInstanceCount": v.instance_count,
        "InitialVariantWeight": weight(v.weight),  # 0 stays 0: a dark variant
    }


def resource_tags(plan: DeploymentPlan, ep: EndpointPlan) -> dict[str, str]:
    """The tags the program puts on an endpoint's resources (infra/endpoint.py): the stack's,
    then the endpoint's own (`managed-by`, `rollouts:stack`, `rollouts:endpoint`,
    `rollouts:strategy`). Secret tag values stay their placeholder."""
    return {**dict(plan.tags), **dict(ep.tags)}


def _provision_endpoint(
    ep: EndpointPlan, clients: AwsClients, role_arn: str, tags: dict[str, str]
) -> str:
    for m in ep.models:
        container: dict[str, Any] = {"Image": m.image, "Environment": dict(m.environment)}
        if m.model_data_url is not None:
            container["ModelDataUrl"] = m.model_data_url
        clients.sagemaker.create_model(
            ModelName=model_name(ep, m.key),
            PrimaryContainer=container,
            ExecutionRoleArn=m.execution_role_arn if m.execution_role_arn is not None else role_arn,
            EnableNetworkIsolation=m.network_isolation,
        )
    config_name = endpoint_config_name(ep)
    request: dict[str, Any] = {
        "EndpointConfigName": config_name,
        "ProductionVariants": [_variant(v, ep) for v in ep.production_variants],
        "Tags": [{"Key": k, "Value": v} for k, v in ep.tags],
    }
    if ep.shadow_variants:  # moto accepts but does not store them (a known moto gap)
        request["ShadowProductionVariants"] = [_variant(v, ep) for v in ep.shadow_variants]
    clients.sagemaker.create_endpoint_config(**request)
    clients.sagemaker.create_endpoint(
        EndpointName=ep.endpoint_name,
        EndpointConfigName=config_name,
        Tags=[{"Key": k, "Value": v} for k, v in {**tags, **dict(ep.endpoint_tags)}.items()],
    )
    return config_name


def put_alarm(alarm: AlarmPlan, clients: AwsClients, tags: dict[str, str] | None = None) -> None:
    """PutMetricAlarm from an AlarmPlan, exactly one of Statistic / ExtendedStatistic, with
    `tags` (the program's: `resource_tags` and the alarm's role)."""
    request: dict[str, Any] = {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description,
        "Namespace": alarm.namespace,
        "MetricName": alarm.metric,
        "Threshold": alarm.threshold,
        "ComparisonOperator": alarm.comparison,
        "Period": alarm.period_seconds,
        "EvaluationPeriods": alarm.evaluation_periods,
        "DatapointsToAlarm": alarm.datapoints_to_alarm,
        "TreatMissingData": alarm.treat_missing_data,
        "Dimensions": [{"Name": k, "Value": v} for k, v in alarm.dimensions],
    }
    if tags:
        request["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    if alarm.extended_statistic is not None:
        request["ExtendedStatistic"] = alarm.extended_statistic
    else:
        assert alarm.statistic is not None, f"alarm {alarm.name} has no statistic"
        request["Statistic"] = alarm.statistic
    clients.cloudwatch.put_metric_alarm(**request)


def relative_alarm_request(rel: RelativeAlarmPlan) -> dict[str, Any]:
    """PutMetricAlarm for a relative gate: its per-variant MetricStat queries (ReturnData false)
    and the expression that the alarm watches (ReturnData true)."""
    metrics: list[dict[str, Any]] = [
        {
            "Id": m.id,
            "Label": m.label,
            "ReturnData": False,
            "MetricStat": {
                "Metric": {
                    "Namespace": m.namespace,
                    "MetricName": m.metric,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in m.dimensions],
                },
                "Period": m.period_seconds,
                "Stat": m.stat,
            },
        }
        for m in rel.metrics
    ]
    metrics.append(
        {"Id": EXPRESSION_ID, "Expression": rel.expression, "Label": rel.label, "ReturnData": True}
    )
    return {
        "AlarmName": rel.name,
        "AlarmDescription": rel.description,
        "Metrics": metrics,
        "Threshold": rel.threshold,
        "ComparisonOperator": rel.comparison,
        "EvaluationPeriods": rel.evaluation_periods,
        "DatapointsToAlarm": rel.datapoints_to_alarm,
        "TreatMissingData": rel.treat_missing_data,
    }


def put_relative_alarm(rel: RelativeAlarmPlan, clients: AwsClients) -> None:
    """Create a relative gate alarm (metric math) as the Pulumi program declares it."""
    clients.cloudwatch.put_metric_alarm(**relative_alarm_request(rel))
