"""Create in moto what a program declared under Pulumi's mocks: the stand-in for `pulumi up`.

`deploy(run, clients)` takes an `OfflineRun` (sagemaker_rollouts/simulator/mockrun.py: every resource with its inputs as
the engine receives them, physical names as the mocks assign them) and makes the runtime
resources the operator CLI reads: IAM roles (Lambda's CreateFunction needs its role to exist),
the state table, the topic, models, endpoint configs, endpoints with their tags, metric alarms
with their tags, and Lambda functions with their environment. Nothing is derived from a plan: the
values are the declared inputs, so a test that passes here reads what the program declared.

What it leaves out: KMS keys, buckets, log groups, policies, schedules and rules (the CLI reads
none of them); metric-math alarms (moto stores them, but the CLI lists only the alarms an
`AlarmPlan` declares: those carry a `rollouts:alarm-role` tag). A Lambda's code is a stub zip:
these tests never invoke it (moto would need Docker), they run the hook's code in-process.

`provisioned(directory, stack)` is the other stand-in, for a stack file rather than a program:
a fresh moto server holding what the rehearsal's provisioning code
(sagemaker_rollouts/simulator/provision.py) creates from the stack's plan; `canary_of`,
`hook_env` and `rollout_state` read its canary's rollout, run its hook in-process and read
the rollout's state item.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sagemaker_rollouts.cli.stack import LoadedStack, load_stack
from sagemaker_rollouts.lambdas import store
from sagemaker_rollouts.lambdas.controller import RolloutState
from sagemaker_rollouts.lambdas.rollout import RolloutSpec
from sagemaker_rollouts.simulator.mockrun import OfflineRun, redact
from sagemaker_rollouts.simulator.moto_server import moto_server
from sagemaker_rollouts.simulator.provision import AwsClients, provision

FUNCTION = "aws:lambda/function:Function"


def _tags(inputs: dict[str, Any]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": str(v)} for k, v in (inputs.get("tags") or {}).items()]


def _stub_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("stub.py", "def handler(event, context):\n    return None\n")
    return buf.getvalue()


def deploy(run: OfflineRun, aws: AwsClients) -> None:
    """Create `run`'s runtime resources in the API `aws` talks to (moto)."""
    by_type: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for r in run.resources:
        if r.custom and r.id is not None:
            by_type.setdefault(r.type, []).append((r.id, redact(r.inputs)))
    iam = aws_iam(aws)
    roles = {str(i["role"]).rsplit("/", 1)[-1] for _, i in by_type.get(FUNCTION, [])}
    # the mocks' physical names are not random as Pulumi's are: two stacks may name one role
    roles -= {r["RoleName"] for r in iam.list_roles()["Roles"]}
    for role in sorted(roles):
        iam.create_role(
            RoleName=role,
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )
    for physical, _ in by_type.get("aws:dynamodb/table:Table", []):
        store.create_state_table(aws.dynamodb, physical)
    for physical, inputs in by_type.get("aws:sns/topic:Topic", []):
        # a topic's id is its ARN; one declared without `name` (a platform's own, brought to a
        # component) is autonamed, as the mocks name it
        name = inputs.get("name") or physical.rsplit(":", 1)[-1]
        aws.sns.create_topic(Name=name, Tags=_tags(inputs))
    for physical, inputs in by_type.get("aws:sagemaker/model:Model", []):
        container = inputs["primaryContainer"]
        aws.sagemaker.create_model(
            ModelName=physical,
            PrimaryContainer={
                "Image": container["image"],
                **(
                    {"ModelDataUrl": container["modelDataUrl"]}
                    if container.get("modelDataUrl")
                    else {}
                ),
            },
            ExecutionRoleArn=inputs["executionRoleArn"],
            Tags=_tags(inputs),
        )
    for physical, inputs in by_type.get(
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration", []
    ):
        aws.sagemaker.create_endpoint_config(
            EndpointConfigName=physical,
            ProductionVariants=[
                {
                    "VariantName": v["variantName"],
                    "ModelName": v["modelName"],
                    "InstanceType": v["instanceType"],
                    "InitialInstanceCount": int(v["initialInstanceCount"]),
                    "InitialVariantWeight": float(v["initialVariantWeight"]),
                }
                for v in inputs["productionVariants"]
            ],
            Tags=_tags(inputs),
        )
    for physical, inputs in by_type.get("aws:sagemaker/endpoint:Endpoint", []):
        aws.sagemaker.create_endpoint(
            EndpointName=physical,
            EndpointConfigName=inputs["endpointConfigName"],
            Tags=_tags(inputs),
        )
    for physical, inputs in by_type.get("aws:cloudwatch/metricAlarm:MetricAlarm", []):
        if "metricQueries" in inputs:
            continue  # metric math: not listed by the CLI (see the module docstring)
        stat = (
            {"ExtendedStatistic": inputs["extendedStatistic"]}
            if inputs.get("extendedStatistic")
            else {"Statistic": inputs["statistic"]}
        )
        aws.cloudwatch.put_metric_alarm(
            AlarmName=physical,
            AlarmDescription=inputs.get("alarmDescription", ""),
            Namespace=inputs["namespace"],
            MetricName=inputs["metricName"],
            Dimensions=[{"Name": k, "Value": v} for k, v in inputs["dimensions"].items()],
            Period=int(inputs["period"]),
            EvaluationPeriods=int(inputs["evaluationPeriods"]),
            DatapointsToAlarm=int(inputs["datapointsToAlarm"]),
            Threshold=float(inputs["threshold"]),
            ComparisonOperator=inputs["comparisonOperator"],
            TreatMissingData=inputs["treatMissingData"],
            Tags=_tags(inputs),
            **stat,
        )
    for physical, inputs in by_type.get(FUNCTION, []):
        aws.lambda_.create_function(
            FunctionName=physical,
            Role=inputs["role"],
            Runtime=inputs["runtime"],
            Handler=inputs["handler"],
            Code={"ZipFile": _stub_zip()},
            Environment={"Variables": dict(inputs["environment"]["variables"])},
            Tags={k: str(v) for k, v in (inputs.get("tags") or {}).items()},
        )


@contextmanager
def provisioned(directory: Path, stack: str) -> Iterator[tuple[LoadedStack, AwsClients]]:
    """`directory`'s stack `stack` (its `Pulumi.<stack>.yaml`) as `pulumi up` would leave it, in
    a fresh moto server (server mode on 127.0.0.1, the environment pointed at it while the block
    runs): yields the loaded stack and clients in its plan's region."""
    loaded = load_stack(directory, stack)
    with moto_server(loaded.plan.region):
        aws = AwsClients.create(loaded.plan.region)
        provision(loaded.plan, aws)
        yield loaded, aws


def canary_of(stack: LoadedStack) -> tuple[RolloutSpec, str]:
    """The rollout the hook of `stack`'s first endpoint steps, and the stack's state table
    (asserted: a canary stack has both)."""
    from tests.plan_fixtures import rollout_of

    spec = rollout_of(stack.plan.endpoints[0])
    assert spec is not None and stack.plan.state_table_name is not None
    return spec, stack.plan.state_table_name


def hook_env(stack: LoadedStack) -> dict[str, str]:
    """What the hook of `stack`'s first endpoint needs of its environment to run in-process
    (`ROLLOUT_SPEC`, `STATE_TABLE`; no topic: nothing is published)."""
    spec, table = canary_of(stack)
    return {"ROLLOUT_SPEC": spec.to_json(), "STATE_TABLE": table}


def rollout_state(stack: LoadedStack, aws: AwsClients) -> RolloutState | None:
    """The state item of `stack`'s canary rollout in the state table, None before the hook's
    first tick."""
    spec, table = canary_of(stack)
    return store.read_state(aws.dynamodb, table, spec.rollout_id)


def aws_iam(aws: AwsClients) -> Any:
    """An IAM client beside `aws`'s (same session and region)."""
    return aws._client("iam")  # pyright: ignore[reportPrivateUsage]


def stand_alone_endpoint(aws: AwsClients, name: str) -> None:
    """An endpoint declared outside sagemaker-rollouts (no `rollouts:*` tags), in moto."""
    aws.sagemaker.create_model(
        ModelName=f"{name}-model",
        PrimaryContainer={"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/x:1"},
        ExecutionRoleArn="arn:aws:iam::123456789012:role/someone-elses",
    )
    aws.sagemaker.create_endpoint_config(
        EndpointConfigName=f"{name}-config",
        ProductionVariants=[
            {
                "VariantName": "main",
                "ModelName": f"{name}-model",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    aws.sagemaker.create_endpoint(
        EndpointName=name, EndpointConfigName=f"{name}-config", Tags=[{"Key": "team", "Value": "x"}]
    )
