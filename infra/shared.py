"""Stack-level resources every endpoint of a stack shares: key, capture bucket, state table, topic."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from sagemaker_rollouts.infra import ci_policy, iam, secrets
from sagemaker_rollouts.strategies.plan import DeploymentPlan, NotificationsPlan

TOKEN = "sagemaker-rollouts:index:StackResources"
# Capture objects expire after this many days (when the plan names no prefix rules); noncurrent
# versions soon after (policy
# `capture-bucket-guarded` requires a lifecycle rule on every bucket).
CAPTURE_RETENTION_DAYS = 30
NONCURRENT_RETENTION_DAYS = 7


def _retains_capture(plan: DeploymentPlan) -> bool:
    return plan.needs_capture_bucket and plan.capture_on_destroy == "retain"


def boundary_rule(arn: pulumi.Input[str]) -> pulumi.ResourceTransformation:
    """Set `permissions_boundary` on every IAM role declared under the resource it is given to."""

    def apply(
        args: pulumi.ResourceTransformationArgs,
    ) -> pulumi.ResourceTransformationResult | None:
        if args.type_ != "aws:iam/role:Role":
            return None
        return pulumi.ResourceTransformationResult(
            props={**args.props, "permissions_boundary": arn}, opts=args.opts
        )

    return apply


@dataclass(frozen=True, slots=True)
class BringYourOwn:
    """Resources a user's program already has, used instead of the ones the stack would declare.

    `kms_key_arn` replaces the stack's KMS key (its key policy must let CloudWatch Logs, SNS,
    DynamoDB and SageMaker use it); `topic_arn` the notification topic; `table_name` the canary
    state table (same key schema: `pk` and `sk`, both strings). None: the stack declares its own.
    `topic_kms_key_arn` / `table_kms_key_arn`: the customer managed keys a brought topic / table
    is encrypted with (None: an AWS managed or owned key, which needs no grant).
    """

    kms_key_arn: pulumi.Input[str] | None = None
    topic_arn: pulumi.Input[str] | None = None
    table_name: str | None = None
    # The KMS key `topic_arn` is encrypted with: publishers need GenerateDataKey*/Decrypt on it.
    topic_kms_key_arn: pulumi.Input[str] | None = None
    # The KMS key `table_name` is encrypted with: its readers and writers need it through DynamoDB.
    table_kms_key_arn: pulumi.Input[str] | None = None


@dataclass(frozen=True, slots=True)
class Account:
    """Where the stack deploys: resolved once per program from the provider's identity."""

    account_id: pulumi.Output[str]
    partition: pulumi.Output[str]
    region: str


def bucket_prefix(project: str, stack: str) -> str:
    """A valid S3 bucket name prefix (lowercase, at most 37 characters) for the capture bucket
    (the CI role's grant names the same prefix: `ci_policy.capture_bucket_prefix`)."""
    return ci_policy.capture_bucket_prefix(project, stack)


class StackResources(pulumi.ComponentResource):
    """The stack's KMS key, data capture bucket, canary state table and notification topic.

    Each is declared only when the plan needs it and `byo` does not bring it; the resource
    attributes are None otherwise. `key_arn`, `table_name`, `table_arn` and `topic_arn` are set
    whenever the plan needs the resource, declared here or brought. `key_alias` defaults to
    `alias/<project>-<stack>`.
    """

    # Attribute types for type checkers only: Pulumi resolves a resource class's runtime
    # annotations with typing.get_type_hints on every registration (pulumi._types), which
    # would import the pulumi_aws modules they name (e.g. glue) in every stack.
    if TYPE_CHECKING:
        key: aws.kms.Key | None
        bucket: aws.s3.Bucket | None
        table: aws.dynamodb.Table | None
        topic: aws.sns.Topic | None
        glue_database: aws.glue.CatalogDatabase | None  # only when an endpoint sets shadow.athena
        subscriptions: list[pulumi.Resource]  # subscriptions and chat channel configurations
        key_arn: pulumi.Output[str] | None
        table_name: pulumi.Output[str] | None
        table_arn: pulumi.Output[str] | None
        topic_arn: pulumi.Output[str] | None

    def __init__(
        self,
        name: str,
        plan: DeploymentPlan,
        account: Account,
        tags: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
        *,
        byo: BringYourOwn | None = None,
        key_alias: str | None = None,
    ) -> None:
        super().__init__(TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        byo = BringYourOwn() if byo is None else byo
        self.key = None
        self.bucket = None
        self.table = None
        self.topic = None
        self.glue_database = None
        self.key_arn = None
        self.table_name = None
        self.table_arn = None
        self.topic_arn = None
        # The key of a brought topic (None: the stack's own topic, on `key_arn` or aws/sns).
        self.topic_key_arn: pulumi.Output[str] | None = None
        # The key of a brought state table (None: the stack's own table, on `key_arn`).
        self.table_key_arn: pulumi.Output[str] | None = None

        if plan.needs_kms_key and byo.kms_key_arn is not None:
            self.key_arn = pulumi.Output.from_input(byo.kms_key_arn)
        elif plan.needs_kms_key:
            policy = pulumi.Output.all(account.account_id, account.partition).apply(
                lambda a: json.dumps(
                    iam.key_policy(account=a[0], region=account.region, partition=a[1])
                )
            )
            self.key = aws.kms.Key(
                f"{name}-key",
                description=f"sagemaker-rollouts {plan.project}/{plan.stack}: capture, state, logs",
                enable_key_rotation=True,
                # KMS waits this long (7..30 days) before it deletes a key `pulumi destroy`
                # scheduled for deletion (ScheduleKeyDeletion PendingWindowInDays).
                deletion_window_in_days=plan.kms_deletion_window_days,
                policy=policy,
                tags=tags,
                # Captured data kept past `pulumi destroy` stays encrypted with this key: keep
                # the key too, or the data would become unreadable once the window passes.
                opts=pulumi.ResourceOptions(parent=self, retain_on_delete=_retains_capture(plan)),
            )
            aws.kms.Alias(
                f"{name}-key-alias",
                name=f"alias/{plan.project}-{plan.stack}" if key_alias is None else key_alias,
                target_key_id=self.key.key_id,
                opts=child,
            )
            self.key_arn = self.key.arn
        key_arn = self.key_arn

        if plan.needs_capture_bucket:
            self.bucket = self._capture_bucket(name, plan, key_arn, tags, child)

        if plan.state_table_name is not None and byo.table_name is not None:
            table = byo.table_name
            self.table_name = pulumi.Output.from_input(table)
            self.table_arn = pulumi.Output.all(account.partition, account.account_id).apply(
                lambda a: f"arn:{a[0]}:dynamodb:{account.region}:{a[1]}:table/{table}"
            )
            if byo.table_kms_key_arn is not None:
                self.table_key_arn = pulumi.Output.from_input(byo.table_kms_key_arn)
        elif plan.state_table_name is not None:
            self.table = aws.dynamodb.Table(
                f"{name}-state",
                name=plan.state_table_name,
                billing_mode="PAY_PER_REQUEST",
                hash_key="pk",
                range_key="sk",
                attributes=[
                    aws.dynamodb.TableAttributeArgs(name="pk", type="S"),
                    aws.dynamodb.TableAttributeArgs(name="sk", type="S"),
                ],
                server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
                    enabled=True, kms_key_arn=key_arn
                ),
                point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
                tags=tags,
                opts=child,
            )
            self.table_name = self.table.name
            self.table_arn = self.table.arn
        own_topic = byo.topic_arn
        if own_topic is None and plan.notifications is not None:
            own_topic = secrets.resolve(plan.notifications.topic_arn)
        wants_topic = plan.topic_name is not None or plan.state_table_name is not None
        if wants_topic and own_topic is not None:
            self.topic_arn = pulumi.Output.from_input(own_topic)
            topic_key = byo.topic_kms_key_arn
            if topic_key is None and plan.notifications is not None:
                topic_key = plan.notifications.topic_kms_key_arn
            if topic_key is not None:
                self.topic_key_arn = pulumi.Output.from_input(topic_key)
        elif wants_topic:
            # Without a stack key, SNS's AWS-managed key still encrypts at rest.
            self.topic = aws.sns.Topic(
                f"{name}-notify",
                # Explicit, like the table's: the operator CLI finds the topic by this name.
                name=plan.topic_name,
                kms_master_key_id=key_arn if key_arn is not None else "alias/aws/sns",
                tags=tags,
                opts=child,
            )
            self.topic_arn = self.topic.arn

        # One Glue database per stack for the shadow-report tables (`strategy.shadow.athena`);
        # every endpoint's plan names the same one (`shadow_compare.glue_names`).
        databases = sorted(
            {glue.database for e in plan.endpoints if (glue := e.glue_table) is not None}
        )
        if databases:
            if len(databases) > 1:
                raise ValueError(f"one Glue database per stack, the plan names {databases}")
            self.glue_database = aws.glue.CatalogDatabase(
                f"{name}-glue",
                name=databases[0],
                description=(
                    f"sagemaker-rollouts {plan.project}/{plan.stack}: shadow capture tables "
                    "(rollout shadow-report --engine athena)"
                ),
                tags=tags,
                opts=child,
            )

        self.subscriptions = []
        if plan.notifications is not None and self.topic_arn is not None:
            self.subscriptions = subscribe(
                self, name, plan.notifications, self.topic_arn, account, tags
            )

        self.register_outputs(
            {
                "key_arn": key_arn,
                "capture_bucket": None if self.bucket is None else self.bucket.bucket,
                "state_table": self.table_name,
                "topic_arn": self.topic_arn,
                "glue_database": None if self.glue_database is None else self.glue_database.name,
            }
        )

    def _capture_bucket(
        self,
        name: str,
        plan: DeploymentPlan,
        key_arn: pulumi.Output[str] | None,
        tags: dict[str, str],
        child: pulumi.ResourceOptions,
    ) -> aws.s3.Bucket:
        """Private, versioned, KMS-encrypted, TLS-only: captured requests are customer data."""
        delete = plan.capture_on_destroy == "delete"
        # Retained data keeps its guards after `pulumi destroy`: the public access block, the
        # TLS-only policy, encryption and the expiry rules are kept with the bucket.
        keep = pulumi.ResourceOptions(parent=self, retain_on_delete=not delete)
        bucket = aws.s3.Bucket(
            f"{name}-capture",
            bucket_prefix=bucket_prefix(plan.project, plan.stack),
            # `data_capture.on_destroy`: delete empties the bucket (every object version) so
            # `pulumi destroy` does not fail with BucketNotEmpty; retain leaves bucket and data.
            force_destroy=delete,
            tags=tags,
            opts=keep,
        )
        block = aws.s3.BucketPublicAccessBlock(
            f"{name}-capture-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=keep,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-capture-ownership",
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=keep,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-capture-encryption",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms", kms_master_key_id=key_arn
                    ),
                    bucket_key_enabled=True,
                )
            ],
            opts=keep,
        )
        aws.s3.BucketVersioning(
            f"{name}-capture-versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=keep,
        )
        # Captured requests are customer data: keep them no longer than needed. One rule per
        # endpoint prefix (`data_capture.retention_days`); old versions go a few days later.
        retention = plan.capture_retention or (("", CAPTURE_RETENTION_DAYS),)
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-capture-lifecycle",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id=f"expire-{prefix.strip('/').replace('/', '-') or 'all'}"[:255],
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(
                        prefix=f"{prefix.strip('/')}/" if prefix else ""
                    ),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=days),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=NONCURRENT_RETENTION_DAYS
                    ),
                    # Parts of an upload that never completed are stored (and billed) until
                    # aborted: drop them after a week.
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=7
                    ),
                )
                for prefix, days in retention
            ],
            opts=keep,
        )
        # After the public access block: S3 rejects policy writes racing the block's creation.
        aws.s3.BucketPolicy(
            f"{name}-capture-tls-only",
            bucket=bucket.id,
            policy=bucket.arn.apply(lambda arn: json.dumps(iam.tls_only_bucket_policy(arn))),
            opts=pulumi.ResourceOptions.merge(keep, pulumi.ResourceOptions(depends_on=[block])),
        )
        return bucket


def subscribe(
    parent: pulumi.Resource,
    name: str,
    notifications: NotificationsPlan,
    topic_arn: pulumi.Output[str],
    account: Account,
    tags: dict[str, str],
) -> list[pulumi.Resource]:
    """The topic's subscribers from config: email / HTTPS (each confirms once), SQS (its queue
    policy must let the topic send), Lambda (invoke permission declared here), and Slack or Teams
    channels through AWS Chatbot (a channel role with no permissions, guardrail ReadOnlyAccess:
    the channel only receives notifications)."""
    child = pulumi.ResourceOptions(parent=parent)
    out: list[pulumi.Resource] = []
    for i, sub in enumerate(notifications.subscriptions):
        resource_name = f"{name}-subscription-{i}-{sub.protocol}"
        depends: list[pulumi.Resource] = []
        if sub.protocol == "lambda":
            depends.append(
                aws.lambda_.Permission(
                    f"{resource_name}-invoke",
                    action="lambda:InvokeFunction",
                    function=secrets.resolve(sub.endpoint),
                    principal="sns.amazonaws.com",
                    source_arn=topic_arn,
                    opts=child,
                )
            )
        out.append(
            aws.sns.TopicSubscription(
                resource_name,
                topic=topic_arn,
                protocol=sub.protocol,
                endpoint=secrets.resolve(sub.endpoint),
                opts=pulumi.ResourceOptions(parent=parent, depends_on=depends),
            )
        )
    if not notifications.chat_channels:
        return out
    role = aws.iam.Role(
        f"{name}-chatbot",
        # Only for this account's channel configurations (the confused-deputy guard).
        assume_role_policy=account.account_id.apply(
            lambda a: json.dumps(iam.assume_role("chatbot.amazonaws.com", source_account=a))
        ),
        description="AWS Chatbot channel role: posts rollout notifications, nothing else",
        tags=tags,
        opts=child,
    )
    guardrail = account.partition.apply(lambda p: f"arn:{p}:iam::aws:policy/ReadOnlyAccess")
    for i, ch in enumerate(notifications.chat_channels):
        config_name = f"{name}-{ch.kind}-{i}"[:128]
        if ch.kind == "slack":
            assert ch.workspace_id is not None
            out.append(
                aws.chatbot.SlackChannelConfiguration(
                    f"{name}-chat-{i}-slack",
                    configuration_name=config_name,
                    iam_role_arn=role.arn,
                    slack_team_id=secrets.resolve(ch.workspace_id),
                    slack_channel_id=secrets.resolve(ch.channel_id),
                    sns_topic_arns=[topic_arn],
                    guardrail_policy_arns=[guardrail],
                    tags=tags,
                    opts=child,
                )
            )
        else:
            assert ch.team_id is not None and ch.tenant_id is not None
            out.append(
                aws.chatbot.TeamsChannelConfiguration(
                    f"{name}-chat-{i}-teams",
                    configuration_name=config_name,
                    iam_role_arn=role.arn,
                    team_id=secrets.resolve(ch.team_id),
                    tenant_id=secrets.resolve(ch.tenant_id),
                    channel_id=secrets.resolve(ch.channel_id),
                    sns_topic_arns=[topic_arn],
                    guardrail_policy_arns=[guardrail],
                    tags=tags,
                    opts=child,
                )
            )
    return out
