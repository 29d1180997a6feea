"""`rollout prune --stack S [--dry-run]`: delete the stack's retained endpoint configs and models
that no endpoint runs any more (strategies/prune.py decides; this module only reads and deletes).

The stack's resources are found by their tags (`managed-by` = the project, `rollouts:stack` = the
stack), which the Pulumi program puts on every model and endpoint config it declares.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from sagemaker_rollouts.cli import render
from sagemaker_rollouts.cli.errors import EXIT_OK
from sagemaker_rollouts.cli.stack import load_stack
from sagemaker_rollouts.simulator.provision import AwsClients
from sagemaker_rollouts.strategies.native import DEPLOYED_CONFIG_TAG
from sagemaker_rollouts.strategies.prune import PrunePlan, prune_plan


def _pages(sm: Any, operation: str, key: str) -> list[dict[str, Any]]:
    return [item for page in sm.get_paginator(operation).paginate() for item in page[key]]


def _tags(sm: Any, arn: str) -> dict[str, str]:
    return {str(t["Key"]): str(t["Value"]) for t in sm.list_tags(ResourceArn=arn).get("Tags", [])}


def inventory(sm: Any, project: str, stack: str) -> PrunePlan:
    """Read the account's endpoints and this stack's configs and models; decide."""

    def ours(arn: str) -> bool:
        tags = _tags(sm, arn)
        return tags.get("managed-by") == project and tags.get("rollouts:stack") == stack

    configs: dict[str, list[str]] = {}
    for c in _pages(sm, "list_endpoint_configs", "EndpointConfigs"):
        if not ours(c["EndpointConfigArn"]):
            continue
        described = sm.describe_endpoint_config(EndpointConfigName=c["EndpointConfigName"])
        variants = [
            *described.get("ProductionVariants", []),
            *described.get("ShadowProductionVariants", []),
        ]
        configs[c["EndpointConfigName"]] = [str(v["ModelName"]) for v in variants]
    models = [m["ModelName"] for m in _pages(sm, "list_models", "Models") if ours(m["ModelArn"])]
    running: list[str] = []
    pending: list[str] = []
    deployed: list[str] = []
    for e in _pages(sm, "list_endpoints", "Endpoints"):
        d = sm.describe_endpoint(EndpointName=e["EndpointName"])
        running.append(str(d.get("EndpointConfigName")))
        summary = d.get("PendingDeploymentSummary") or {}
        if summary.get("EndpointConfigName"):
            pending.append(str(summary["EndpointConfigName"]))
        tag = _tags(sm, e["EndpointArn"]).get(DEPLOYED_CONFIG_TAG)
        if tag is not None:
            deployed.append(tag)
    return prune_plan(configs, models, running, pending, deployed)


def run(args: argparse.Namespace) -> int:
    stack = load_stack(Path(args.dir), args.stack)
    plan = stack.plan
    aws = AwsClients.create(plan.region)
    sm = aws.sagemaker
    found = inventory(sm, plan.project, plan.stack)
    if not args.dry_run:
        for name in found.configs:
            sm.delete_endpoint_config(EndpointConfigName=name)
        for name in found.models:
            sm.delete_model(ModelName=name)
    if args.json:
        render.print_json(
            {
                "stack": plan.stack,
                "dry_run": bool(args.dry_run),
                "deleted_configs" if not args.dry_run else "would_delete_configs": list(
                    found.configs
                ),
                "deleted_models" if not args.dry_run else "would_delete_models": list(found.models),
                "kept_configs": {name: why for name, why in found.kept},
                "nothing_to_prune": not found.configs and not found.models,
            }
        )
        return EXIT_OK
    out = render.console()
    if not found.configs and not found.models:
        out.print(
            f"stack {escape(plan.stack)}: nothing to prune: no retained endpoint config or model "
            "is unused"
        )
        if not found.kept:
            return EXIT_OK
    verb = "would delete" if args.dry_run else "deleted"
    t = Table(title=f"stack {escape(plan.stack)}: retained endpoint configs and models")
    t.add_column("resource")
    t.add_column("name")
    t.add_column("action")
    for name in found.configs:
        t.add_row("endpoint config", escape(name), verb)
    for name in found.models:
        t.add_row("model", escape(name), verb)
    for name, why in found.kept:
        t.add_row("endpoint config", escape(name), f"kept ({why})")
    out.print(t)
    return EXIT_OK
