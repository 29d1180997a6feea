"""The benchmark's baseline: a plain pulumi_aws program, written by hand, declaring what the
product declares for N copies of the canary sample's endpoint (`bench/bench_program.py`).

No sagemaker_rollouts import here: every resource is a real pulumi_aws class (the component
layers are plain `pulumi.ComponentResource`s so that URNs match), wired with outputs the way a
person writes it (`role.arn`, `key.arn`, `Output.all(...).apply(json.dumps)`). The literals are
what the product's plan computes for `tests.stackdata.canary()` (rollout id hash, config
fingerprint, the alarm thresholds and dashboard layout). `bench_program.py --check` compares the
recording of this program with the product's, resource by resource (URN, inputs, dependencies,
options), so a drift between the two is an error, not a silently faster baseline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
PROJECT = "sagemaker-rollouts"
STACK = "offline"
ROLLOUT_HASH = "736d00f0952e"  # the plan's hash of the candidate (same for every copy)
FINGERPRINT = "c43a1b2d0895"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
# The hook's zip: its handler's module and the lambdas/ modules it imports (infra/lambda_code.py).
HOOK_FILES = {
    "sagemaker_rollouts/__init__.py": "sagemaker_rollouts/__init__.py",
    **{
        f"sagemaker_rollouts/lambdas/{name}.py": f"lambdas/{name}.py"
        for name in (
            "__init__",
            "aws_adapter",
            "canary_hook",
            "controller",
            "notify",
            "records",
            "rollout",
            "scale_down",
            "store",
        )
    },
}


def _doc(statements: list[dict[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def _trust(service: str) -> str:
    return _doc(
        [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
            }
        ]
    )


def _alarm(
    name: str,
    endpoint: str,
    variant: str,
    kind: str,
    tags: dict[str, str],
    parent: pulumi.Resource,
    key: str,
) -> aws.cloudwatch.MetricAlarm:
    gate = variant == "candidate" and kind in ("errors_5xx", "latency_p99")
    alarm_tags = {
        **tags,
        "rollouts:alarm-key": f"{variant}.{kind}",
        "rollouts:alarm-role": "gate" if gate else "watch",
    }
    common: dict[str, Any] = {
        "namespace": "AWS/SageMaker",
        "dimensions": {"EndpointName": endpoint, "VariantName": variant},
        "tags": alarm_tags,
    }
    if kind == "errors_5xx":
        return aws.cloudwatch.MetricAlarm(
            f"{name}-alarm-{variant}.errors_5xx",
            name=f"{endpoint}-{variant}-5xx",
            alarm_description=f"Invocation5XXErrors of variant {variant} on endpoint {endpoint} (endpoints.{key}.alarms.errors_5xx)",
            metric_name="Invocation5XXErrors",
            statistic="Sum",
            period=60,
            evaluation_periods=2,
            datapoints_to_alarm=2,
            threshold=1,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
            opts=pulumi.ResourceOptions(parent=parent),
            **common,
        )
    if kind == "latency_p99":
        return aws.cloudwatch.MetricAlarm(
            f"{name}-alarm-{variant}.latency_p99",
            name=f"{endpoint}-{variant}-latency-p99",
            alarm_description=f"ModelLatency of variant {variant} on endpoint {endpoint} (endpoints.{key}.alarms.latency_p99)",
            metric_name="ModelLatency",
            extended_statistic="p99",
            period=60,
            evaluation_periods=3,
            datapoints_to_alarm=3,
            threshold=1000000,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
            opts=pulumi.ResourceOptions(parent=parent),
            **common,
        )
    return aws.cloudwatch.MetricAlarm(
        f"{name}-alarm-{variant}.low_traffic",
        name=f"{endpoint}-{variant}-low-traffic",
        alarm_description=f"{variant} candidate saw fewer than 100 requests in 600 s (endpoints.{key}.strategy.canary.min_invocations)",
        metric_name="Invocations",
        statistic="Sum",
        period=600,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        threshold=100,
        comparison_operator="LessThanThreshold",
        treat_missing_data="breaching",
        opts=pulumi.ResourceOptions(parent=parent),
        **common,
    )


def _metric(endpoint: str, metric: str, variant: str, **extra: Any) -> list[Any]:
    return ["AWS/SageMaker", metric, "EndpointName", endpoint, "VariantName", variant, extra]


def _dashboard_body(key: str, endpoint: str, alarm_arns: list[str]) -> str:
    variants = ("stable", "candidate")
    graph = {"period": 60, "region": REGION, "stacked": False, "view": "timeSeries"}
    widgets: list[dict[str, Any]] = [
        {
            "height": 6,
            "properties": {
                "markdown": f"## {endpoint} (canary)\n\n`rollout status --stack {STACK} --endpoint {key}`\n`rollout pause|resume|promote|abort --stack {STACK} --endpoint {key}`"
            },
            "type": "text",
            "width": 8,
            "x": 0,
            "y": 0,
        },
        {
            "height": 6,
            "properties": {
                "metrics": [
                    [
                        "SageMakerRollouts",
                        "CandidateWeight",
                        "EndpointName",
                        endpoint,
                        {"label": "candidate %"},
                    ]
                ],
                **graph,
                "stat": "Maximum",
                "title": "Candidate candidate weight (%)",
                "yAxis": {"left": {"label": "%", "max": 100, "min": 0, "showUnits": False}},
            },
            "type": "metric",
            "width": 8,
            "x": 8,
            "y": 0,
        },
        {
            "height": 6,
            "properties": {
                "metrics": [
                    ["SageMakerRollouts", "Step", "EndpointName", endpoint, {"label": "step index"}]
                ],
                **graph,
                "stat": "Maximum",
                "title": "Rollout step",
            },
            "type": "metric",
            "width": 8,
            "x": 16,
            "y": 0,
        },
        {
            "height": 6,
            "properties": {
                "metrics": [
                    _metric(endpoint, "Invocations", v, label=f"{v} Invocations") for v in variants
                ],
                **graph,
                "stat": "Sum",
                "title": "Invocations per variant",
            },
            "type": "metric",
            "width": 8,
            "x": 0,
            "y": 6,
        },
        {
            "height": 6,
            "properties": {
                "metrics": [
                    _metric(endpoint, m, v, label=f"{v} {m}")
                    for m in ("Invocation4XXErrors", "Invocation5XXErrors")
                    for v in variants
                ],
                **graph,
                "stat": "Sum",
                "title": "4XX / 5XX errors per variant",
            },
            "type": "metric",
            "width": 8,
            "x": 8,
            "y": 6,
        },
        {
            "height": 6,
            "properties": {
                "metrics": [
                    _metric(endpoint, "ModelLatency", v, label=f"{v} {p}", stat=p)
                    for p in ("p50", "p99")
                    for v in variants
                ],
                **graph,
                "stat": "p99",
                "title": "ModelLatency p50 / p99 per variant",
                "yAxis": {"left": {"label": "microseconds", "showUnits": False}},
            },
            "type": "metric",
            "width": 8,
            "x": 16,
            "y": 6,
        },
        {
            "height": 6,
            "properties": {
                "alarms": alarm_arns,
                "sortBy": "stateUpdatedTimestamp",
                "states": [],
                "title": f"Alarms of {endpoint}",
            },
            "type": "alarm",
            "width": 24,
            "x": 0,
            "y": 12,
        },
    ]
    return json.dumps({"widgets": widgets}, sort_keys=True)


def _model_policy(version: str, endpoint: str, key_arn: str, account: str) -> str:
    return _doc(
        [
            {
                "Sid": "ReadModelArtifact",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [f"arn:aws:s3:::acme-ml-models/fraud/{version}/model.tar.gz"],
            },
            {
                "Sid": "EcrLogin",
                "Effect": "Allow",
                "Action": ["ecr:GetAuthorizationToken"],
                "Resource": "*",
            },
            {
                "Sid": "PullModelImage",
                "Effect": "Allow",
                "Action": [
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchCheckLayerAvailability",
                ],
                "Resource": [f"arn:aws:ecr:{REGION}:683313688378:repository/sagemaker-xgboost"],
            },
            {
                "Sid": "EndpointLogs",
                "Effect": "Allow",
                "Action": [
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogStreams",
                ],
                "Resource": [
                    f"arn:aws:logs:{REGION}:{account}:log-group:/aws/sagemaker/Endpoints/{endpoint}",
                    f"arn:aws:logs:{REGION}:{account}:log-group:/aws/sagemaker/Endpoints/{endpoint}"
                    ":log-stream:*",
                ],
            },
            {
                "Sid": "UseStackKey",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": [key_arn],
            },
        ]
    )


def _hook_policy(a: list[str], endpoint: str, alarms: list[str]) -> str:
    endpoint_arn, table_arn, topic_arn, log_arn, key_arn, account = a
    return _doc(
        [
            {
                "Sid": "Endpoint",
                "Effect": "Allow",
                "Action": [
                    "sagemaker:DescribeEndpoint",
                    "sagemaker:UpdateEndpointWeightsAndCapacities",
                ],
                "Resource": [endpoint_arn],
            },
            {
                "Sid": "Alarms",
                "Effect": "Allow",
                "Action": ["cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmHistory"],
                "Resource": [f"arn:aws:cloudwatch:{REGION}:{account}:alarm:{x}" for x in alarms],
            },
            {
                "Sid": "StateTable",
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
                "Resource": [table_arn],
                "Condition": {
                    "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{endpoint}/*"]}
                },
            },
            {
                "Sid": "Notify",
                "Effect": "Allow",
                "Action": ["sns:Publish"],
                "Resource": [topic_arn],
            },
            {
                "Sid": "Logs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [log_arn, f"{log_arn}:*"],
            },
            {
                "Sid": "UseStackKey",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": [key_arn],
            },
        ]
    )


def program(n: int) -> None:
    """Declare the shared resources and `n` canary endpoints `fraud-<i>`, then export outputs."""
    account = aws.get_caller_identity_output().account_id
    stack_tags = {"rollouts:stack": STACK, "managed-by": PROJECT, "team": "x"}
    shared = pulumi.ComponentResource(
        "sagemaker-rollouts:index:StackResources", f"{PROJECT}-{STACK}", None
    )
    in_shared = pulumi.ResourceOptions(parent=shared)
    key = aws.kms.Key(
        f"{PROJECT}-{STACK}-key",
        description=f"{PROJECT} {PROJECT}/{STACK}: capture, state, logs",
        enable_key_rotation=True,
        deletion_window_in_days=30,
        policy=account.apply(
            lambda acct: _doc(
                [
                    {
                        "Sid": "AccountIamDecides",
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{acct}:root"},
                        "Action": "kms:*",
                        "Resource": "*",
                    },
                    {
                        "Sid": "CloudWatchAlarms",
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudwatch.amazonaws.com"},
                        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                        "Resource": "*",
                        "Condition": {
                            "StringEquals": {"aws:SourceAccount": acct},
                            "ArnLike": {
                                "aws:SourceArn": f"arn:aws:cloudwatch:{REGION}:{acct}:alarm:*"
                            },
                        },
                    },
                    {
                        "Sid": "CloudWatchLogs",
                        "Effect": "Allow",
                        "Principal": {"Service": f"logs.{REGION}.amazonaws.com"},
                        "Action": [
                            "kms:Encrypt*",
                            "kms:Decrypt*",
                            "kms:ReEncrypt*",
                            "kms:GenerateDataKey*",
                            "kms:Describe*",
                        ],
                        "Resource": "*",
                        "Condition": {
                            "ArnLike": {
                                "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{REGION}:{acct}:log-group:*"
                            }
                        },
                    },
                ]
            )
        ),
        tags=stack_tags,
        opts=in_shared,
    )
    aws.kms.Alias(
        f"{PROJECT}-{STACK}-key-alias",
        name=f"alias/{PROJECT}-{STACK}",
        target_key_id=key.key_id,
        opts=in_shared,
    )
    topic = aws.sns.Topic(
        f"{PROJECT}-{STACK}-notify",
        name=f"{PROJECT}-{STACK}-rollout-events",
        kms_master_key_id=key.arn,
        tags=stack_tags,
        opts=in_shared,
    )
    table = aws.dynamodb.Table(
        f"{PROJECT}-{STACK}-state",
        name=f"{PROJECT}-{STACK}-rollouts",
        billing_mode="PAY_PER_REQUEST",
        hash_key="pk",
        range_key="sk",
        attributes=[{"name": "pk", "type": "S"}, {"name": "sk", "type": "S"}],
        point_in_time_recovery={"enabled": True},
        server_side_encryption={"enabled": True, "kms_key_arn": key.arn},
        tags=stack_tags,
        opts=in_shared,
    )
    shared.register_outputs({})

    hook_code = pulumi.AssetArchive(
        {path: pulumi.FileAsset(str(ROOT / src)) for path, src in sorted(HOOK_FILES.items())}
    )
    outputs: dict[str, dict[str, Any]] = {
        k: {}
        for k in ("hook_functions", "alarm_names", "variant_names", "dashboards", "endpoint_names")
    }
    for i in range(n):
        key_name, endpoint = f"fraud{i}", f"fraud-{i}"
        tags = {**stack_tags, "rollouts:strategy": "canary", "rollouts:endpoint": key_name}
        comp = pulumi.ComponentResource(
            "sagemaker-rollouts:index:SageMakerEndpoint", key_name, None
        )
        child = pulumi.ResourceOptions(parent=comp)
        models: list[aws.sagemaker.Model] = []
        for version in ("v1", "v2"):
            role = aws.iam.Role(
                f"{key_name}-role-{version}",
                description=f"execution role of model {version} on {endpoint}",
                assume_role_policy=_trust("sagemaker.amazonaws.com"),
                tags=tags,
                opts=child,
            )
            policy = aws.iam.RolePolicy(
                f"{key_name}-role-{version}-policy",
                role=role.name,
                policy=pulumi.Output.all(key.arn, account).apply(
                    lambda a, v=version, e=endpoint: _model_policy(v, e, a[0], a[1])
                ),
                opts=child,
            )
            models.append(
                aws.sagemaker.Model(
                    f"{key_name}-model-{version}",
                    execution_role_arn=role.arn,
                    primary_container={
                        "image": IMAGE,
                        "model_data_url": f"s3://acme-ml-models/fraud/{version}/model.tar.gz",
                    },
                    enable_network_isolation=False,
                    tags=tags,
                    opts=pulumi.ResourceOptions(
                        parent=comp, depends_on=[policy], retain_on_delete=True
                    ),
                )
            )
        alarms = [
            _alarm(key_name, endpoint, v, kind, tags, comp, key_name)
            for v, kind in (
                ("stable", "errors_5xx"),
                ("stable", "latency_p99"),
                ("candidate", "errors_5xx"),
                ("candidate", "latency_p99"),
                ("candidate", "low_traffic"),
            )
        ]
        config = aws.sagemaker.EndpointConfiguration(
            f"{key_name}-config",
            production_variants=[
                {
                    "variant_name": "stable",
                    "model_name": models[0].name,
                    "initial_instance_count": 2,
                    "initial_variant_weight": 95,
                    "instance_type": "ml.m5.large",
                },
                {
                    "variant_name": "candidate",
                    "model_name": models[1].name,
                    "initial_instance_count": 1,
                    "initial_variant_weight": 5,
                    "instance_type": "ml.m5.large",
                },
            ],
            kms_key_arn=key.arn,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=comp, retain_on_delete=True),
        )
        rollout_id = f"{endpoint}/{ROLLOUT_HASH}/1"
        sm_endpoint = aws.sagemaker.Endpoint(
            f"{key_name}-endpoint",
            name=endpoint,
            endpoint_config_name=config.name,
            tags={
                **tags,
                "rollouts:config-candidate-percent": "5",
                "rollouts:rollout-id": rollout_id,
                "rollouts:config-fingerprint": FINGERPRINT,
            },
            opts=pulumi.ResourceOptions(parent=comp, depends_on=alarms),
        )
        dashboard_name = f"{endpoint}-{REGION}-rollout"
        aws.cloudwatch.Dashboard(
            f"{key_name}-dashboard",
            dashboard_name=dashboard_name,
            dashboard_body=pulumi.Output.all(*[a.arn for a in alarms]).apply(
                lambda arns, k=key_name, e=endpoint: _dashboard_body(k, e, list(arns))
            ),
            opts=child,
        )

        hook = pulumi.ComponentResource(
            "sagemaker-rollouts:index:CanaryHook", f"{key_name}-hook", None, child
        )
        in_hook = pulumi.ResourceOptions(parent=hook)
        fn_name = f"{endpoint}-canary-hook"
        logs = aws.cloudwatch.LogGroup(
            f"{key_name}-hook-logs",
            name=f"/aws/lambda/{fn_name}",
            retention_in_days=30,
            kms_key_id=key.arn,
            tags=tags,
            opts=in_hook,
        )
        hook_role = aws.iam.Role(
            f"{key_name}-hook-role",
            description=f"canary hook of SageMaker endpoint {endpoint}",
            assume_role_policy=_trust("lambda.amazonaws.com"),
            tags=tags,
            opts=in_hook,
        )
        gates = [f"{endpoint}-candidate-5xx", f"{endpoint}-candidate-latency-p99"]
        watched = [*gates, f"{endpoint}-candidate-low-traffic"]
        hook_policy = aws.iam.RolePolicy(
            f"{key_name}-hook-policy",
            role=hook_role.name,
            policy=pulumi.Output.all(
                sm_endpoint.arn, table.arn, topic.arn, logs.arn, key.arn, account
            ).apply(lambda a, e=endpoint, w=watched: _hook_policy(list(a), e, w)),
            opts=in_hook,
        )
        spec = {
            "baseline_alarms": [],
            "candidate_variant": "candidate",
            "endpoint_name": endpoint,
            "gate_alarms": gates,
            "insufficient_data_limit_seconds": 900,
            "metric_namespace": "SageMakerRollouts",
            "min_invocations": 100,
            "rollout_id": rollout_id,
            "sample_alarm": f"{endpoint}-candidate-low-traffic",
            "scale_down_delay_seconds": 600,
            "stable_variant": "stable",
            "steps": [[5, 600], [25, 600], [50, 600], [100, 600]],
            "version": 1,
        }
        function = aws.lambda_.Function(
            f"{key_name}-hook-function",
            name=fn_name,
            description=f"canary controller for {endpoint} ({rollout_id})",
            runtime="python3.13",
            handler="sagemaker_rollouts.lambdas.canary_hook.handler",
            role=hook_role.arn,
            code=hook_code,
            timeout=60,
            memory_size=256,
            reserved_concurrent_executions=1,
            environment={
                "variables": {
                    "ROLLOUT_SPEC": json.dumps(spec, sort_keys=True, separators=(",", ":")),
                    "ROLLOUT_STACK": STACK,
                    "ROLLOUT_TARGET": f"--stack {STACK} --endpoint {endpoint}",
                    "STATE_TABLE": table.name,
                    "TOPIC_ARN": topic.arn,
                }
            },
            tags=tags,
            opts=pulumi.ResourceOptions(parent=hook, depends_on=[logs, hook_policy, sm_endpoint]),
        )
        for rule_name, rule_args in (
            (
                "schedule",
                {
                    "description": f"tick the canary of {endpoint}",
                    "schedule_expression": "rate(1 minute)",
                },
            ),
            (
                "alarm-state",
                {
                    "description": f"alarm state changes of the canary of {endpoint}",
                    "event_pattern": json.dumps(
                        {
                            "source": ["aws.cloudwatch"],
                            "detail-type": ["CloudWatch Alarm State Change"],
                            "detail": {"alarmName": watched},
                        },
                        sort_keys=True,
                    ),
                },
            ),
        ):
            rule = aws.cloudwatch.EventRule(
                f"{key_name}-hook-{rule_name}", tags=tags, opts=in_hook, **rule_args
            )
            aws.lambda_.Permission(
                f"{key_name}-hook-{rule_name}-invoke",
                action="lambda:InvokeFunction",
                function=function.name,
                principal="events.amazonaws.com",
                source_arn=rule.arn,
                opts=in_hook,
            )
            aws.cloudwatch.EventTarget(
                f"{key_name}-hook-{rule_name}-target",
                rule=rule.name,
                arn=function.arn,
                opts=in_hook,
            )
        aws.cloudwatch.MetricAlarm(
            f"{key_name}-hook-errors",
            name=f"{fn_name}-errors",
            alarm_description=(
                f"canary controller for {endpoint} ({rollout_id}): the function itself is "
                "failing (Lambda Errors); its decisions are not being made. Read its log group "
                f"/aws/lambda/{fn_name}"
            ),
            namespace="AWS/Lambda",
            metric_name="Errors",
            dimensions={"FunctionName": function.name},
            statistic="Sum",
            period=60,
            evaluation_periods=5,
            datapoints_to_alarm=3,
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=[topic.arn],
            ok_actions=[topic.arn],
            tags={
                **tags,
                "rollouts:alarm-key": "canary_hook.errors",
                "rollouts:alarm-role": "watch",
            },
            opts=in_hook,
        )
        hook.register_outputs({})
        comp.register_outputs({})
        outputs["hook_functions"][key_name] = function.name
        outputs["alarm_names"][key_name] = [
            f"{endpoint}-stable-5xx",
            f"{endpoint}-stable-latency-p99",
            *watched,
        ]
        outputs["variant_names"][key_name] = ["stable", "candidate"]
        outputs["dashboards"][key_name] = dashboard_name
        outputs["endpoint_names"][key_name] = endpoint
    for name, value in outputs.items():
        pulumi.export(name, value)
    pulumi.export("notification_topic_arn", topic.arn)
    pulumi.export("state_table", table.name)
