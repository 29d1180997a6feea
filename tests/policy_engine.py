"""A stand-in for `pulumi preview/up --policy-pack policies`: the pack's policies run inside
pulumi_policy's own analyzer servicer (`pulumi_policy.policy._PolicyAnalyzerServicer`, the gRPC
server `PolicyPack` starts), fed the protobuf requests the engine would send.

What the real engine hands a rule, and this stand-in too (pulumi_policy 1.21 `policy.py`,
`Analyze` / `AnalyzeStack`):
- `props` are `deserialize_properties(json_format.MessageToDict(request.properties))` wrapped in
  `unknown_checking_proxy`: `_DictProxy` / `_ListProxy`, a `Mapping` / `Sequence` that are not
  `dict` / `list`; numbers arrive as floats (protobuf `Struct`); secrets arrive unwrapped.
- During preview, values not known yet (ARNs of resources still to be created, and any string a
  program builds from them with `apply`, such as an IAM policy document) are Pulumi's sentinel
  strings; reading one through the proxy raises `UnknownValueError`, which the servicer turns
  into an advisory diagnostic "can't run policy ... during preview" instead of the rule's result.
- Resource rules see inputs; stack rules see outputs (at preview: the inputs, with `id` and
  `arn` unknown, as a bridged provider plans a create).

The requests are built from what the program really registered under mocks
(`RecordedResource.wire_inputs` / `wire_outputs`, the Structs that crossed the mock monitor), from
a normal run (`pulumi up`) or a preview run (`run_offline(..., preview=True)`).
Differences left: the engine runs the provider's Check first (autonames, default tags appear in
inputs); a rule here never depends on those.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi.runtime import proto
from pulumi_policy import EnforcementLevel, Policy
from pulumi_policy.policy import _PolicyAnalyzerServicer  # type: ignore[reportPrivateUsage]
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from sagemaker_rollouts.infra.policy_pack import PACK_NAME, pack_policies
from sagemaker_rollouts.simulator.mockrun import OfflineRun, RecordedResource

PREVIEW_PREFIX = "can't run policy"
_LEVELS = {
    "advisory": proto.ADVISORY,
    "mandatory": proto.MANDATORY,
    "disabled": proto.DISABLED,
}


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One diagnostic of the analyzer: a violation, or a rule that could not run at preview."""

    policy: str
    level: str  # "advisory" | "mandatory"
    urn: str
    message: str

    @property
    def skipped_at_preview(self) -> bool:
        return self.message.startswith(PREVIEW_PREFIX)

    def __str__(self) -> str:
        return f"[{self.level}] {self.policy} {self.urn}: {self.message}"


def servicer(
    policies: list[Policy] | None = None,
    *,
    config: Mapping[str, Any] | None = None,
    stack_tags: Mapping[str, str] | None = None,
) -> Any:
    """The analyzer a `PolicyPack` serves, configured as the engine configures it."""
    srv = _PolicyAnalyzerServicer(
        PACK_NAME, "0.1.0", policies or pack_policies(), EnforcementLevel.MANDATORY
    )
    request = proto.ConfigureAnalyzerRequest()
    for name, entry in (config or {}).items():
        given = entry if isinstance(entry, str) else entry.get("enforcementLevel")
        props = (
            {}
            if isinstance(entry, str)
            else {k: v for k, v in entry.items() if k != "enforcementLevel"}
        )
        pc = request.policyConfig[name]
        if given is not None:
            pc.enforcementLevel = _LEVELS[given]
        pc.properties.update(props)
    if config:
        srv.Configure(request, None)
    srv.ConfigureStack(proto.AnalyzerStackConfigureRequest(tags=dict(stack_tags or {})), None)
    return srv


def _options(r: RecordedResource) -> Any:
    return proto.AnalyzerResourceOptions(
        protect=r.protect,
        ignoreChanges=list(r.ignore_changes),
        deleteBeforeReplace=r.delete_before_replace,
        deleteBeforeReplaceDefined=True,
        parent=r.parent or "",
    )


def _struct(data: Mapping[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(dict(data))
    return s


def _stack_outputs(r: RecordedResource, preview: bool) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.CopyFrom(r.wire_outputs)
    if preview:
        out.update({"id": UNKNOWN_STRING_VALUE, "arn": UNKNOWN_STRING_VALUE})
    elif r.id is not None:
        out.update({"id": r.id})
    return out


def _diagnostics(response: Any) -> list[Diagnostic]:
    names = {proto.ADVISORY: "advisory", proto.MANDATORY: "mandatory"}
    return [
        Diagnostic(d.policyName, names.get(d.enforcementLevel, "?"), d.urn, d.message)
        for d in response.diagnostics
    ]


def analyze_resource(
    srv: Any, typ: str, props: Mapping[str, Any] | struct_pb2.Struct, *, name: str = "r"
) -> list[Diagnostic]:
    """Every resource policy on one resource, as `Analyze` runs them."""
    properties = props if isinstance(props, struct_pb2.Struct) else _struct(props)
    urn = f"urn:pulumi:s::p::{typ}::{name}"
    request = proto.AnalyzeRequest(type=typ, properties=properties, urn=urn, name=name)
    return [
        d if d.urn else Diagnostic(d.policy, d.level, urn, d.message)
        for d in _diagnostics(srv.Analyze(request, None))
    ]


def analyze_stack_resources(srv: Any, resources: Sequence[Any]) -> list[Diagnostic]:
    """Every stack policy, as `AnalyzeStack` runs them (`resources`: AnalyzerResource protos)."""
    return _diagnostics(
        srv.AnalyzeStack(proto.AnalyzeStackRequest(resources=list(resources)), None)
    )


def stack_resource(
    typ: str,
    name: str,
    props: Mapping[str, Any],
    *,
    urn: str = "",
    dependencies: Sequence[str] = (),
) -> Any:
    return proto.AnalyzerResource(
        type=typ,
        name=name,
        urn=urn or f"urn:{name}",
        properties=_struct(props),
        dependencies=list(dependencies),
    )


def analyze_run(
    run: OfflineRun,
    *,
    config: Mapping[str, Any] | None = None,
    stack_tags: Mapping[str, str] | None = None,
) -> list[Diagnostic]:
    """The pack over one program run: `Analyze` per custom resource, then `AnalyzeStack`."""
    srv = servicer(config=config, stack_tags=stack_tags)
    custom = [r for r in run.resources if r.custom]
    out: list[Diagnostic] = []
    for r in custom:
        request = proto.AnalyzeRequest(
            type=r.type, properties=r.wire_inputs, urn=r.urn, name=r.name, options=_options(r)
        )
        out.extend(
            d if d.urn else Diagnostic(d.policy, d.level, r.urn, d.message)
            for d in _diagnostics(srv.Analyze(request, None))
        )
    stack = [
        proto.AnalyzerResource(
            type=r.type,
            properties=_stack_outputs(r, run.preview),
            urn=r.urn,
            name=r.name,
            options=_options(r),
            parent=r.parent or "",
            dependencies=list(r.depends_on),
        )
        for r in custom
    ]
    out.extend(analyze_stack_resources(srv, stack))
    return out


def wire(props: Mapping[str, Any]) -> dict[str, Any]:
    """Plain props as the analyzer's rules read them back from the wire (for assertions)."""
    return json_format.MessageToDict(_struct(props))
