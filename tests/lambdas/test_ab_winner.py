"""A/B winner: decisions checked against statsmodels/scipy on the same numbers, the evaluator
Lambda against moto (CloudWatch, DynamoDB, SNS, SageMaker), `rollout ab-report`, config errors,
the wiring under mocks, and the Lambda's zip importing with the standard library and boto3 only."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sagemaker_rollouts.cli.main import main
from sagemaker_rollouts.cli.stack import load_stack
from sagemaker_rollouts.lambdas import ab_evaluator
from sagemaker_rollouts.lambdas.ab_winner import (
    Arm,
    EvaluatorSpec,
    NoDecision,
    Winner,
    chi2_sf,
    decide,
    msprt,
    normal_sf,
    sample_ratio,
    two_proportion_z,
)
from sagemaker_rollouts.lambdas.aws_adapter import Clients
from sagemaker_rollouts.simulator.provision import AwsClients, provision
from tests.plan_fixtures import evaluator_of

ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- against statsmodels


# The oracles (scipy, statsmodels: about 1.5 s to import) are imported where they are used, so a
# test worker that never runs this module does not pay for them while collecting it.


def _statsmodels(a: Arm, b: Arm) -> tuple[float, float]:
    from statsmodels.stats.proportion import proportions_ztest

    z, p = proportions_ztest([a.successes, b.successes], [a.trials, b.trials])
    return float(z), float(p)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (Arm("a", 120, 1000), Arm("b", 90, 1000)),
        (Arm("a", 55, 500), Arm("b", 50, 500)),
        (Arm("a", 3000, 20000), Arm("b", 2700, 20000)),
        (Arm("a", 10, 2000), Arm("b", 30, 1500)),
        (Arm("a", 999, 1000), Arm("b", 990, 1000)),
    ],
)
def test_z_and_p_match_statsmodels(a: Arm, b: Arm) -> None:
    z, p = two_proportion_z(a, b)
    sz, sp = _statsmodels(a, b)
    assert z == pytest.approx(sz, rel=1e-9)
    assert p == pytest.approx(sp, rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 50_000),
    st.integers(1, 50_000),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
)
def test_z_and_p_match_statsmodels_on_any_counts(n1: int, n2: int, r1: float, r2: float) -> None:
    a, b = Arm("a", round(n1 * r1), n1), Arm("b", round(n2 * r2), n2)
    z, p = two_proportion_z(a, b)
    pooled = (a.successes + b.successes) / (n1 + n2)
    if pooled in (0.0, 1.0):
        assert (z, p) == (None, None)  # statsmodels divides by zero here
        return
    sz, sp = _statsmodels(a, b)
    assert z == pytest.approx(sz, rel=1e-7, abs=1e-9)
    assert p == pytest.approx(sp, rel=1e-6, abs=1e-12)


@pytest.mark.parametrize("z", [-4.0, -1.96, 0.0, 0.5, 1.645, 3.3, 8.0])
def test_normal_tail_matches_scipy(z: float) -> None:
    from scipy.stats import norm

    assert normal_sf(z) == pytest.approx(float(norm.sf(z)), rel=1e-12, abs=1e-300)


TAU = 0.01  # the shipped defaults: baseline_rate 0.05 x minimum_detectable_lift 0.2


def _mixture_lr(a: Arm, b: Arm, tau: float) -> float:
    """Oracle: the mixture likelihood ratio by numerical integration (scipy), independent of the
    closed form: the integral over theta ~ N(0, tau^2) of N(d; theta, V) / N(d; 0, V)."""
    from scipy.integrate import quad
    from scipy.stats import norm

    d = a.successes / a.trials - b.successes / b.trials
    pooled = (a.successes + b.successes) / (a.trials + b.trials)
    var = pooled * (1 - pooled) * (1 / a.trials + 1 / b.trials)
    sd = math.sqrt(var)

    def integrand(theta: float) -> float:
        return float(norm.pdf(d, theta, sd) / norm.pdf(d, 0, sd) * norm.pdf(theta, 0, tau))

    value, _ = quad(integrand, -12 * tau, 12 * tau, points=[0.0, d], limit=200)
    return float(value)


@pytest.mark.parametrize(
    ("a", "b", "tau"),
    [
        (Arm("a", 1150, 10000), Arm("b", 1000, 10000), 0.01),
        (Arm("a", 640, 10000), Arm("b", 500, 10000), 0.01),
        (Arm("a", 55, 500), Arm("b", 50, 500), 0.02),
        (Arm("a", 3000, 20000), Arm("b", 2700, 20000), 0.005),
        (Arm("a", 30, 1500), Arm("b", 10, 2000), 0.01),
    ],
)
def test_mixture_likelihood_ratio_matches_numerical_integration(a: Arm, b: Arm, tau: float) -> None:
    llr, p = msprt(a, b, tau)
    assert llr is not None and p is not None
    assert math.exp(llr) == pytest.approx(_mixture_lr(a, b, tau), rel=1e-6)
    assert p == pytest.approx(min(1.0, math.exp(-llr)))


@pytest.mark.parametrize("dof", [1, 2, 3, 4, 5, 9, 10])
@pytest.mark.parametrize("x", [0.0, 0.5, 3.84, 10.83, 25.0, 80.0])
def test_chi_square_tail_matches_scipy(x: float, dof: int) -> None:
    from scipy.stats import chi2

    assert chi2_sf(x, dof) == pytest.approx(float(chi2.sf(x, dof)), rel=1e-9, abs=1e-300)


@pytest.mark.parametrize(
    ("trials", "weights"),
    [
        ([7000, 3000], [70, 30]),
        ([7200, 2800], [70, 30]),
        ([5000, 5000], [70, 30]),
        ([1000, 1100, 900], [1, 1, 1]),
        ([400, 330, 270], [40, 30, 30]),
    ],
)
def test_sample_ratio_check_matches_scipy_chisquare(trials: list[int], weights: list[int]) -> None:
    from scipy.stats import chisquare

    arms = [Arm(f"v{i}", 0, n) for i, n in enumerate(trials)]
    got = sample_ratio(arms, {f"v{i}": w for i, w in enumerate(weights)}, 0.001)
    total = sum(trials)
    expected = [total * w / sum(weights) for w in weights]
    stat, p = chisquare(trials, expected)
    assert (got.chi2, got.p_value) == (pytest.approx(stat), pytest.approx(p, rel=1e-9, abs=1e-300))
    assert got.mismatch == (p < 0.001)


DECISIONS = [
    # (name, arms, min_samples, significance, expected winner or None, reason fragment)
    (
        "clear winner",
        [Arm("control", 1000, 10000), Arm("challenger", 1150, 10000)],
        1000,
        0.05,
        "challenger",
        "significantly above",
    ),
    (
        "a one-look z-test would call it (z 2.08), the sequential test does not",
        [Arm("control", 1000, 10000), Arm("challenger", 1090, 10000)],
        1000,
        0.05,
        None,
        "indistinguishable: challenger vs control (p=0.4069)",
    ),
    (
        "too few samples",
        [Arm("control", 10, 999), Arm("challenger", 90, 1000)],
        1000,
        0.05,
        None,
        "too few samples: control 999 < min_samples 1000",
    ),
    (
        "identical, no variance",
        [Arm("control", 0, 1000), Arm("challenger", 0, 1000)],
        1000,
        0.05,
        None,
        "p=n/a",
    ),
    (
        "successes above trials",
        [Arm("control", 1001, 1000), Arm("challenger", 1, 1000)],
        10,
        0.05,
        None,
        "inconsistent metrics for control",
    ),
    ("one serving variant", [Arm("control", 100, 1000)], 10, 0.05, None, "fewer than two"),
    # Three arms: every pair at 0.05 / 3; c's always-valid p of 0.042 is not enough.
    (
        "bonferroni over the pairs holds back a marginal leader",
        [Arm("a", 500, 10000), Arm("b", 500, 10000), Arm("c", 600, 10000)],
        1000,
        0.05,
        None,
        "indistinguishable: c vs a (p=0.04176), b",
    ),
    (
        "three arms, clear",
        [Arm("a", 500, 10000), Arm("b", 500, 10000), Arm("c", 640, 10000)],
        1000,
        0.05,
        "c",
        "alpha 0.01667",
    ),
    (
        "a stricter significance holds",
        [Arm("control", 1000, 10000), Arm("challenger", 1150, 10000)],
        1000,
        0.01,
        None,
        "indistinguishable",
    ),
]


@pytest.mark.parametrize(
    ("arms", "min_samples", "significance", "winner", "reason"),
    [d[1:] for d in DECISIONS],
    ids=[d[0] for d in DECISIONS],
)
def test_decision_table(
    arms: list[Arm], min_samples: int, significance: float, winner: str | None, reason: str
) -> None:
    d = decide(arms, min_samples=min_samples, significance=significance, tau=TAU)
    if winner is None:
        assert isinstance(d, NoDecision)
    else:
        assert isinstance(d, Winner) and d.variant == winner
    assert reason in d.reason


def test_the_decision_agrees_with_statsmodels_pairwise() -> None:
    arms = [Arm("a", 100, 2000), Arm("b", 100, 2000), Arm("c", 130, 2000)]
    d = decide(arms, min_samples=1000, significance=0.05, tau=TAU)
    for c in d.comparisons:
        leader = next(a for a in arms if a.variant == c.leader)
        other = next(a for a in arms if a.variant == c.other)
        z, _ = _statsmodels(leader, other)
        assert c.z == pytest.approx(z)
        assert c.p_value == pytest.approx(min(1.0, 1.0 / _mixture_lr(leader, other, TAU)))
        assert c.significant == (c.p_value is not None and c.p_value <= 0.05 / 3)


@pytest.mark.parametrize("significance", [0.0, 1.0, -0.1])
def test_significance_outside_zero_one_raises(significance: float) -> None:
    with pytest.raises(ValueError, match="significance"):
        decide([Arm("a", 1, 2), Arm("b", 1, 2)], min_samples=1, significance=significance, tau=TAU)


# --------------------------------------------------------------------------- the Lambda on moto


NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def _world(
    stack: str, tmp_path: Path, edit: dict[str, Any] | None = None
) -> tuple[EvaluatorSpec, AwsClients, dict[str, str]]:
    """The `ab` sample stack provisioned in moto, under a unique endpoint name."""
    import yaml

    doc = yaml.safe_load((ROOT / "Pulumi.ab.yaml").read_text())
    ep = doc["config"]["sagemaker-rollouts:endpoints"]["ranker"]
    ep["endpoint_name"] = stack
    ep["strategy"]["ab"].update(edit or {})
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(doc))
    plan = load_stack(tmp_path, stack).plan
    aws = AwsClients.create(plan.region)
    provision(plan, aws)
    spec = evaluator_of(plan.endpoints[0])
    assert spec is not None and plan.state_table_name is not None
    topic = aws.sns.create_topic(Name=str(plan.topic_name))["TopicArn"]
    return (
        spec,
        aws,
        {"AB_SPEC": spec.to_json(), "STATE_TABLE": plan.state_table_name, "TOPIC_ARN": topic},
    )


def _put_counts(
    aws: AwsClients,
    spec: EvaluatorSpec,
    counts: dict[str, tuple[int, int]],
    now: datetime = NOW,
) -> None:
    """Counts timestamped 30 minutes before the hour `now` (default: this module's `NOW`)."""
    for variant, (successes, trials) in counts.items():
        for ref, value in ((spec.successes, successes), (spec.trials, trials)):
            aws.cloudwatch.put_metric_data(
                Namespace=ref.namespace,
                MetricData=[
                    {
                        "MetricName": ref.metric,
                        "Dimensions": ref.dims(spec.endpoint_name, variant),
                        "Value": float(value),
                        "Timestamp": now - timedelta(minutes=30),
                    }
                ],
            )


def _weights(aws: AwsClients, endpoint: str) -> dict[str, float]:
    # moto omits CurrentWeight for an initial weight of 0 (it tests the value's truth); AWS
    # reports 0.0, which is what the default stands in for.
    resp = aws.sagemaker.describe_endpoint(EndpointName=endpoint)
    return {
        v["VariantName"]: float(v.get("CurrentWeight", 0.0)) for v in resp["ProductionVariants"]
    }


def _clients(aws: AwsClients) -> Clients:
    return Clients(aws.sagemaker, aws.cloudwatch, aws.dynamodb, aws.sns)


def test_evaluator_records_evidence_and_notifies_once(moto_url: str, tmp_path: Path) -> None:
    spec, aws, env = _world("ab-notify", tmp_path)
    _put_counts(aws, spec, {"control": (700, 7000), "challenger": (480, 3000)})
    sent: list[dict[str, Any]] = []
    aws.sns.meta.events.register(
        "provide-client-params.sns.Publish", lambda params, **_: sent.append(params)
    )
    first = ab_evaluator.run({}, env, _clients(aws), NOW.timestamp(), log=lambda _: None)
    assert (first["decision"], first["winner"], first["actions"]) == (
        "winner",
        "challenger",
        ["claimed", "notified"],
    )
    assert first["notices_pending"] == 0
    assert len(sent) == 1 and "challenger" in sent[0]["Subject"]
    second = ab_evaluator.run({}, env, _clients(aws), NOW.timestamp() + 3600, log=lambda _: None)
    assert second["actions"] == ["already_decided"] and len(sent) == 1
    history = ab_evaluator.read_evaluations(aws.dynamodb, env["STATE_TABLE"], spec.endpoint_name)
    assert [h["winner"] for h in history] == ["challenger", "challenger"]
    assert history[0]["arms"][1] == {
        "variant": "challenger",
        "successes": 480,
        "trials": 3000,
        "rate": 0.16,
    }
    # notify never moves traffic
    weights = _weights(aws, spec.endpoint_name)
    assert weights == {"control": 70.0, "challenger": 30.0, "dark": 0.0}


def test_evaluator_with_too_little_data_decides_nothing(moto_url: str, tmp_path: Path) -> None:
    spec, aws, env = _world("ab-little", tmp_path)
    _put_counts(aws, spec, {"control": (10, 140), "challenger": (40, 60)})
    out = ab_evaluator.run({}, env, _clients(aws), NOW.timestamp(), log=lambda _: None)
    assert (out["decision"], out["actions"]) == ("none", [])
    assert "too few samples" in out["reason"]
    assert (
        ab_evaluator.recorded_winner(aws.dynamodb, env["STATE_TABLE"], spec.endpoint_name) is None
    )


def test_evaluator_promotes_the_winner_when_configured(moto_url: str, tmp_path: Path) -> None:
    spec, aws, env = _world("ab-promote", tmp_path, {"on_winner": "promote"})
    _put_counts(aws, spec, {"control": (1400, 7000), "challenger": (360, 3000)})
    out = ab_evaluator.run({}, env, _clients(aws), NOW.timestamp(), log=lambda _: None)
    assert (out["winner"], out["actions"]) == ("control", ["claimed", "promoted", "notified"])
    weights = _weights(aws, spec.endpoint_name)
    assert weights == {"control": 1.0, "challenger": 0.0, "dark": 0.0}


def test_ab_report_prints_the_same_numbers(
    moto_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec, aws, _ = _world("ab-report", tmp_path)
    # `rollout ab-report` reads up to the real clock: the counts are placed by this test's own
    # hour, not the module's import-time `NOW` (a run crossing the top of an hour moved them).
    this_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    counts = {"control": (700, 7000), "challenger": (480, 3000)}
    _put_counts(aws, spec, counts, now=this_hour)
    code = main(["ab-report", "--stack", "ab-report", "--dir", str(tmp_path), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert (code, data["winner_now"], data["recorded_winner"]) == (0, "challenger", None)
    leader, other = Arm("challenger", 480, 3000), Arm("control", 700, 7000)
    z, _ = _statsmodels(leader, other)
    assert data["comparisons"][0]["z"] == pytest.approx(z)
    assert data["comparisons"][0]["p_value"] == pytest.approx(1 / _mixture_lr(leader, other, TAU))
    assert main(["ab-report", "--stack", "ab-report", "--dir", str(tmp_path)]) == 0
    assert "winner challenger" in capsys.readouterr().out


def test_ab_report_without_an_evaluator_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ab-report", "--stack", "canary", "--dir", str(ROOT)]) == 2
    assert "no A/B endpoint with an evaluator" in capsys.readouterr().err


# --------------------------------------------------------------------------- config and wiring

AB_ERRORS = [
    ({"successes": {"namespace": "N"}}, "strategy.ab.successes.metric: required key is missing"),
    ({"significance": 0.5}, "strategy.ab.significance"),
    ({"min_samples": 5}, "strategy.ab.min_samples"),
    ({"on_winner": "maybe"}, "strategy.ab.on_winner"),
    ({"evaluate_every_minutes": 0}, "strategy.ab.evaluate_every_minutes"),
    ({"successes": None, "on_winner": "promote"}, "strategy.ab.successes: required to evaluate"),
    (
        {"weights": {"control": 100, "challenger": 0, "dark": 0}},
        "needs at least two with a positive weight",
    ),
    (
        {
            "successes": {
                "namespace": "N",
                "metric": "M",
                "dimensions": {f"d{i}": "x" for i in range(29)},
            }
        },
        "at most 30 dimensions",
    ),
]


@pytest.mark.parametrize(("edit", "message"), AB_ERRORS)
def test_ab_settings_are_validated_with_their_key_path(edit: dict[str, Any], message: str) -> None:
    import yaml

    from sagemaker_rollouts.strategies.config import ConfigError, load_config, project_config

    ours, region = project_config(yaml.safe_load((ROOT / "Pulumi.ab.yaml").read_text()))
    ours["endpoints"]["ranker"]["strategy"]["ab"].update(edit)
    with pytest.raises(ConfigError) as err:
        load_config(ours, region=region)
    assert any(message in e for e in err.value.errors), err.value.errors


def test_evaluator_is_wired_only_when_configured() -> None:
    from sagemaker_rollouts.infra import policies
    from tests.infra.test_components import FUNCTION, RULE, run, statements

    plan = load_stack(ROOT, "ab").plan
    result = run(plan)
    fn = [r for r in result.of_type(FUNCTION) if r.name.endswith("-ab-evaluator-function")]
    assert len(fn) == 1
    assert fn[0].inputs["reservedConcurrentExecutions"] == 1
    assert json.loads(fn[0].inputs["environment"]["variables"]["AB_SPEC"])["variants"] == [
        "control",
        "challenger",
    ]
    rules = [r for r in result.of_type(RULE) if r.name.endswith("-ab-evaluator-schedule")]
    assert rules[0].inputs["scheduleExpression"] == "rate(60 minutes)"
    policy = next(
        r
        for r in result.of_type("aws:iam/rolePolicy:RolePolicy")
        if r.name.endswith("-ab-evaluator-policy")
    )
    st_ = statements(policy)
    assert "Promote" not in st_  # on_winner: notify never needs the weights permission
    assert policies.iam_policy_violations(policy.inputs["policy"]) == []
    # Without `successes` the plan asks for no evaluator, no state table and no topic.
    import yaml

    from sagemaker_rollouts.strategies.config import load_config, project_config
    from sagemaker_rollouts.strategies.planner import build_plan

    ours, region = project_config(yaml.safe_load((ROOT / "Pulumi.ab.yaml").read_text()))
    ab = ours["endpoints"]["ranker"]["strategy"]["ab"]
    ours["endpoints"]["ranker"]["strategy"]["ab"] = {"weights": ab["weights"]}
    bare = build_plan(load_config(ours, region=region), project="p", stack="s")
    assert evaluator_of(bare.endpoints[0]) is None
    assert (bare.state_table_name, bare.topic_name) == (None, None)
