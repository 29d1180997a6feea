"""The multi-language component package, offline: the schema Pulumi infers, the inputs kept in step
with the pydantic model, and the YAML example constructed through the provider under mocks."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
import yaml
from pulumi.provider.experimental.component import ComponentProvider
from pydantic import BaseModel

from sagemaker_rollouts.infra import multilang
from sagemaker_rollouts.infra.component import RolloutEndpointArgs
from sagemaker_rollouts.simulator.mockrun import run_function_offline
from sagemaker_rollouts.strategies import config as cfg
from sagemaker_rollouts.strategies.config import ConfigError

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "sagemaker-rollouts:index:RolloutEndpoint"
EXAMPLE = ROOT / "examples" / "yaml" / "Pulumi.yaml"


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


@cache
def provider() -> ComponentProvider:
    return ComponentProvider([multilang.RolloutEndpoint], "sagemaker-rollouts", None, "0.0.0")


@cache
def schema() -> dict[str, Any]:
    return json.loads(provider().schema)


def ref(name: str) -> str:
    return f"#/types/sagemaker-rollouts:index:{name}"


def test_the_inferred_schema_has_the_component_with_typed_inputs_and_outputs() -> None:
    component = schema()["resources"][TOKEN]
    inputs = component["inputProperties"]
    assert inputs["endpointName"]["type"] == "string"
    assert inputs["models"]["type"] == "object"
    assert inputs["models"]["additionalProperties"]["$ref"] == ref("ModelInputs")
    assert inputs["variants"]["items"]["$ref"] == ref("VariantInputs")
    assert inputs["dataCapture"]["$ref"] == ref("DataCaptureInputs")
    assert inputs["strategy"]["$ref"] == "pulumi.json#/Any"
    for key in ("kmsKeyArn", "notificationTopicArn", "permissionsBoundaryArn", "region"):
        assert inputs[key]["type"] == "string", key
    assert inputs["tags"]["additionalProperties"]["type"] == "string"
    assert sorted(component["requiredInputs"]) == ["models", "strategy", "variants"]
    outputs = component["properties"]
    assert outputs["endpointName"]["type"] == "string"
    assert outputs["variantNames"]["type"] == "array"
    assert outputs["variantNames"]["items"]["type"] == "string"
    assert {"alarmNames", "captureUri", "hookFunctionName", "stateTableName"} <= set(outputs)
    variant = schema()["types"]["sagemaker-rollouts:index:VariantInputs"]
    assert variant["properties"]["instanceCount"]["type"] == "integer"
    assert sorted(variant["required"]) == ["instanceType", "model", "name"]


PAIRS: list[tuple[type[Any], type[BaseModel]]] = [
    (multilang.RolloutEndpointInputs, RolloutEndpointArgs),
    (multilang.ModelInputs, cfg.ModelConfig),
    (multilang.VariantInputs, cfg.VariantConfig),
    (multilang.DataCaptureInputs, cfg.DataCaptureConfig),
    (multilang.VpcInputs, cfg.VpcConfig),
    (multilang.HookInputs, cfg.HookConfig),
]


@pytest.mark.parametrize(("inputs", "model"), PAIRS, ids=[p[0].__name__ for p in PAIRS])
def test_multi_language_inputs_and_the_pydantic_model_have_the_same_keys(
    inputs: type[Any], model: type[BaseModel]
) -> None:
    fields = model.model_fields
    assert set(inputs.__annotations__) == set(fields)
    required = {k for k, f in fields.items() if f.is_required()}
    assert set(inputs.__required_keys__) == required


def example_properties() -> dict[str, Any]:
    program = yaml.safe_load(EXAMPLE.read_text())
    found = [r for r in program["resources"].values() if r["type"] == TOKEN]
    assert len(found) == 1
    return found[0]["properties"]


def test_the_yaml_example_uses_only_schema_inputs() -> None:
    props = example_properties()
    component = schema()["resources"][TOKEN]
    assert set(props) <= set(component["inputProperties"])
    assert set(component["requiredInputs"]) <= set(props)
    variant = set(schema()["types"]["sagemaker-rollouts:index:VariantInputs"]["properties"])
    model = set(schema()["types"]["sagemaker-rollouts:index:ModelInputs"]["properties"])
    assert all(set(v) <= variant for v in props["variants"])
    assert all(set(m) <= model for m in props["models"].values())


def test_the_yaml_example_constructs_through_the_provider_with_its_own_key_and_topic() -> None:
    props = example_properties()

    def program() -> None:
        key = aws.kms.Key("key", enable_key_rotation=True)
        topic = aws.sns.Topic("alerts")
        wired = props | {"kmsKeyArn": key.arn, "notificationTopicArn": topic.arn}
        for value in wired.values():
            assert not (isinstance(value, str) and re.search(r"\$\{", value))
        provider().construct("fraud", TOKEN, wired, pulumi.ResourceOptions())

    result = run_function_offline(program)
    result.raise_error()
    assert [r.name for r in result.of_type("aws:kms/key:Key")] == ["key"]
    assert [r.name for r in result.of_type("aws:sns/topic:Topic")] == ["alerts"]
    endpoint = result.of_type("aws:sagemaker/endpoint:Endpoint")[0]
    assert endpoint.inputs["name"] == "fraud-detector"
    config = result.of_type("aws:sagemaker/endpointConfiguration:EndpointConfiguration")[0]
    variants = {v["variantName"]: v for v in config.inputs["productionVariants"]}
    assert variants["stable"]["initialInstanceCount"] == 2
    assert config.inputs["dataCaptureConfig"]["initialSamplingPercentage"] == 20
    # its notifications tell on-call to address it by endpoint name, as any component's do
    (hook,) = result.of_type("aws:lambda/function:Function")
    target = hook.inputs["environment"]["variables"]["ROLLOUT_TARGET"]
    assert target == "--endpoint fraud-detector --region us-east-1"


def test_an_output_where_the_plan_needs_a_value_is_a_config_error_with_its_path() -> None:
    props = {camel_to_snake(k): v for k, v in example_properties().items()}
    props.pop("kms_key_arn")
    props.pop("notification_topic_arn")

    def program() -> None:
        bucket = aws.s3.Bucket("artifacts")
        models = dict(props["models"])
        models["v2"] = dict(models["v2"]) | {"image": bucket.bucket}
        multilang.RolloutEndpoint("fraud", props | {"models": models, "volume_kms": "sometimes"})  # type: ignore[arg-type]

    result = run_function_offline(program)
    assert isinstance(result.error, ConfigError), result.error
    text = "\n".join(result.error.errors)
    assert "models.v2.image: must be known when the program starts" in text
    assert "volumeKms:" in text  # the other problems are reported together
    assert result.of_type("aws:sagemaker/endpoint:Endpoint") == []


def test_mistakes_through_the_provider_name_the_keys_as_the_program_wrote_them() -> None:
    """A YAML or TypeScript program writes the schema's camelCase names; the component host
    hands the component snake_case. Every error line names the key as the program wrote it:
    camelCase for typed inputs, the user's own model keys, and the stack config's snake_case
    inside the free-form `strategy` and `alarms`."""
    props = copy.deepcopy(example_properties())
    props["variants"][1]["instanceType"] = "ml.m5.lage"
    props["models"]["v2"]["frameworkVersion"] = 1.10
    props["models"]["v2"]["framework"] = "xgboost"
    props["dataCapture"] = {"samplingPercent": 120}
    props["strategy"]["canary"]["steps"] = [10, 5]
    props["strategy"]["canary"]["bake_secnds"] = 600
    props["kmsKeyArn"] = "alias/ml"
    props.pop("notificationTopicArn")

    def program() -> None:
        provider().construct("fraud", TOKEN, props, pulumi.ResourceOptions())

    result = run_function_offline(program)
    assert result.error is not None
    lines = str(result.error).splitlines()
    assert lines[0] == "RolloutEndpoint 'fraud': invalid args"
    paths = {line.strip().split(":")[0] for line in lines[1:]}
    assert {
        "kmsKeyArn",
        "models.v2.frameworkVersion",
        "dataCapture.samplingPercent",
        "variants[1].instanceType",
        "strategy.canary.steps[1]",
        "strategy.canary.bake_secnds",
    } <= paths, lines
    assert result.of_type("aws:sagemaker/endpoint:Endpoint") == []


def camel_to_snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def test_the_plugin_entry_point_hosts_the_component_under_the_package_name() -> None:
    spec = importlib.util.spec_from_file_location("plugin_main", ROOT / "provider" / "__main__.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # not __main__: nothing is hosted
    assert TOKEN.split(":")[0] == module.PACKAGE
    assert module.RolloutEndpoint is multilang.RolloutEndpoint
    plugin = yaml.safe_load((ROOT / "provider" / "PulumiPlugin.yaml").read_text())
    assert plugin["runtime"]["name"] == "python"


def test_the_plugin_host_loads_pulumi_aws_class_by_class_as_the_program_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Run as the language host runs it (`__main__`), the plugin installs `aws_loader` (tested
    in tests/infra/test_aws_loader.py) before it starts hosting. Both are replaced by recorders:
    the host would serve gRPC forever, and the loader would stay installed in this worker."""
    import runpy

    import pulumi.provider.experimental as experimental

    from sagemaker_rollouts.infra import aws_loader

    calls: list[str] = []

    def host(*, components: list[type], name: str, version: str) -> None:
        del version
        calls.append(f"host {name} {[c.__name__ for c in components]}")

    monkeypatch.setattr(experimental, "component_provider_host", host)
    monkeypatch.setattr(aws_loader, "install", lambda: calls.append("install"))
    runpy.run_path(str(ROOT / "provider" / "__main__.py"), run_name="__main__")
    assert calls == ["install", "host sagemaker-rollouts ['RolloutEndpoint']"]


def test_the_yaml_examples_key_lets_cloudwatch_logs_use_it() -> None:
    """AWS: a log group's KMS key must allow `logs.<region>.amazonaws.com` in its key policy
    (CloudWatch Logs cannot use a key through IAM), else CreateLogGroup fails."""
    program = yaml.safe_load(EXAMPLE.read_text())
    policy = program["resources"]["key"]["properties"]["policy"]["fn::toJSON"]
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert (
        statements["CloudWatchLogs"]["Principal"]["Service"]
        == "logs.${region.region}.amazonaws.com"
    )
    assert "kms:GenerateDataKey*" in statements["CloudWatchLogs"]["Action"]
    assert statements["AccountIamDecides"]["Action"] == "kms:*"


@pytest.mark.parametrize("component", ["python", "multilang"])
def test_an_unknown_plan_deciding_input_is_reported_with_every_other_problem(
    component: str,
) -> None:
    """An Output where the plan needs a value counts as not given: its own line, every other
    problem beside it (a bad step), and nothing that only says it is missing or not a number."""
    from sagemaker_rollouts import RolloutEndpoint
    from tests.stackdata import component_canary

    make: Any = RolloutEndpoint if component == "python" else multilang.RolloutEndpoint

    def program() -> None:
        args = component_canary()
        args["endpoint_name"] = pulumi.Output.from_input("fraud-detector")
        args["variants"][0]["instance_count"] = pulumi.Output.from_input(3)
        args["strategy"]["canary"]["steps"][1] = 120
        make("fraud", args)

    result = run_function_offline(program)
    assert isinstance(result.error, ConfigError), result.error
    at = [line.partition(": ")[0] for line in result.error.errors]
    count = "variants[0].instance_count" if component == "python" else "variants[0].instanceCount"
    name = "endpoint_name" if component == "python" else "endpointName"
    assert at == [name, count, "strategy.canary.steps[1]"], result.error.errors
    assert result.resources == []
