"""Shared rules of the stack config (pass 2): what pydantic cannot see field by field.

References between variants, models and strategies, SageMaker's and CloudWatch's cross-field limits
(docs/design.md §3, §9), tags, alarms, drift, notifications and framework image resolution. Each
strategy's own rules live in its module (`recreate`, `shadow`, `canary`, `ab`, `blue_green`,
`rolling`: `check`, `check_gates`), the way Argo Rollouts hands each strategy to its own validator;
`config_load.check_endpoint` runs them in order.

Every rule reads an `EndpointChecks`: the endpoint as far as it passed its shape checks (a *lenient*
copy: parts that failed are None and listed in `bad`), and appends `key.path: message` lines to
its `errs`. A rule that needs a failed part is skipped, so a shape error never causes a follow-on
error of its own.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sagemaker_rollouts.strategies.config_errors import BadPaths, given
from sagemaker_rollouts.strategies.config_shapes import (
    AutoscalingConfig,
    CustomAlarm,
    ModelConfig,
    NotificationsConfig,
    RelativeErrorRate,
    RelativeLatency,
    StandardAlarm,
    VariantConfig,
)
from sagemaker_rollouts.strategies.config_values import (
    CW_WINDOW_LONG,
    CW_WINDOW_SHORT,
    HOSTING_INSTANCE_TYPES,
    STANDARD_STATISTICS,
    Size,
    aws_limit,
    is_extended_statistic,
    is_unknown,
)
from sagemaker_rollouts.strategies.guardrails import update_waits
from sagemaker_rollouts.strategies.plan import BlueGreenPlan, RollingPlan

if TYPE_CHECKING:
    from sagemaker_rollouts.strategies.config_model import EndpointConfig

# Tags the program adds to every endpoint's resources (strategies/common.py `tags`); they count
# toward SageMaker's 50-tag limit (botocore TagList max).
MANAGED_TAG_KEYS = ("managed-by", "rollouts:stack", "rollouts:endpoint", "rollouts:strategy")
STANDARD_ALARM_KEYS = ("errors_5xx", "latency_p99", "errors_4xx")

_NAME_KEY = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*")


@dataclass(slots=True)
class EndpointChecks:
    """One endpoint's relation checks in progress.

    `ep` is lenient (parts that failed their shape check are None, their key paths in `bad`);
    `names` maps each variant name to its index (filled by `check_variants`); `errs` collects
    `key.path: message` lines.
    """

    key: str
    ep: EndpointConfig
    bad: BadPaths
    errs: list[str]
    region: str = "us-east-1"
    names: dict[str, int] = field(default_factory=dict[str, int])

    @property
    def path(self) -> str:
        return f"endpoints.{self.key}"

    @property
    def variants_ok(self) -> bool:
        return given(self.ep.variants)

    @property
    def variants(self) -> list[VariantConfig]:
        return list(self.ep.variants) if self.variants_ok else []

    @property
    def names_ok(self) -> bool:
        p = self.path
        return all(
            given(v) and self.bad.ok(f"{p}.variants[{i}].name") for i, v in enumerate(self.variants)
        )

    @property
    def count_ok(self) -> bool:
        """The first variant's instance count passed its shape check."""
        vs = self.variants
        return bool(vs) and given(vs[0]) and self.bad.ok(f"{self.path}.variants[0].instance_count")

    @property
    def count(self) -> int:
        """The first variant's instance count (1 when unknown)."""
        return self.variants[0].instance_count if self.count_ok else 1

    def variant(self, path: str, name: str | None) -> VariantConfig | None:
        """The variant `name` refers to; reports `path` when it names none (and names are known)."""
        if name is None or not self.bad.ok(path):
            return None
        if name not in self.names:
            if self.names_ok:
                self.errs.append(
                    f"{path}: must name one of the variants ({', '.join(self.names)}), got {name!r}"
                )
            return None
        return self.variants[self.names[name]]

    def need_variants(self, strategy: str, n: int, why: str) -> None:
        """Report when the endpoint does not have exactly `n` variants."""
        if self.variants_ok and len(self.variants) != n:
            self.errs.append(f"{self.path}.variants: {strategy} {why}, got {len(self.variants)}")


# --------------------------------------------------------------------------- endpoint, models, variants


def check_endpoint_key(chk: EndpointChecks) -> None:
    """The endpoint key names the component's children (`{key}-config`, `{key}-model-{model}`),
    which become SageMaker EndpointConfigName/ModelName values: letters, digits and hyphens."""
    key, p, ep = chk.key, chk.path, chk.ep
    if ep.endpoint_name is None and chk.bad.ok(f"{p}.endpoint_name"):
        if not _NAME_KEY.fullmatch(key) or len(key) > aws_limit("sagemaker.EndpointName", "max"):
            chk.errs.append(
                f"{p}: the endpoint key is the endpoint name, so it must be 1..63 letters, digits "
                "and hyphens, starting and ending with a letter or digit (SageMaker EndpointName); "
                "rename the key"
            )
    elif not _NAME_KEY.fullmatch(key):
        chk.errs.append(
            f"{p}: the endpoint key is part of the generated SageMaker endpoint-config and model "
            "names, so it may hold letters, digits and hyphens only, starting and ending with a "
            "letter or digit; rename the key"
        )


def check_models(chk: EndpointChecks) -> dict[str, str]:
    """Each model's image source; returns the resolved image per model key."""
    p, ep = chk.path, chk.ep
    images: dict[str, str] = {}
    models: dict[str, ModelConfig] = ep.models if given(ep.models) else {}
    for mkey, m in models.items():
        mp = f"{p}.models.{mkey}"
        if not re.fullmatch(r"[a-zA-Z0-9-]+", mkey):
            chk.errs.append(
                f"{mp}: the model key is part of the generated SageMaker model name, so it may "
                "hold letters, digits and hyphens only; rename the key"
            )
        image = m.image if given(m) else None
        if image is not None and is_unknown(image) and chk.bad.ok(f"{mp}.framework"):
            if m.framework is None:  # unknown offline: passed through as it is
                images[mkey] = image
            else:
                chk.errs.append(
                    f"{mp}: set exactly one of image or framework (+ framework_version)"
                )
            continue
        if not given(m) or not chk.bad.ok(f"{mp}.image", f"{mp}.framework"):
            continue
        if (m.image is None) == (m.framework is None):
            chk.errs.append(f"{mp}: set exactly one of image or framework (+ framework_version)")
        elif m.framework is not None:
            image = _framework_image(chk, mkey, m)
            if image is not None:
                images[mkey] = image
        elif m.image is not None:
            images[mkey] = m.image
        _check_model_data_url(chk, mp, m)
        if (
            m.network_isolation
            and m.model_data_url is None
            and m.image is None
            and chk.bad.ok(f"{mp}.network_isolation", f"{mp}.model_data_url")
        ):
            chk.errs.append(
                f"{mp}.network_isolation: needs model_data_url or a self-contained image"
            )
    return images


def _check_model_data_url(chk: EndpointChecks, mp: str, m: ModelConfig) -> None:
    """botocore sagemaker model: ContainerDefinition.ModelDataUrl and S3ModelDataSource."""
    url = m.model_data_url
    if (
        url is not None
        and not is_unknown(url)
        and chk.bad.ok(f"{mp}.model_data_url", f"{mp}.model_data_compression")
        and m.model_data_compression == "gzip"
        and not url.endswith(".tar.gz")
    ):
        chk.errs.append(
            f"{mp}.model_data_url: "
            + ("is an S3 prefix; " if url.endswith("/") else "")
            + "SageMaker's ModelDataUrl must name a single gzip-compressed tar archive "
            f"(.tar.gz), got {url!r}; for uncompressed model files set "
            f"{mp}.model_data_compression: none"
        )


def _framework_image(chk: EndpointChecks, mkey: str, m: ModelConfig) -> str | None:
    p, ep = chk.path, chk.ep
    mp = f"{p}.models.{mkey}"
    assert m.framework is not None
    if m.framework_version is None:
        if chk.bad.ok(f"{mp}.framework_version"):
            chk.errs.append(f"{mp}.framework_version: required with framework {m.framework!r}")
        return None
    if not chk.bad.ok(f"{mp}.framework_version", f"{mp}.py_version", f"{p}.variants"):
        return None
    used = [v for v in ep.variants if given(v) and v.model == mkey]
    itype = used[0].instance_type if used else None
    if is_unknown(itype):  # unknown offline: the SDK's default image
        itype = None
    try:
        return resolve_framework_image(
            m.framework, m.framework_version, chk.region, m.py_version, itype
        )
    except UnknownFramework as exc:
        chk.errs.append(f"{mp}.framework: {exc}")
    except ValueError as exc:
        chk.errs.append(f"{mp}.framework_version: {exc}")
    return None


def check_variants(chk: EndpointChecks) -> None:
    """Unique names, known models, autoscaling bounds and hosting instance types; fills `names`."""
    p, ep, bad = chk.path, chk.ep, chk.bad
    for i, v in enumerate(chk.variants):
        vp = f"{p}.variants[{i}]"
        if not given(v):
            continue
        if bad.ok(f"{vp}.name"):
            if v.name in chk.names:
                chk.errs.append(
                    f"{vp}.name: variant names must be unique, {v.name!r} is also "
                    f"variants[{chk.names[v.name]}]"
                )
            chk.names.setdefault(v.name, i)
        if bad.ok(f"{vp}.model", f"{p}.models") and given(ep.models) and v.model not in ep.models:
            chk.errs.append(
                f"{vp}.model: must be one of the endpoint's models ({', '.join(ep.models)}), "
                f"got {v.model!r}"
            )
        if bad.ok(f"{vp}.autoscaling", f"{vp}.instance_count"):
            check_autoscaling(vp, v, chk.errs)
        if bad.ok(f"{vp}.instance_type") and v.instance_type not in HOSTING_INSTANCE_TYPES:
            close = suggest_instance_type(v.instance_type)
            hint = f"did you mean {close}?" if close else "for example ml.m5.large, ml.c5.xlarge"
            chk.errs.append(
                f"{vp}.instance_type: not a SageMaker hosting instance type, got "
                f"{v.instance_type!r} ({hint})"
            )


def check_autoscaling(path: str, v: VariantConfig, errs: list[str]) -> None:
    """min <= max capacity, instance_count <= max, and a target to track."""
    a = v.autoscaling
    if not isinstance(a, AutoscalingConfig):
        return
    ap = f"{path}.autoscaling"
    if a.max_capacity < a.min_capacity:
        errs.append(
            f"{ap}.max_capacity: must be at least min_capacity ({a.min_capacity}), "
            f"got {a.max_capacity}"
        )
    if v.instance_count > a.max_capacity:
        # Below the minimum is fine: registering the target scales the variant up to it (and a
        # canary candidate's minimum follows its share).
        errs.append(
            f"{path}.instance_count: must be at most autoscaling max_capacity "
            f"({a.max_capacity}), got {v.instance_count}"
        )
    if a.target_invocations_per_instance is None and a.custom_metric is None:
        errs.append(f"{ap}: set target_invocations_per_instance, custom_metric or both")


# --------------------------------------------------------------------------- alarms


def check_alarm_windows(
    path: str,
    alarm: StandardAlarm | CustomAlarm | RelativeErrorRate | RelativeLatency,
    errs: list[str],
    bad: BadPaths,
) -> None:
    """CloudWatch PutMetricAlarm's period and evaluation-window limits for one alarm."""
    period, evals = alarm.period_seconds, alarm.evaluation_periods
    if bad.ok(f"{path}.period_seconds"):
        # CloudWatch PutMetricAlarm "Period": 10, 20, 30 (high resolution) or a multiple of 60.
        if period not in (10, 20, 30) and (period < 60 or period % 60):
            errs.append(
                f"{path}.period_seconds: must be 10, 20, 30 or a multiple of 60 seconds, got {period}"
            )
        elif bad.ok(f"{path}.evaluation_periods"):
            cap = CW_WINDOW_SHORT if period < 3600 else CW_WINDOW_LONG
            if period * evals > cap:
                errs.append(
                    f"{path}.evaluation_periods: period_seconds x evaluation_periods must be at "
                    f"most {cap} s for a {period} s period (CloudWatch PutMetricAlarm), got "
                    f"{period} x {evals} = {period * evals} s"
                )
    d = alarm.datapoints_to_alarm
    if (
        bad.ok(f"{path}.datapoints_to_alarm", f"{path}.evaluation_periods")
        and d is not None
        and d > evals
    ):
        errs.append(f"{path}.datapoints_to_alarm: must be 1..evaluation_periods ({evals}), got {d}")


def check_alarms(chk: EndpointChecks) -> None:
    """Every alarm's window; custom alarms' keys, variants and statistics."""
    p, alarms, bad = chk.path, chk.ep.alarms, chk.bad
    for akey in STANDARD_ALARM_KEYS:
        std = getattr(alarms, akey, None)
        if std is not None:
            check_alarm_windows(f"{p}.alarms.{akey}", std, chk.errs, bad)
    keys: set[str] = set()
    for i, ca in enumerate(alarms.custom or []):
        cp = f"{p}.alarms.custom[{i}]"
        if not given(ca):
            continue
        check_alarm_windows(cp, ca, chk.errs, bad)
        if bad.ok(f"{cp}.key"):
            reserved = (*STANDARD_ALARM_KEYS, "low_traffic")
            if ca.key in keys or ca.key in reserved:
                chk.errs.append(
                    f"{cp}.key: must be unique among the endpoint's alarms, got {ca.key!r}"
                )
            keys.add(ca.key)
        if ca.variant is not None:
            chk.variant(f"{cp}.variant", ca.variant)
        if (
            bad.ok(f"{cp}.statistic")
            and ca.statistic not in STANDARD_STATISTICS
            and not is_extended_statistic(ca.statistic)
        ):
            chk.errs.append(
                f"{cp}.statistic: must be SampleCount, Average, Sum, Minimum, Maximum or an "
                "extended statistic such as p99, p99.9, tm90, TM(10%:90%), wm99, tc90, ts90, "
                f"PR(:300) or IQM, got {ca.statistic!r}"
            )


def gate_alarm_count(ep: EndpointConfig) -> int:
    """How many alarms gate this endpoint's rollout: enabled standard alarms (on the candidate, or
    the one variant) plus custom alarms with `gate: true` (a canary's stable-only ones excluded)."""
    a = ep.alarms
    n = sum(1 for s in (a.errors_5xx, a.latency_p99, a.errors_4xx) if s.enabled)
    stable = ep.strategy.canary.stable if ep.strategy.canary is not None else None
    return n + sum(1 for c in a.custom if c.gate and (stable is None or c.variant != stable))


def check_rollback_alarm_count(chk: EndpointChecks, strategy: str) -> None:
    """SageMaker's AutoRollbackConfig takes 1..10 alarms (botocore AlarmList)."""
    n = gate_alarm_count(chk.ep)
    lo, hi = aws_limit("sagemaker.AlarmList", "min"), aws_limit("sagemaker.AlarmList", "max")
    if not lo <= n <= hi:
        chk.errs.append(
            f"{chk.path}.alarms: {strategy} needs {lo}..{hi} auto-rollback alarms (enabled "
            f"standard alarms plus custom alarms with gate: true; SageMaker AlarmList), got {n}"
        )


# --------------------------------------------------------------------------- sizes and timeouts


def size_percent(size: Size, count: int) -> float:
    """A capacity size as a percent of a fleet of `count` instances."""
    return size.value if size.type == "capacity_percent" else 100.0 * size.value / count


def size_args(size: Size) -> tuple[str, int]:
    """A config size as `guardrails.capacity_size` takes it: (type, value)."""
    return size.type, size.value


def check_timeout(
    sp: str, policy: BlueGreenPlan | RollingPlan, fleet: int, errs: list[str]
) -> None:
    """MaximumExecutionTimeoutInSeconds "should be larger than the total waiting time specified in
    TerminationWaitInSeconds and WaitIntervalInSeconds" (botocore sagemaker model,
    BlueGreenUpdatePolicy); for rolling, "Exceeding this limit causes a timeout"
    (RollingUpdatePolicy). The waits are counted as the guardrails emulator runs them
    (`guardrails.update_waits`, rule S5): a timeout not larger than them can only time out."""
    timeout = policy.max_execution_timeout_seconds
    if timeout is None:
        return
    waits, how = update_waits(policy, fleet)
    if timeout <= waits:
        errs.append(
            f"{sp}.max_execution_timeout_seconds: must be greater than the waits of the update "
            f"({waits} s: {how}), got {timeout}"
        )


# --------------------------------------------------------------------------- drift, storage, capture


def check_drift(chk: EndpointChecks) -> None:
    """Drift reads the stack's capture bucket and a baseline file holding every feature."""
    from sagemaker_rollouts.lambdas.drift import BaselineError, load_baseline_file

    p, ep, errs = chk.path, chk.ep, chk.errs
    d = ep.drift
    assert d is not None
    dp = f"{p}.drift"
    features = d.features  # shape errors anywhere under drift skip these checks (caller)
    if d.variant is not None and d.variant not in chk.names:
        errs.append(
            f"{dp}.variant: must name one of the variants ({', '.join(chk.names)}), "
            f"got {d.variant!r}"
        )
    dc = ep.data_capture
    if dc is not None and not dc.enabled:
        errs.append(f"{p}.data_capture.enabled: drift reads captured requests; it must be on")
    elif dc is not None and dc.destination_s3_uri is not None:
        errs.append(
            f"{dp}: reads the stack's capture bucket; unset data_capture.destination_s3_uri"
        )
    seen: set[str] = set()
    for i, f in enumerate(features):
        if f.name in seen:
            errs.append(f"{dp}.features[{i}].name: must be unique, {f.name!r} is used twice")
        seen.add(f.name)
    try:
        baseline = load_baseline_file(d.baseline)
    except (OSError, BaselineError) as exc:
        errs.append(f"{dp}.baseline: cannot use {d.baseline!r}: {exc}")
        return
    known = {n for n, _ in baseline.features}
    for i, f in enumerate(features):
        if f.name not in known:
            errs.append(
                f"{dp}.features[{i}].name: {f.name!r} is not in the baseline "
                f"({', '.join(sorted(known))}); rebuild it with rollout baseline --features"
            )


def check_storage_and_capture(chk: EndpointChecks) -> None:
    """One capture destination. (A KMS key on local-NVMe instance types is allowed, with a
    warning: `config_warnings`, `NVME_KMS_DOC`.)"""
    dc = chk.ep.data_capture
    if dc is not None and dc.destination_s3_uri and dc.destination_prefix:
        chk.errs.append(
            f"{chk.path}.data_capture: set destination_s3_uri or destination_prefix, not both"
        )


def check_tags(
    path: str, stack_tags: Mapping[str, str], ep_tags: Mapping[str, str], errs: list[str]
) -> None:
    """Stack, endpoint and managed tags together fit SageMaker's tag limit."""
    merged = set(stack_tags) | set(ep_tags) | set(MANAGED_TAG_KEYS)
    limit = aws_limit("sagemaker.TagList", "max")
    if len(merged) > limit:
        errs.append(
            f"{path}: the endpoint's resources would carry {len(merged)} tags (stack tags, "
            f"endpoint tags and the {len(MANAGED_TAG_KEYS)} tags the program adds: "
            f"{', '.join(MANAGED_TAG_KEYS)}); SageMaker allows at most {limit}"
        )


# --------------------------------------------------------------------------- notifications


_SUBSCRIBER = {
    "email": (r"[^@\s]+@[^@\s]+\.[^@\s]+", "an email address"),
    "https": (r"https://[^\s]+", "an https:// URL"),
    "sqs": (r"arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[\w-]{1,80}", "an SQS queue ARN"),
    "lambda": (
        r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[\w-]{1,64}(:[\w$-]+)?",
        "a Lambda function ARN",
    ),
}


def check_notifications(n: NotificationsConfig, errs: list[str]) -> None:
    """Each subscriber's endpoint fits its protocol; each chat channel has its ids."""
    if (
        n.topic_arn is not None
        and not is_unknown(n.topic_arn)
        and not re.fullmatch(
            r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}(\.fifo)?", n.topic_arn
        )
    ):
        errs.append(f"notifications.topic_arn: must be an SNS topic ARN, got {n.topic_arn!r}")
    for i, sub in enumerate(n.subscriptions):
        pattern, what = _SUBSCRIBER[sub.protocol]
        if not is_unknown(sub.endpoint) and not re.fullmatch(pattern, sub.endpoint):
            errs.append(
                f"notifications.subscriptions[{i}].endpoint: protocol {sub.protocol} needs "
                f"{what}, got {sub.endpoint!r}"
            )
    for i, ch in enumerate(n.chat_channels):
        cp = f"notifications.chat_channels[{i}]"
        needed = ("workspace_id",) if ch.kind == "slack" else ("team_id", "tenant_id")
        errs.extend(
            f"{cp}.{k}: required for a {ch.kind} channel" for k in needed if getattr(ch, k) is None
        )
        unused = ("team_id", "tenant_id") if ch.kind == "slack" else ("workspace_id",)
        errs.extend(
            f"{cp}.{k}: not used by a {ch.kind} channel"
            for k in unused
            if getattr(ch, k) is not None
        )


# --------------------------------------------------------------------------- images


def suggest_instance_type(given: str) -> str | None:
    """The hosting instance type a user most likely meant, or None.

    The common slips come first, exactly: a missing `ml.` prefix (`m5.large`) and upper case
    (`ML.M5.LARGE`); only then the closest spelling (difflib ratio >= 0.8).
    """
    text = given.strip().lower()
    for candidate in (text, f"ml.{text}"):
        if candidate in HOSTING_INSTANCE_TYPES:
            return candidate
    close = difflib.get_close_matches(text, sorted(HOSTING_INSTANCE_TYPES), n=1, cutoff=0.8)
    return close[0] if close else None


class UnknownFramework(ValueError):
    """The framework name is not one the sagemaker SDK's image tables know."""


def resolve_framework_image(
    framework: str, version: str, region: str, py_version: str | None, instance_type: str | None
) -> str:
    """An inference image URI from the sagemaker SDK's offline tables (imported only when needed).

    Raises UnknownFramework for an unknown framework name, ValueError when the version (or
    py_version / region) has no image.
    """
    try:
        from sagemaker.core import image_uris  # type: ignore[import-untyped]  # heavy (~2 s): only for stacks that name a framework
    except ImportError as exc:  # the `frameworks` extra is optional: image_uri needs none of it
        raise ValueError(
            "resolving a framework image needs the `frameworks` extra "
            "(pip install 'sagemaker-rollouts[frameworks]'), or give image_uri instead"
        ) from exc
    tables = Path(str(image_uris.__file__)).parent / "image_uri_config"
    known = sorted(p.stem for p in tables.glob("*.json"))
    if known and framework not in known:
        shown = ", ".join(k for k in known if "-" not in k)[:400]
        raise UnknownFramework(
            f"unknown framework {framework!r}; known frameworks include: {shown}"
        )
    try:
        retrieve: Any = image_uris.retrieve  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        return str(
            retrieve(
                framework=framework,
                region=region,
                version=version,
                py_version=py_version,
                instance_type=instance_type,
                image_scope="inference",
            )
        )
    except Exception as exc:  # the SDK raises ValueError/KeyError/others with good text
        raise ValueError(
            f"cannot resolve an image for {framework} {version} in {region}: {exc}"
        ) from exc
