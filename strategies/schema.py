"""The JSON Schema of a `Pulumi.<stack>.yaml` for this project, generated from the config model.

YAML editors use it for completion and checks: put
`# yaml-language-server: $schema=<path or URL of the file `rollout schema` wrote>` on the first
line of a stack file. The schema refuses what the model refuses field by field and never refuses
what `rollout plan` accepts (tests/strategies/test_config_docs.py checks both on every sample stack and on
variations of every key); `rollout plan` checks more (relations, AWS limits that span fields, the
range of a number given as a string), so it stays the authority.
"""

from __future__ import annotations

from typing import Any, cast

from sagemaker_rollouts.strategies.config import PROJECT, StackKeys

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _patch_steps(defs: dict[str, Any]) -> None:
    # A canary step is a bare percent or {percent, bake_seconds} (the model turns the first into
    # the second before validating, so pydantic's schema shows only the mapping).
    canary = defs.get("CanaryConfig")
    if canary is None:
        return
    steps = cast(dict[str, Any], canary["properties"]["steps"])
    # `pulumi config set --path '...steps[0]' 10` may store "10": the model parses it (`_step`).
    percent = {"type": "integer", "minimum": 1, "maximum": 100}
    text = {"type": "string", "pattern": r"^\s*[+-]?\d+\s*$"}
    steps["items"] = {"anyOf": [percent, text, steps["items"]]}


_KEYWORDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


def _standard(node: Any) -> Any:
    # Bounds on a type behind a before-validator come out as pydantic's own names (ge, le).
    if isinstance(node, dict):
        items = cast(dict[str, Any], node)
        return {_KEYWORDS.get(k, k): _standard(v) for k, v in items.items()}
    if isinstance(node, list):
        return [_standard(v) for v in cast(list[Any], node)]
    return node


def config_schema() -> dict[str, Any]:
    """The schema of the project's config keys (`endpoints`, `tags`, ...), as a JSON object."""
    return cast(dict[str, Any], _standard(StackKeys.model_json_schema(mode="validation")))


def stack_file_schema() -> dict[str, Any]:
    """The schema of a whole stack file: `config:` with this project's keys, namespaced
    (`sagemaker-rollouts:endpoints`) or not (`endpoints`, which Pulumi namespaces itself), beside
    any other namespace's keys (`aws:region`, ...)."""
    inner = config_schema()
    defs = cast(dict[str, Any], inner.pop("$defs", {}))
    _patch_steps(defs)
    props = cast(dict[str, Any], inner["properties"])
    config_props: dict[str, Any] = {"aws:region": {"type": "string", "description": "AWS region"}}
    for key, sub in props.items():
        if key != "endpoints":  # null means unset (the program reads only what is set)
            sub = {"anyOf": [sub, {"type": "null"}]}
        config_props[f"{PROJECT}:{key}"] = sub
        config_props[key] = sub
    return {
        "$schema": SCHEMA_DIALECT,
        "title": f"Pulumi.<stack>.yaml of a {PROJECT} project",
        "type": "object",
        "properties": {
            "config": {
                "type": "object",
                "properties": config_props,
                "additionalProperties": True,
            },
            "secretsprovider": {"type": "string"},
            "encryptedkey": {"type": "string"},
            "environment": {},
        },
        "additionalProperties": True,
        # `endpoints` is required, unless a Pulumi ESC environment may supply it.
        "if": {"not": {"required": ["environment"]}},
        "then": {
            "required": ["config"],
            "properties": {
                "config": {
                    "anyOf": [{"required": [f"{PROJECT}:endpoints"]}, {"required": ["endpoints"]}]
                }
            },
        },
        "$defs": defs,
    }
