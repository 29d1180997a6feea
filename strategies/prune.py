"""Which retained endpoint configs and models `rollout prune` may delete. Pure: no boto3.

Endpoint configs and models are kept when Pulumi replaces them (`retain_on_delete`), because a
SageMaker rollback may return to them. Once no endpoint runs a config, is deploying it, or names
it as the config its stack deployed, nothing can return to it: it may go. A model may go once no
remaining config of the stack names it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PrunePlan:
    """What to delete (sorted) and what is kept, with the reason per kept config."""

    configs: tuple[str, ...]
    models: tuple[str, ...]
    kept: tuple[tuple[str, str], ...]  # (config name, why it stays)


def prune_plan(
    configs: Mapping[str, Iterable[str]],
    models: Iterable[str],
    running: Iterable[str],
    pending: Iterable[str],
    deployed: Iterable[str],
) -> PrunePlan:
    """`configs`: this stack's endpoint configs -> the model names they use; `models`: this
    stack's models; `running` / `pending`: configs endpoints run (EndpointConfigName) or are
    deploying (PendingDeploymentSummary); `deployed`: configs the stack's endpoints are tagged
    with (what Pulumi deployed last).

    Invariant: a config that any endpoint runs, is deploying, or the stack deployed is kept, and
    so is every model such a config uses.
    """
    reasons: dict[str, str] = {}
    for why, names in (("running", running), ("deploying", pending), ("deployed", deployed)):
        for n in names:
            reasons.setdefault(n, why)
    kept = {c: reasons[c] for c in configs if c in reasons}
    doomed = sorted(c for c in configs if c not in kept)
    used = {m for c in kept for m in configs[c]}
    return PrunePlan(
        configs=tuple(doomed),
        models=tuple(sorted(m for m in set(models) if m not in used)),
        kept=tuple(sorted(kept.items())),
    )
