"""After a canary completes: when the idle stable fleet is scaled down, and what it costs.

At completion the candidate serves 100% and the stable variant sits at weight 0 with its full
fleet: a fast way back (set its weight again) that costs its instances. After
`scale_down_delay_seconds` (Argo Rollouts' scaleDownDelaySeconds) the hook scales it to
`MIN_INSTANCES` through UpdateEndpointWeightsAndCapacities (DesiredInstanceCount); the next
`pulumi up` removes the variant (infra/endpoint.py `rendering(completed=True)`). Pure.
"""

from __future__ import annotations

MIN_INSTANCES = 1  # an instance-based production variant serves from at least one instance


def scale_down_target(
    *,
    delay_seconds: int | None,
    completed_at: float | None,
    now: float,
    stable_instances: int | None,
) -> int | None:
    """The instance count to set on the stable variant now, or None to leave it.

    None when scale-down is off (`delay_seconds` None), the completion time is unknown, the delay
    has not passed, or the fleet is already at (or below) `MIN_INSTANCES`.
    """
    if delay_seconds is None or completed_at is None or stable_instances is None:
        return None
    if now < completed_at + delay_seconds or stable_instances <= MIN_INSTANCES:
        return None
    return MIN_INSTANCES


def idle_stable_seconds(final_bake_seconds: int, delay_seconds: int | None) -> int | None:
    """How long the stable fleet runs at full size after traffic reaches 100%: the final bake,
    then the delay. None: until the next `pulumi up` (no scale-down)."""
    if delay_seconds is None:
        return None
    return final_bake_seconds + delay_seconds
