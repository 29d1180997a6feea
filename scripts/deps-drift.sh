#!/usr/bin/env bash
# Dependency drift check: install the NEWEST versions pyproject.toml's ranges allow (not the lock) into
# a throw-away venv, then ask what changed that matters:
#   1. the AWS limits we generate from botocore (scripts/gen_limits.py --check names each one);
#   2. the test suite against those newest versions;
#   3. which locked versions are behind (informational).
# Run weekly by .github/workflows/deps-drift.yml; locally: bash scripts/deps-drift.sh
set -uo pipefail
cd "$(dirname "$0")/.."
venv=${DRIFT_VENV:-.venv-drift}
rm -rf "$venv"
python3 -m venv "$venv"
# No lock here on purpose: PIP_CONSTRAINT empty overrides any constraint from the environment.
PIP_CONSTRAINT="" PYTHONWARNINGS="ignore:Editable installation" \
  "$venv/bin/python" -m pip install --quiet --upgrade pip
PIP_CONSTRAINT="" PYTHONWARNINGS="ignore:Editable installation" \
  "$venv/bin/python" -m pip install --quiet -e '.[dev]'
failed=()
echo "== newest allowed versions that differ from requirements/dev.lock"
"$venv/bin/python" - <<'PY'
import re
from importlib import metadata
pins = {}
for line in open("requirements/dev.lock"):
    m = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;]+)", line)
    if m:
        pins.setdefault(m[1].lower().replace("_", "-"), set()).add(m[2])
for dist in sorted(metadata.distributions(), key=lambda d: d.metadata["Name"].lower()):
    name = dist.metadata["Name"].lower().replace("_", "-")
    if name in pins and dist.version not in pins[name]:
        print(f"  {name}: locked {'/'.join(sorted(pins[name]))}, newest allowed {dist.version}")
PY
echo "== AWS limits (scripts/gen_limits.py --check)"
"$venv/bin/python" scripts/gen_limits.py --check || failed+=("AWS limits changed: run '$venv/bin/python scripts/gen_limits.py', review strategies/aws_limits.py, commit it")
echo "== tests against the newest allowed versions"
MPLBACKEND=Agg "$venv/bin/python" -m pytest -q -p no:cacheprovider || failed+=("tests fail on the newest allowed versions: fix the code or narrow the range in pyproject.toml")
if [ ${#failed[@]} -gt 0 ]; then
  echo
  echo "DEPENDENCY DRIFT: something real changed upstream. To do:"
  for f in "${failed[@]}"; do echo "  - $f"; done
  echo "  - then move the lock: bash scripts/lock.sh --upgrade, and bash .ci/run"
  exit 1
fi
echo "no drift that matters: 'bash scripts/lock.sh --upgrade' may move the lock safely"
