"""Secret config values are unknown offline: never pattern-checked, never refused for their
placeholder, and the same answer through every entry point (`rollout plan` on a stack file, the
program under mocks, the config loader); the decrypted value is checked for real by the program.

Stands in for the Pulumi CLI: a `{secure: v1:...}` value in a stack file is ciphertext that only
the stack's secrets provider can decrypt, so offline it is the placeholder `[secret]`
(sagemaker_rollouts/simulator/mockrun.py); under `pulumi up` the language host hands the program the decrypted value.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from sagemaker_rollouts.cli.main import main
from sagemaker_rollouts.strategies.config import (
    SECRET_PLACEHOLDER,
    ConfigError,
    config_warnings,
    load_config,
)
from tests.stackdata import canary, with_key

ROOT = Path(__file__).resolve().parents[2]
EP = "endpoints.fraud"
MODEL = "aws:sagemaker/model:Model"
CIPHER = {"secure": "v1:AAAABBBBCCCCsecretciphertext=="}

# Every key that may be secret, with a good decrypted value and a bad one the program refuses.
SECRET_KEYS = [
    (
        f"{EP}.models.v1.execution_role_arn",
        "arn:aws:iam::123456789012:role/sagemaker-exec",
        "not-a-role",
    ),
    (
        f"{EP}.models.v1.image",
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
        "no image",
    ),
    (
        f"{EP}.models.v1.model_data_url",
        "s3://acme-ml-models/fraud/v1/model.tar.gz",
        "http://example.com/model",
    ),
    (f"{EP}.models.v1.environment.API_TOKEN", "tok-123", "x" * 1025),
    (f"{EP}.variants[0].instance_type", "ml.m5.large", "ml.m5.lage"),
    (f"{EP}.variants[1].instance_type", "ml.g5.xlarge", "m5"),
    (f"{EP}.data_capture.destination_s3_uri", "s3://acme-capture/fraud", "acme-capture"),
    (f"{EP}.tags.cost-center", "ml-42", "a<b"),
    ("tags.team", "fraud", "a<b"),
    (
        "notifications.topic_arn",
        "arn:aws:sns:us-east-1:123456789012:ml-alerts",
        "ml-alerts",
    ),
]
VPC_KEYS = [
    (f"{EP}.models.v1.vpc.subnets[0]", "subnet-0abc", "subnet/0abc"),
    (f"{EP}.models.v1.vpc.security_group_ids[0]", "sg-0abc", "sg 0abc"),
]


def _base() -> dict[str, Any]:
    raw = canary()
    raw["endpoints"]["fraud"]["data_capture"] = {"sampling_percent": 20}
    raw["endpoints"]["fraud"]["tags"] = {"cost-center": "ml-1"}
    raw["endpoints"]["fraud"]["models"]["v1"]["vpc"] = {
        "subnets": ["subnet-0abc"],
        "security_group_ids": ["sg-0abc"],
    }
    raw["notifications"] = {"topic_arn": "arn:aws:sns:us-east-1:123456789012:ml-alerts"}
    return raw


def _with(path: str, value: Any) -> dict[str, Any]:
    return with_key(_base(), path, value)


ALL = SECRET_KEYS + VPC_KEYS


@pytest.mark.parametrize(("path", "good", "bad"), ALL, ids=[k[0] for k in ALL])
def test_a_secret_is_unknown_offline_and_checked_once_decrypted(
    path: str, good: str, bad: str
) -> None:
    # offline: the placeholder is never checked, and the plan's warning names the key
    config = load_config(_with(path, SECRET_PLACEHOLDER))
    warnings = config_warnings(config)
    assert any(w.startswith(f"{path}: encrypted") for w in warnings), warnings
    # decrypted (what `pulumi up` hands the program): checked for real
    load_config(_with(path, good))
    with pytest.raises(ConfigError) as exc:
        load_config(_with(path, bad))
    assert any(e.startswith(f"{path}: ") for e in exc.value.errors), exc.value.errors


@pytest.mark.parametrize(
    "path",
    [
        f"{EP}.variants[0].instance_count",
        f"{EP}.variants[0].name",
        f"{EP}.strategy.canary.candidate",
        f"{EP}.endpoint_name",
    ],
)
def test_a_secret_the_plan_must_read_is_refused_naming_the_key(path: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(_with(path, SECRET_PLACEHOLDER))
    mine = [e for e in exc.value.errors if e.startswith(f"{path}: ")]
    assert len(mine) == 1 and "unknown offline" in mine[0] and "plain text" in mine[0]
    assert "got '[secret]'" not in " ".join(exc.value.errors)  # never its placeholder


def test_a_whole_secret_endpoints_key_says_to_encrypt_single_values() -> None:
    raw = _base() | {"endpoints": SECRET_PLACEHOLDER}
    with pytest.raises(ConfigError) as exc:
        load_config(raw)
    assert exc.value.errors == [
        "endpoints: encrypted as a whole (secure:), so nothing in it can be planned offline; "
        "encrypt single values instead (pulumi config set --secret --path "
        "'sagemaker-rollouts:endpoints.<key path>')"
    ]


def test_secrets_next_to_a_real_error_hide_nothing() -> None:
    raw = _with(f"{EP}.models.v1.execution_role_arn", SECRET_PLACEHOLDER)
    raw = with_key(raw, f"{EP}.variants[0].instance_type", SECRET_PLACEHOLDER)
    raw = with_key(raw, f"{EP}.strategy.canary.steps", [50, 10])
    with pytest.raises(ConfigError) as exc:
        load_config(raw)
    assert exc.value.errors == [
        f"{EP}.strategy.canary.steps[1]: must be 1..100 and increasing, got 10"
    ]


def _stack_file(tmp_path: Path, secrets: dict[str, Any]) -> Path:
    doc = yaml.safe_load((ROOT / "Pulumi.canary.yaml").read_text())
    config = doc["config"]
    endpoints = {"endpoints": config.pop("sagemaker-rollouts:endpoints")}
    for path in secrets:
        if path.startswith("endpoints."):
            endpoints = with_key(endpoints, path, copy.deepcopy(CIPHER))
    config["sagemaker-rollouts:endpoints"] = endpoints["endpoints"]
    if "tags.team" in secrets:
        config["sagemaker-rollouts:tags"] = {"team": copy.deepcopy(CIPHER)}
    (tmp_path / "Pulumi.sec.yaml").write_text(yaml.safe_dump(doc))
    return tmp_path


STACK_SECRETS = [
    f"{EP}.models.v1.execution_role_arn",
    f"{EP}.models.v2.image",
    f"{EP}.models.v2.model_data_url",
    f"{EP}.models.v2.environment.API_TOKEN",
    f"{EP}.variants[1].instance_type",
    f"{EP}.tags.cost-center",
    "tags.team",
]


def test_rollout_plan_on_a_stack_file_with_every_kind_of_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The stack file under `rollout plan` (the program run under mocks): plans, declares the
    resources with the placeholder where the secret goes, and says which keys were not checked."""
    _stack_file(tmp_path, dict.fromkeys(STACK_SECRETS))
    assert main(["plan", "--json", "--stack", "sec", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)
    assert data["error"] is None
    assert CIPHER["secure"] not in out
    warned = " ".join(data.get("warnings", []))
    for path in STACK_SECRETS:
        assert f"{path}: encrypted" in warned, path
    models = [r for r in data["resources"] if r["type"] == "aws:sagemaker/model:Model"]
    assert any(SECRET_PLACEHOLDER in json.dumps(m["inputs"]) for m in models)


def test_rollout_plan_refuses_a_secret_count_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _stack_file(tmp_path, {f"{EP}.variants[1].instance_count": None})
    assert main(["plan", "--stack", "sec", "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{EP}.variants[1].instance_count: a secret (secure:) is unknown offline" in err
    assert "got 8" not in err and "[secret]'" not in err


# --------------------------------------------------------------------------- component args

COMPONENT_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
COMPONENT_ROLE = "arn:aws:iam::111122223333:role/platform-sagemaker"


def _component_args(instance_type: str = "ml.m5.large") -> dict[str, Any]:
    import pulumi

    from tests.stackdata import component_canary

    args = component_canary()
    v1, v2 = args["models"]["v1"], args["models"]["v2"]
    v1["model_data_url"] = pulumi.Output.secret("s3://secret-models/fraud/v1/model.tar.gz")
    v2["image"] = pulumi.Output.secret(COMPONENT_IMAGE)
    v2["execution_role_arn"] = pulumi.Output.secret(COMPONENT_ROLE)
    v2["environment"] = {"API_TOKEN": pulumi.Output.secret("tok-123")}
    args["variants"][1]["instance_type"] = pulumi.Output.secret(instance_type)
    args["tags"] = {"team": pulumi.Output.secret("fraud")}
    return args


def _plain(value: Any) -> Any:
    from sagemaker_rollouts.simulator.mockrun import Secret

    if isinstance(value, Secret):
        return _plain(value.value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def test_component_secret_outputs_reach_the_resources_unchecked_by_the_plan() -> None:
    """RolloutEndpoint args: a secret Output on a key that may be secret is unknown to the plan
    (never checked as a placeholder) and reaches the resource as the secret it is; the grants
    derived from it (the execution role's S3 read) use the real value."""
    from sagemaker_rollouts import RolloutEndpoint
    from sagemaker_rollouts.simulator.mockrun import Secret, run_function_offline

    result = run_function_offline(lambda: RolloutEndpoint("fraud", _component_args()))
    assert result.error is None, result.error
    models = {m.name.rsplit("-", 1)[-1]: m.inputs for m in result.of_type(MODEL)}
    v2 = models["v2"]
    assert isinstance(v2["executionRoleArn"], Secret)
    assert _plain(v2["executionRoleArn"]) == COMPONENT_ROLE
    assert _plain(v2["primaryContainer"])["image"] == COMPONENT_IMAGE
    assert _plain(v2["primaryContainer"])["environment"] == {"API_TOKEN": "tok-123"}
    assert _plain(models["v1"]["tags"])["team"] == "fraud"
    assert "[secret:" not in json.dumps(_plain([r.inputs for r in result.resources]), default=str)
    (config,) = result.of_type("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    types = [v["instanceType"] for v in _plain(config.inputs["productionVariants"])]
    assert types == ["ml.m5.large", "ml.m5.large"]
    role_policies = [
        json.loads(_plain(p.inputs["policy"]))
        for p in result.of_type("aws:iam/rolePolicy:RolePolicy")
    ]
    reads = [
        s["Resource"]
        for doc in role_policies
        for s in doc["Statement"]
        if s.get("Sid") == "ReadModelArtifact"
    ]
    assert reads == [
        ["arn:aws:s3:::secret-models/fraud/v1/model.tar.gz"]
    ]  # the object itself: a .tar.gz is one key


# What a component user's program marks secret, on every key that may take one: the needle each
# value holds, to find it wherever it reaches (values derived from it included).
USER_SECRETS: dict[str, tuple[tuple[str, ...], str]] = {
    "model_data_url": (("models", "v1", "model_data_url"), "s3://vault-models-x9/v1/model.tar.gz"),
    "image": (("models", "v2", "image"), "111122223333.dkr.ecr.us-east-1.amazonaws.com/vault-x9:7"),
    "execution_role_arn": (
        ("models", "v2", "execution_role_arn"),
        "arn:aws:iam::111122223333:role/vault-x9-exec",
    ),
    "environment value": (("models", "v2", "environment", "API_TOKEN"), "vault-x9-token"),
    "tag value": (("tags", "team"), "vault-x9-team"),
}


def _in_clear(value: Any, needle: str) -> bool:
    """Whether `needle` appears in `value` outside every `Secret` (a string holding JSON, such
    as a role policy, counts as the string it is)."""
    from sagemaker_rollouts.simulator.mockrun import Secret

    if isinstance(value, Secret):
        return False
    if isinstance(value, dict):
        return any(_in_clear(v, needle) for v in value.values())  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    if isinstance(value, list):
        return any(_in_clear(v, needle) for v in value)  # pyright: ignore[reportUnknownVariableType]
    return isinstance(value, str) and needle in value


@pytest.mark.parametrize("key", sorted(USER_SECRETS))
@pytest.mark.parametrize("marked", [True, False], ids=["Output.secret", "plain string"])
def test_a_component_users_secret_stays_secret_wherever_it_reaches(key: str, marked: bool) -> None:
    """A value the user's program marks secret (`pulumi.Output.secret`, or
    `config.require_secret`) reaches every resource that takes it, and every value derived from
    it (the execution role's grants), as a secret. A plain string stays plain: what
    `config.require_object` returns is plain data even when the stack file encrypts its leaves
    (Pulumi marks only the top-level key secret), so the user must wrap it (README)."""
    import pulumi

    from sagemaker_rollouts import RolloutEndpoint
    from sagemaker_rollouts.simulator.mockrun import run_function_offline
    from tests.stackdata import component_canary

    path, value = USER_SECRETS[key]

    def program() -> None:  # Outputs belong to the program's event loop: made inside it
        args = component_canary()
        parent: Any = args
        for part in path[:-1]:
            parent = parent.setdefault(part, {})
        parent[path[-1]] = pulumi.Output.secret(value) if marked else value
        RolloutEndpoint("fraud", args)

    result = run_function_offline(program)
    assert result.error is None, result.error
    # each value holds "vault" and nothing else in the args does
    reached = [r for r in result.resources if "vault" in json.dumps(_plain(r.inputs), default=str)]
    assert reached, f"{key}: reaches no resource"
    clear = [r.name for r in reached if _in_clear(r.inputs, "vault")]
    if marked:
        assert clear == [], key
    else:
        assert clear, key  # the component cannot know a plain string was meant to be secret


def test_component_secret_output_is_checked_once_resolved() -> None:
    from sagemaker_rollouts import RolloutEndpoint
    from sagemaker_rollouts.simulator.mockrun import run_function_offline

    result = run_function_offline(
        lambda: RolloutEndpoint("fraud", _component_args(instance_type="ml.m5.lage"))
    )
    assert result.error is not None
    assert "variants[1].instance_type: not a SageMaker hosting instance type" in str(result.error)
    assert not result.of_type("aws:sagemaker/endpointConfiguration:EndpointConfiguration")


def test_component_secret_outputs_are_not_warned_about_as_unchecked() -> None:
    """The stack file's `secure:` values are unchecked offline (a warning says so); a
    component's secret Outputs are checked once resolved, so it warns about none of them."""
    from sagemaker_rollouts import RolloutEndpoint
    from sagemaker_rollouts.simulator.mockrun import run_function_offline
    from sagemaker_rollouts.strategies.config_warnings import UNCHECKED_SECRET

    result = run_function_offline(lambda: RolloutEndpoint("fraud", _component_args()))
    assert result.error is None, result.error
    assert [w for w in result.warnings if UNCHECKED_SECRET in w] == []


def test_component_output_on_a_key_the_plan_reads_is_refused_naming_it() -> None:
    import pulumi

    from sagemaker_rollouts import RolloutEndpoint
    from sagemaker_rollouts.simulator.mockrun import run_function_offline

    args = _component_args()
    args["variants"][1]["instance_count"] = pulumi.Output.from_input(2)
    result = run_function_offline(lambda: RolloutEndpoint("fraud", args))
    assert isinstance(result.error, ConfigError), result.error
    assert result.error.errors[0].startswith("variants[1].instance_count: a pulumi Output")
    assert result.resources == []


# --------------------------------------------------------------------------- decrypted under `pulumi up`
# Stands in for the Python language host under `pulumi up`: the config reaches the program
# decrypted (a structured value as one JSON string), and only the *top-level* key is marked secret
# (pulumi/runtime/config.py `set_all_config(config, secret_keys)`, `is_config_secret`; the host
# fills them from PULUMI_CONFIG and PULUMI_CONFIG_SECRET_KEYS). `pulumi.Config.get_object` then
# returns plain values: the program must mark the secret leaves itself.

DECRYPTED = {
    f"{EP}.models.v1.execution_role_arn": "arn:aws:iam::123456789012:role/hidden-exec-role",
    f"{EP}.models.v2.image": "111122223333.dkr.ecr.us-east-1.amazonaws.com/hidden-repo:7",
    f"{EP}.models.v2.model_data_url": "s3://hidden-bucket/fraud/v2/model.tar.gz",
    f"{EP}.models.v2.environment.API_TOKEN": "hidden-token-123",
    f"{EP}.variants[1].instance_type": "ml.c5.xlarge",
    f"{EP}.tags.cost-center": "hidden-cc-42",
}
PLAIN = {  # values on keys that may be secret but are plain text in the stack file
    f"{EP}.models.v1.image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
    f"{EP}.variants[0].instance_type": "ml.m5.large",
}


def _decrypted_config() -> dict[str, Any]:
    """The canary stack's config as the engine decrypts it, with `DECRYPTED` at its paths."""
    from sagemaker_rollouts.simulator.mockrun import read_stack_config

    config = read_stack_config(ROOT / "Pulumi.canary.yaml")
    endpoints = {"endpoints": config["sagemaker-rollouts:endpoints"]}
    for path, value in DECRYPTED.items():
        endpoints = with_key(endpoints, path, value)
    config["sagemaker-rollouts:endpoints"] = endpoints["endpoints"]
    return config


def _run_decrypted(
    config: dict[str, Any], secret_keys: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> Any:
    from pulumi.runtime.config import set_all_config

    from sagemaker_rollouts.infra import awareness
    from sagemaker_rollouts.infra.program import main as program
    from sagemaker_rollouts.simulator.mockrun import run_function_offline

    flat = {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}

    def run() -> None:
        set_all_config(flat, secret_keys)  # what the language host does before the program
        program(outcomes=awareness.no_outcomes)

    monkeypatch.chdir(cwd)  # the language host runs the program in its project directory
    return run_function_offline(run, stack="sec")


def _plain_strings(value: Any) -> list[str]:
    """Every string in recorded inputs that is *not* inside a secret (what state holds in clear)."""
    from sagemaker_rollouts.simulator.mockrun import Secret

    if isinstance(value, Secret):
        return []
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [str(k), *_plain_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in _plain_strings(v)]
    return [value] if isinstance(value, str) else []


def _secret_inputs(result: Any) -> list[Any]:
    """Every leaf value inside a secret in the recorded inputs."""
    from sagemaker_rollouts.simulator.mockrun import Secret

    def leaves(value: Any) -> list[Any]:
        if isinstance(value, dict):
            return [s for v in value.values() for s in leaves(v)]
        if isinstance(value, list):
            return [s for v in value for s in leaves(v)]
        return [value]

    def walk(value: Any) -> list[Any]:
        if isinstance(value, Secret):
            return leaves(_plain(value.value))
        if isinstance(value, dict):
            return [s for v in value.values() for s in walk(v)]
        if isinstance(value, list):
            return [s for v in value for s in walk(v)]
        return []

    return [s for r in result.resources for s in walk(r.inputs)]


def _models(result: Any) -> dict[str, dict[str, Any]]:
    return {m.name.rsplit("-", 1)[-1]: m.inputs for m in result.of_type(MODEL)}


@pytest.mark.parametrize("stack_file", [True, False], ids=["stack-file", "no-stack-file"])
def test_decrypted_secrets_reach_resources_as_secrets_and_plain_values_stay_plain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stack_file: bool
) -> None:
    """`pulumi up` with `secure:` leaves in `sagemaker-rollouts:endpoints`: each decrypted value
    is a secret resource input (and nothing in clear contains it: derived grants are secret too);
    values that were plain text stay plain. Without the stack file, every key that may be secret
    is treated as secret."""
    from sagemaker_rollouts.simulator.mockrun import Secret

    if stack_file:
        _stack_file(tmp_path, dict.fromkeys(DECRYPTED))
    result = _run_decrypted(
        _decrypted_config(), ["sagemaker-rollouts:endpoints"], tmp_path, monkeypatch
    )
    assert result.error is None, result.error
    clear = [s for r in result.resources for s in _plain_strings(r.inputs)]
    for value in DECRYPTED.values():
        assert not [s for s in clear if value in s], value
    secret = _secret_inputs(result)
    models = _models(result)
    assert isinstance(models["v1"]["executionRoleArn"], Secret)
    assert (
        _plain(models["v1"]["executionRoleArn"]) == DECRYPTED[f"{EP}.models.v1.execution_role_arn"]
    )
    v2 = _plain(models["v2"]["primaryContainer"])
    assert v2["image"] == DECRYPTED[f"{EP}.models.v2.image"]
    assert v2["modelDataUrl"] == DECRYPTED[f"{EP}.models.v2.model_data_url"]
    assert v2["environment"] == {"API_TOKEN": "hidden-token-123"}
    assert "ml.c5.xlarge" in secret and "hidden-cc-42" in secret
    (config,) = result.of_type("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    # a secret inside a list makes the whole list property secret on the wire (as in the SDK)
    variants = config.inputs["productionVariants"]
    assert isinstance(variants, Secret)
    by_name = {v["variantName"]: v for v in _plain(variants)}
    assert by_name["candidate"]["instanceType"] == "ml.c5.xlarge"
    assert by_name["stable"]["instanceType"] == "ml.m5.large"
    assert by_name["stable"]["initialInstanceCount"] == 2  # never a secret: the plan reads it
    v1_container = models["v1"]["primaryContainer"]
    if stack_file:  # plain text in the stack file: unchanged, not secret
        assert not isinstance(v1_container, Secret)
        assert not isinstance(v1_container["image"], Secret)
        assert v1_container["image"] == PLAIN[f"{EP}.models.v1.image"]
        assert v1_container["modelDataUrl"] == "s3://acme-ml-models/fraud/v1/model.tar.gz"
        assert PLAIN[f"{EP}.models.v1.image"] in clear
    else:  # no stack file: every value on a key that may be secret is
        assert isinstance(v1_container, Secret)
        assert PLAIN[f"{EP}.models.v1.image"] in secret and "ml.m5.large" in secret
        assert PLAIN[f"{EP}.models.v1.image"] not in clear


def test_decrypted_config_without_secret_keys_declares_no_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _run_decrypted(_decrypted_config(), [], tmp_path, monkeypatch)
    assert result.error is None, result.error
    assert _secret_inputs(result) == []


def test_decrypted_secret_resources_keep_their_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stack_file(tmp_path, dict.fromkeys(DECRYPTED))
    config = _decrypted_config()
    marked = _run_decrypted(config, ["sagemaker-rollouts:endpoints"], tmp_path, monkeypatch)
    plain = _run_decrypted(config, [], tmp_path, monkeypatch)
    assert [r.urn for r in marked.resources] == [r.urn for r in plain.resources]


@pytest.mark.parametrize(
    "path",
    [f"{EP}.variants[1].instance_count", f"{EP}.strategy.canary.candidate"],
)
def test_decrypted_secret_the_plan_must_read_is_refused_as_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """Same answer as `rollout plan`: a `secure:` value on a key the plan reads is refused."""
    _stack_file(tmp_path, {path: None})
    result = _run_decrypted(
        _decrypted_config(), ["sagemaker-rollouts:endpoints"], tmp_path, monkeypatch
    )
    assert isinstance(result.error, ConfigError), result.error
    assert any(
        e.startswith(f"{path}: a secret (secure:) is unknown offline") for e in result.error.errors
    ), result.error.errors
    assert result.resources == []


OTHER_KEYS = [  # (key, its decrypted value, the secure leaf in it, the secret value, stack file?)
    ("tags", {"team": "hidden-team-7", "environment": "production"}, "team", "hidden-team-7", True),
    (
        "notifications",
        {"topic_arn": "arn:aws:sns:us-east-1:123456789012:hidden-topic"},
        "topic_arn",
        "hidden-topic",
        True,
    ),
    (
        "notifications",
        {"subscriptions": [{"protocol": "email", "endpoint": "hidden@example.com"}]},
        "subscriptions[0].endpoint",
        "hidden@example.com",
        False,
    ),
    (
        "ci_role",
        {
            "github_repository": "acme/ml",
            "oidc_provider_arn": "arn:aws:iam::123456789012:oidc-provider/hidden.example.com",
        },
        "oidc_provider_arn",
        "hidden.example.com",
        False,
    ),
]


@pytest.mark.parametrize(
    ("key", "value", "leaf", "hidden", "stack_file"), OTHER_KEYS, ids=[k[2] for k in OTHER_KEYS]
)
def test_decrypted_secrets_of_every_top_level_key_reach_no_resource_in_clear(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    key: str,
    value: dict[str, Any],
    leaf: str,
    hidden: str,
    stack_file: bool,
) -> None:
    """Tags, notification addresses and the CI role's provider: wherever the decrypted value goes
    (every resource's tags, the hook's environment and policy, subscriptions, trust policies), it
    is inside a secret."""
    config = _decrypted_config()
    config[f"sagemaker-rollouts:{key}"] = value
    if stack_file:
        doc = yaml.safe_load((ROOT / "Pulumi.canary.yaml").read_text())
        doc["config"][f"sagemaker-rollouts:{key}"] = with_key(value, leaf, copy.deepcopy(CIPHER))
        (tmp_path / "Pulumi.sec.yaml").write_text(yaml.safe_dump(doc))
    result = _run_decrypted(config, [f"sagemaker-rollouts:{key}"], tmp_path, monkeypatch)
    assert result.error is None, result.error
    clear = [s for r in result.resources for s in _plain_strings(r.inputs)]
    assert [s for s in clear if hidden in s] == []
    assert any(hidden in str(s) for s in _secret_inputs(result))
    # the endpoints key is not secret here: its values stay plain
    assert DECRYPTED[f"{EP}.models.v2.image"] in clear
