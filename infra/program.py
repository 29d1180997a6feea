"""The Pulumi program: stack config -> validated config -> plan -> resources.

`__main__.py` calls `main()`; the mock tests and `rollout plan` run this same function in-process.
Validation and planning happen before the first resource is declared, so a bad config declares
nothing and every problem is reported at once. This program is the only place that exports stack
outputs: the library's components expose theirs as attributes and component outputs.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
from pulumi.runtime import config as pulumi_config

from sagemaker_rollouts.infra import names, secrets
from sagemaker_rollouts.infra.awareness import OutcomeReader, dynamodb_outcomes
from sagemaker_rollouts.infra.errors import StackConfigError
from sagemaker_rollouts.infra.limits import deploy_limit_errors
from sagemaker_rollouts.infra.render import Rendered, render, stack_outputs
from sagemaker_rollouts.strategies.config_errors import ConfigError
from sagemaker_rollouts.strategies.config_load import (
    misspelt_project_keys,
    provider_region_problems,
)
from sagemaker_rollouts.strategies.config_model import PROJECT
from sagemaker_rollouts.strategies.pipeline import Validated, claims, validate_stack


def project_keys() -> list[str]:
    """Every `sagemaker-rollouts:*` key in the stack config, as the language host passed them,
    and whole every key under a namespace that is almost ours (`sagemaker-rolouts:endpoints`,
    `misspelt_project_keys`), so the validator reports it."""
    keys = set(pulumi_config.CONFIG.get()) | set(pulumi_config.get_config_env())
    prefix = f"{PROJECT}:"
    ours = [k.removeprefix(prefix) for k in keys if k.startswith(prefix)]
    return sorted([*ours, *misspelt_project_keys(keys)])


def _value(cfg: pulumi.Config, key: str) -> Any:
    """A config value as the stack file holds it: structured values as data, anything else as
    the string Pulumi stores (the validator names the key and the value; `require_object` would
    raise Pulumi's own error, without the key path or what is allowed)."""
    text = cfg.get(key)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def read_config() -> Validated:
    """The validated stack config, its plan and warnings, its names claimed for this run.

    Raises `StackConfigError` (a `pulumi.RunError`, every problem by key path, as `rollout plan`
    prints them) before anything is declared."""
    cfg = pulumi.Config(PROJECT)
    raw: dict[str, Any] = {"endpoints": _value(cfg, "endpoints")}
    for key in ("tags", "notifications", "ci_role", "kms_deletion_window_days"):
        value = _value(cfg, key)  # kms_deletion_window_days: a number, or a string via the CLI
        if value is not None:
            raw[key] = value
    # A misspelt top-level key (`sagemaker-rollouts:endpoint`) would otherwise be ignored silently.
    for key in project_keys():
        raw.setdefault(key, None)
    # Under `pulumi up` the engine hands these decrypted and marks only the top-level key
    # secret: find the secret leaves, so they reach resources as secrets (infra/secrets.py).
    secret_keys = [k for k in raw if pulumi_config.is_config_secret(f"{PROJECT}:{k}")]
    stack_config = secrets.stack_file_config(pulumi.get_stack()) if secret_keys else None
    raw = secrets.mark_config_secrets(raw, secret_keys, stack_config)
    aws_config = pulumi.Config("aws")
    given = aws_config.get("region")
    region = given or "us-east-1"
    # the AWS provider refuses an unknown Region only once it configures: say it now, with
    # every other problem
    problems = provider_region_problems(given, aws_config.get("skipRegionValidation"))
    try:
        validated = validate_stack(
            raw,
            region=region,
            project=pulumi.get_project(),
            stack=pulumi.get_stack(),
            problems=problems,
        )
        sizes = deploy_limit_errors(validated.plan)  # what AWS would refuse in what is generated
        if sizes:
            raise ConfigError(sizes)
        names.claim(claims(validated))  # names unique per account and Region
    except ConfigError as exc:
        raise StackConfigError(exc.errors, stack=pulumi.get_stack()) from None
    return validated


def main(outcomes: OutcomeReader | None = None) -> None:
    """Declare the stack. `outcomes` reads canary rollout results (deploy-time awareness).

    Every error a user can fix leaves as a `pulumi.RunError` (message only, no traceback):
    `StackConfigError`, the awareness errors (`RolledBackCandidateError`,
    `RolledBackDeploymentError`, `AwsReadError`).
    """
    validated = read_config()
    # legal but almost certainly a mistake, or what `pulumi up` may run into
    for warning in validated.warnings:
        pulumi.log.warn(warning)
    plan = validated.plan
    if outcomes is None:
        outcomes = dynamodb_outcomes(plan, profile=pulumi.Config("aws").get("profile"))
    export_outputs(render(plan, outcomes=outcomes))


def export_outputs(rendered: Rendered) -> Rendered:
    """Export the project's stack outputs (`stack_outputs`); returns `rendered` unchanged."""
    for key, value in stack_outputs(rendered).items():
        pulumi.export(key, value)
    return rendered
