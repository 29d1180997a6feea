"""Rehearsal scenarios: a YAML file of timed alarm states, metric values and operator commands.

```yaml
stack: canary            # optional; --stack overrides
endpoint: NAME           # optional when the stack has one canary endpoint
duration: 7200           # simulated seconds
events:
  - {at: 600, alarm: NAME_OR_CONFIG_KEY, state: ALARM}    # OK | ALARM | INSUFFICIENT_DATA
  - {at: 900, metric: {variant: candidate, name: Invocations, value: 500}}
  - {at: 1200, command: pause}       # pause | resume | promote | promote-full | abort
expect: {outcome: rolled_back, candidate_percent: 0}     # completed | rolled_back | paused | in_progress
traffic: {requests_per_minute: 600}   # or {daily: [24 values, requests/min for each hour of the day]}
bad_from: 1500           # the candidate answers wrongly from here on: exposure counts these requests
detect: {alarm: candidate.errors_5xx, after_seconds: 300}   # that alarm fires 300 s after the bad
                         # candidate first serves traffic (so each strategy is caught by its own share)
sagemaker: {provisioning_seconds: 480, alarm_reaction_seconds: 0}   # blue/green, rolling, recreate
compare: [canary, bluegreen]   # stacks for a side-by-side comparison (--compare overrides)
```

Blue/green and rolling rehearsals emulate SageMaker's guardrails (strategies/guardrails.py): they take
alarm events only (SageMaker has no pause or promote; metric events feed canary alarms only).

A metric event sets that variant's metric to `value` per minute from `at` on (until the next event
for the same variant and metric). Every error names its key path and the line it is on.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, cast

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    model_validator,
)

from sagemaker_rollouts.cli.errors import UsageError

AlarmStateValue = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
CommandName = Literal["pause", "resume", "promote", "promote-full", "abort"]
ExpectedOutcome = Literal["completed", "rolled_back", "paused", "in_progress"]

_STRICT = ConfigDict(extra="forbid", frozen=True)


class AlarmEvent(BaseModel):
    """Set an alarm's state (its full name or its config key) at `at` seconds."""

    model_config = _STRICT
    at: int = Field(ge=0)
    alarm: str = Field(min_length=1)
    state: AlarmStateValue
    reason: str | None = None


class MetricValue(BaseModel):
    model_config = _STRICT
    variant: str = Field(min_length=1)  # "candidate", "stable" or a variant name
    name: str = Field(min_length=1)  # a CloudWatch metric name such as Invocations
    value: float = Field(ge=0)


class MetricEvent(BaseModel):
    """From `at` on, the variant's metric is `value` per minute."""

    model_config = _STRICT
    at: int = Field(ge=0)
    metric: MetricValue


class CommandEvent(BaseModel):
    """An operator command, run exactly as the live `rollout <command>` runs it."""

    model_config = _STRICT
    at: int = Field(ge=0)
    command: CommandName
    reason: str | None = None


_KINDS = ("alarm", "metric", "command")


def _event_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        present = [k for k in _KINDS if k in value]
        if len(present) == 1:
            return f"{present[0]}-event"
        if not present:  # `comand: pause`: checked as that kind, the key named with did-you-mean
            near = {
                m
                for k in cast(dict[Any, Any], value)
                for m in difflib.get_close_matches(str(k), _KINDS, n=1, cutoff=0.7)
            }
            if len(near) == 1:
                return f"{near.pop()}-event"
    if isinstance(value, AlarmEvent | MetricEvent | CommandEvent):
        return f"{type(value).__name__.removesuffix('Event').lower()}-event"
    return None


Event = Annotated[
    Annotated[AlarmEvent, Tag("alarm-event")]
    | Annotated[MetricEvent, Tag("metric-event")]
    | Annotated[CommandEvent, Tag("command-event")],
    Discriminator(
        _event_kind,
        custom_error_type="event_kind",
        custom_error_message="an event is a mapping with `at` and exactly one of alarm, metric, command",
    ),
]


class Expect(BaseModel):
    model_config = _STRICT
    outcome: ExpectedOutcome | None = None
    candidate_percent: int | None = Field(default=None, ge=0, le=100)
    downtime_seconds: int | None = Field(default=None, ge=0)
    bad_requests_at_most: int | None = Field(default=None, ge=0)


class Traffic(BaseModel):
    """Requests per minute reaching the endpoint: constant, or one value per hour of the day."""

    model_config = _STRICT
    requests_per_minute: float | None = Field(default=None, ge=0)
    daily: tuple[float, ...] | None = Field(default=None, min_length=24, max_length=24)

    @model_validator(mode="after")
    def _exactly_one(self) -> Traffic:
        if (self.requests_per_minute is None) == (self.daily is None):
            raise ValueError("give exactly one of requests_per_minute and daily (24 values)")
        if self.daily is not None and any(v < 0 for v in self.daily):
            raise ValueError("daily: requests per minute are >= 0")
        return self

    def hourly(self) -> tuple[float, ...]:
        """Requests per minute for each hour of the day (24 values)."""
        if self.daily is not None:
            return self.daily
        assert self.requests_per_minute is not None
        return (self.requests_per_minute,) * 24


class Detect(BaseModel):
    """The alarm that catches the bad candidate: ALARM `after_seconds` after it first serves
    requests while bad (from `bad_from`, once its share is above 0)."""

    model_config = _STRICT
    alarm: str = Field(min_length=1)
    after_seconds: int = Field(default=300, ge=0)


class SageMakerTiming(BaseModel):
    """What SageMaker's documentation leaves open, for the emulator (strategies/guardrails.py)."""

    model_config = _STRICT
    provisioning_seconds: int = Field(default=0, ge=0, le=24 * 3600)
    alarm_reaction_seconds: int = Field(default=0, ge=0, le=3600)


class DriftFeed(BaseModel):
    """Captured requests for the canary endpoint's drift job: `requests_per_minute` synthetic
    records per variant (cli/capture_gen: numeric `amount` ~ N(0, 1), categorical `country`, output
    `score`), written to moto's S3 one drift period at a time; in every period that starts at or
    after `drifted_from` seconds, `amount` ~ N(`amount_mean`, 1)."""

    model_config = _STRICT
    requests_per_minute: int = Field(default=100, ge=1, le=1000)
    drifted_from: int = Field(ge=0)
    amount_mean: float = Field(default=1.5, ge=-10, le=10)


class Scenario(BaseModel):
    model_config = _STRICT
    description: str | None = None
    stack: str | None = None
    endpoint: str | None = None
    duration: int = Field(gt=0, le=7 * 24 * 3600)
    events: tuple[Event, ...] = ()
    expect: Expect | None = None
    traffic: Traffic | None = None
    bad_from: int | None = Field(default=None, ge=0)
    sagemaker: SageMakerTiming = Field(default_factory=SageMakerTiming)
    compare: tuple[str, ...] | None = Field(default=None, min_length=2)
    detect: Detect | None = None
    drift: DriftFeed | None = None

    @model_validator(mode="after")
    def _detect_needs_bad_from(self) -> Scenario:
        if self.detect is not None and self.bad_from is None:
            raise ValueError("detect: needs bad_from (when the candidate turns bad)")
        return self

    def detection_at(self, first_serving: float | None) -> int | None:
        """When `detect.alarm` fires, given when the candidate first serves traffic at or after
        `bad_from` (None: never); None when nothing is detected within the duration."""
        if self.detect is None or first_serving is None:
            return None
        at = int(first_serving) + self.detect.after_seconds
        return at if at <= self.duration else None

    def with_detection(self, first_serving: float | None) -> Scenario:
        """This scenario with the detection alarm event added (a copy; unchanged without one)."""
        at = self.detection_at(first_serving)
        if at is None or self.detect is None:
            return self
        event = AlarmEvent(
            at=at,
            alarm=self.detect.alarm,
            state="ALARM",
            reason=f"detect: the bad candidate caught {self.detect.after_seconds}s after it "
            "first served while bad",
        )
        return self.model_copy(update={"events": (*self.events, event)})

    @model_validator(mode="after")
    def _events_within_duration(self) -> Scenario:
        late = [i for i, e in enumerate(self.events) if e.at > self.duration]
        if late:
            raise ValueError(
                "; ".join(
                    f"events[{i}].at: {self.events[i].at} is after duration {self.duration}"
                    for i in late
                )
            )
        return self

    def ordered_events(self) -> list[AlarmEvent | MetricEvent | CommandEvent]:
        """Events by time; events at the same time keep their file order."""
        return sorted(self.events, key=lambda e: e.at)


# (model, key) -> the model its value is, for unknown-key errors inside it.
_NESTED: dict[tuple[type[BaseModel], str], type[BaseModel]] = {
    (Scenario, "expect"): Expect,
    (Scenario, "traffic"): Traffic,
    (Scenario, "detect"): Detect,
    (Scenario, "sagemaker"): SageMakerTiming,
    (MetricEvent, "metric"): MetricValue,
}


@dataclass(frozen=True, slots=True)
class LoadedScenario:
    path: Path
    scenario: Scenario
    lines: dict[str, int]  # key path ("events[2].state") -> 1-based line, for later errors

    def where(self, key_path: str) -> str:
        """`FILE:LINE: key_path` for an error found after loading (an unknown alarm name ...)."""
        line = _nearest_line(self.lines, key_path)
        return f"{self.path}:{line}: {key_path}" if line else f"{self.path}: {key_path}"


def load_scenario(path: Path) -> LoadedScenario:
    """Read and validate a scenario; UsageError lists every problem as `FILE:LINE: key: message`."""
    try:
        text = path.read_text()
    except OSError as e:
        raise UsageError(f"{path}: cannot read scenario file: {e.strerror or e}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise UsageError(f"{path}{line}: not valid YAML: {problem}") from None
    lines: dict[str, int] = {}
    if node is not None:
        _index_lines(node, "", lines)
    if not isinstance(data, dict):
        raise UsageError(f"{path}:1: a scenario is a mapping with duration, events and expect")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as e:
        raise UsageError(*_format_errors(path, e, lines)) from None
    return LoadedScenario(path=path, scenario=scenario, lines=lines)


_EVENT_MODELS: dict[str, type[BaseModel]] = {
    "alarm-event": AlarmEvent,
    "metric-event": MetricEvent,
    "command-event": CommandEvent,
}

# What a list-valued key holds, for "needs N items" messages.
_ITEMS = {
    "traffic.daily": "values (requests per minute for each hour of the day, 00:00 to 23:00 UTC)",
    "compare": "stacks (STACK or STACK:ENDPOINT)",
}


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The scenario model that holds the key at `loc` (pydantic's error location), or None."""
    model: type[BaseModel] | None = Scenario
    for item in loc[:-1]:
        if isinstance(item, int):
            continue
        if item in _EVENT_MODELS:
            model = _EVENT_MODELS[item]
            continue
        if model is None or item not in model.model_fields:
            return None
        model = _NESTED.get((model, item))
    return model


def _format_one(err: Any, key: str) -> str:
    """A plain message for one pydantic error: what is wrong and what is allowed."""
    kind = err["type"]
    ctx: dict[str, Any] = err.get("ctx") or {}
    given = err.get("input")
    if kind == "extra_forbidden":
        model = _model_at(err["loc"])
        if model is None:
            return "unknown key"
        allowed = list(model.model_fields)
        name = str(err["loc"][-1])
        close = difflib.get_close_matches(name, allowed, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        return f"unknown key; {hint}allowed keys: {', '.join(allowed)}"
    if kind == "missing":
        return "required"
    if kind in ("too_short", "too_long"):
        items = _ITEMS.get(_generic(key), "items")
        low, high = ctx.get("min_length"), ctx.get("max_length")
        got = ctx.get("actual_length")
        if key.endswith("traffic.daily"):
            want = "exactly 24"
        elif kind == "too_short":
            want = f"at least {low}"
        else:
            want = f"at most {high}"
        return f"give {want} {items}, got {got}"
    if kind == "literal_error":
        return f"{given!r} is not allowed; use one of {ctx.get('expected', '')}"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if msg.startswith("Input should be "):
        msg = "must be " + msg.removeprefix("Input should be ")
        if not isinstance(given, dict | list):
            msg += f", got {given!r}"
    return msg


def _generic(key: str) -> str:
    """`events[3].at` -> `events.at`: a key path without its list indexes."""
    return re.sub(r"\[\d+\]", "", key)


def _format_errors(path: Path, error: ValidationError, lines: dict[str, int]) -> list[str]:
    """Every problem as `FILE:LINE: key.path: message`, sorted by line (then key)."""
    found: list[tuple[int, str, str]] = []
    for err in error.errors():
        key = _key_path(err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "value_error" and not key and ": " in msg:
            # model-level checks already name their keys ("events[3].at: ...")
            for part in msg.split("; "):
                sub_key, _, sub_msg = part.partition(": ")
                found.append((_nearest_line(lines, sub_key), sub_key, sub_msg))
            continue
        found.append((_nearest_line(lines, key), key or "(top level)", _format_one(err, key)))
    found.sort(key=lambda f: (f[0], f[1]))
    return [f"{path}:{line}: {key}: {msg}" for line, key, msg in found]


def _key_path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item.endswith("-event"):
            continue  # the union tag pydantic adds to the location
        else:
            parts.append(f".{item}" if parts else item)
    return "".join(parts)


def _index_lines(node: yaml.Node, prefix: str, out: dict[str, int]) -> None:
    out.setdefault(prefix, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = f"{prefix}.{key_node.value}" if prefix else str(key_node.value)
            out[key] = key_node.start_mark.line + 1
            _index_lines(value_node, key, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, f"{prefix}[{i}]", out)


def _nearest_line(lines: dict[str, int], key: str) -> int:
    """The line of `key`, or of its closest parent that exists in the file (a missing key)."""
    while key:
        if key in lines:
            return lines[key]
        cut = max(key.rfind("."), key.rfind("["))
        key = key[:cut] if cut > 0 else ""
    return lines.get("", 1)
