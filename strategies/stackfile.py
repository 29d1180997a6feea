"""Read a `Pulumi.<stack>.yaml` exactly as the Pulumi CLI does, so `rollout plan` and `pulumi up`
never disagree about a file.

The Pulumi CLI parses stack files with go-yaml v2 (`gopkg.in/yaml.v2`, pulumi/pulumi
sdk/go/common/encoding/marshal.go, plain `yaml.Unmarshal`, not `UnmarshalStrict`), re-marshals
the result (workspace/loaders.go `LoadProjectStackBytes`) and hands structured config to the
program as JSON. PyYAML's YAML 1.1 resolver differs from go-yaml v2's (go-yaml v2 resolve.go):

| plain scalar            | PyYAML safe_load | go-yaml v2 (what the program gets) |
|-------------------------|------------------|------------------------------------|
| `y`, `Y`, `n`, `N`      | string           | boolean                            |
| `1:30` (sexagesimal)    | 90               | string "1:30"                      |
| `2024-01-31`            | date             | string (timestamps stay strings)   |
| `1e3`, `08`, `0o17`     | string           | 1000.0, 8.0, 15                    |
| `2.0` after re-marshal  | 2.0              | 2 (floats print as `%g`)           |
| `=`                     | value tag        | string "="                         |

Both keep the last of duplicate keys (go-yaml v2 reports duplicates only in strict mode); this
reader also lists them (`StackYaml.duplicates`) so `rollout plan` can warn.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, cast

import yaml

_BOOL_TRUE = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"}
_BOOL_FALSE = {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"}
_NULL = {"", "~", "null", "Null", "NULL"}
_SPECIAL_FLOATS = {
    ".nan": math.nan,
    ".NaN": math.nan,
    ".NAN": math.nan,
    **{s: math.inf for s in (".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF")},
    **{s: -math.inf for s in ("-.inf", "-.Inf", "-.INF")},
}
_YAML_STYLE_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_TIMESTAMP = re.compile(
    r"\d{4}-\d{1,2}-\d{1,2}([Tt ]\d{1,2}:\d{1,2}:\d{1,2}(\.\d*)?(Z|[-+]\d{1,2}:\d{2})?)?"
)
_GO_TAG = "tag:sagemaker-rollouts,2026:go-yaml-v2"


def _go_parse_int(text: str, *, signed: bool) -> int | None:
    """Go's strconv.ParseInt/ParseUint with base 0: 0x, 0o, 0b and a leading 0 (octal) prefixes."""
    sign = 1
    body = text
    if body[:1] in "+-":
        if not signed and body[0] == "-":
            return None
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if not body:
        return None
    base = 10
    lower = body.lower()
    if lower.startswith(("0x", "0o", "0b")):
        base = {"x": 16, "o": 8, "b": 2}[lower[1]]
        body = body[2:]
    elif len(body) > 1 and body[0] == "0":
        base = 8
        body = body[1:]
    if not body.isalnum():
        return None
    try:
        value = sign * int(body, base)
    except ValueError:
        return None
    limit = 2**63 if signed else 2**64
    if signed and not -limit <= value < limit:
        return None
    if not signed and value >= limit:
        return None
    return value


def go_yaml_v2_scalar(text: str) -> Any:
    """A plain (unquoted) scalar as go-yaml v2 resolves it when decoding into interface{}."""
    if text in _NULL:
        return None
    if text in _BOOL_TRUE:
        return True
    if text in _BOOL_FALSE:
        return False
    if text in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text]
    if text == "<<":
        return text
    first = text[:1]
    if first == ".":
        try:
            return float(text)
        except ValueError:
            return text
    if first.isdigit() or first in "+-":
        if _TIMESTAMP.fullmatch(text):
            return text  # v2 keeps timestamp-like values as strings in interface{}
        plain = text.replace("_", "")
        for signed in (True, False):
            value = _go_parse_int(plain, signed=signed)
            if value is not None:
                return value
        if _YAML_STYLE_FLOAT.fullmatch(plain):
            try:
                return float(plain)
            except ValueError:
                return text
    return text


class _GoYamlV2Loader(yaml.SafeLoader):
    """PyYAML's safe loader with go-yaml v2's implicit resolution and duplicate-key bookkeeping."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[int, str]] = []

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue
            key = cast(Any, self).construct_object(key_node, deep=deep)
            if key in seen:
                self.duplicates.append((key_node.start_mark.line + 1, str(key)))
            seen.add(key)
        return cast(dict[Any, Any], super().construct_mapping(node, deep=deep))  # pyright: ignore[reportUnknownMemberType]


# Every plain scalar resolves to one tag; its constructor applies go-yaml v2's rules.
_GoYamlV2Loader.yaml_implicit_resolvers = {}  # pyright: ignore[reportAttributeAccessIssue]
_GoYamlV2Loader.add_implicit_resolver(  # pyright: ignore[reportUnknownMemberType]
    "tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"]
)
_GoYamlV2Loader.add_implicit_resolver(_GO_TAG, re.compile(r"(?s).*"), None)  # pyright: ignore[reportUnknownMemberType]


def _construct_go(loader: Any, node: Any) -> Any:
    return go_yaml_v2_scalar(str(loader.construct_scalar(node)))  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]


_GoYamlV2Loader.add_constructor(_GO_TAG, cast(Any, _construct_go))  # pyright: ignore[reportUnknownMemberType]
# Explicit !!timestamp / !!str stay strings, as go-yaml v2 gives interface{} targets.


def _construct_text(loader: Any, node: Any) -> Any:
    return str(loader.construct_scalar(node))


# An explicit !!timestamp stays a string, as go-yaml v2 gives interface{} targets.
_GoYamlV2Loader.add_constructor("tag:yaml.org,2002:timestamp", cast(Any, _construct_text))  # pyright: ignore[reportUnknownMemberType]


def _round_trip(value: Any) -> Any:
    """What survives Pulumi's re-marshal: integral floats under 1e6 print as integers (`%g`) and
    come back as ints; non-string map keys become their Go `%v` text."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in cast(dict[Any, Any], value).items():
            if isinstance(k, bool):
                k = "true" if k else "false"
            out[str(_round_trip(k))] = _round_trip(v)
        return out
    if isinstance(value, list):
        return [_round_trip(v) for v in cast(list[Any], value)]
    # Go's FormatFloat(f, 'g', -1, 64) prints integral values below 1e6 without a point or exponent.
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e6:
        return int(value)
    return value


@dataclass(frozen=True, slots=True)
class StackYaml:
    """A parsed stack file: `data` as the Pulumi program receives it, and duplicate keys found
    as (line, key) pairs (Pulumi silently keeps the last)."""

    data: Any
    duplicates: tuple[tuple[int, str], ...] = field(default=())


def read_stack_yaml(text: str) -> StackYaml:
    """Parse stack-file text as the Pulumi CLI does. Raises yaml.YAMLError on invalid YAML."""
    loader = _GoYamlV2Loader(text)
    try:
        data = loader.get_single_data()  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    finally:
        loader.dispose()  # pyright: ignore[reportUnknownMemberType]
    return StackYaml(_round_trip(data), tuple(loader.duplicates))
