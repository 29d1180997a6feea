"""What a rollout notification says, for every kind of subscriber: pure formatting.

The canary hook, the A/B evaluator and the drift job publish through one adapter
(`lambdas.aws_adapter.notify`), which sends `render(...)` with SNS `MessageStructure=json`:
one message per protocol (SNS Publish API reference, MessageStructure):

- `email`: plain text: endpoint, decision, alarm or evidence, and the `rollout` commands;
- `sqs`, `lambda`: the JSON record (the publisher's body plus `endpoint`, `decision`,
  `alarm`, `evidence`, `commands`, `stack`);
- `default` (HTTPS and AWS Chatbot): an AWS Chatbot custom notification (`version` "1.0",
  `source` "custom", `content` with title, description and next steps; AWS Chatbot user guide,
  "Custom notifications"), whose metadata carries the same record.

Standard library only: ships in the Lambda zips.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# Body keys that are the decision and its cause; the rest is evidence.
_CORE = ("endpoint", "decision", "alarm", "reason", "rollout_id", "at", "stack")


def decision_of(body: Mapping[str, Any]) -> str:
    """The decision a body reports: `decision`, else an A/B winner, a drift finding, or `notice`."""
    given = body.get("decision")
    if isinstance(given, str) and given:
        return given
    if "on_winner" in body or "winner" in body:
        return "ab_winner"
    if "drift" in body or "psi" in body:
        return "drift"
    return "notice"


def target_args(*, origin: str, stack: str, endpoint_name: str, region: str) -> str:
    """The `rollout` arguments that address one deployed endpoint, as its notifications print them.

    `origin` "stack" (declared in `Pulumi.<stack>.yaml` by the project's own program): the
    stack-file form `--stack S --endpoint E`, run in the project directory. Anything else (a
    `RolloutEndpoint` in the user's own program, any language): `--endpoint E --region R`, which
    the CLI resolves from AWS alone (the endpoint's tags and its hook's environment), wherever it
    runs. Lambda's environment carries the result as `ROLLOUT_TARGET`.
    """
    if origin == "stack":
        return f"--stack {stack} --endpoint {endpoint_name}"
    return f"--endpoint {endpoint_name} --region {region}"


def commands(
    stack: str | None, endpoint: str, decision: str, target: str | None = None
) -> list[str]:
    """The `rollout` (or `pulumi`) commands that act on this decision, most useful first.

    `target`: the arguments that address the endpoint (`target_args`, the publisher's
    `ROLLOUT_TARGET`); without it, the stack-file form with `stack` (Lambdas deployed before
    `ROLLOUT_TARGET` existed)."""
    where = target if target else f"--stack {stack if stack else '<stack>'} --endpoint {endpoint}"
    status = f"rollout status {where}"
    retry = (
        "raise strategy.canary.attempt in the stack config, then `pulumi up`, to retry"
        if where.startswith("--stack ")
        else "raise strategy.canary.attempt in the RolloutEndpoint's args, then `pulumi up`, "
        "to retry"
    )
    match decision:
        case "rollback" | "rolled_back" | "abort":
            return [status, retry]
        case "complete" | "completed":
            return [status, "pulumi up  # removes the old fleet"]
        case "hold" | "stuck" | "paused" | "pause":
            return [status, f"rollout resume {where}", f"rollout abort {where}"]
        case "ab_winner":
            return [f"rollout ab-report {where}", status]
        case _:
            return [status]


def record(body: Mapping[str, Any], stack: str | None, target: str | None = None) -> dict[str, Any]:
    """The structured record every subscriber gets: the body plus decision, evidence, commands
    (`target`: the arguments that address the endpoint, see `commands`)."""
    endpoint = str(body.get("endpoint") or body.get("endpoint_name") or "?")
    decision = decision_of(body)
    evidence = {k: v for k, v in body.items() if k not in _CORE}
    return {
        **body,
        "endpoint": endpoint,
        "decision": decision,
        "alarm": body.get("alarm"),
        "evidence": evidence,
        "stack": stack,
        "commands": commands(stack, endpoint, decision, target),
    }


def _text(subject: str, rec: Mapping[str, Any]) -> str:
    lines = [subject, "", f"endpoint: {rec['endpoint']}", f"decision: {rec['decision']}"]
    if rec.get("alarm"):
        lines.append(f"alarm: {rec['alarm']}")
    if rec.get("reason"):
        lines.append(f"reason: {rec['reason']}")
    for k, v in sorted(rec["evidence"].items()):
        lines.append(f"{k}: {json.dumps(v, default=str) if not isinstance(v, str) else v}")
    lines += ["", "act on it:", *(f"  {c}" for c in rec["commands"])]
    return "\n".join(lines)


def chatbot(subject: str, rec: Mapping[str, Any]) -> dict[str, Any]:
    """An AWS Chatbot custom notification for the record."""
    cause = rec.get("alarm") or rec.get("reason") or ""
    return {
        "version": "1.0",
        "source": "custom",
        "content": {
            "textType": "client-markdown",
            "title": subject[:250],
            "description": f"*{rec['decision']}* on `{rec['endpoint']}`"
            + (f": {cause}" if cause else ""),
            "nextSteps": [f"`{c}`" for c in rec["commands"]],
        },
        "metadata": {
            "summary": subject[:250],
            "eventType": str(rec["decision"]),
            "additionalContext": {
                k: v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str)
                for k, v in rec.items()
                if v is not None
            },
        },
    }


def render(
    subject: str, body: Mapping[str, Any], stack: str | None, target: str | None = None
) -> str:
    """The SNS message for `MessageStructure=json`: a JSON object of per-protocol strings."""
    rec = record(body, stack, target)
    as_json = json.dumps(rec, sort_keys=True, default=str)
    return json.dumps(
        {
            "default": json.dumps(chatbot(subject, rec), sort_keys=True, default=str),
            "email": _text(subject, rec),
            "sqs": as_json,
            "lambda": as_json,
        },
        sort_keys=True,
    )
