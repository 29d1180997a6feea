"""`rollout schema`: the JSON Schema of a stack file, for YAML editors (docs/config.md)."""

from __future__ import annotations

import argparse
import json
import sys

from sagemaker_rollouts.cli.errors import EXIT_OK


def run(args: argparse.Namespace) -> int:
    from sagemaker_rollouts.strategies.schema import config_schema, stack_file_schema

    schema = config_schema() if args.config_only else stack_file_schema()
    sys.stdout.write(json.dumps(schema, indent=2, sort_keys=True) + "\n")
    return EXIT_OK
