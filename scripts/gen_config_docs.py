"""Generate `docs/config.md`, the reference of every stack config key, from the config model.

    .venv/bin/python scripts/gen_config_docs.py          # rewrite docs/config.md
    .venv/bin/python scripts/gen_config_docs.py --check  # exit 1 when it is stale

Descriptions, types, defaults and ranges come from the model's JSON Schema (`rollout schema`); the source of
each AWS range is looked up in SOURCES by key name. tests/strategies/test_config_docs.py fails when stale.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent.parent / "docs" / "config.md"

# Where an allowed range comes from, by key name (the last part of the key path).
API = "SageMaker API model (botocore, strategies/aws_limits.py)"
CW = "CloudWatch PutMetricAlarm (botocore, strategies/aws_limits.py)"
PROVIDER = "terraform-provider-aws internal/service/sagemaker/endpoint.go (stricter than the API)"
SOURCES: dict[str, str] = {
    "endpoint_name": f"{API}: EndpointName",
    "name": f"{API}: VariantName",
    "instance_type": f"{API}: ProductionVariantInstanceType",
    "instance_count": f"{API}: InitialTaskCount",
    "variants": f"{API}: ProductionVariantList",
    "environment": f"{API}: EnvironmentMap / EnvironmentKey / EnvironmentValue",
    "tags": f"{API}: TagList / TagKey / TagValue (aws: prefix reserved)",
    "image": f"{API}: ContainerImage",
    "model_data_url": f"{API}: Url; ModelDataUrl names a .tar.gz unless model_data_compression is none",
    "model_data_compression": "CreateModel S3ModelDataSource CompressionType (Gzip / None)",
    "execution_role_arn": f"{API}: RoleArn",
    "subnets": f"{API}: Subnets",
    "security_group_ids": f"{API}: VpcSecurityGroupIds",
    "sampling_percent": f"{API}: SamplingPercentage",
    "destination_s3_uri": f"{API}: DestinationS3Uri",
    "wait_seconds": f"{API}: WaitIntervalInSeconds",
    "termination_wait_seconds": f"{API}: TerminationWaitInSeconds",
    "max_execution_timeout_seconds": PROVIDER,
    "value": f"{API}: CapacitySizeValue",
    "period_seconds": f"{CW}: Period (10, 20, 30 or a multiple of 60)",
    "evaluation_periods": f"{CW}: period x evaluation_periods <= 86400 s (604800 s for periods >= 1 h)",
    "datapoints_to_alarm": f"{CW}: DatapointsToAlarm <= EvaluationPeriods",
    "namespace": f"{CW}: Namespace",
    "metric": f"{CW}: MetricName",
    "dimensions": f"{CW}: Dimensions (at most 30)",
    "statistic": f"{CW}: Statistic or ExtendedStatistic (p0..p100, tm/wm/tc/ts, PR, IQM)",
    "comparison": f"{CW}: ComparisonOperator",
    "treat_missing_data": f"{CW}: TreatMissingData",
    "volume_kms": "CreateEndpointConfig KmsKeyId: does not encrypt instance local storage on "
    "types with local NVMe storage (EC2 instance-store table): auto leaves it off there, on warns",
    "kms_deletion_window_days": "KMS ScheduleKeyDeletion: PendingWindowInDays",
}


EXAMPLES: dict[str, str] = {
    "endpoint_name": "fraud-detector",
    "image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
    "model_data_url": "s3://acme-ml-models/fraud/v2/model.tar.gz",
    "model_data_compression": "none",
    "framework": "xgboost",
    "framework_version": '"1.7-1"',
    "py_version": "py3",
    "environment": "{WORKERS: 2}",
    "execution_role_arn": "arn:aws:iam::123456789012:role/sagemaker-exec",
    "subnets": "[subnet-0abc]",
    "security_group_ids": "[sg-0abc]",
    "name": "stable",
    "model": "v1",
    "instance_type": "ml.m5.large",
    "stable": "stable",
    "candidate": "candidate",
    "production": "stable",
    "shadow": "candidate",
    "steps": "[5, 25, {percent: 50, bake_seconds: 1800}]",
    "weights": "{a: 50, b: 50}",
    "key": "drift",
    "namespace": "Acme/Models",
    "metric": "psi",
    "statistic": "p99",
    "threshold": "0.2",
    "variant": "candidate",
    "tags": "{team: fraud}",
    "destination_prefix": "capture/fraud",
    "destination_s3_uri": "s3://acme-capture/fraud",
}


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return defs[ref.rsplit("/", 1)[-1]]
    return schema


def _variants(schema: dict[str, Any]) -> list[dict[str, Any]]:
    if "anyOf" in schema:
        return [s for s in schema["anyOf"] if s.get("type") != "null"]
    return [schema]


def _type(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    names: list[str] = []
    for s in _variants(schema):
        if "$ref" in s:
            names.append("mapping")
        elif "enum" in s:
            names.append(" \\| ".join(json.dumps(v) for v in s["enum"]))
        elif s.get("type") == "array":
            names.append(f"list of {_type(s.get('items', {}), defs)}")
        elif s.get("type") == "object":
            names.append("mapping")
        elif isinstance(s.get("type"), list):
            names.append(" or ".join(s["type"]))
        elif "anyOf" in s:
            names.append(_type(s, defs))
        else:
            names.append(str(s.get("type", "any")))
    optional = any(s.get("type") == "null" for s in schema.get("anyOf", []))
    return " or ".join(names) + (" (or null)" if optional else "")


def _allowed(schema: dict[str, Any]) -> str:
    parts: list[str] = []
    for s in _variants(schema):
        lo, hi = s.get("minimum"), s.get("maximum")
        if lo is not None and hi is not None:
            parts.append(f"{lo}..{hi}")
        elif lo is not None:
            parts.append(f">= {lo}")
        elif hi is not None:
            parts.append(f"<= {hi}")
        if "exclusiveMinimum" in s:
            parts.append(f"> {s['exclusiveMinimum']}")
        for key, word in (("minLength", "chars >="), ("maxLength", "chars <=")):
            if key in s:
                parts.append(f"{word} {s[key]}")
        for key, word in (
            ("minItems", "items >="),
            ("maxItems", "items <="),
            ("maxProperties", "keys <="),
        ):
            if key in s:
                parts.append(f"{word} {s[key]}")
        if "pattern" in s:
            parts.append(f"pattern `{s['pattern']}`")
    return "; ".join(parts)


def _example(name: str, schema: dict[str, Any]) -> str:
    if name in EXAMPLES:
        return f"`{name}: {EXAMPLES[name]}`"
    if "default" in schema and schema["default"] not in (None, {}, []):
        return f"`{name}: {json.dumps(schema['default'])}`"
    for s in _variants(schema):
        if "enum" in s:
            return f"`{name}: {s['enum'][0]}`"
        t = s.get("type")
        if t == "integer":
            return f"`{name}: {s.get('minimum', 1)}`"
        if t == "number":
            return f"`{name}: {s.get('minimum', 0.5)}`"
        if t == "boolean":
            return f"`{name}: true`"
    return ""


def _is_mapping(schema: dict[str, Any], defs: dict[str, Any]) -> bool:
    return any("$ref" in v or "properties" in v for v in _variants(schema))


def _description(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    text = schema.get("description")
    if text is None:
        for v in _variants(schema):
            text = v.get("description") or _resolve(v, defs).get("description")
            if text:
                break
    return " ".join(str(text or "").split())


def _walk(
    schema: dict[str, Any], defs: dict[str, Any], path: str, rows: list[list[str]], depth: int
) -> None:
    if depth > 12:
        return
    node = _resolve(schema, defs)
    required = set(node.get("required", []))
    for name, sub in node.get("properties", {}).items():
        key = f"{path}.{name}" if path else name
        if name in required:
            default = "required"
        elif "default" in sub:
            default = json.dumps(sub["default"])
        else:  # built by the model when absent (a mapping of its keys' defaults, or empty)
            default = "its keys' defaults" if _is_mapping(sub, defs) else "empty"
        rows.append(
            [
                f"`{key}`",
                _description(sub, defs),
                _type(sub, defs),
                default,
                _allowed(sub),
                SOURCES.get(name, ""),
                _example(name, sub),
            ]
        )
        for v in _variants(sub):
            if "$ref" in v:
                _walk(v, defs, key, rows, depth + 1)
            elif v.get("type") == "array":
                for item in _variants(v.get("items", {})):
                    if "$ref" in item:
                        _walk(item, defs, f"{key}[]", rows, depth + 1)
            elif v.get("type") == "object" and "properties" in v:
                _walk(v, defs, key, rows, depth + 1)
            elif v.get("type") == "object":
                extra = v.get("additionalProperties")
                if isinstance(extra, dict) and "$ref" in extra:
                    _walk(extra, defs, f"{key}.<name>", rows, depth + 1)


def render() -> str:
    from sagemaker_rollouts.strategies.schema import config_schema

    schema = config_schema()
    defs = schema.get("$defs", {})
    rows: list[list[str]] = []
    _walk(schema, defs, "", rows, 0)
    head = ["key", "description", "type", "default", "allowed", "source of the limit", "example"]
    lines = [
        "# Stack config reference",
        "",
        "<!-- GENERATED by scripts/gen_config_docs.py from the config model: do not edit. -->",
        "",
        "Every key of `sagemaker-rollouts:*` in a `Pulumi.<stack>.yaml` (set them with",
        "`pulumi config set --path 'sagemaker-rollouts:<key>' VALUE`). `<name>` stands for a key you",
        "choose (an endpoint, a model); `[]` for a list item. Ranges that AWS sets name their source;",
        "the rest are this project's own rules. `rollout plan` checks everything here and the",
        "relations between keys (references, the 50-tag limit including the program's own tags,",
        "CloudWatch evaluation windows, blue/green sizes) before anything is declared.",
        "",
        "For editor completion, `rollout schema > sagemaker-rollouts.schema.json` and put",
        "`# yaml-language-server: $schema=./sagemaker-rollouts.schema.json` on the first line of",
        "the stack file.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for row in rows:
        lines.append(
            "| "
            + " | ".join(c.replace("|", "\\|") if i != 2 else c for i, c in enumerate(row))
            + " |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description="generate docs/config.md")
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/config.md is stale")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not OUT.is_file() or OUT.read_text() != text:
            print(f"{OUT} is stale: run scripts/gen_config_docs.py", file=sys.stderr)
            return 1
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
