"""What an on-call engineer and a CI job see: `rollout status` (one read, `--wait`, `--watch`),
`rollout history`, and machine-readable failures, through the entry point against moto in server
mode with the stack provisioned as `pulumi up` would leave it."""

from __future__ import annotations

import io
import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from sagemaker_rollouts.cli import cmd_history
from sagemaker_rollouts.cli.main import EXIT_CODES, _parser, main  # pyright: ignore[reportPrivateUsage]
from sagemaker_rollouts.cli.stack import LoadedStack, load_stack
from sagemaker_rollouts.cli.target import Target
from sagemaker_rollouts.lambdas import store
from sagemaker_rollouts.lambdas.aws_adapter import make_clients
from sagemaker_rollouts.lambdas.canary_hook import run as hook_run
from sagemaker_rollouts.lambdas.controller import RolloutState
from sagemaker_rollouts.simulator.moto_server import moto_server
from sagemaker_rollouts.simulator.provision import AwsClients
from tests.moto_deploy import canary_of, hook_env, provisioned
from tests.moto_fixtures import answer_alarm_history
from tests.plan_fixtures import rollout_of

ROOT = Path(__file__).resolve().parents[2]
STACK = ["--stack", "canary", "--dir", str(ROOT)]
WHO = "arn:aws:sts::123456789012:assumed-role/oncall-admin/alice.smith@example.com"


@pytest.fixture
def operator() -> str:
    """The operator's `USER` in these tests: an assumed role's session name (`deployed` sets it)."""
    return WHO


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main([*argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


# ------------------------------------------------------------------------------ status


def test_status_after_pause_says_paused_who_and_why_in_text_and_json_alike(
    deployed: tuple[LoadedStack, AwsClients], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pause", *STACK, "--reason", "p99 latency looks odd"]) == 0
    capsys.readouterr()
    code, doc = _json(capsys, "status", *STACK)
    ep = doc["endpoints"][0]
    assert code == 3 and ep["rollout_status"] == "paused"
    r = ep["rollout"]
    assert (r["step"], r["steps"]) == (1, 4)
    assert r["live_percent"] == 5.0 and r["intended_percent"] == 5
    assert r["paused_by"]["who"] == WHO and r["paused_by"]["reason"] == "p99 latency looks odd"
    assert r["next"] == {"step": 2, "candidate_percent": 25}

    assert main(["status", *STACK]) == 3
    text = capsys.readouterr().out
    assert "rollout paused at step 1 of 4" in text
    assert "in_progress" not in text.splitlines()[0]
    assert f"paused by {WHO}" in text
    assert "candidate: 5% live, 5% intended" in text
    assert "bake:" in text and "next: step 2 (25%)" in text
    gates_line = next(line for line in text.splitlines() if "gates: " in line)
    stack, _ = deployed
    for alarm in (a for a in stack.plan.endpoints[0].alarms if a.gate):
        assert f"{alarm.name} OK" in gates_line
    assert "…" not in text  # no column cut off
    assert WHO in text.split("last decisions")[1]  # the who column, whole


def test_status_wait_streams_a_line_per_change_before_it_returns(
    deployed: tuple[LoadedStack, AwsClients], monkeypatch: pytest.MonkeyPatch
) -> None:
    stack, _ = deployed
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    spec, _ = canary_of(stack)
    env = hook_env(stack)
    clients = make_clients(stack.plan.region)
    hook_run({}, env, clients, time.time(), log=lambda _: None)
    seen_before_return: list[str] = []

    def operator() -> None:
        deadline = time.monotonic() + 20
        while "in_progress step 1 of 4" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.02)
        seen_before_return.append(out.getvalue())
        store.record_intent(
            clients.dynamodb,
            env["STATE_TABLE"],
            spec.rollout_id,
            "abort",
            "bob",
            "bad",
            time.time(),
        )
        hook_run({}, env, clients, time.time(), log=lambda _: None)

    t = threading.Thread(target=operator, daemon=True)
    t.start()
    code = main(["status", *STACK, "--wait", "--timeout", "30", "--interval", "0.1"])
    t.join(10)
    assert code == 1
    assert "in_progress step 1 of 4" in seen_before_return[0]  # printed while still waiting
    lines = [line for line in out.getvalue().splitlines() if re.match(r"\d\d:\d\d:\d\d ", line)]
    assert len(lines) >= 2
    assert "rolled_back" in lines[-1] and "candidate 0% live" in lines[-1]
    assert len(set(lines)) == len(lines)  # one line per change, not per poll


def test_status_watch_refreshes_in_place_on_a_terminal_until_finished(
    deployed: tuple[LoadedStack, AwsClients], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    monkeypatch.setattr("sys.stdout", out)
    assert main(["abort", *STACK]) == 0
    out.seek(0)
    out.truncate()
    code = main(["status", *STACK, "--watch", "--timeout", "5", "--interval", "0.1"])
    assert code == 1
    raw = out.getvalue()
    assert "\x1b[" in raw  # drawn with terminal control codes (rich Live), not appended lines
    text = " ".join(re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", raw).split())  # wrapped at 80
    assert "rollout rolled_back at step 1 of 4" in text
    assert "candidate: 0% live, 0% intended" in text


@pytest.mark.parametrize(
    "argv",
    [
        ["status", *STACK, "--timeout", "60"],
        ["status", *STACK, "--interval", "5"],
        ["status", *STACK, "--watch", "--json"],
    ],
)
def test_status_polling_options_without_polling_are_usage_errors(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert "status:" in capsys.readouterr().err


# ------------------------------------------------------------------------------ history


def test_history_lists_decisions_intents_with_outcome_and_alarms_across_rollouts(
    deployed: tuple[LoadedStack, AwsClients], capsys: pytest.CaptureFixture[str]
) -> None:
    stack, aws = deployed
    ep = stack.plan.endpoints[0]
    spec = rollout_of(ep)
    assert spec is not None and spec.sample_alarm is not None
    table = stack.plan.state_table_name
    assert table is not None
    # An earlier rollout of the same endpoint, rolled back by an alarm.
    older = f"{spec.endpoint_name}/0123abcd/1"
    st = RolloutState(status="rolled_back", step_index=1, step_started_at=1.0e9, version=1)
    row = store.HistoryRow(
        1, 1.0e9, "rollback", "alarm x is ALARM", "rolled_back", 1, 0, spec.gate_alarms[0], None
    )
    assert store.write_state(aws.dynamodb, table, older, 0, st, row)

    assert main(["pause", *STACK, "--reason", "traffic spike"]) == 0
    aws.cloudwatch.set_alarm_state(
        AlarmName=spec.sample_alarm, StateValue="ALARM", StateReason="test"
    )
    assert main(["resume", *STACK]) == 0
    assert main(["promote", *STACK]) == 1  # refused: low traffic
    capsys.readouterr()

    code, doc = _json(capsys, "history", *STACK)
    assert code == 0
    h = doc["endpoints"][0]
    assert {r["rollout_id"] for r in h["rollouts"]} == {older, spec.rollout_id}
    entries = h["entries"]
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
    intents = [e for e in entries if e["kind"] == "intent"]
    assert [e["reason"].split(":")[0] for e in intents] == ["pause", "resume", "promote"]
    assert all(e["who"] == WHO for e in intents)
    assert intents[0]["intent"].startswith("applied")
    assert intents[2]["intent"].startswith("refused") and "low traffic" in intents[2]["intent"]
    assert all(e["step"] >= 1 for e in entries if e["step"] is not None)  # numbered from 1
    old = [e for e in entries if e["rollout_id"] == older]
    assert old[0]["alarm"] == spec.gate_alarms[0] and old[0]["kind"] == "rollback"

    assert main(["history", *STACK]) == 0
    text = capsys.readouterr().out
    assert "0123abcd/1" in text and "refused" in text and WHO in text and "…" not in text


def test_history_shows_alarm_transitions_and_the_deployment_phase_of_blue_green(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Blue/green: SageMaker moves traffic; the trail is the rollback alarm's transitions (from
    CloudWatch's alarm history; moto has none, tests/moto_fixtures.answer_alarm_history stands in)
    and the current phase."""
    with provisioned(ROOT, "multi") as (stack, aws):  # a canary, an A/B and a blue/green endpoint
        ep = next(e for e in stack.plan.endpoints if e.strategy in ("blue_green", "rolling"))
        gate = next(a for a in ep.alarms if a.gate)
        log = [(gate.name, "ALARM", 1_700_000_100.0), (gate.name, "OK", 1_700_000_400.0)]
        answer_alarm_history(aws, log)  # type: ignore[arg-type]
        h = cmd_history.collect(Target.of_plan(stack.plan, ep), aws, 1_700_000_500.0)
    kinds = [e.kind for e in h.entries]
    assert kinds[:2] == ["alarm ALARM", "alarm OK"]
    assert any(k.startswith("phase ") for k in kinds)
    assert h.entries[0].alarm == gate.name and "gate alarm" in h.entries[0].reason


def test_history_of_an_ab_endpoint_lists_the_evaluators_decisions() -> None:
    from sagemaker_rollouts.lambdas.ab_evaluator import record_evaluation

    with provisioned(ROOT, "ab") as (stack, aws):
        ep = next(e for e in stack.plan.endpoints if e.uses_state_table and e.strategy == "ab")
        assert stack.plan.state_table_name is not None
        record_evaluation(
            aws.dynamodb,
            stack.plan.state_table_name,
            ep.endpoint_name,
            1_700_000_000.0,
            {"decision": "none", "reason": "too few trials", "arms": []},
        )
        h = cmd_history.collect(Target.of_plan(stack.plan, ep), aws, 1_700_000_100.0)
    ab = [e for e in h.entries if e.source == "ab"]
    assert ab and ab[0].kind == "ab-none" and ab[0].reason == "too few trials"
    assert ab[0].evidence is not None and ab[0].evidence["arms"] == []


# ------------------------------------------------------------------ machine-readable failures


def test_plan_json_on_an_invalid_stack_prints_an_error_document_on_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "Pulumi.bad.yaml").write_text(
        "config:\n  sagemaker-rollouts:endpoints:\n    x: {strategy: {kind: nope}}\n"
    )
    code = main(["plan", "--stack", "bad", "--dir", str(tmp_path), "--json"])
    captured = capsys.readouterr()
    assert code == 2
    doc = json.loads(captured.out)
    assert doc["error"]["exit_code"] == 2 and doc["error"]["command"] == "plan"
    assert "invalid stack config" in doc["error"]["message"] and doc["error"]["details"]
    assert "error:" in captured.err


def test_ab_report_on_a_never_deployed_endpoint_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with moto_server():
        code = main(["ab-report", "--stack", "ab", "--dir", str(ROOT)])
    assert code == 2
    assert "does not exist" in capsys.readouterr().err


def test_prune_dry_run_with_nothing_to_prune_says_so(
    deployed: tuple[LoadedStack, AwsClients], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["prune", *STACK, "--dry-run"]) == 0
    assert "nothing to prune" in capsys.readouterr().out
    code, doc = _json(capsys, "prune", *STACK, "--dry-run")
    assert code == 0 and doc["nothing_to_prune"] is True


def _subcommands() -> dict[str, Any]:
    import argparse

    parser = _parser()
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))  # pyright: ignore[reportPrivateUsage]
    return dict(sub.choices)  # pyright: ignore[reportUnknownArgumentType]


@pytest.mark.parametrize("name", sorted(_subcommands()))
def test_every_command_help_lists_its_exit_codes(name: str) -> None:
    text = _subcommands()[name].format_help()
    assert name in EXIT_CODES, f"`rollout {name}` has no exit codes in cli.main.EXIT_CODES"
    assert "exit codes:" in text
    section = text.split("exit codes:")[1]
    for code, what in EXIT_CODES[name]:
        assert f"  {code}  {what}" in section


def test_readme_cli_table_lists_the_same_exit_codes_as_the_help() -> None:
    readme = (ROOT / "README.md").read_text()
    rows = [line for line in readme.splitlines() if line.startswith("| `rollout ")]
    for name, codes in EXIT_CODES.items():
        if name == "schema":
            continue
        head = re.compile(rf"^\| `rollout ([a-z-]+\\\|)*{re.escape(name)}[ \\`]")
        mine = [r for r in rows if head.match(r)]
        assert mine, f"README's CLI table has no row for rollout {name}"
        cell = mine[0].rsplit("|", 2)[1]
        for code, _ in codes:
            assert re.search(rf"(^| ){code}[ ,]", cell), (name, code, cell)


# ------------------------------------------------------------------ a program's own component

PROGRAM_DIR = ROOT / "examples" / "python"
PROGRAM_STACK = ["--stack", "dev", "--dir", str(PROGRAM_DIR)]


def test_operator_commands_act_on_a_components_endpoint_in_the_programs_own_project(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A platform program (examples/python) declares `RolloutEndpoint`: its hook tells the
    operator `rollout status|resume|abort --stack S --endpoint E`, so those commands must find the
    component's endpoint and its own state table (`<project>-<stack>-<component>-rollouts`),
    not look for this package's stack config in the program's stack file."""
    monkeypatch.setenv("USER", WHO)
    with provisioned(PROGRAM_DIR, "dev") as (stack, _):
        assert stack.plan.state_table_name == "fraud-platform-dev-fraud-rollouts"
        endpoint = ["--endpoint", "fraud-detector"]
        assert main(["pause", *PROGRAM_STACK, *endpoint, "--reason", "looks odd"]) == 0
        capsys.readouterr()
        code, doc = _json(capsys, "status", *PROGRAM_STACK, *endpoint)
        (ep,) = doc["endpoints"]
        assert code == 3 and ep["rollout_status"] == "paused"
        assert ep["rollout"]["paused_by"]["reason"] == "looks odd"
        assert main(["abort", *PROGRAM_STACK]) == 0  # one component: no --endpoint needed
        capsys.readouterr()
        code, doc = _json(capsys, "status", *PROGRAM_STACK)
        assert code == 1 and doc["endpoints"][0]["rollout_status"] == "rolled_back"


TWO_COMPONENTS = """
from sagemaker_rollouts import RolloutEndpoint

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
for name in ("fraud", "churn"):
    RolloutEndpoint(name, {
        "models": {
            "v1": {"image": IMAGE, "model_data_url": f"s3://acme/{name}/v1/model.tar.gz"},
            "v2": {"image": IMAGE, "model_data_url": f"s3://acme/{name}/v2/model.tar.gz"},
        },
        "variants": [
            {"name": "stable", "model": "v1", "instance_type": "ml.m5.large"},
            {"name": "candidate", "model": "v2", "instance_type": "ml.m5.large"},
        ],
        "strategy": {"canary": {"stable": "stable", "candidate": "candidate", "steps": [10]}},
    })
"""


@pytest.mark.parametrize(
    ("endpoint", "table", "usage"),
    [
        (None, None, "declares 2 RolloutEndpoint components"),
        ("churn", "platform-dev-churn-rollouts", None),
        ("fraud", "platform-dev-fraud-rollouts", None),
        ("search", None, "no RolloutEndpoint component or endpoint named 'search'"),
    ],
    ids=["several-without-endpoint", "churn", "fraud", "unknown"],
)
def test_a_program_with_several_components_is_loaded_for_the_one_named(
    endpoint: str | None, table: str | None, usage: str | None, tmp_path: Path
) -> None:
    from sagemaker_rollouts.cli.errors import UsageError

    (tmp_path / "Pulumi.yaml").write_text("name: platform\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  aws:region: us-east-1\n")
    (tmp_path / "__main__.py").write_text(TWO_COMPONENTS)
    if usage is not None:
        with pytest.raises(UsageError) as caught:
            load_stack(tmp_path, "dev", endpoint=endpoint)
        assert usage in str(caught.value)
        return
    stack = load_stack(tmp_path, "dev", endpoint=endpoint)
    assert stack.plan.state_table_name == table
    assert [e.key for e in stack.plan.endpoints] == [endpoint]
