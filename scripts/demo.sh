#!/usr/bin/env bash
# README command 1: install into .venv, then plan the canary stack, rehearse a regression offline and
# compare the canary with blue/green on the same regression.
# No AWS account, no Pulumi CLI: the plan runs the real program under Pulumi's mocks and the
# rehearsal runs the real controller against moto on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
# Exact versions from the lock (bash scripts/lock.sh regenerates it), for pip and for the build
# environment of the editable install alike: the same set on any day.
export PIP_CONSTRAINT="$PWD/requirements/dev.lock"
# setuptools announces on every editable install that a folder named like the package
# (sagemaker_rollouts/, whose infra/strategies/lambdas links are the point) may shadow it: by design here.
export PYTHONWARNINGS="ignore:Editable installation"
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]' -r requirements/tools.in
unset PYTHONWARNINGS
mkdir -p out
.venv/bin/rollout plan --stack canary --png out/canary-plan.png
.venv/bin/rollout rehearse --stack canary --scenario scenarios/regression.yaml --png out/regression.png
# The same regression against the canary and blue/green: time to 100%, extra instance-hours, and how
# many requests the bad model answered before traffic left it.
.venv/bin/rollout rehearse --scenario scenarios/compare-regression.yaml --png out/compare.png
echo "timelines drawn: out/canary-plan.png, out/regression.png, out/compare.png"
