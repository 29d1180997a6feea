"""Rehearsals of the evidence features: a shadow comparison and an A/B evaluation, offline.

A scenario file with a top-level `evidence:` key is run here by `rollout rehearse` (the canary
rehearsal handles the others). moto runs on 127.0.0.1; the scenario's generator writes capture
files in SageMaker's format to moto's S3 and per-variant metrics to moto's CloudWatch; then the
real code runs: `cmd_shadow.shadow_report` (the Athena-dialect query on DuckDB, CloudWatch
figures, the recommendation) or `lambdas.ab_evaluator.run` (the evaluator Lambda's own function).

```yaml
stack: shadow
evidence:
  shadow: {requests: 2000, sampling_percent: 100, disagree_percent: 0.2,
           production_p99_ms: 40, shadow_p99_ms: 44}
expect: {recommendation: promote}          # promote | keep_shadowing | reject
---
stack: ab
evidence:
  ab: {counts: {control: [120, 2000], challenger: [190, 2000]}}   # [successes, trials]
expect: {decision: winner, winner: challenger}                     # winner | none
```

moto computes no percentiles, so the rehearsal stands in for CloudWatch's p99 of ModelLatency
(the scenario's `*_p99_ms`) with a botocore `after-call` hook, as `alarm_sim` stands in for alarm
evaluation in the canary rehearsal.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sagemaker_rollouts.cli import render
from sagemaker_rollouts.cli.errors import EXIT_FAILED, EXIT_OK, UsageError

_STRICT = ConfigDict(extra="forbid", frozen=True)


class ShadowFeed(BaseModel):
    model_config = _STRICT
    requests: int = Field(default=2000, ge=1, le=200_000)
    sampling_percent: int = Field(default=100, ge=1, le=100)
    disagree_percent: float = Field(default=0.0, ge=0, le=100)
    with_inference_id: bool = True
    production_p99_ms: float = Field(default=40.0, gt=0)
    shadow_p99_ms: float = Field(default=40.0, gt=0)
    shadow_errors: int = Field(default=0, ge=0)


class AbFeed(BaseModel):
    model_config = _STRICT
    counts: dict[str, tuple[int, int]] = Field(min_length=1)


class Evidence(BaseModel):
    model_config = _STRICT
    shadow: ShadowFeed | None = None
    ab: AbFeed | None = None


class Expect(BaseModel):
    model_config = _STRICT
    recommendation: str | None = None
    decision: str | None = None
    winner: str | None = None


class EvidenceScenario(BaseModel):
    model_config = _STRICT
    description: str | None = None
    stack: str | None = None
    endpoint: str | None = None
    evidence: Evidence
    expect: Expect | None = None


def is_evidence_scenario(path: Path) -> bool:
    """True for a scenario file with a top-level `evidence:` key (unreadable: False, so the
    canary rehearsal reports the problem with its own messages)."""
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(doc, dict) and "evidence" in doc


def load(path: Path) -> EvidenceScenario:
    try:
        return EvidenceScenario.model_validate(yaml.safe_load(path.read_text()))
    except ValidationError as exc:
        lines = [
            f"{path}: {'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_url=False)
        ]
        raise UsageError(*lines) from None


@dataclass
class Outcome:
    kind: str
    data: dict[str, Any]
    problems: list[str]


def run(args: argparse.Namespace) -> int:
    """`rollout rehearse --scenario FILE` for an evidence scenario."""
    from sagemaker_rollouts.cli.stack import load_stack
    from sagemaker_rollouts.simulator.moto_server import moto_server

    path = Path(args.scenario)
    sc = load(path)
    stack = args.stack if args.stack is not None else sc.stack
    if stack is None:
        raise UsageError(f"{path}: no stack: set stack: in the scenario or pass --stack")
    plan = load_stack(Path(args.dir), stack).plan
    if (sc.evidence.shadow is None) == (sc.evidence.ab is None):
        raise UsageError(f"{path}: evidence: give exactly one of shadow or ab")
    with moto_server(plan.region):
        if sc.evidence.shadow is not None:
            outcome = _shadow(plan, sc, sc.evidence.shadow, args.endpoint)
        else:
            assert sc.evidence.ab is not None
            outcome = _ab(plan, sc, sc.evidence.ab, args.endpoint)
    if args.json:
        render.print_json({**outcome.data, "expectation_problems": outcome.problems})
    else:
        _print(outcome, path)
    return EXIT_FAILED if outcome.problems else EXIT_OK


def _shadow(plan: Any, sc: EvidenceScenario, feed: ShadowFeed, wanted: str | None) -> Outcome:
    from sagemaker_rollouts.cli import cmd_shadow
    from sagemaker_rollouts.simulator import capture_gen
    from sagemaker_rollouts.simulator.provision import AwsClients

    ep = cmd_shadow.select_shadow_endpoint(plan, wanted if wanted is not None else sc.endpoint)
    report = cmd_shadow.report_of(ep)
    assert report is not None  # select_shadow_endpoint returns shadow endpoints only
    aws = AwsClients.create(plan.region)
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(minutes=50)
    spec = capture_gen.CaptureSpec(
        endpoint=ep.endpoint_name,
        production=report.production,
        shadow=report.shadow,
        requests=feed.requests,
        sampling_percent=feed.sampling_percent,
        disagree_percent=feed.disagree_percent,
        with_inference_id=feed.with_inference_id,
        start=start,
        gap_ms=max(1, int(40 * 60 * 1000 / feed.requests)),
    )
    aws.s3.create_bucket(Bucket="rehearsal-capture")
    capture_gen.upload(aws.s3, "rehearsal-capture", "capture", spec)
    shadow_n = sum(1 for v, _, _ in capture_gen.records(spec) if v == report.shadow)
    p99 = {report.production: feed.production_p99_ms, report.shadow: feed.shadow_p99_ms}
    for variant, invocations, errors in (
        (report.production, feed.requests, 0),
        (report.shadow, shadow_n, feed.shadow_errors),
    ):
        dims = [
            {"Name": "EndpointName", "Value": ep.endpoint_name},
            {"Name": "VariantName", "Value": variant},
        ]
        aws.cloudwatch.put_metric_data(
            Namespace="AWS/SageMaker",
            MetricData=[
                {
                    "MetricName": "Invocations",
                    "Dimensions": dims,
                    "Value": float(invocations),
                    "Timestamp": start,
                },
                {
                    "MetricName": "Invocation5XXErrors",
                    "Dimensions": dims,
                    "Value": float(errors),
                    "Timestamp": start,
                },
                {
                    "MetricName": "ModelLatency",
                    "Dimensions": dims,
                    "Value": p99[variant] * 1000.0,
                    "Timestamp": start,
                },
            ],
        )

    def remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["rehearsal_params"] = params

    def percentile(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        # Stands in for CloudWatch computing p99 of ModelLatency (moto returns no percentiles).
        params: dict[str, Any] = context.get("rehearsal_params", {})
        if not params.get("ExtendedStatistics"):
            return
        variant = next(d["Value"] for d in params["Dimensions"] if d["Name"] == "VariantName")
        for point in parsed.get("Datapoints", []):
            point["ExtendedStatistics"] = {"p99": p99[variant] * 1000.0}

    cw = aws.cloudwatch
    cw.meta.events.register("provide-client-params.cloudwatch.GetMetricStatistics", remember)
    cw.meta.events.register("after-call.cloudwatch.GetMetricStatistics", percentile)
    args = argparse.Namespace(
        from_dir=None,
        no_metrics=False,
        engine="local",
        capture_uri="s3://rehearsal-capture/capture",
    )
    result = cmd_shadow.shadow_report(
        plan, ep, report, args, start, now + timedelta(minutes=1), aws
    )
    data = result.as_json()
    problems: list[str] = []
    exp = sc.expect
    if exp is not None and exp.recommendation is not None:
        got = result.recommendation.action
        if got != exp.recommendation:
            problems.append(f"recommendation: expected {exp.recommendation}, got {got}")
    return Outcome("shadow", data, problems)


def _ab(plan: Any, sc: EvidenceScenario, feed: AbFeed, wanted: str | None) -> Outcome:
    from sagemaker_rollouts.cli import cmd_ab
    from sagemaker_rollouts.lambdas import ab_evaluator
    from sagemaker_rollouts.lambdas.aws_adapter import Clients
    from sagemaker_rollouts.simulator.provision import AwsClients, provision

    ep = cmd_ab.select_ab_endpoint(plan, wanted if wanted is not None else sc.endpoint)
    spec = cmd_ab.evaluator_of(ep)
    assert spec is not None and plan.state_table_name is not None
    unknown = sorted(set(feed.counts) - set(spec.variants))
    if unknown:
        raise UsageError(
            f"evidence.ab.counts: unknown serving variant(s) {', '.join(unknown)}; "
            f"serving: {', '.join(spec.variants)}"
        )
    aws = AwsClients.create(plan.region)
    provision(plan, aws)
    topic = aws.sns.create_topic(Name=str(plan.topic_name))["TopicArn"]
    now = datetime.now(UTC).replace(microsecond=0)
    for variant, (successes, trials) in feed.counts.items():
        for ref, value in ((spec.successes, successes), (spec.trials, trials)):
            aws.cloudwatch.put_metric_data(
                Namespace=ref.namespace,
                MetricData=[
                    {
                        "MetricName": ref.metric,
                        "Dimensions": ref.dims(spec.endpoint_name, variant),
                        "Value": float(value),
                        "Timestamp": now - timedelta(hours=1),
                    }
                ],
            )
    env = {"AB_SPEC": spec.to_json(), "STATE_TABLE": plan.state_table_name, "TOPIC_ARN": topic}
    clients = Clients(aws.sagemaker, aws.cloudwatch, aws.dynamodb, aws.sns)
    data = ab_evaluator.run({}, env, clients, now.timestamp(), log=lambda _: None)
    problems: list[str] = []
    exp = sc.expect
    if exp is not None:
        if exp.decision is not None and data["decision"] != exp.decision:
            problems.append(f"decision: expected {exp.decision}, got {data['decision']}")
        if exp.winner is not None and data["winner"] != exp.winner:
            problems.append(f"winner: expected {exp.winner}, got {data['winner']}")
    return Outcome("ab", data, problems)


def _print(outcome: Outcome, path: Path) -> None:
    from rich.markup import escape

    out = render.console()
    d = outcome.data
    out.print(f"[bold]rehearsal[/] {escape(str(path))} ({outcome.kind}, against moto)")
    if outcome.kind == "shadow":
        out.print(
            f"paired {d['paired']}; "
            + "; ".join(
                f"{f['name']} agreement {f['agreement_percent']:.2f}%"
                for f in d["fields"]
                if f["agreement_percent"] is not None
            )
            + (f"; p99 ratio {d['p99_latency_ratio']:.2f}" if d["p99_latency_ratio"] else "")
        )
        rec = d["recommendation"]
        out.print(f"recommendation: [bold]{rec['action']}[/]: {escape(rec['reason'])}")
    else:
        for a in d["arms"]:
            rate = "-" if a["rate"] is None else f"{100 * a['rate']:.2f}%"
            out.print(f"  {a['variant']}: {a['successes']} / {a['trials']} = {rate}")
        out.print(
            f"decision: [bold]{d['decision']}[/] {escape(str(d['winner'] or ''))}: "
            f"{escape(d['reason'])}; actions: {', '.join(d['actions']) or 'none'}"
        )
    for p in outcome.problems:
        out.print(f"[red]expectation not met:[/] {escape(p)}")
    if not outcome.problems:
        out.print("[green]expectation met[/]")
