"""The canary rollout spec: what the hook Lambda is told about one rollout.

Standard library only: this module ships inside the hook's zip beside the controller.
The spec travels from the Pulumi program to the Lambda as JSON (`to_json` / `from_json`), so the
same frozen object drives the controller in the Lambda, in the CLI and in the tests.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from dataclasses import dataclass
else:  # the same classes, no methods compiled at import (lambdas/records.py)
    from sagemaker_rollouts.lambdas.records import dataclass

SPEC_VERSION = 1


@dataclass(frozen=True, slots=True)
class Step:
    """One canary step: the candidate's share of requests and how long it bakes there.

    Invariant: 0 <= candidate_percent <= 100, bake_seconds >= 0.
    """

    candidate_percent: int
    bake_seconds: int


@dataclass(frozen=True, slots=True)
class RolloutSpec:
    """Everything the controller needs to know about one canary rollout.

    `rollout_id` names the rollout in the state table; it is derived from the endpoint, the
    candidate's model fingerprint and the attempt number, so it is known before `pulumi up`
    declares anything (deploy-time awareness reads it) and a new attempt is a new rollout.
    `steps` always ends at 100: the plan appends the final full shift when the config stops short.
    """

    rollout_id: str
    endpoint_name: str
    stable_variant: str
    candidate_variant: str
    steps: tuple[Step, ...]
    gate_alarms: tuple[str, ...]
    min_invocations: int
    insufficient_data_limit_seconds: int
    sample_alarm: str | None = None  # in ALARM while the candidate sees too few requests: hold
    metric_namespace: str = "SageMakerRollouts"
    # Alarms on the stable (baseline) fleet: in ALARM they hold the rollout and notify, and block an
    # automatic rollback onto that fleet; they never roll the candidate back themselves.
    baseline_alarms: tuple[str, ...] = ()
    # After completion, scale the stable variant to one instance this many seconds later (None:
    # never; the next `pulumi up` removes it). See lambdas/scale_down.py.
    scale_down_delay_seconds: int | None = None

    def watched_alarms(self) -> tuple[str, ...]:
        """Every alarm the hook reads on each tick, once each: the gates, the low-traffic sample
        alarm if any, then the baseline (stable) alarms."""
        extra = () if self.sample_alarm is None else (self.sample_alarm,)
        return tuple(dict.fromkeys((*self.gate_alarms, *extra, *self.baseline_alarms)))

    def to_json(self) -> str:
        """Serialise for the Lambda's environment; `from_json(to_json(s)) == s`."""
        return json.dumps(
            {
                "version": SPEC_VERSION,
                "rollout_id": self.rollout_id,
                "endpoint_name": self.endpoint_name,
                "stable_variant": self.stable_variant,
                "candidate_variant": self.candidate_variant,
                "steps": [[s.candidate_percent, s.bake_seconds] for s in self.steps],
                "gate_alarms": list(self.gate_alarms),
                "min_invocations": self.min_invocations,
                "insufficient_data_limit_seconds": self.insufficient_data_limit_seconds,
                "metric_namespace": self.metric_namespace,
                "sample_alarm": self.sample_alarm,
                "baseline_alarms": list(self.baseline_alarms),
                "scale_down_delay_seconds": self.scale_down_delay_seconds,
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> RolloutSpec:
        data: Mapping[str, Any] = json.loads(text)
        if data.get("version") != SPEC_VERSION:
            raise ValueError(f"rollout spec version {data.get('version')!r} is not {SPEC_VERSION}")
        return cls(
            rollout_id=str(data["rollout_id"]),
            endpoint_name=str(data["endpoint_name"]),
            stable_variant=str(data["stable_variant"]),
            candidate_variant=str(data["candidate_variant"]),
            steps=tuple(Step(int(p), int(b)) for p, b in data["steps"]),
            gate_alarms=tuple(str(a) for a in data["gate_alarms"]),
            min_invocations=int(data["min_invocations"]),
            insufficient_data_limit_seconds=int(data["insufficient_data_limit_seconds"]),
            metric_namespace=str(data["metric_namespace"]),
            sample_alarm=None if data.get("sample_alarm") is None else str(data["sample_alarm"]),
            baseline_alarms=tuple(str(a) for a in data.get("baseline_alarms") or ()),
            scale_down_delay_seconds=None
            if data.get("scale_down_delay_seconds") is None
            else int(data["scale_down_delay_seconds"]),
        )


RolloutStatus = Literal["in_progress", "paused", "completed", "rolled_back", "failed"]


@dataclass(frozen=True, slots=True)
class RolloutOutcome:
    """What `pulumi up` needs to know about a rollout it is about to (re)deploy.

    `alarm` and `at` (epoch seconds) say what rolled it back and when; None otherwise.
    """

    rollout_id: str
    status: RolloutStatus
    alarm: str | None
    at: float | None
    reason: str


def fingerprint(*parts: object) -> str:
    """A short stable hash of JSON-able parts (a model's image, data URL, environment ...)."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def rollout_id(endpoint_name: str, candidate_fingerprint: str, attempt: int) -> str:
    """The state table key of one rollout: endpoint, candidate and attempt."""
    return f"{endpoint_name}/{candidate_fingerprint}/{attempt}"


def sagemaker_weights(spec: RolloutSpec, candidate_percent: int) -> dict[str, float]:
    """The one place a candidate percentage becomes SageMaker variant weights.

    Invariant: both weights are >= 0 and they sum to 100, so some variant always serves.
    """
    if not 0 <= candidate_percent <= 100:
        raise ValueError(f"candidate_percent must be 0..100, got {candidate_percent}")
    return {
        spec.stable_variant: float(100 - candidate_percent),
        spec.candidate_variant: float(candidate_percent),
    }
