"""Names unique per account and Region, claimed by every endpoint a program declares.

SageMaker endpoint names, the canary state table, the notification topic and the Glue database
are unique per account and Region: a second `RolloutEndpoint` (or a stack-file endpoint) with a
name another one in the same program already declared would fail at `pulumi up` after part of
the stack was changed, or, for the endpoint, take the other's endpoint over. Each entry point
claims its names here before declaring anything (`strategies.pipeline.claims`), and the claim of a
name already claimed raises `ConfigError`.

The claims belong to one program run: they are kept per Pulumi resource monitor (one per
`pulumi up`, a fresh one per mocked test run), so a process that runs several programs (the
tests, `rollout plan`) never sees one run's names in the next.
"""

from __future__ import annotations

from collections.abc import Sequence

from pulumi.runtime import settings

from sagemaker_rollouts.strategies.config_errors import ConfigError
from sagemaker_rollouts.strategies.pipeline import Claim, name_clashes

__all__ = ["claim", "claimed"]

_run: tuple[object, list[Claim]] | None = None


def claimed() -> list[Claim]:
    """The names claimed so far in this program run (a fresh list for a new run)."""
    global _run
    monitor = settings.get_monitor()
    if _run is None or _run[0] is not monitor:
        _run = (monitor, [])
    return _run[1]


def claim(new: Sequence[Claim]) -> None:
    """Claim `new` for this run; raises `ConfigError` naming every clash (and claims nothing)."""
    earlier = claimed()
    errs = name_clashes(earlier, new)
    if errs:
        raise ConfigError(errs)
    earlier.extend(new)
