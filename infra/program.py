"""The Pulumi program: stack config -> validated config -> plan -> resources.

`__main__.py` calls `main()`; the mock tests and `rollout plan` run this same function in-process.
Validation and planning happen before the first resource is declared, so a bad config declares
nothing and every problem is reported at once. This program is the only place that exports stack
outputs: the library's components expose theirs as attributes and component outputs.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.runtime import config as pulumi_config

from sagemaker_rollouts.infra import names, secrets
from sagemaker_rollouts.infra.awareness import OutcomeReader, dynamodb_outcomes
from sagemaker_rollouts.infra.limits import deploy_limit_errors
from sagemaker_rollouts.infra.render import Rendered, render, stack_outputs
from sagemaker_rollouts.strategies.config_errors import ConfigError
from sagemaker_rollouts.strategies.config_model import PROJECT
from sagemaker_rollouts.strategies.pipeline import claims, validate_stack


def project_keys() -> list[str]:
    """Every `sagemaker-rollouts:*` key in the stack config, as the language host passed them."""
    keys = set(pulumi_config.CONFIG.get()) | set(pulumi_config.get_config_env())
    prefix = f"{PROJECT}:"
    return sorted(k.removeprefix(prefix) for k in keys if k.startswith(prefix))


def main(outcomes: OutcomeReader | None = None) -> None:
    """Declare the stack. `outcomes` reads canary rollout results (deploy-time awareness)."""
    cfg = pulumi.Config(PROJECT)
    raw: dict[str, Any] = {"endpoints": cfg.require_object("endpoints")}
    tags = cfg.get_object("tags")
    if tags is not None:
        raw["tags"] = tags
    for key in ("notifications", "ci_role"):
        value = cfg.get_object(key)
        if value is not None:
            raw[key] = value
    window = cfg.get_object("kms_deletion_window_days")  # a number, or a string via the CLI
    if window is not None:
        raw["kms_deletion_window_days"] = window
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
    validated = validate_stack(
        raw, region=region, project=pulumi.get_project(), stack=pulumi.get_stack()
    )
    sizes = deploy_limit_errors(validated.plan)  # what AWS would refuse in what is generated
    if sizes:
        raise ConfigError(sizes)
    names.claim(claims(validated))
    for warning in validated.warnings:  # legal but almost certainly a mistake
        pulumi.log.warn(warning)
    plan = validated.plan
    if outcomes is None:
        outcomes = dynamodb_outcomes(plan, profile=aws_config.get("profile"))
    export_outputs(render(plan, outcomes=outcomes))


def export_outputs(rendered: Rendered) -> Rendered:
    """Export the project's stack outputs (`stack_outputs`); returns `rendered` unchanged."""
    for key, value in stack_outputs(rendered).items():
        pulumi.export(key, value)
    return rendered
