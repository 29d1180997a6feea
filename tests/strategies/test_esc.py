"""Pulumi ESC environments evaluated offline: what resolves, and what `rollout plan` reports it
could not resolve (each with its config key path)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from sagemaker_rollouts.cli.main import main
from sagemaker_rollouts.strategies.esc import SECURE_MARKER, merge_patch, resolve

ROOT = Path(__file__).resolve().parents[2]
P = "sagemaker-rollouts"


def run(stack: dict[str, Any], defs: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    found = resolve(stack, defs.get, project=P)
    return found.config, [u.line() for u in found.unresolved]


def env(values: dict[str, Any], imports: list[str] | None = None) -> dict[str, Any]:
    return {"values": values} | ({"imports": imports} if imports else {})


@pytest.mark.parametrize(
    ("stack", "defs", "config", "unresolved"),
    [
        # plain values, interpolation, imports merged with the importer winning
        (
            {"environment": ["acme/dev"]},
            {
                "acme/base": env(
                    {"region": "eu-west-1", "pulumiConfig": {"aws:region": "${region}"}}
                ),
                "acme/dev": env({"region": "us-west-2", "team": "fraud"}, ["acme/base"]),
            },
            {"aws:region": "us-west-2"},
            [],
        ),
        # later environments override earlier ones; the stack file's own key wins over both
        (
            {"environment": ["a", "b"], "config": {"aws:region": "ca-central-1"}},
            {
                "a": env({"pulumiConfig": {"aws:region": "us-east-2", "tags": {"x": "1"}}}),
                "b": env({"pulumiConfig": {"tags": {"y": "2"}}}),
            },
            {f"{P}:tags": {"x": "1", "y": "2"}},
            [],
        ),
        # providers and rotators only run in Pulumi Cloud: reported with their key path
        (
            {"environment": ["a"]},
            {
                "a": env(
                    {
                        "creds": {"fn::open::aws-login": {"oidc": {"roleArn": "arn"}}},
                        "pulumiConfig": {
                            "aws:region": "us-east-1",
                            "aws:accessKey": "${creds.accessKeyId}",
                            f"{P}:tags": {"team": "ml", "owner": {"fn::rotate::x": {}}},
                        },
                    }
                )
            },
            {"aws:region": "us-east-1", f"{P}:tags": {"team": "ml"}},
            [
                "aws:accessKey: fn::open::aws-login runs aws-login when Pulumi ESC opens",
                f"{P}:tags.owner: fn::rotate::x is a rotated secret",
            ],
        ),
        # secrets are never read offline: planned as [secret], and listed
        (
            {"environment": ["a"]},
            {"a": env({"pulumiConfig": {"db": {"fn::secret": {"ciphertext": "ZXhh"}}}})},
            {f"{P}:db": SECURE_MARKER},
            [f"{P}:db: an ESC secret: planned as [secret]"],
        ),
        # an environment whose definition is not here: named, with how to export it
        (
            {"environment": ["acme/creds", "a"]},
            {"a": env({"pulumiConfig": {"aws:region": "us-east-1"}})},
            {"aws:region": "us-east-1"},
            ["environment acme/creds: its definition is not available offline"],
        ),
        # an inline definition in the stack file, with functions evaluated offline
        (
            {
                "environment": {
                    "values": {
                        "parts": ["a", "b"],
                        "pulumiConfig": {
                            "joined": {"fn::join": ["-", "${parts}"]},
                            "json": {"fn::toJSON": {"k": 1}},
                            "back": {"fn::fromJSON": '{"n": 2}'},
                            "b64": {"fn::toBase64": "hi"},
                            "literal": "$${not-a-ref}",
                            "missing": "${nope.nothing}",
                            "other": "${environments.acme.dev.x}",
                        },
                    }
                }
            },
            {},
            {
                f"{P}:joined": "a-b",
                f"{P}:json": '{"k":1}',
                f"{P}:back": {"n": 2},
                f"{P}:b64": "aGk=",
                f"{P}:literal": "${not-a-ref}",
            },
            [
                f"{P}:missing: ${{nope.nothing}} names nothing",
                f"{P}:other: ${{environments.acme.dev.x}} reads another environment",
            ],
        ),
        # an import cycle is reported, not followed forever
        (
            {"environment": ["a"]},
            {"a": env({"pulumiConfig": {"k": "v"}}, ["b"]), "b": env({}, ["a"])},
            {f"{P}:k": "v"},
            ["environment a: import cycle a -> b -> a"],
        ),
    ],
    ids=["imports", "precedence", "providers", "secrets", "missing-env", "inline", "cycle"],
)
def test_offline_evaluation(
    stack: dict[str, Any], defs: dict[str, Any], config: dict[str, Any], unresolved: list[str]
) -> None:
    got_config, got_unresolved = run(stack, defs)
    assert got_config == config
    assert len(got_unresolved) == len(unresolved), got_unresolved
    for line, fragment in zip(got_unresolved, unresolved, strict=True):
        assert line.startswith(fragment), (line, fragment)


def test_a_stack_without_environment_resolves_nothing() -> None:
    assert run({"config": {"aws:region": "us-east-1"}}, {}) == ({}, [])


def test_merge_patch_follows_rfc_7396() -> None:
    assert merge_patch({"a": {"b": 1, "c": 2}, "d": 1}, {"a": {"b": None, "e": 3}, "d": [1]}) == {
        "a": {"c": 2, "e": 3},
        "d": [1],
    }


def write_stack(tmp_path: Path, *, endpoints: bool) -> None:
    doc = yaml.safe_load((ROOT / "Pulumi.canary.yaml").read_text())
    config = doc["config"]
    del config["aws:region"]
    del config[f"{P}:tags"]
    if not endpoints:
        del config[f"{P}:endpoints"]
    stack = {"environment": ["acme/ml-dev", "acme/aws-creds"], "config": config}
    (tmp_path / "Pulumi.prod.yaml").write_text(yaml.safe_dump(stack))
    (tmp_path / "esc" / "acme").mkdir(parents=True)
    definition = {
        "values": {
            "region": "us-west-2",
            "pulumiConfig": {
                "aws:region": "${region}",
                f"{P}:tags": {"team": "fraud", "budget": {"fn::open::aws-secrets": {}}},
            },
        }
    }
    (tmp_path / "esc" / "acme" / "ml-dev.yaml").write_text(yaml.safe_dump(definition))


def test_rollout_plan_uses_what_resolves_and_lists_what_does_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_stack(tmp_path, endpoints=True)
    assert main(["plan", "--json", "--stack", "prod", "--dir", str(tmp_path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["region"] == "us-west-2"
    assert data["esc"]["environments"] == ["acme/ml-dev", "acme/aws-creds"]
    lines = data["esc"]["unresolved"]
    assert lines[0].startswith("environment acme/aws-creds: its definition is not available")
    assert lines[1].startswith(f"{P}:tags.budget: fn::open::aws-secrets runs aws-secrets")
    endpoint = next(r for r in data["resources"] if r["type"] == "aws:sagemaker/endpoint:Endpoint")
    assert endpoint["inputs"]["tags"]["team"] == "fraud"  # the ESC value reached the program

    assert main(["plan", "--stack", "prod", "--dir", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "not resolved offline (2;" in text and "acme/aws-creds" in text


def test_a_config_error_says_which_esc_values_were_not_resolved(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_stack(tmp_path, endpoints=False)
    assert main(["plan", "--stack", "prod", "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "endpoints" in err
    assert "values from Pulumi ESC not resolved offline:" in err
    assert "environment acme/aws-creds" in err
