#!/usr/bin/env bash
# README command 1: install into .venv, then plan the canary stack and rehearse a regression offline.
# No AWS account, no Pulumi CLI: the plan runs the real program under Pulumi's mocks and the
# rehearsal runs the real controller against moto on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'
mkdir -p out
.venv/bin/rollout plan --stack canary --png out/canary-plan.png
.venv/bin/rollout rehearse --stack canary --scenario scenarios/regression.yaml --png out/regression.png
echo "timeline drawn: out/canary-plan.png, out/regression.png"
