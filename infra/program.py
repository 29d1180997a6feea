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

from sagemaker_rollouts.infra import secrets
from sagemaker_rollouts.infra.awareness import OutcomeReader, dynamodb_outcomes
from sagemaker_rollouts.infra.errors import StackConfigError
from sagemaker_rollouts.infra.limits import deploy_limit_errors
from sagemaker_rollouts.infra.render import Rendered, render, stack_outputs
from sagemaker_rollouts.strategies.config import (
    PROJECT,
    ConfigError,
    StackConfig,
    config_warnings,
    load_config,
)
from sagemaker_rollouts.strategies.deploy_checks import deployment_warnings
from sagemaker_rollouts.strategies.plan import DeploymentPlan
from sagemaker_rollouts.strategies.planner import build_plan


def project_keys() -> list[str]:
    """Every `sagemaker-rollouts:*` key in the stack config, as the language host passed them."""
    keys = set(pulumi_config.CONFIG.get()) | set(pulumi_config.get_config_env())
    prefix = f"{PROJECT}:"
    return sorted(k.removeprefix(prefix) for k in keys if k.startswith(prefix))


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


def read_config() -> tuple[StackConfig, DeploymentPlan]:
    """The validated stack config and its plan; `StackConfigError` (a `pulumi.RunError`, every
    problem by key path, as `rollout plan` prints them) before anything is declared."""
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
    region = aws_config.get("region") or "us-east-1"
    try:
        config = load_config(raw, region=region)
        plan = build_plan(config, project=pulumi.get_project(), stack=pulumi.get_stack())
        sizes = deploy_limit_errors(plan)  # what AWS would refuse in what the program generates
        if sizes:
            raise ConfigError(sizes)
    except ConfigError as exc:
        raise StackConfigError(exc.errors, stack=pulumi.get_stack()) from None
    return config, plan


def main(outcomes: OutcomeReader | None = None) -> None:
    """Declare the stack. `outcomes` reads canary rollout results (deploy-time awareness).

    Every error a user can fix leaves as a `pulumi.RunError` (message only, no traceback):
    `StackConfigError`, the awareness errors (`RolledBackCandidateError`,
    `RolledBackDeploymentError`, `AwsReadError`).
    """
    config, plan = read_config()
    # legal but almost certainly a mistake, or what `pulumi up` may run into
    for warning in (*config_warnings(config), *deployment_warnings(plan)):
        pulumi.log.warn(warning)
    if outcomes is None:
        outcomes = dynamodb_outcomes(plan, profile=pulumi.Config("aws").get("profile"))
    export_outputs(render(plan, outcomes=outcomes))


def export_outputs(rendered: Rendered) -> Rendered:
    """Export the project's stack outputs (`stack_outputs`); returns `rendered` unchanged."""
    for key, value in stack_outputs(rendered).items():
        pulumi.export(key, value)
    return rendered
