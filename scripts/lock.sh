#!/usr/bin/env bash
# Regenerate requirements/dev.lock: exact versions of everything '.[dev]' pulls in, plus the install
# tools (requirements/tools.in). The lock is for this project's own checks (scripts/demo.sh, .ci/run,
# the GitHub workflows); the package's own `dependencies` in pyproject.toml stay ranges.
#
#   bash scripts/lock.sh            # newest versions the ranges allow
#   bash scripts/lock.sh --upgrade-package botocore   # move one package, keep the rest
#
# Tool: uv's `pip compile` (pinned in the lock itself). It reads pyproject.toml's extras, resolves in a
# few seconds, and with --universal writes one lock with environment markers that holds for every
# platform and Python >= 3.11, so the GitHub runner and this machine install the same set. Installs stay
# plain pip with `--constraint` (PIP_CONSTRAINT), so nothing but pip is needed to use the lock.
set -euo pipefail
cd "$(dirname "$0")/.."
uv=.venv/bin/uv
[ -x "$uv" ] || uv=$(command -v uv) || { echo "no uv: run bash scripts/demo.sh first (it installs uv from the lock)" >&2; exit 2; }
"$uv" pip compile pyproject.toml requirements/tools.in --extra dev --universal --python-version 3.11 \
  --annotation-style line --custom-compile-command "bash scripts/lock.sh" -o requirements/dev.lock "$@"
echo "requirements/dev.lock regenerated; run bash .ci/run before committing it"
