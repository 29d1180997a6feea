"""IAM and resource policy documents, as pure functions of plain ARNs and names.

Components resolve the ARNs (Outputs) and call these inside `apply` to build JSON strings: data
in, data out, no resources. Invariant: no statement grants a write action on `"*"` unless AWS
offers no resource-level permission for it, and then it carries a condition or a comment why.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sagemaker_rollouts.strategies.config import is_unknown
from sagemaker_rollouts.strategies.plan import ModelPlan, VpcPlan

Doc = dict[str, Any]

_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?P<cn>\.cn)?"
    r"/(?P<repo>[^:@]+)"
)


def statement(
    sid: str,
    actions: Sequence[str],
    resources: Sequence[str] | str,
    condition: Mapping[str, Any] | None = None,
) -> Doc:
    st: Doc = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": list(actions),
        "Resource": resources if isinstance(resources, str) else list(resources),
    }
    if condition is not None:
        st["Condition"] = dict(condition)
    return st


def document(*statements: Doc) -> Doc:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def assume_role(service: str, *, source_account: str | None = None) -> Doc:
    """Trust policy letting one AWS service principal assume the role.

    `source_account`: only on behalf of resources of this account (`aws:SourceAccount`, IAM
    User Guide "The confused deputy problem"), for a service that serves many accounts and
    assumes the role for one of its resources (AWS Chatbot's channel configurations).
    """
    st: Doc = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if source_account is not None:
        st["Condition"] = {"StringEquals": {"aws:SourceAccount": source_account}}
    return {"Version": "2012-10-17", "Statement": [st]}


def ecr_repository_arn(image: str) -> str | None:
    """The ECR repository ARN of an image URI, or None when the image is not in ECR."""
    m = _ECR_IMAGE.match(image)
    if m is None:
        return None
    partition = "aws-cn" if m["cn"] else "aws"
    return f"arn:{partition}:ecr:{m['region']}:{m['account']}:repository/{m['repo']}"


def s3_location(url: str) -> tuple[str, str]:
    """`s3://bucket/key/prefix` -> ("bucket", "key/prefix").

    Offline (`rollout plan`), an encrypted URL stands as `[secret]`: it maps to ("[secret]", "") so
    the plan still renders; under `pulumi up` the program sees the decrypted URL.
    """
    if is_unknown(url):
        return url, ""
    if not url.startswith("s3://"):
        raise ValueError(f"not an S3 URL: {url!r}")
    bucket, _, key = url.removeprefix("s3://").partition("/")
    return bucket, key


def s3_prefix_arn(url: str, partition: str = "aws") -> str:
    """The objects a model artifact URL names: the object itself (`s3://b/model.tar.gz`: that key
    only, not `model.tar.gz-old`), or, for an uncompressed model (the URL ends with `/`),
    everything below that folder (the prefix ends at the `/` delimiter)."""
    bucket, key = s3_location(url)
    if key == "" or key.endswith("/"):
        return f"arn:{partition}:s3:::{bucket}/{key}*"
    return f"arn:{partition}:s3:::{bucket}/{key}"


def s3_folder_arn(url: str, partition: str = "aws") -> str:
    """Everything below a folder URL (`s3://b/capture` -> `b/capture/*`): the prefix ends at the
    `/` delimiter, so `capture-other/` is not included."""
    bucket, key = s3_location(url)
    key = key.strip("/")
    return f"arn:{partition}:s3:::{bucket}/{key + '/' if key else ''}*"


def execution_role_policy(
    *,
    model: ModelPlan,
    endpoint_name: str,
    account: str,
    region: str,
    partition: str,
    key_arn: str | None,
    capture_prefix_arn: str | None,
    rollback_alarm_arns: Sequence[str] = (),
    vpc: VpcPlan | None = None,
) -> Doc:
    """What a SageMaker model's execution role needs to host it, and nothing else.

    `vpc`: the VPC the model runs in when it has none of its own (`model.vpc` wins): the
    component's `vpc_subnet_ids`/`vpc_security_group_ids`. SageMaker creates the network
    interfaces with the execution role, so a VpcConfig without the EC2 grants fails CreateModel
    (SageMaker Developer Guide, "Give SageMaker AI Hosted Endpoints Access to Resources in Your
    Amazon VPC", and the CreateModel execution-role permissions).

    `rollback_alarm_arns`: the endpoint's auto-rollback alarms (blue/green, rolling). SageMaker's
    deployment guardrails read them with the execution role: "Ensure that your IAM execution
    role has permission to perform the cloudwatch:DescribeAlarms action on the auto-rollback
    alarms you specify" (SageMaker Developer Guide, deployment-guardrails-configuration).
    DescribeAlarms accepts alarm ARNs as resources, so the grant names only those alarms.
    """
    statements: list[Doc] = []
    if rollback_alarm_arns:
        statements.append(
            statement(
                "ReadRollbackAlarms", ["cloudwatch:DescribeAlarms"], list(rollback_alarm_arns)
            )
        )
    if model.model_data_url is not None:
        statements.append(
            statement(
                "ReadModelArtifact",
                ["s3:GetObject"],
                [s3_prefix_arn(model.model_data_url, partition)],
            )
        )
        if model.model_data_url.endswith("/"):  # an uncompressed model: SageMaker lists it
            bucket, key = s3_location(model.model_data_url)
            statements.append(
                statement(
                    "ListModelPrefix",
                    ["s3:ListBucket"],
                    [f"arn:{partition}:s3:::{bucket}"],
                    {"StringLike": {"s3:prefix": [f"{key}*"]}},
                )
            )
    repo = ecr_repository_arn(model.image)
    if repo is not None:
        # GetAuthorizationToken has no resource-level permission: AWS only accepts "*" for it.
        # It returns a registry login token; what can be pulled is scoped by the next statement.
        statements.append(statement("EcrLogin", ["ecr:GetAuthorizationToken"], "*"))
        statements.append(
            statement(
                "PullModelImage",
                [
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchCheckLayerAvailability",
                ],
                [repo],
            )
        )
    # SageMaker logs an endpoint to exactly `/aws/sagemaker/Endpoints/<endpoint name>` (SageMaker
    # Developer Guide, "Log groups and streams that Amazon SageMaker AI sends to CloudWatch Logs").
    # The group itself and its streams (`:log-stream:*`) and nothing else: a trailing `*` on the
    # name would also match another stack's `<endpoint name>-drift`.
    log_group = endpoint_log_group_arn(partition, region, account, endpoint_name)
    statements.append(
        statement(
            "EndpointLogs",
            [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:DescribeLogStreams",
            ],
            [log_group, f"{log_group}:log-stream:*"],
        )
    )
    if capture_prefix_arn is not None:
        statements.append(statement("WriteDataCapture", ["s3:PutObject"], [capture_prefix_arn]))
    if key_arn is not None:
        # Capture objects are written with SSE-KMS: S3 asks KMS for a data key on the writer's
        # behalf (kms:GenerateDataKey) and decrypts it for multipart parts (kms:Decrypt); S3 needs
        # neither kms:Encrypt nor kms:DescribeKey (Amazon S3 User Guide, "Using server-side
        # encryption with AWS KMS keys", permissions). The ML volume key is used through the grant
        # SageMaker creates with the deployer's credentials, not through this role.
        statements.append(
            statement("UseStackKey", ["kms:Decrypt", "kms:GenerateDataKey"], [key_arn])
        )
    vpc = model.vpc if model.vpc is not None else vpc
    if vpc is not None:
        eni = f"arn:{partition}:ec2:{region}:{account}:network-interface/*"
        subnets = [f"arn:{partition}:ec2:{region}:{account}:subnet/{s}" for s in vpc.subnets]
        groups = [
            f"arn:{partition}:ec2:{region}:{account}:security-group/{g}"
            for g in vpc.security_group_ids
        ]
        statements.append(
            statement(
                "VpcInterfaces",
                ["ec2:CreateNetworkInterface"],
                [eni, *subnets, *groups],
            )
        )
        statements.append(
            statement(
                "VpcInterfacePermissions",
                [
                    "ec2:CreateNetworkInterfacePermission",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DeleteNetworkInterfacePermission",
                ],
                [eni],
            )
        )
        # EC2 Describe* calls have no resource-level permissions: "*" is the only accepted value.
        statements.append(
            statement(
                "VpcDescribe",
                [
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeVpcs",
                    "ec2:DescribeDhcpOptions",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeSecurityGroups",
                ],
                "*",
            )
        )
    return document(*statements)


def endpoint_log_group_arn(partition: str, region: str, account: str, endpoint_name: str) -> str:
    """The ARN of the log group SageMaker writes an endpoint's container logs to."""
    return f"arn:{partition}:logs:{region}:{account}:log-group:/aws/sagemaker/Endpoints/{endpoint_name}"


def own_rows(partition_key_pattern: str) -> Doc:
    """Condition: every item the request touches has a partition key matching the pattern
    (`dynamodb:LeadingKeys`, DynamoDB Developer Guide "Using IAM policy conditions for
    fine-grained access control"; `ForAllValues` so a request naming any other key is denied)."""
    return {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [partition_key_pattern]}}


def hook_policy(
    *,
    endpoint_arn: str,
    endpoint_name: str,
    alarm_arns: Sequence[str],
    table_arn: str,
    topic_arn: str,
    log_group_arn: str,
    key_arn: str | None,
    topic_key_arn: str | None = None,
    table_key_arn: str | None = None,
) -> Doc:
    """The canary hook's permissions: this endpoint, its alarms, its own rows of the state table
    (partition keys `<endpoint name>/<candidate>/<attempt>`, `lambdas.rollout.rollout_id`;
    endpoint names have no `/`, so the prefix ends at a delimiter) and the topic.

    What the hook calls (lambdas/canary_hook.py, lambdas/store.py): DescribeEndpoint,
    UpdateEndpointWeightsAndCapacities, DescribeAlarms, GetItem, Query (history),
    TransactWriteItems of two Puts (authorized as dynamodb:PutItem per item, DynamoDB Developer
    Guide "TransactWriteItems": "you need permissions for each action in the transaction"),
    sns:Publish. Its metrics are Embedded Metric Format log lines: no PutMetricData.
    `topic_key_arn`: the KMS key of a brought, encrypted topic (`topic_key_statement`);
    `table_key_arn`: the KMS key of a brought state table (`table_key_statement`).
    """
    statements = [
        statement(
            "Endpoint",
            ["sagemaker:DescribeEndpoint", "sagemaker:UpdateEndpointWeightsAndCapacities"],
            [endpoint_arn],
        ),
        # DescribeAlarms and DescribeAlarmHistory accept alarm ARNs as resources, so the hook can
        # read only its alarms (the history names the alarm of a rollback whose record was lost;
        # only composite alarms' history needs `*`, per the DescribeAlarmHistory API reference).
        statement(
            "Alarms",
            ["cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmHistory"],
            list(alarm_arns),
        ),
        statement(
            "StateTable",
            ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
            [table_arn],
            own_rows(f"{endpoint_name}/*"),
        ),
        statement("Notify", ["sns:Publish"], [topic_arn]),
        statement(
            "Logs",
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [log_group_arn, f"{log_group_arn}:*"],
        ),
    ]
    if key_arn is not None:
        statements.append(
            statement("UseStackKey", ["kms:Decrypt", "kms:GenerateDataKey"], [key_arn])
        )
    statements += brought_key_statements(
        topic_key_arn=topic_key_arn, table_arn=table_arn, table_key_arn=table_key_arn
    )
    return document(*statements)


def brought_key_statements(
    *, topic_key_arn: str | None, table_arn: str, table_key_arn: str | None
) -> list[Doc]:
    """The grants on the keys of a brought topic and a brought state table (none when neither
    is brought): what every Lambda that publishes to the topic and reads or writes the table
    needs besides the topic and table themselves."""
    out: list[Doc] = []
    if topic_key_arn is not None:
        out.append(topic_key_statement(topic_key_arn))
    if table_key_arn is not None:
        out.append(table_key_statement(table_key_arn, table_arn))
    return out


def table_key_statement(table_key_arn: str, table_arn: str) -> Doc:
    """Reading and writing items of a DynamoDB table encrypted with a customer managed key needs
    that key, used through DynamoDB: `kms:Decrypt`, `kms:Encrypt` and `kms:GenerateDataKey`
    (DynamoDB Developer Guide, "Encryption at rest: how it works", customer managed keys; the
    KMS Developer Guide's DynamoDB key policy lets principals use the key only
    `kms:ViaService` DynamoDB). The same condition here: the Lambda cannot use the key directly.
    `table_arn` names the table's partition and Region (`arn:PARTITION:dynamodb:REGION:...`;
    China's service endpoints end in `.amazonaws.com.cn`)."""
    _, partition, _, region, *_ = table_arn.split(":")
    return statement(
        "UseTableKey",
        ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
        [table_key_arn],
        {"StringEquals": {"kms:ViaService": service_host("dynamodb", region, partition)}},
    )


def service_host(service: str, region: str, partition: str) -> str:
    """A service's Regional endpoint host, the value of `kms:ViaService` for requests it makes
    to KMS for a caller (AWS KMS Developer Guide, "kms:ViaService"): `dynamodb.us-east-1.
    amazonaws.com`; China's end in `.amazonaws.com.cn`."""
    return f"{service}.{region}.amazonaws.com" + (".cn" if partition == "aws-cn" else "")


def topic_key_statement(topic_key_arn: str, sid: str = "UseTopicKey") -> Doc:
    """Publishing to an SNS topic encrypted with a customer managed key needs
    `kms:GenerateDataKey*` and `kms:Decrypt` on that key (SNS Developer Guide, "Encryption at
    rest": "the publisher must have the kms:GenerateDataKey* and kms:Decrypt permissions").
    Only through SNS (`kms:ViaService`, AWS KMS Developer Guide): SNS asks KMS in the topic's
    Region, which is the key's (a topic's key must be in its Region), so the key's ARN names the
    host; the publisher cannot use the key directly to decrypt whatever else it encrypts."""
    parts = topic_key_arn.split(":")
    if len(parts) >= 6 and parts[0] == "arn" and parts[2] == "kms" and parts[3]:
        via = {"StringEquals": {"kms:ViaService": service_host("sns", parts[3], parts[1])}}
    else:  # not an ARN (never from validated config): still SNS only, in any Region
        via = {"StringLike": {"kms:ViaService": "sns.*"}}
    return statement(sid, ["kms:GenerateDataKey*", "kms:Decrypt"], [topic_key_arn], via)


def key_policy(*, account: str, region: str, partition: str) -> Doc:
    """The stack key's policy: the account's IAM decides who uses it (the default key policy),
    plus the two services that cannot use a key through IAM: CloudWatch Logs for this account's
    log groups, and CloudWatch alarms publishing to the stack's topic."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountIamDecides",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",  # in a key policy "*" means this key
            },
            {
                # A function-errors alarm (infra/lambda_function.py) publishes to the stack's
                # topic, which this key encrypts: CloudWatch needs the key through its key policy
                # (SNS Developer Guide, "Enable compatibility between event sources from AWS
                # services and encrypted topics": kms:Decrypt and kms:GenerateDataKey* for
                # cloudwatch.amazonaws.com), only for this account's alarms in this Region.
                "Sid": "CloudWatchAlarms",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{partition}:cloudwatch:{region}:{account}:alarm:*"
                    },
                },
            },
            {
                "Sid": "CloudWatchLogs",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{region}.amazonaws.com"},
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
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{partition}:logs:{region}:{account}:log-group:*"
                        )
                    }
                },
            },
        ],
    }


def tls_only_bucket_policy(bucket_arn: str) -> Doc:
    """Deny every request to the bucket that does not use TLS."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


# ------------------------------------------------------------------------------------------
# The CI/CD pipeline's role (README "CI/CD pipeline"): GitHub Actions OIDC, least privilege.

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"


def _github(provider_arn: str, subjects: Sequence[str]) -> Doc:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": "sts.amazonaws.com",
                        f"{GITHUB_OIDC_HOST}:sub": list(subjects),
                    },
                },
            }
        ],
    }


def github_trust_policy(
    provider_arn: str, repository: str, refs: Sequence[str], environments: Sequence[str]
) -> Doc:
    """The deploy role's trust: GitHub OIDC tokens of one repository whose subject is one of the
    given refs (`refs/heads/main`: jobs without an environment) or deployment environments
    (`production`: a job in that environment, after its required reviewers), audience
    sts.amazonaws.com. Exact subjects (`StringEquals`), so no pull request (`repo:R:pull_request`),
    other branch, other environment or other repository matches (GitHub docs, "About security
    hardening with OpenID Connect", subject claims)."""
    subjects = [f"repo:{repository}:ref:{r}" for r in refs]
    subjects += [f"repo:{repository}:environment:{e}" for e in environments]
    return _github(provider_arn, subjects)


def github_pull_request_trust_policy(provider_arn: str, repository: str) -> Doc:
    """The preview role's trust: this repository's pull requests only (`repo:R:pull_request`)."""
    return _github(provider_arn, [f"repo:{repository}:pull_request"])
