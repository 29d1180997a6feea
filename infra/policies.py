"""The guardrails as plain rule functions: one source for the policy pack, the tests and the CLI.

Each rule reads resources as the Pulumi engine sees them (type token, camelCase `props`) and returns
its findings as strings. Nothing here imports pulumi or pulumi_policy:

- `policies/` (the CrossGuard pack, `pulumi preview --policy-pack policies`) wraps every rule of
  `POLICIES` in a `pulumi_policy` policy (`sagemaker_rollouts.infra.policy_pack`);
- the infra tests run `evaluate` over every resource each sample stack declares under mocks;
- `rollout plan` prints the advisory findings (and any mandatory ones).

Resource rules (`ResourcePolicy`) see one resource; stack rules (`StackPolicy`) see them all,
for what only a set of resources can show (a bucket and its lifecycle rule, an endpoint and its
rollback alarms, a Lambda and its log group).

Enforcement levels follow Pulumi's: `mandatory` blocks a deployment, `advisory` warns, `disabled`
skips. Each policy has a default level; a policy config (Pulumi's `--policy-pack-config` JSON,
`{"<policy>": {"enforcementLevel": "...", "<property>": ...}}`, or the same dict passed to
`evaluate`) overrides it and the policy's own properties.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sagemaker_rollouts.infra.ci_policy import STAR_ONLY
from sagemaker_rollouts.strategies.config import has_local_nvme

Level = Literal["mandatory", "advisory", "disabled"]
LEVELS: tuple[Level, ...] = ("mandatory", "advisory", "disabled")

# Actions AWS only accepts with Resource "*" (no resource-level permissions); see infra/iam.py.
STAR_ALLOWED = frozenset(
    {
        "ecr:GetAuthorizationToken",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeVpcs",
        "ec2:DescribeDhcpOptions",
        "ec2:DescribeSubnets",
        "ec2:DescribeSecurityGroups",
        # Read-only; no resource types in the Service Authorization Reference (A/B evaluator).
        "cloudwatch:GetMetricData",
        # No resource type either (Service Authorization Reference, AWS KMS): the CI/CD
        # pipeline's role creates the stack key (infra/ci_policy.py `STAR_ONLY`).
        "kms:CreateKey",
    }
)
STAR_ALLOWED = STAR_ALLOWED | frozenset(STAR_ONLY)
# Allowed on "*" only with a condition that scopes them.
STAR_WITH_CONDITION = frozenset({"cloudwatch:PutMetricData"})
# IAM access levels "List" and "Read" (Service Authorization Reference): the verbs AWS uses for
# actions that change nothing. Anything else is treated as a write.
READ_VERBS = ("Describe", "Get", "List", "BatchGet", "Query", "Scan", "Search", "Head", "View")
_SECRET_HINTS = ("SECRET", "PASSWORD", "TOKEN", "PRIVATE_KEY", "API_KEY", "ACCESS_KEY")

# Instance metrics SageMaker publishes every minute for as long as an instance runs
# (namespace /aws/sagemaker/Endpoints: CPUUtilization, MemoryUtilization, GPUUtilization,
# GPUMemoryUtilization, DiskUtilization; SageMaker developer guide, "Monitor Amazon SageMaker AI
# with Amazon CloudWatch"). Silence there means the fleet is gone or broken, not "no traffic".
CONTINUOUS_NAMESPACES = ("/aws/sagemaker/Endpoints",)
# Our lambdas' handlers live here (canary hook, A/B evaluator, drift job).
HOOK_HANDLER_PREFIX = "sagemaker_rollouts.lambdas."
PRODUCTION_TAGS: dict[str, list[str]] = {
    "environment": ["production", "prod"],
    "env": ["production", "prod"],
    "stage": ["production", "prod"],
}

T_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
T_POLICY = "aws:iam/policy:Policy"
T_ROLE = "aws:iam/role:Role"
T_BUCKET = "aws:s3/bucket:Bucket"
T_BUCKET_V2 = "aws:s3/bucketV2:BucketV2"
T_PUBLIC_ACCESS = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
T_BUCKET_SSE = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
T_BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
T_LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
T_TABLE = "aws:dynamodb/table:Table"
T_TOPIC = "aws:sns/topic:Topic"
T_LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
T_FUNCTION = "aws:lambda/function:Function"
T_KEY = "aws:kms/key:Key"
T_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
T_COMPOSITE = "aws:cloudwatch/compositeAlarm:CompositeAlarm"
T_ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
T_ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
T_MODEL = "aws:sagemaker/model:Model"


class Unknown:
    """A value not known yet: during `pulumi preview`, whatever derives from a resource still to
    be created (its ARN, and any string built from it, e.g. an IAM policy document). The pack's
    adapter puts `UNKNOWN` where Pulumi's analyzer hands an unknown sentinel. It is truthy (a
    value will be there) and equal to nothing, not even itself."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<unknown during preview>"

    def __eq__(self, other: object) -> bool:
        return False

    def __hash__(self) -> int:
        return id(self)


UNKNOWN = Unknown()


class UnknownValueError(Exception):
    """A rule needs a value that is unknown during preview (`path`: its property path). The pack's
    adapter reports it the engine's way (pulumi_policy's `UnknownValueError`: an advisory note
    that the rule runs when the value is known, at `pulumi up`); `evaluate` gives an advisory
    finding. Never a pass, never a violation."""

    def __init__(self, path: Sequence[str | int]) -> None:
        self.path = [str(p) for p in path]
        super().__init__(f"value at .{'.'.join(self.path)} can't be known during preview")


def known(value: Any, *path: str | int) -> Any:
    """`value`, or UnknownValueError naming `path` when it is `UNKNOWN`."""
    if isinstance(value, Unknown):
        raise UnknownValueError(path)
    return value


@dataclass(frozen=True, slots=True)
class Resource:
    """One resource as a policy sees it.

    `props`: inputs (mocks, resource policies) or outputs (stack policies), camelCase keys.
    `depends_on`: URNs this resource depends on (explicit and through its inputs).
    """

    type: str
    name: str
    props: Mapping[str, Any]
    urn: str = ""
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Finding:
    """One violation: the policy, its effective level, the resource (None: the stack), the text."""

    policy: str
    level: Level
    resource: Resource | None
    message: str

    def __str__(self) -> str:
        where = "stack" if self.resource is None else f"{self.resource.type} {self.resource.name}"
        return f"[{self.level}] {self.policy}: {where}: {self.message}"


ResourceCheck = Callable[[Mapping[str, Any], Mapping[str, Any]], list[str]]
StackCheck = Callable[
    [Sequence[Resource], Mapping[str, str], Mapping[str, Any]], list[tuple[Resource | None, str]]
]


@dataclass(frozen=True, slots=True)
class ResourcePolicy:
    """A rule over one resource of the given types: `check(props, config) -> messages`.

    `config_schema` holds JSON-schema properties of the policy's own settings (each with a
    `default`, which `settings` applies).
    """

    name: str
    description: str
    types: frozenset[str]
    check: ResourceCheck
    level: Level = "mandatory"
    config_schema: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def settings(self, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return _settings(self.config_schema, config)


@dataclass(frozen=True, slots=True)
class StackPolicy:
    """A rule over all of a stack's resources: `check(resources, stack_tags, config)`."""

    name: str
    description: str
    check: StackCheck
    level: Level = "mandatory"
    config_schema: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def settings(self, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return _settings(self.config_schema, config)


Policy = ResourcePolicy | StackPolicy


def _settings(
    schema: Mapping[str, Mapping[str, Any]], config: Mapping[str, Any] | None
) -> dict[str, Any]:
    out = {k: v["default"] for k, v in schema.items() if "default" in v}
    if config is not None:
        out.update({k: v for k, v in config.items() if k != "enforcementLevel"})
    return out


def _as_list(value: Any) -> list[Any]:
    """A JSON-ish value as a list: None -> [], a sequence (list, tuple, or any non-string
    `Sequence` such as pulumi_policy's `_ListProxy`) -> its items, anything else -> [value]."""
    if value is None:
        return []
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return list(value)  # type: ignore[reportUnknownArgumentType]
    return [value]


def _obj(value: Any, *path: str | int) -> Mapping[str, Any]:
    """A nested object property: {} when absent; UnknownValueError when unknown."""
    known(value, *path)
    return value if isinstance(value, Mapping) else {}  # type: ignore[reportUnknownVariableType]


def _json(value: Any, *path: str | int) -> Mapping[str, Any]:
    """A JSON document given as a string or a mapping; UnknownValueError when it is unknown."""
    known(value, *path)
    if isinstance(value, str):
        loaded = json.loads(value)
        return loaded if isinstance(loaded, dict) else {}
    return value if isinstance(value, Mapping) else {}


# --------------------------------------------------------------------------------------------
# IAM


def is_read_action(action: str) -> bool:
    """True for `service:Verb...` actions whose verb is a List/Read access level verb."""
    _, _, verb = action.partition(":")
    return verb.startswith(READ_VERBS) and not has_wildcard(verb)


def has_wildcard(action: str) -> bool:
    """IAM action names take both `*` and `?` (IAM User Guide, "IAM JSON policy elements:
    Action")."""
    return "*" in action or "?" in action


def action_covers(pattern: str, action: str) -> bool:
    """Whether the policy's `pattern` grants `action` as IAM matches them: prefix and name case
    insensitive, `*` any run of characters, `?` one (IAM User Guide, "IAM JSON policy elements:
    Action")."""
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, action, re.IGNORECASE) is not None


def wildcard_violations(policy: Mapping[str, Any] | str) -> list[str]:
    """Allow statements with a `*` action (`*`, `svc:*`, `svc:Put*`) or `*` resource on a write.

    Writes on `*` are allowed only where AWS offers no resource-level permission
    (`STAR_ALLOWED`) or with a scoping condition (`STAR_WITH_CONDITION`).
    """
    out: list[str] = []
    for st in _as_list(_json(policy, "policy").get("Statement")):
        if not isinstance(st, Mapping) or st.get("Effect") != "Allow":
            continue
        sid = st.get("Sid", "?")
        actions = [str(a) for a in _as_list(st.get("Action"))]
        if "NotAction" in st:
            out.append(f"statement {sid}: NotAction in an Allow grants every other action")
        out.extend(f"statement {sid}: wildcard action {a}" for a in actions if has_wildcard(a))
        if "*" not in _as_list(st.get("Resource")) and "NotResource" not in st:
            continue
        for action in actions:
            if has_wildcard(action) or action in STAR_ALLOWED or is_read_action(action):
                continue
            if action in STAR_WITH_CONDITION and st.get("Condition"):
                continue
            out.append(f"statement {sid}: write action {action} on '*'")
    return out


def iam_policy_violations(policy: Mapping[str, Any] | str) -> list[str]:
    """Stricter: nothing at all on `*` except the actions AWS only offers on `*` (infra/iam.py)."""
    out = wildcard_violations(policy)
    for st in _as_list(_json(policy).get("Statement")):
        if not isinstance(st, Mapping) or st.get("Effect") != "Allow":
            continue
        if "*" not in _as_list(st.get("Resource")):
            continue
        for action in _as_list(st.get("Action")):
            if is_read_action(str(action)) and action not in STAR_ALLOWED:
                out.append(f"statement {st.get('Sid', '?')}: read action {action} on '*'")
    return out


def _policy_documents(props: Mapping[str, Any]) -> list[Any]:
    """The identity-policy documents of a RolePolicy / Policy (`policy`) or Role (inline)."""
    docs: list[Any] = []
    if props.get("policy") is not None:
        docs.append(props["policy"])
    for inline in _as_list(props.get("inlinePolicies")):
        if isinstance(inline, Mapping) and inline.get("policy") is not None:
            docs.append(inline["policy"])  # type: ignore[reportUnknownMemberType]
    return docs


def _iam_wildcards(props: Mapping[str, Any], _cfg: Mapping[str, Any]) -> list[str]:
    return [v for d in _policy_documents(props) for v in wildcard_violations(d)]


def _iam_reads_on_star(props: Mapping[str, Any], _cfg: Mapping[str, Any]) -> list[str]:
    return [
        v
        for d in _policy_documents(props)
        for v in iam_policy_violations(d)
        if ": read action " in v
    ]


# Kinds of IAM grant that make a role reach beyond what it declares (README "What each role may
# do"): writes on a whole resource type, privilege-escalation actions, name prefixes that run on
# past a delimiter, trust policies open to pull requests or other repositories.

# Whole-type write grants AWS leaves no other way to express: a network interface SageMaker or
# Lambda creates in a VPC has an id nobody knows in advance (SageMaker Developer Guide, "Give
# SageMaker access to resources in your Amazon VPC").
WHOLE_TYPE_ALLOWED = frozenset({("ec2", "network-interface")})
# Actions that change who may do what (IAM User Guide, privilege escalation paths as catalogued by
# Rhino Security Labs and pacu's iam__privesc_scan): each needs a condition that scopes it.
ESCALATION_ACTIONS: dict[str, tuple[str, ...]] = {
    # action -> condition keys, any of which scopes it
    "iam:CreateRole": ("iam:PermissionsBoundary",),
    "iam:PutRolePolicy": ("iam:PermissionsBoundary",),
    "iam:AttachRolePolicy": ("iam:PermissionsBoundary",),
    "iam:DeleteRolePolicy": ("iam:PermissionsBoundary",),
    "iam:DetachRolePolicy": ("iam:PermissionsBoundary",),
    "iam:PutRolePermissionsBoundary": ("iam:PermissionsBoundary",),
    "iam:UpdateAssumeRolePolicy": ("iam:PermissionsBoundary",),
    "iam:DeleteRolePermissionsBoundary": (),
    "iam:CreatePolicyVersion": (),
    "iam:SetDefaultPolicyVersion": (),
    "iam:PutUserPolicy": (),
    "iam:AttachUserPolicy": (),
    "iam:PutGroupPolicy": (),
    "iam:AttachGroupPolicy": (),
    "iam:AddUserToGroup": (),
    "iam:CreateAccessKey": (),
    "iam:CreateLoginProfile": (),
    "iam:UpdateLoginProfile": (),
    "iam:PassRole": ("iam:PassedToService",),
    "lambda:UpdateFunctionCode": ("aws:ResourceTag/",),
    "lambda:CreateFunction": ("aws:RequestTag/",),
    "lambda:InvokeFunction": ("aws:ResourceTag/",),
    "kms:PutKeyPolicy": ("aws:ResourceTag/",),
    "kms:CreateGrant": ("aws:ResourceTag/",),
    "sts:AssumeRole": (),
}
_ARN = re.compile(r"^arn:[^:]+:(?P<service>[^:]+):[^:]*:[^:]*:(?P<rest>.*)$")
_WHOLE_TYPE = re.compile(r"^(?P<type>[A-Za-z0-9_.-]+)[/:]\*$")


def _statements(policy: Mapping[str, Any] | str) -> list[Mapping[str, Any]]:
    return [
        st
        for st in _as_list(_json(policy, "policy").get("Statement"))
        if isinstance(st, Mapping) and st.get("Effect") == "Allow"
    ]


def _condition_keys(st: Mapping[str, Any]) -> list[str]:
    return [str(k) for block in _obj(st.get("Condition")).values() for k in _obj(block)]


def scope_violations(policy: Mapping[str, Any] | str) -> list[str]:
    """Writes on a whole resource type with no condition, escalation actions without the
    condition that scopes them, and name-prefix wildcards that do not start at a delimiter."""
    out: list[str] = []
    for st in _statements(policy):
        sid = st.get("Sid", "?")
        actions = [str(a) for a in _as_list(st.get("Action"))]
        resources = [str(r) for r in _as_list(st.get("Resource"))]
        keys = _condition_keys(st)
        writes = [a for a in actions if not is_read_action(a)]
        for resource in resources:
            m = _ARN.match(resource)
            if m is None:
                continue
            rest = m["rest"]
            whole = _WHOLE_TYPE.match(rest)
            exempt = whole is not None and (m["service"], whole["type"]) in WHOLE_TYPE_ALLOWED
            if whole and writes and not keys and not exempt:
                out.append(
                    f"statement {sid}: {', '.join(writes)} on every {m['service']} "
                    f"{whole['type']} ({resource}) with no condition"
                )
            for i, ch in enumerate(rest):
                if ch == "*" and i > 0 and rest[i - 1].isalnum():
                    out.append(
                        f"statement {sid}: name prefix {resource} does not end at a delimiter "
                        f"(it also matches {rest[:i]}-other...)"
                    )
                    break
        for action in actions:
            # Spelled in any case, or matched by a pattern, it is the same grant.
            for escalation, scoping in ESCALATION_ACTIONS.items():
                if not action_covers(action, escalation):
                    continue
                if any(k.startswith(s) for k in keys for s in scoping):
                    continue
                need = " or ".join(scoping) if scoping else "nothing: never grant it"
                spelled = "" if action == escalation else f" (granted as {action})"
                out.append(
                    f"statement {sid}: escalation action {escalation}{spelled} unscoped "
                    f"(needs {need})"
                )
    return out


def _iam_scoped(props: Mapping[str, Any], _cfg: Mapping[str, Any]) -> list[str]:
    return [v for d in _policy_documents(props) for v in scope_violations(d)]


GITHUB_SUB = "token.actions.githubusercontent.com:sub"
GITHUB_AUD = "token.actions.githubusercontent.com:aud"


def github_trust_violations(trust: Mapping[str, Any] | str) -> tuple[list[str], bool]:
    """(problems, admits pull requests) of a role trust policy for GitHub's OIDC tokens."""
    out: list[str] = []
    prs = False
    for st in _statements(trust):
        principal = _obj(st.get("Principal"))
        federated = " ".join(str(p) for p in _as_list(principal.get("Federated")))
        if "token.actions.githubusercontent.com" not in federated:
            continue
        cond = _obj(st.get("Condition"))
        subs = [
            str(v)
            for op, block in cond.items()
            for k, vals in _obj(block).items()
            if k == GITHUB_SUB and not str(op).startswith("StringNot")
            for v in _as_list(vals)
        ]
        auds = [v for block in cond.values() for k, v in _obj(block).items() if k == GITHUB_AUD]
        if not subs:
            out.append("GitHub OIDC trust without a `sub` condition: any repository may assume it")
        if not auds:
            out.append("GitHub OIDC trust without an `aud` condition")
        for sub in subs:
            repo, _, rest = sub.removeprefix("repo:").partition(":")
            if not sub.startswith("repo:") or "*" in repo or "?" in repo:
                out.append(f"subject {sub} admits other repositories")
            if rest == "pull_request" or rest.startswith("*") or rest == "":
                prs = True
            elif "*" in rest or "?" in rest:
                out.append(f"subject {sub} admits refs or environments by pattern")
    return out, prs


def _ci_trust(
    resources: Sequence[Resource], _tags: Mapping[str, str], _cfg: Mapping[str, Any]
) -> list[tuple[Resource | None, str]]:
    """GitHub-trusting roles: one repository, exact subjects; a role that pull requests may
    assume may only read."""
    out: list[tuple[Resource | None, str]] = []
    for role in (r for r in resources if r.type == T_ROLE):
        problems, prs = github_trust_violations(
            known(role.props.get("assumeRolePolicy"), "assumeRolePolicy") or {}
        )
        out.extend((role, p) for p in problems)
        if not prs:
            continue
        docs = _policy_documents(role.props)
        docs += [
            known(p.props.get("policy"), "policy")
            for p in resources
            if p.type == T_ROLE_POLICY and _refers_to(p, role, "role")
        ]
        writes = sorted(
            {
                str(a)
                for d in docs
                for st in _statements(d)
                for a in _as_list(st.get("Action"))
                if not is_read_action(str(a)) and not _decrypt_for_a_service(str(a), st)
            }
        )
        attached = [
            r
            for r in resources
            if r.type == "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
            and _refers_to(r, role, "role")
        ]
        if writes or attached:
            what = ", ".join(writes) or "attached managed policies"
            out.append((role, f"pull requests may assume this role, which may write ({what})"))
    return out


def _decrypt_for_a_service(action: str, st: Any) -> bool:
    """`kms:Decrypt` usable only through a service (`kms:ViaService`): the key decrypts what that
    service returns to a read (the Service Authorization Reference lists Decrypt as a write, but
    it changes nothing; a role whose other grants on that service are reads can only read)."""
    condition = st.get("Condition") if isinstance(st, Mapping) else None
    if action.lower() != "kms:decrypt" or not isinstance(condition, Mapping):
        return False
    return any(
        isinstance(block, Mapping) and "kms:ViaService" in block
        for op, block in condition.items()  # pyright: ignore[reportUnknownVariableType]
        if str(op) == "StringEquals"  # pyright: ignore[reportUnknownArgumentType]
    )


# --------------------------------------------------------------------------------------------
# S3, DynamoDB, SNS, KMS, logs, Lambda


def _public_access(props: Mapping[str, Any], _cfg: Mapping[str, Any]) -> list[str]:
    keys = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    return [f"{k} is not true" for k in keys if props.get(k) is not True]


def _bucket_encryption(props: Mapping[str, Any], _cfg: Mapping[str, Any]) -> list[str]:
    rules = _as_list(props.get("rules"))
    algos = [
        _obj(r.get("applyServerSideEncryptionByDefault"), "rules").get("sseAlgorithm")
        for r in rules
        if isinstance(r, Mapping)
    ]
    ok = algos and all(a in ("aws:kms", "aws:kms:dsse") for a in algos)
    return [] if ok else ["bucket not SSE-KMS encrypted"]


def denies_insecure_transport(policy: Mapping[str, Any] | str) -> bool:
    """True when a bucket policy denies every request with aws:SecureTransport false."""
    for st in _as_list(_json(policy).get("Statement")):
        if not isinstance(st, Mapping):
            continue
        cond = _obj(st.get("Condition")).get("Bool", {})
        if st.get("Effect") == "Deny" and str(cond.get("aws:SecureTransport")).lower() == "false":
            return True
    return False


def _bucket_policy(props: Mapping[str, Any], _cfg: Mapping[str, Any]) -> list[str]:
    if denies_insecure_transport(known(props.get("policy"), "policy") or {}):
        return []
    return ["bucket policy does not deny non-TLS requests (aws:SecureTransport false)"]


def _lifecycle(props: Mapping[str, Any], _cfg: Mapping[str, Any]) -> list[str]:
    rules = [r for r in _as_list(props.get("rules")) if isinstance(r, Mapping)]
    enabled = [r for r in rules if r.get("status") == "Enabled"]
    if not enabled:
        return ["no enabled lifecycle rule"]
    if not any(r.get("expiration") or r.get("noncurrentVersionExpiration") for r in enabled):
        return ["no enabled lifecycle rule expires objects"]
    return []


def _table(props: Mapping[str, Any], _cfg: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    if not _obj(props.get("serverSideEncryption")).get("enabled"):
        out.append("table not encrypted with KMS")
    if not _obj(props.get("pointInTimeRecovery")).get("enabled"):
        out.append("point-in-time recovery off")
    return out


def _topic(props: Mapping[str, Any], _cfg: Mapping[str, Any]) -> list[str]:
    return [] if props.get("kmsMasterKeyId") else ["topic not KMS-encrypted"]


def _log_group(props: Mapping[str, Any], _cfg: Mapping[str, Any]) -> list[str]:
    return [] if props.get("retentionInDays") else ["log group without retention"]


def _function_secrets(props: Mapping[str, Any], _cfg: Mapping[str, Any]) -> list[str]:
    variables = _obj(
        _obj(props.get("environment"), "environment").get("variables"), "environment", "variables"
    )
    return [
        f"environment variable {k} looks like a secret"
        for k in variables
        if any(h in str(k).upper() for h in _SECRET_HINTS)
    ]


def is_hook(props: Mapping[str, Any]) -> bool:
    """One of our Lambdas (canary hook, A/B evaluator, drift job), known by its handler."""
    return str(props.get("handler") or "").startswith(HOOK_HANDLER_PREFIX)


def _hook_concurrency(props: Mapping[str, Any], cfg: Mapping[str, Any]) -> list[str]:
    if not is_hook(props) or not cfg.get("requireReservedConcurrency", True):
        return []
    reserved = known(props.get("reservedConcurrentExecutions"), "reservedConcurrentExecutions")
    if reserved is None or reserved < 1:
        return [
            "hook Lambda without reserved concurrency (one decision at a time; set "
            "requireReservedConcurrency false in the policy config to allow it)"
        ]
    return []


def _key(props: Mapping[str, Any], _cfg: Mapping[str, Any]) -> list[str]:
    return [] if props.get("enableKeyRotation") is True else ["KMS key rotation off"]


def _alarm_dimensions(props: Mapping[str, Any], _cfg: Mapping[str, Any]) -> list[str]:
    """A SageMaker metric in an alarm, directly or in a metric-math query, names its endpoint."""
    dims = _obj(props.get("dimensions"), "dimensions")
    if props.get("namespace") == "AWS/SageMaker" and "EndpointName" not in dims:
        return ["SageMaker alarm without an EndpointName dimension"]
    out: list[str] = []
    for i, query in enumerate(_as_list(props.get("metricQueries"))):
        q = _obj(query, "metricQueries", i)
        metric = _obj(q.get("metric"), "metricQueries", i, "metric")
        if metric.get("namespace") != "AWS/SageMaker":
            continue
        qdims = _obj(metric.get("dimensions"), "metricQueries", i, "metric", "dimensions")
        if "EndpointName" not in qdims:
            out.append(f"SageMaker metric query {q.get('id')} without an EndpointName dimension")
    return out


# --------------------------------------------------------------------------------------------
# SageMaker


def _variants(props: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    for key in ("productionVariants", "shadowProductionVariants"):
        out.extend(v for v in _as_list(props.get(key)) if isinstance(v, Mapping))
    return out


def _endpoint_config_kms(props: Mapping[str, Any], _cfg: Mapping[str, Any]) -> list[str]:
    """Volume KMS key unless a variant's instance type has local NVMe storage (there the key
    "does not encrypt instance local storage": CreateEndpointConfig KmsKeyId in botocore's
    SageMaker model, so it is not required) or is serverless."""
    if props.get("kmsKeyArn"):
        return []
    types = [v.get("instanceType") for v in _variants(props)]
    if not types or any(t is None or has_local_nvme(str(t)) for t in types):
        return []
    return [f"no kmsKeyArn although every instance type allows one ({', '.join(map(str, types))})"]


def _data_capture(props: Mapping[str, Any], _cfg: Mapping[str, Any]) -> list[str]:
    capture = props.get("dataCaptureConfig")
    if capture and not capture.get("kmsKeyId"):
        return ["data capture without a KMS key"]
    return []


def _network_isolation(props: Mapping[str, Any], cfg: Mapping[str, Any]) -> list[str]:
    if props.get("enableNetworkIsolation") is True:
        return []
    image = str(_obj(props.get("primaryContainer"), "primaryContainer").get("image") or "")
    if any(re.search(p, image) for p in cfg.get("exemptImagePatterns", [])):
        return []
    return ["model without network isolation (enableNetworkIsolation)"]


# --------------------------------------------------------------------------------------------
# Stack rules


def _refers_to(res: Resource, target: Resource, key: str) -> bool:
    value = res.props.get(key)
    names = [target.props.get(k) for k in ("id", "bucket", "name")]
    known_names = [n for n in names if n is not None and not isinstance(n, Unknown)]
    return target.urn in res.depends_on or (value is not None and value in known_names)


def _buckets_guarded(
    resources: Sequence[Resource], _tags: Mapping[str, str], _cfg: Mapping[str, Any]
) -> list[tuple[Resource | None, str]]:
    """Every bucket has a public access block, a TLS-only policy and a lifecycle rule."""
    out: list[tuple[Resource | None, str]] = []
    needs = (
        (T_PUBLIC_ACCESS, "no public access block", None),
        (T_BUCKET_POLICY, "no TLS-only bucket policy", _bucket_policy),
        (T_LIFECYCLE, "no lifecycle configuration", _lifecycle),
    )
    for bucket in (r for r in resources if r.type in (T_BUCKET, T_BUCKET_V2)):
        for typ, missing, check in needs:
            mine = [r for r in resources if r.type == typ and _refers_to(r, bucket, "bucket")]
            good = [r for r in mine if check is None or not check(r.props, {})]
            if typ == T_PUBLIC_ACCESS:
                good = [r for r in mine if not _public_access(r.props, {})]
            if not good:
                out.append((bucket, missing if not mine else f"{missing} that passes"))
    return out


def _hook_logs(
    resources: Sequence[Resource], _tags: Mapping[str, str], _cfg: Mapping[str, Any]
) -> list[tuple[Resource | None, str]]:
    """Each hook Lambda logs to a log group with retention, declared in the stack."""
    groups = {
        str(r.props.get("name")): r
        for r in resources
        if r.type == T_LOG_GROUP and r.props.get("retentionInDays")
    }
    out: list[tuple[Resource | None, str]] = []
    for fn in (r for r in resources if r.type == T_FUNCTION and is_hook(r.props)):
        logging = _obj(fn.props.get("loggingConfig"), "loggingConfig")
        group = known(
            logging.get("logGroup") or f"/aws/lambda/{known(fn.props.get('name'), 'name')}",
            "loggingConfig",
            "logGroup",
        )
        if group not in groups:
            out.append((fn, f"no log group {group} with retention in the stack"))
    return out


def alarm_metrics(props: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(namespace, metric name) pairs an alarm reads: its own, or its metric-math queries'."""
    if props.get("metricName"):
        return [(str(props.get("namespace") or ""), str(props["metricName"]))]
    out: list[tuple[str, str]] = []
    for q in _as_list(props.get("metricQueries")):
        metric = (q or {}).get("metric") if isinstance(q, Mapping) else None
        if isinstance(metric, Mapping):
            out.append((str(metric.get("namespace") or ""), str(metric.get("metricName") or "")))
    return out


def rollback_alarm_names(resources: Sequence[Resource]) -> dict[str, set[str]]:
    """Alarm names that roll back an endpoint, by endpoint name: SageMaker auto-rollback alarms
    of blue/green and rolling endpoints, and the gate alarms of canary hooks."""
    out: dict[str, set[str]] = {}
    for r in resources:
        if r.type == T_ENDPOINT:
            deployment = _obj(r.props.get("deploymentConfig"), "deploymentConfig")
            auto = _obj(deployment.get("autoRollbackConfiguration"), "deploymentConfig")
            names = set(_alarm_names(auto))
            out.setdefault(str(r.props.get("name")), set()).update(names)
        elif r.type == T_FUNCTION and is_hook(r.props):
            spec = _hook_spec(r.props)
            if spec is not None:
                ep = str(spec.get("endpoint_name"))
                out.setdefault(ep, set()).update(str(a) for a in spec.get("gate_alarms", []))
    return out


def _alarm_names(auto: Mapping[str, Any]) -> list[str]:
    """The alarm names of an endpoint's `autoRollbackConfiguration`."""
    path = ("deploymentConfig", "autoRollbackConfiguration", "alarms")
    alarms = known(auto.get("alarms"), *path)
    return [
        str(known(_obj(a, *path, i).get("alarmName"), *path, i, "alarmName"))
        for i, a in enumerate(_as_list(alarms))
    ]


def _hook_spec(props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    variables = _obj(
        _obj(props.get("environment"), "environment").get("variables"), "environment", "variables"
    )
    raw = known(variables.get("ROLLOUT_SPEC"), "environment", "variables", "ROLLOUT_SPEC")
    if not isinstance(raw, str):
        return None
    try:
        spec = json.loads(raw)
    except ValueError:
        return None
    return spec if isinstance(spec, dict) else None


def is_production(
    resources: Sequence[Resource], stack_tags: Mapping[str, str], cfg: Mapping[str, Any]
) -> bool:
    """Stack tags, or the tags of the stack's endpoints, name a production environment."""
    wanted: Mapping[str, list[str]] = cfg.get("productionTags", PRODUCTION_TAGS)
    tag_sets = [stack_tags] + [
        _obj(r.props.get("tags"), "tags") for r in resources if r.type == T_ENDPOINT
    ]
    return any(
        str(tags.get(k, "")).lower() in [v.lower() for v in values]
        for tags in tag_sets
        for k, values in wanted.items()
    )


def _production_rollback_alarms(
    resources: Sequence[Resource], stack_tags: Mapping[str, str], cfg: Mapping[str, Any]
) -> list[tuple[Resource | None, str]]:
    """Production: every canary and blue/green endpoint rolls back on alarms declared here."""
    if not is_production(resources, stack_tags, cfg):
        return []
    declared = {str(r.props.get("name")) for r in resources if r.type in (T_ALARM, T_COMPOSITE)}
    hooks = {
        str(spec.get("endpoint_name")): spec
        for r in resources
        if r.type == T_FUNCTION and (spec := _hook_spec(r.props)) is not None
    }
    out: list[tuple[Resource | None, str]] = []
    for ep in (r for r in resources if r.type == T_ENDPOINT):
        name = str(ep.props.get("name"))
        deployment = _obj(ep.props.get("deploymentConfig"), "deploymentConfig")
        alarms: list[str] = []
        kind = None
        if deployment.get("blueGreenUpdatePolicy"):
            kind = "blue/green"
            auto = _obj(deployment.get("autoRollbackConfiguration"), "deploymentConfig")
            alarms = _alarm_names(auto)
        elif name in hooks:
            kind = "canary"
            alarms = [str(a) for a in hooks[name].get("gate_alarms", [])]
        if kind is None:
            continue
        if not alarms:
            out.append((ep, f"production {kind} endpoint {name} has no rollback alarms"))
        missing = [a for a in alarms if a not in declared]
        if missing:
            out.append(
                (ep, f"{kind} rollback alarms not declared in the stack: {', '.join(missing)}")
            )
    return out


def _rollback_missing_data(
    resources: Sequence[Resource], _tags: Mapping[str, str], cfg: Mapping[str, Any]
) -> list[tuple[Resource | None, str]]:
    """Rollback alarms on metrics that always report treat missing data as breaching."""
    namespaces = tuple(cfg.get("continuousNamespaces", CONTINUOUS_NAMESPACES))
    metrics = {tuple(m.split("/", 1)) for m in cfg.get("continuousMetrics", [])}
    rollback = set().union(*rollback_alarm_names(resources).values())
    out: list[tuple[Resource | None, str]] = []
    for alarm in (r for r in resources if r.type == T_ALARM):
        if str(alarm.props.get("name")) not in rollback:
            continue
        read = alarm_metrics(alarm.props)
        continuous = [m for m in read if m[0] in namespaces or m in metrics]
        treat = alarm.props.get("treatMissingData", "missing")
        if continuous and treat != "breaching":
            out.append(
                (
                    alarm,
                    f"rollback alarm on continuous metric {continuous[0][0]}/{continuous[0][1]} "
                    f"treats missing data as {treat}, not breaching",
                )
            )
    return out


# --------------------------------------------------------------------------------------------
# The policies


def _types(*tokens: str) -> frozenset[str]:
    return frozenset(tokens)


_PROD_SCHEMA: dict[str, dict[str, Any]] = {
    "productionTags": {
        "type": "object",
        "description": "tag key -> values (case-insensitive) that mark a production stack",
        "default": PRODUCTION_TAGS,
    }
}

POLICIES: tuple[Policy, ...] = (
    ResourcePolicy(
        "iam-no-wildcards",
        "No IAM Allow statement with a `*` action, or a `*` resource on a write action.",
        _types(T_ROLE_POLICY, T_POLICY, T_ROLE),
        _iam_wildcards,
    ),
    ResourcePolicy(
        "iam-reads-scoped",
        "Read actions name their resources too, except where AWS offers only `*`.",
        _types(T_ROLE_POLICY, T_POLICY, T_ROLE),
        _iam_reads_on_star,
        level="advisory",
    ),
    ResourcePolicy(
        "iam-writes-scoped",
        "No writes on a whole resource type, no unscoped privilege-escalation action, name "
        "prefixes end at a delimiter.",
        _types(T_ROLE_POLICY, T_ROLE),
        _iam_scoped,
    ),
    StackPolicy(
        "ci-trust-scoped",
        "Roles trusting GitHub's OIDC tokens name one repository and exact subjects; a role a "
        "pull request may assume only reads.",
        _ci_trust,
    ),
    ResourcePolicy(
        "s3-public-access-blocked",
        "Buckets block every kind of public access.",
        _types(T_PUBLIC_ACCESS),
        _public_access,
    ),
    ResourcePolicy(
        "s3-kms-encrypted",
        "Buckets are encrypted with SSE-KMS.",
        _types(T_BUCKET_SSE),
        _bucket_encryption,
    ),
    ResourcePolicy(
        "s3-tls-only",
        "Bucket policies deny requests without TLS.",
        _types(T_BUCKET_POLICY),
        _bucket_policy,
    ),
    ResourcePolicy(
        "s3-lifecycle-expires",
        "Lifecycle configurations have an enabled rule that expires objects.",
        _types(T_LIFECYCLE),
        _lifecycle,
    ),
    StackPolicy(
        "capture-bucket-guarded",
        "Every bucket has a public access block, a TLS-only policy and a lifecycle rule.",
        _buckets_guarded,
    ),
    ResourcePolicy(
        "dynamodb-encrypted-pitr",
        "Tables are KMS-encrypted with point-in-time recovery.",
        _types(T_TABLE),
        _table,
    ),
    ResourcePolicy("sns-encrypted", "Topics are KMS-encrypted.", _types(T_TOPIC), _topic),
    ResourcePolicy(
        "logs-retention", "Log groups have a retention.", _types(T_LOG_GROUP), _log_group
    ),
    ResourcePolicy(
        "lambda-no-secrets-in-env",
        "Lambda environment variables do not carry secrets.",
        _types(T_FUNCTION),
        _function_secrets,
    ),
    ResourcePolicy(
        "hook-reserved-concurrency",
        "Hook Lambdas have reserved concurrency (one decision at a time).",
        _types(T_FUNCTION),
        _hook_concurrency,
        config_schema={
            "requireReservedConcurrency": {"type": "boolean", "default": True},
        },
    ),
    StackPolicy(
        "hook-log-retention",
        "Hook Lambdas log to a log group with retention declared in the stack.",
        _hook_logs,
    ),
    ResourcePolicy("kms-rotation", "KMS keys rotate.", _types(T_KEY), _key),
    ResourcePolicy(
        "sagemaker-alarm-dimensions",
        "SageMaker alarms name their endpoint.",
        _types(T_ALARM),
        _alarm_dimensions,
    ),
    ResourcePolicy(
        "endpoint-config-kms",
        "Endpoint configs encrypt the ML storage volume where the instance type allows a key.",
        _types(T_ENDPOINT_CONFIG),
        _endpoint_config_kms,
    ),
    ResourcePolicy(
        "data-capture-encrypted",
        "Data capture is encrypted with a KMS key.",
        _types(T_ENDPOINT_CONFIG),
        _data_capture,
    ),
    ResourcePolicy(
        "model-network-isolation",
        "Models run with network isolation (advisory: some containers need to reach out).",
        _types(T_MODEL),
        _network_isolation,
        level="advisory",
        config_schema={
            "exemptImagePatterns": {
                "type": "array",
                "items": {"type": "string"},
                "description": "regular expressions of container images exempt from the rule",
                "default": [],
            }
        },
    ),
    StackPolicy(
        "production-rollback-alarms",
        "Production stacks roll canary and blue/green endpoints back on declared alarms.",
        _production_rollback_alarms,
        config_schema=_PROD_SCHEMA,
    ),
    StackPolicy(
        "rollback-alarms-missing-data-breaching",
        "Rollback alarms on continuous metrics treat missing data as breaching.",
        _rollback_missing_data,
        config_schema={
            "continuousNamespaces": {
                "type": "array",
                "items": {"type": "string"},
                "default": list(CONTINUOUS_NAMESPACES),
            },
            "continuousMetrics": {
                "type": "array",
                "items": {"type": "string"},
                "description": "more continuous metrics as NAMESPACE/MetricName",
                "default": [],
            },
        },
    ),
)

BY_NAME: dict[str, Policy] = {p.name: p for p in POLICIES}


def level_of(policy: Policy, config: Mapping[str, Any] | None) -> Level:
    """The policy's level after the config's `all` and per-policy `enforcementLevel`."""
    level: Level = policy.level
    for key in ("all", policy.name):
        entry = (config or {}).get(key)
        given = entry if isinstance(entry, str) else (entry or {}).get("enforcementLevel")
        if given is not None:
            if given not in LEVELS:
                raise ValueError(f"policy config {key}: enforcementLevel {given!r} not in {LEVELS}")
            level = given
    return level


def config_errors(config: Mapping[str, Any]) -> list[str]:
    """Every unknown policy name or bad level in a policy config (all at once)."""
    errors: list[str] = []
    for key, entry in config.items():
        if key != "all" and key not in BY_NAME:
            errors.append(f"{key}: unknown policy (known: {', '.join(sorted(BY_NAME))})")
            continue
        given = entry if isinstance(entry, str) else (entry or {}).get("enforcementLevel")
        if given is not None and given not in LEVELS:
            errors.append(f"{key}.enforcementLevel: {given!r} is not one of {', '.join(LEVELS)}")
    return errors


def evaluate(
    resources: Iterable[Resource],
    *,
    stack_tags: Mapping[str, str] | None = None,
    config: Mapping[str, Any] | None = None,
) -> list[Finding]:
    """Run every policy over a stack's resources; disabled policies are skipped.

    Raises ValueError listing every problem of a bad `config` (unknown policy, bad level).
    """
    cfg = dict(config or {})
    errors = config_errors(cfg)
    if errors:
        raise ValueError("invalid policy config: " + "; ".join(errors))
    items = list(resources)
    out: list[Finding] = []
    for policy in POLICIES:
        level = level_of(policy, cfg)
        if level == "disabled":
            continue
        entry = cfg.get(policy.name)
        settings = policy.settings(entry if isinstance(entry, Mapping) else None)
        if isinstance(policy, ResourcePolicy):
            for r in items:
                if r.type in policy.types:
                    try:
                        messages = policy.check(r.props, settings)
                    except UnknownValueError as e:
                        out.append(Finding(policy.name, "advisory", r, f"not checked: {e}"))
                        continue
                    out.extend(Finding(policy.name, level, r, m) for m in messages)
        else:
            try:
                found = policy.check(items, stack_tags or {}, settings)
            except UnknownValueError as e:
                out.append(Finding(policy.name, "advisory", None, f"not checked: {e}"))
                continue
            out.extend(Finding(policy.name, level, r, m) for r, m in found)
    return out


def violations(resources: Iterable[tuple[str, str, Mapping[str, Any]]]) -> list[str]:
    """Mandatory resource-rule violations across (type, name, inputs) triples, each prefixed
    with the resource (`"<type> <name>: <message>"`)."""
    found = evaluate(Resource(t, n, p) for t, n, p in resources)
    return [
        f"{f.resource.type} {f.resource.name}: {f.message}"
        for f in found
        if f.level == "mandatory"
        and f.resource is not None
        and isinstance(BY_NAME[f.policy], ResourcePolicy)
    ]
