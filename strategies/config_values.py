"""Value types of the stack config: numbers, names, tags and sizes as `pulumi up` hands them over.

Everything here is a single-field rule (pass 1 of `config_load`): a type with its range, pattern
or length from the AWS API model, and the base model every config shape derives from.

AWS limits come from `aws_limits` (generated from botocore's SageMaker and CloudWatch models and
EC2's instance-store table by `scripts/gen_limits.py`); where the AWS provider validates more
strictly than the API (terraform-provider-aws `internal/service/sagemaker/endpoint.go`, which
pulumi-aws bridges), the provider's range is used and cited. No botocore import here.

Types follow what `pulumi up` hands the program: the Pulumi CLI reads stack files with go-yaml v2
and passes structured config as JSON, so integers arrive as numbers, `0.02` set with
`pulumi config set --path` arrives as a string, and unquoted yes/no/on/off/y/n arrive as booleans.
Integers refuse booleans (`instance_count: true` is an error, never 1); numbers in string maps
(environment, tags, dimensions) become strings exactly as the AWS provider would send them.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import json
import math
import re
import sys
import unicodedata
from collections.abc import Mapping
from typing import Annotated, Any, Literal, cast

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    WithJsonSchema,
)
from pydantic.json_schema import (
    DEFAULT_REF_TEMPLATE,
    GenerateJsonSchema,
    JsonSchemaMode,
    JsonSchemaValue,
)
from pydantic_core import CoreSchema, core_schema

from sagemaker_rollouts.strategies import aws_limits

SECRET_PLACEHOLDER = "[secret]"
# A secret the component received as a `pulumi.Output` stands as `[secret:<n>]` until the engine
# resolves it (infra/secrets.py); like `[secret]`, it is unknown to every check here.
_SECRET_TOKEN = re.compile(r"\[secret(:\d+)?\]")


def is_unknown(value: object) -> bool:
    """True for the placeholder of a secret not known here: `[secret]` (an encrypted stack-file
    value offline) or `[secret:<n>]` (a component's secret Output, resolved by the engine)."""
    return isinstance(value, str) and _SECRET_TOKEN.fullmatch(value) is not None


# --------------------------------------------------------------------------- AWS limits


def aws_shape(name: str) -> dict[str, Any]:
    return aws_limits.SHAPES[name]


def aws_limit(name: str, key: str) -> int:
    return int(aws_shape(name)[key])


def hosting_instance_types() -> frozenset[str]:
    """SageMaker's hosting instance types (botocore `ProductionVariantInstanceType`)."""
    return HOSTING_INSTANCE_TYPES


HOSTING_INSTANCE_TYPES = frozenset(aws_limits.ENUMS["sagemaker.ProductionVariantInstanceType"])
_NVME = frozenset(aws_limits.NVME_INSTANCE_TYPES)


def has_local_nvme(instance_type: str) -> bool:
    """True for hosting instance types with local NVMe instance storage (ml.m5d, ml.g5, ml.dl1...).

    Source: EC2's instance-store table for the same instance type (generated into
    `aws_limits.NVME_INSTANCE_TYPES`). On these a KmsKeyId is accepted but "does not encrypt
    instance local storage" (`NVME_KMS_DOC`).
    """
    return instance_type in _NVME


# CreateEndpointConfig KmsKeyId, botocore's SageMaker model (botocore 1.44; the API Reference has the
# same text): "Certain Nitro-based instances include local storage, dependent on the instance type.
# Local storage volumes are encrypted using a hardware module on the instance. If any of the
# models that you specify in the ProductionVariants parameter use nitro-based instances with
# local storage, the KmsKeyId parameter does not encrypt instance local storage." Older text
# said the call fails; the current text does not, so `volume_kms: on` is allowed there, with a
# warning (`volume_kms: auto` leaves the key off, as it would encrypt nothing).
NVME_KMS_DOC = (
    "CreateEndpointConfig KmsKeyId: on nitro-based instances with local storage the key "
    '"does not encrypt instance local storage" (it is encrypted by a hardware module)'
)


# Blue/green and rolling deployment_config ranges where the provider is stricter than the API:
# terraform-provider-aws internal/service/sagemaker/endpoint.go validates
# maximum_execution_timeout_in_seconds with validation.IntBetween(600, 14400) (API: 600..28800).
PROVIDER_MAX_EXECUTION_TIMEOUT = (600, 14400)
# CloudWatch PutMetricAlarm (API reference, "Period" and "EvaluationPeriods"): period x evaluation
# periods may not exceed one day for periods under an hour, and 7 days for longer periods.
CW_WINDOW_SHORT = 86_400
CW_WINDOW_LONG = 604_800
STANDARD_STATISTICS = tuple(aws_limits.ENUMS["cloudwatch.Statistic"])

# CloudWatch extended statistics (User Guide, "CloudWatch statistics definitions"): percentiles
# p0..p100, trimmed mean / winsorized mean / trimmed count / trimmed sum as shorthand (tm99) or
# ranges (TM(10%:90%), tm(150:1000)), percentile rank PR(:300) and IQM.
_NUM = r"\d+(\.\d+)?"
_PCT = r"(\d{1,2}(\.\d+)?|100(\.0+)?)"
_EXTENDED_STAT = re.compile(
    rf"p{_PCT}|(tm|wm|tc|ts|TM|WM|TC|TS){_PCT}"
    rf"|(tm|wm|tc|ts|TM|WM|TC|TS)\(({_PCT}%)?:({_PCT}%)?\)"
    rf"|(tm|wm|tc|ts|TM|WM|TC|TS|pr|PR)\(({_NUM})?:({_NUM})?\)"
    r"|IQM|iqm"
)


def is_extended_statistic(statistic: str) -> bool:
    """True for a CloudWatch extended statistic (p99, tm90, TM(10%:90%), PR(:300), IQM)."""
    return _EXTENDED_STAT.fullmatch(statistic) is not None and statistic not in ("tm(:)", "TM(:)")


# --------------------------------------------------------------------------- value types

# --------------------------------------------------------------------------- value types


def describe_value(value: Any) -> str:
    """A short repr of what the user gave: never a whole list or mapping."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return f"a list of {len(cast(list[Any], value))}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "...'"


QUOTE_HINT = "YAML reads unquoted yes/no/on/off/y/n/true/false as booleans: quote it"


def _whole_number(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"must be a whole number, got {describe_value(value)}")
    return value


def _number(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"must be a number, got {describe_value(value)}")
    return value


def _go_string(value: Any) -> Any:
    """A scalar as the AWS provider turns it into a string (numbers and booleans in string maps)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return json.dumps(int(value) if value.is_integer() else value)
    return value


def _quote_advice(value: float, what: str) -> str:
    """Why a number is refused where a string belongs, and what to write instead. The number has
    lost its spelling on the way: YAML (and Python) read `1.10` as 1.1, and the Pulumi CLI's YAML
    reader hands `2.0` on as 2, so the value cannot tell `1.1` from `1.10` or `2` from `2.0`:
    both spellings are offered, never only the one that may be wrong."""
    other = f"{value}0" if isinstance(value, float) else f"{value}.0"
    return (
        f"must be a string, got the number {describe_value(value)}; YAML reads an unquoted "
        f"{what} as a number and drops trailing zeros (1.10 becomes 1.1, 2.0 becomes 2): "
        f'quote it as you mean it ("{value}" or "{other}")'
    )


def _text(value: Any) -> Any:
    """Strings; a whole number written unquoted (`name: 2024`) is its digits. A boolean, a
    fraction (YAML drops digits: 1.10 is 1.1) and a negative number are refused: quote them."""
    if isinstance(value, bool):
        raise ValueError(f"must be a string, got {describe_value(value)} ({QUOTE_HINT})")
    if isinstance(value, float) or (isinstance(value, int) and value < 0):
        raise ValueError(_quote_advice(value, "value"))
    if isinstance(value, int):
        return str(value)
    return value


class _TextSchema:
    """JSON Schema of `Text`: a string, or a whole number >= 0 (which the model turns into its
    digits); `Matches` drops the number when its pattern takes no digits."""

    def __get_pydantic_json_schema__(
        self, core: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core)
        return {"anyOf": [schema, {"type": "integer", "minimum": 0}]}


def _strict_bool(value: Any) -> Any:
    """true or false (also as the strings "true"/"false" `pulumi config set` may store); never
    0/1, yes/no or on/off strings, which pydantic alone would take."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"must be true or false, got {describe_value(value)}")


# A boolean: true or false (see `_strict_bool`).
Bool = Annotated[
    bool,
    BeforeValidator(_strict_bool),
    WithJsonSchema({"anyOf": [{"type": "boolean"}, {"enum": ["true", "false"]}]}),
]


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {value}")
    return value


class Matches:
    """A pattern check whose message says what is allowed in words; the regex goes into the JSON
    Schema (anchored), so `rollout schema` refuses what the model refuses."""

    def __init__(self, regex: str, what: str) -> None:
        self.regex = regex
        self.what = what
        self.compiled = re.compile(regex)

    def check(self, value: str) -> str:
        if not is_unknown(value) and self.compiled.fullmatch(value) is None:
            raise ValueError(f"must be {self.what}, got {describe_value(value)}")
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, core: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core)
        if "anyOf" in schema and self.compiled.fullmatch("10") is None:
            schema = cast(dict[str, Any], schema["anyOf"][0])  # digits never match: no number
        schema.setdefault("pattern", f"^(?:{self.regex})$")
        return schema


def matches(regex: str, what: str) -> Matches:
    """A pattern check for `Annotated` (see `Matches`)."""
    return Matches(regex, what)


def _sm_name_rules(shape: str) -> tuple[Any, Matches]:
    """Length and pattern of a SageMaker name shape (EndpointName, VariantName) from the API model."""
    pattern = aws_shape(shape)["pattern"]
    length = Field(
        min_length=1,
        max_length=aws_limit(shape, "max"),
        json_schema_extra={"pattern": f"^(?:{pattern})$"},
    )
    words = "letters, digits and hyphens, starting and ending with a letter or digit"
    return length, matches(pattern, f"{words} (SageMaker {shape.removeprefix('sagemaker.')})")


_VARIANT_NAME = _sm_name_rules("sagemaker.VariantName")
_ENDPOINT_NAME = _sm_name_rules("sagemaker.EndpointName")


class _NumericStringSchema:
    """JSON Schema of a number that may also arrive as a numeric string (`pulumi config set
    --path` stores `0.02` as a string; the model parses it). The string's range is the model's
    to check."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern

    def __get_pydantic_json_schema__(
        self, core: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core)
        return {"anyOf": [schema, {"type": "string", "pattern": self.pattern}]}


# A whole number; `pulumi config set --path ... 2` stores "2", which the model parses (so does
# the schema: an editor must not flag what the CLI itself wrote).
Int = Annotated[
    int, BeforeValidator(_whole_number), _NumericStringSchema(r"^\s*[+-]?\d+(\.0*)?\s*$")
]
Number = Annotated[
    float,
    BeforeValidator(_number),
    AfterValidator(_finite),
    _NumericStringSchema(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$"),
]
Text = Annotated[str, BeforeValidator(_text), _TextSchema()]


def _version_text(value: Any) -> Any:
    """A version or image reference must be written as a string: YAML reads `1.10` as the number
    1.1 and `2.0` as 2, so an unquoted version would silently name another release."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(_quote_advice(value, "version"))
    return _text(value)


# Versions and image references: never a number (see `_version_text`).
VersionText = Annotated[str, BeforeValidator(_version_text)]
# Numbers and booleans are fine in string maps: the provider sends them as strings.
MapValue = Annotated[
    str,
    BeforeValidator(_go_string),
    WithJsonSchema({"type": ["string", "number", "boolean"]}),
]
Percent = Annotated[Int, Field(ge=0, le=100)]
Seconds = Annotated[Int, Field(ge=0)]
Name = Annotated[str, BeforeValidator(_text), _TextSchema(), _VARIANT_NAME[0], _VARIANT_NAME[1]]
EndpointName = Annotated[
    str, BeforeValidator(_text), _TextSchema(), _ENDPOINT_NAME[0], _ENDPOINT_NAME[1]
]


def _tag_chars(value: str) -> str:
    # SageMaker TagKey/TagValue pattern ([\p{L}\p{Z}\p{N}_.:/=+\-@]*): letters, spaces, digits, _.:/=+-@
    for ch in value:
        if unicodedata.category(ch)[0] not in "LZN" and ch not in "_.:/=+-@":
            raise ValueError(
                f"may hold letters, digits, spaces and _ . : / = + - @ only, got {ch!r} "
                "(SageMaker TagKey/TagValue)"
            )
    return value


def _tag_key(value: str) -> str:
    if value.lower().startswith("aws:"):
        raise ValueError("the aws: prefix is reserved for AWS's own tags")
    return _tag_chars(value)


TagKey = Annotated[
    str,
    Field(
        min_length=aws_limit("sagemaker.TagKey", "min"),
        max_length=aws_limit("sagemaker.TagKey", "max"),
    ),
    AfterValidator(_tag_key),
]
TagValue = Annotated[
    MapValue, Field(max_length=aws_limit("sagemaker.TagValue", "max")), AfterValidator(_tag_chars)
]
Tags = Annotated[dict[TagKey, TagValue], Field(max_length=aws_limit("sagemaker.TagList", "max"))]

EnvKey = Annotated[
    str,
    Field(max_length=aws_limit("sagemaker.EnvironmentKey", "max")),
    matches(
        aws_shape("sagemaker.EnvironmentKey")["pattern"],
        "a letter or _ followed by letters, digits or _ (SageMaker EnvironmentKey)",
    ),
]
EnvValue = Annotated[MapValue, Field(max_length=aws_limit("sagemaker.EnvironmentValue", "max"))]


# --------------------------------------------------------------------------- shapes (pass 1)

# --------------------------------------------------------------------------- shapes


def aws_length(shape: str) -> Any:
    """min/max length of a string or list shape from the API model."""
    return Field(min_length=aws_limit(shape, "min"), max_length=aws_limit(shape, "max"))


# Every config shape in the order it was defined: a shape's nested shapes come before it.
_SHAPES: list[type[ConfigModel]] = []
_described = False


class ConfigModel(BaseModel):
    """The base of every config shape: unknown keys refused, values frozen.

    A field's docstring (the string right under it) is its description in `rollout schema` and
    docs/config.md. They are read from the source when a JSON Schema is first asked for
    (`describe_fields`), not when the class is made: pydantic's `use_attribute_docstrings` reads
    them at class creation by walking frames and parsing each class's source, about 90 ms of
    every `rollout` command that validates a stack (bench/bench_cli.py), for text only the schema
    shows. Validation and its messages never use descriptions.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        _SHAPES.append(cls)
        if _described:  # a shape made after the schema was first asked for (a subclass)
            _describe(cls, {})

    @classmethod
    def model_json_schema(
        cls,
        by_alias: bool | None = None,
        ref_template: str = DEFAULT_REF_TEMPLATE,
        schema_generator: type[GenerateJsonSchema] = GenerateJsonSchema,
        mode: JsonSchemaMode = "validation",
        *,
        union_format: Literal["any_of", "primitive_type_array"] = "any_of",
    ) -> dict[str, Any]:
        """pydantic's JSON Schema, with every field's docstring as its description."""
        describe_fields()
        return super().model_json_schema(
            by_alias, ref_template, schema_generator, mode, union_format=union_format
        )


def describe_fields() -> None:
    """Give every config shape's fields their docstrings as descriptions, as pydantic's
    `use_attribute_docstrings` does (a description given otherwise wins; an inherited field
    keeps its parent's), and rebuild each shape's schema, nested shapes first. Once."""
    global _described
    if _described:
        return
    sources: dict[str, ast.Module | None] = {}
    for shape in _SHAPES:
        _describe(shape, sources)
    _described = True


def _describe(shape: type[ConfigModel], sources: dict[str, ast.Module | None]) -> None:
    docs = _attribute_docstrings(shape, sources)
    own = inspect.get_annotations(shape)
    for name, info in shape.model_fields.items():
        if info.description is not None:
            continue
        if name in own:
            info.description = docs.get(name)
        else:  # inherited: the parent's field, described before this shape
            info.description = next(
                (
                    base.model_fields[name].description
                    for base in shape.__mro__[1:]
                    if issubclass(base, ConfigModel) and name in base.model_fields
                ),
                None,
            )
    shape.model_rebuild(force=True)


def _attribute_docstrings(
    shape: type[BaseModel], sources: dict[str, ast.Module | None]
) -> dict[str, str]:
    """{field: docstring} of the class body of `shape`: a string statement right after an
    annotated assignment documents it (pydantic's `_docs_extraction.DocstringVisitor` rule)."""
    module = sys.modules.get(shape.__module__)
    path = getattr(module, "__file__", None)
    if path is None:
        return {}
    if path not in sources:
        try:
            with open(path, encoding="utf-8") as f:
                sources[path] = ast.parse(f.read())
        except (OSError, SyntaxError):
            sources[path] = None
    tree = sources[path]
    if tree is None:
        return {}
    body = next(
        (
            node.body
            for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef) and node.name == shape.__name__
        ),
        list[ast.stmt](),
    )
    docs: dict[str, str] = {}
    for before, stmt in itertools.pairwise(body):
        if (
            isinstance(before, ast.AnnAssign)
            and isinstance(before.target, ast.Name)
            and isinstance(stmt, ast.Expr)
            and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str)
        ):
            docs[before.target.id] = inspect.cleandoc(stmt.value.value)
    return docs


class Size(ConfigModel):
    """A capacity size: a share of the fleet or a number of instances (botocore CapacitySize)."""

    type: Literal["capacity_percent", "instance_count"] = "capacity_percent"
    """capacity_percent (of the fleet) or instance_count."""
    value: Annotated[Int, Field(ge=aws_limit("sagemaker.CapacitySizeValue", "min"))]
    """The size, in the unit of type."""


WAIT_INTERVAL = aws_shape("sagemaker.WaitIntervalInSeconds")
TERMINATION_WAIT = aws_shape("sagemaker.TerminationWaitInSeconds")
WaitSeconds = Annotated[Int, Field(ge=WAIT_INTERVAL["min"], le=WAIT_INTERVAL["max"])]
Timeout = Annotated[
    Int, Field(ge=PROVIDER_MAX_EXECUTION_TIMEOUT[0], le=PROVIDER_MAX_EXECUTION_TIMEOUT[1])
]

TreatMissing = Literal["breaching", "notBreaching", "ignore", "missing"]
Period = Annotated[Int, Field(ge=aws_limit("cloudwatch.Period", "min"))]
