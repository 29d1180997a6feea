"""Generate `strategies/aws_limits.py` from the service models botocore ships (and moto's EC2 table).

    .venv/bin/python scripts/gen_limits.py          # rewrite the module
    .venv/bin/python scripts/gen_limits.py --check  # exit 1 when the checked-in module is stale

Sources, all offline and installed with the project's own extras:
- botocore's SageMaker, CloudWatch and EventBridge service models (`botocore/data/<service>/<version>/
  service-2.json`): hosting instance types, integer ranges, string lengths and name patterns;
- botocore's endpoints model (`botocore/data/endpoints.json`): each partition's `regions`, the
  Regions the AWS provider accepts as `aws:region`. terraform-provider-aws checks the configured
  Region with aws-sdk-go-base's `validation.SupportedRegion` (internal/conns/config.go, unless
  `skip_region_validation`), which accepts exactly the Region ids of its `endpoints` package,
  generated (internal/generate/endpoints/main.go) from the same endpoints model (version 3:
  `partitions[].regions`) as botocore ships;
- moto's EC2 instance-type table (`moto/ec2/resources/instance_types.json.gz`, a snapshot of EC2
  DescribeInstanceTypes): which instance types have instance-store (NVMe) volumes, i.e. EC2's
  instance-store table. An endpoint-config KmsKeyId does not encrypt their local storage.
`tests/strategies/test_aws_limits.py` runs `--check`'s comparison, so an upgraded botocore whose limits disagree
with the checked-in data fails the suite and names each limit that changed; a botocore release that
changes no limit (only `BOTOCORE_VERSION`, recorded for the reader) passes.
"""

from __future__ import annotations

import argparse
import gzip
import json
import pprint
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent.parent / "strategies" / "aws_limits.py"

# (service, shape) pairs whose min/max/pattern the config validator uses.
SHAPES: list[tuple[str, str]] = [
    ("sagemaker", "EndpointName"),
    ("sagemaker", "EndpointConfigName"),
    ("sagemaker", "ModelName"),
    ("sagemaker", "VariantName"),
    ("sagemaker", "ContainerImage"),
    ("sagemaker", "Url"),
    ("sagemaker", "RoleArn"),
    ("sagemaker", "EnvironmentMap"),
    ("sagemaker", "EnvironmentKey"),
    ("sagemaker", "EnvironmentValue"),
    ("sagemaker", "TagKey"),
    ("sagemaker", "TagValue"),
    ("sagemaker", "TagList"),
    ("sagemaker", "Subnets"),
    ("sagemaker", "SubnetId"),
    ("sagemaker", "VpcSecurityGroupIds"),
    ("sagemaker", "SecurityGroupId"),
    ("sagemaker", "SamplingPercentage"),
    ("sagemaker", "DestinationS3Uri"),
    ("sagemaker", "InitialTaskCount"),
    ("sagemaker", "ProductionVariantList"),
    ("sagemaker", "WaitIntervalInSeconds"),
    ("sagemaker", "TerminationWaitInSeconds"),
    ("sagemaker", "MaximumExecutionTimeoutInSeconds"),
    ("sagemaker", "CapacitySizeValue"),
    ("sagemaker", "AlarmList"),
    ("cloudwatch", "AlarmName"),
    ("cloudwatch", "AlarmDescription"),
    ("cloudwatch", "MetricName"),
    ("cloudwatch", "Namespace"),
    ("cloudwatch", "Dimensions"),
    ("cloudwatch", "DimensionName"),
    ("cloudwatch", "DimensionValue"),
    ("cloudwatch", "Period"),
    ("cloudwatch", "EvaluationPeriods"),
    ("cloudwatch", "DatapointsToAlarm"),
    ("cloudwatch", "MetricId"),
    ("cloudwatch", "MetricExpression"),
    ("cloudwatch", "TagKey"),
    ("cloudwatch", "TagValue"),
    # What the program generates from config (infra/limits.py): the hook's DescribeAlarms call
    # and its alarm-state rule's event pattern.
    ("cloudwatch", "AlarmNames"),
    ("events", "EventPattern"),
]
ENUMS: list[tuple[str, str]] = [
    ("sagemaker", "ProductionVariantInstanceType"),
    ("cloudwatch", "Statistic"),
    ("cloudwatch", "ComparisonOperator"),
]

# Hosting instance types that moto's EC2 snapshot does not list. Each entry cites EC2's
# instance-store table (https://docs.aws.amazon.com/ec2/latest/instancetypes/ ... "Instance store
# specifications"): True when the EC2 type of the same name has instance-store (NVMe) volumes.
NOT_IN_EC2_TABLE: dict[str, bool] = {
    "p2.xlarge": False,  # EBS only
    "p2.8xlarge": False,
    "p2.16xlarge": False,
    "p3.2xlarge": False,  # EBS only (p3dn has NVMe; p3 does not)
    "p3.8xlarge": False,
    "p3.16xlarge": False,
    "dl1.24xlarge": True,  # 4 x 1000 GB NVMe SSD
    "p6e-gb200.36xlarge": True,  # NVMe SSD instance store (UltraServer node)
}


def _models() -> dict[str, Any]:
    import botocore.session

    session: Any = botocore.session.get_session()
    return {svc: session.get_service_model(svc) for svc in ("sagemaker", "cloudwatch", "events")}


def _partition_regions() -> dict[str, tuple[str, ...]]:
    """Partition id -> its Region ids (sorted), from botocore's endpoints model."""
    import botocore

    path = Path(botocore.__file__).parent / "data" / "endpoints.json"
    doc: dict[str, Any] = json.loads(path.read_text())
    return {p["partition"]: tuple(sorted(p["regions"])) for p in doc["partitions"]}


def _ec2_instance_store() -> dict[str, bool]:
    blob = resources.files("moto.ec2").joinpath("resources", "instance_types.json.gz").read_bytes()
    table: dict[str, dict[str, Any]] = json.loads(gzip.decompress(blob))
    return {name: bool(info.get("InstanceStorageSupported")) for name, info in table.items()}


def compute() -> dict[str, Any]:
    """The data the module holds, freshly read from the installed botocore and moto."""
    import botocore

    models = _models()
    shapes: dict[str, dict[str, Any]] = {}
    for svc, name in SHAPES:
        meta = dict(models[svc].shape_for(name).metadata)
        shapes[f"{svc}.{name}"] = {k: meta[k] for k in ("min", "max", "pattern") if k in meta}
    enums = {f"{svc}.{name}": tuple(models[svc].shape_for(name).enum) for svc, name in ENUMS}
    hosting = enums["sagemaker.ProductionVariantInstanceType"]
    store = _ec2_instance_store()
    nvme: list[str] = []
    unknown: list[str] = []
    for itype in hosting:
        ec2 = itype.removeprefix("ml.")
        if ec2 in store:
            has = store[ec2]
        elif ec2 in NOT_IN_EC2_TABLE:
            has = NOT_IN_EC2_TABLE[ec2]
        else:
            unknown.append(itype)
            continue
        if has:
            nvme.append(itype)
    if unknown:
        raise SystemExit(
            "hosting instance types missing from EC2's instance-store table; add them to "
            f"NOT_IN_EC2_TABLE with a citation: {', '.join(unknown)}"
        )
    return {
        "BOTOCORE_VERSION": botocore.__version__,
        "SHAPES": shapes,
        "ENUMS": enums,
        "NVME_INSTANCE_TYPES": tuple(nvme),
        "REGIONS": _partition_regions(),
    }


def render(data: dict[str, Any]) -> str:
    shapes, enums, nvme = data["SHAPES"], data["ENUMS"], data["NVME_INSTANCE_TYPES"]
    version = data["BOTOCORE_VERSION"]
    body = [
        '"""AWS limits the config validator enforces. GENERATED by scripts/gen_limits.py: do not edit.',
        "",
        f"Sources: botocore {version} service models (sagemaker, cloudwatch): shape",
        "min/max/pattern and enums; its endpoints model (endpoints.json): each partition's Regions;",
        "EC2's instance-store table (moto's DescribeInstanceTypes snapshot,",
        "plus the cited entries in scripts/gen_limits.py) for the hosting types with local NVMe storage.",
        "Patterns are the API model's, anchored by the caller (the model's patterns are unanchored).",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Any",
        "",
        f"BOTOCORE_VERSION = {version!r}",
        "",
        "# `<service>.<shape>` -> min / max (length for strings and lists) and pattern.",
        f"SHAPES: dict[str, dict[str, Any]] = {pprint.pformat(shapes, width=96, sort_dicts=True)}",
        "",
        f"ENUMS: dict[str, tuple[str, ...]] = {pprint.pformat(enums, width=96, compact=True)}",
        "",
        "# ProductionVariantInstanceType values whose EC2 type has instance-store (NVMe) volumes.",
        f"NVME_INSTANCE_TYPES: tuple[str, ...] = {pprint.pformat(tuple(nvme), width=96, compact=True)}",
        "",
        "# Partition -> the Region ids the AWS provider accepts as `aws:region` (the endpoints",
        "# model's `partitions[].regions`: what aws-sdk-go-base's SupportedRegion checks).",
        f"REGIONS: dict[str, tuple[str, ...]] = {pprint.pformat(data['REGIONS'], width=96, compact=True)}",
        "",
    ]
    return "\n".join(body)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the module is stale")
    args = parser.parse_args()
    data = compute()
    if args.check:
        changed = differences(data)
        if changed:
            print(f"{OUT} is stale: run scripts/gen_limits.py", file=sys.stderr)
            for line in changed:
                print(f"  {line}", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(render(data))
    # Keep the generated module in the repository's format (ruff is a dev tool of the project).
    subprocess.run([sys.executable, "-m", "ruff", "format", "-q", str(OUT)], check=False)
    return 0


# Recorded in the generated module for the reader; not a limit, so never compared.
INFORMATIONAL = ("BOTOCORE_VERSION",)


def differences(data: dict[str, Any]) -> list[str]:
    """What changed between the checked-in module and `data`, one line per limit (empty when equal).

    Compares the limits only: a shape's min/max/pattern, an enum's values (each value added or
    removed is named), the instance types with local NVMe storage. A newer botocore that changes
    none of them (a patch release, most days) is no difference.
    """
    from sagemaker_rollouts.strategies import aws_limits

    out: list[str] = []
    for key, new in data.items():
        if key in INFORMATIONAL:
            continue
        old = getattr(aws_limits, key, None)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            for name in sorted(set(old) | set(new)):
                was, now = old.get(name), new.get(name)
                if was == now:
                    continue
                if isinstance(was, tuple) and isinstance(now, tuple):
                    added = sorted(set(now) - set(was))
                    removed = sorted(set(was) - set(now))
                    out.append(f"{key}[{name}]: added {added}, removed {removed}")
                else:
                    out.append(f"{key}[{name}]: {was!r} -> {now!r}")
        elif isinstance(old, tuple) and isinstance(new, tuple):
            added = sorted(set(new) - set(old))
            removed = sorted(set(old) - set(new))
            out.append(f"{key}: added {added}, removed {removed}")
        else:
            out.append(f"{key}: {old!r} -> {new!r}")
    return out


if __name__ == "__main__":
    sys.exit(main())
