"""Run the real Pulumi program in-process under mocks: no Pulumi CLI, no AWS account.

`run_offline` is what `rollout plan` and the infra tests use. It executes `sagemaker_rollouts.infra.program.main`,
the same function `__main__.py` runs under `pulumi up`, against a recording `pulumi.runtime.Mocks`
and returns every resource the program declared, with its inputs as the engine would receive them
(camelCase keys, e.g. `productionVariants`) and the resource options the engine would apply
(parent, dependencies, delete-before-replace, replace-on-changes).

How a program can run many times in one process: the Pulumi runtime keeps its settings, config
and root stack in context variables. Each run happens on a worker thread inside a *copy* of the
caller's context, with its own event loop; the run resets the options, installs a fresh mock
monitor and config, and runs the program through `run_in_stack` exactly as the language host does.
Nothing it sets leaks back into the caller or into the next run.

Secrets: values Pulumi marks secret (secret config, `pulumi.Output.secret`) are kept as `Secret`
wrappers inside `inputs` and `outputs`; their repr is `[secret]`, and `redacted()` gives JSON-able
data with `"[secret]"` in their place. Encrypted stack-file values (`secure: v1:...`) cannot be
decrypted offline: they become the placeholder `"[secret]"` and their key is marked secret.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_in_stack

from sagemaker_rollouts.infra import awareness, aws_loader, gc_policy, scaling_guard
from sagemaker_rollouts.strategies.config import SECRET_PLACEHOLDER, strip_secure
from sagemaker_rollouts.strategies.stackfile import read_stack_yaml

if TYPE_CHECKING:  # the policy rules are imported by the callers that check them, not by `plan`
    from sagemaker_rollouts.infra import policies

ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"
_STACK_TYPE = "pulumi:pulumi:Stack"

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Secret:
    """A value Pulumi marked secret. Prints as `[secret]`; `.value` holds the plain value."""

    value: Any

    def __repr__(self) -> str:
        return SECRET_PLACEHOLDER

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class RecordedResource:
    """One resource the program registered, as the engine would have seen it."""

    type: str  # token, e.g. "aws:sagemaker/endpoint:Endpoint"
    name: str  # logical name
    urn: str
    custom: bool  # False for ComponentResources
    inputs: dict[str, Any]  # camelCase keys; secrets as `Secret`
    id: str | None
    parent: str | None  # parent URN
    depends_on: tuple[str, ...]  # URNs of explicit and implicit dependencies
    delete_before_replace: bool
    replace_on_changes: tuple[str, ...]
    ignore_changes: tuple[str, ...]
    protect: bool
    provider: str | None = None  # provider reference `urn::id` (explicit or inherited from parent)
    retain_on_delete: bool = False
    import_id: str | None = None  # the `import_` option: adopt an existing resource by id
    replacement_trigger: Any = None  # the `replacement_trigger` option's value, if any
    # The inputs and outputs as protobuf Structs, exactly as they crossed the wire (unknowns as
    # Pulumi's sentinel strings, secrets in their envelopes): what the engine hands a policy
    # analyzer (`pulumi_policy`'s `Analyze` / `AnalyzeStack`), see tests/policy_engine.py.
    wire_inputs: Any = field(default=None, compare=False, repr=False)
    wire_outputs: Any = field(default=None, compare=False, repr=False)

    def redacted(self) -> dict[str, Any]:
        """JSON-able inputs with every secret replaced by `"[secret]"` (what the CLI prints)."""
        return redact(self.inputs)


@dataclass(slots=True)
class OfflineRun:
    """The result of one offline run. `error` is the exception the program raised, if any."""

    resources: list[RecordedResource]
    outputs: dict[str, Any]
    error: BaseException | None
    stack: str
    project: str
    config: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list[str])  # what the program `pulumi.log.warn`ed
    preview: bool = False  # run as `pulumi preview` of a first deployment (outputs unknown)

    def of_type(self, token: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == token]

    def named(self, name: str) -> RecordedResource:
        for r in self.resources:
            if r.name == name:
                return r
        raise KeyError(name)

    def children_of(self, parent: RecordedResource) -> list[RecordedResource]:
        return [r for r in self.resources if r.parent == parent.urn]

    def policy_resources(self) -> list[policies.Resource]:
        """Every custom resource as the policy rules see it (inputs; the mock id as `id`)."""
        from sagemaker_rollouts.infra import policies

        return [
            policies.Resource(
                r.type,
                r.name,
                {**r.inputs, "id": r.id} if r.id is not None and "id" not in r.inputs else r.inputs,
                urn=r.urn,
                depends_on=r.depends_on,
            )
            for r in self.resources
            if r.custom
        ]

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error


def redact(value: Any) -> Any:
    """A JSON-able copy of recorded inputs/outputs with secrets shown as `"[secret]"`."""
    match value:
        case Secret():
            return SECRET_PLACEHOLDER
        case Mapping():
            return {str(k): redact(v) for k, v in value.items()}  # type: ignore[reportUnknownVariableType]
        case list() | tuple():
            return [redact(v) for v in value]  # type: ignore[reportUnknownVariableType]
        case pulumi.AssetArchive():
            return {"archive": sorted(value.assets)}
        case pulumi.Asset() | pulumi.Archive():
            return repr(value)
        case _:
            return value


def _unwrap(value: Any) -> Any:
    """Deserialized mock values with Pulumi's secret envelopes turned into `Secret`."""
    if rpc.is_rpc_secret(value):
        return Secret(_unwrap(rpc.unwrap_rpc_secret(value)))
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}  # type: ignore[reportUnknownVariableType]
    if isinstance(value, list):
        return [_unwrap(v) for v in value]  # type: ignore[reportUnknownVariableType]
    return value


# ---------------------------------------------------------------------------------------------
# The recording mocks


def _arn(service: str, region: str, resource: str, *, account: str = ACCOUNT_ID) -> str:
    return f"arn:aws:{service}:{region}:{account}:{resource}"


def _physical_name(args: pulumi_mocks.MockResourceArgs, key: str = "name") -> str:
    """The explicit name input, or a plausible autoname (logical name + stable suffix)."""
    given = args.inputs.get(key)
    if isinstance(given, str) and given:
        return given
    suffix = hashlib.sha256(f"{args.typ}/{args.name}".encode()).hexdigest()[:7]
    return f"{args.name}-{suffix}"


# Resources AWS gives a name and an ARN made from it: type -> (service, ARN resource part).
_NAMED: dict[str, tuple[str, Callable[[str], str]]] = {
    "aws:dynamodb/table:Table": ("dynamodb", lambda n: f"table/{n}"),
    "aws:cloudwatch/logGroup:LogGroup": ("logs", lambda n: f"log-group:{n}"),
    "aws:cloudwatch/eventRule:EventRule": ("events", lambda n: f"rule/{n}"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("cloudwatch", lambda n: f"alarm:{n}"),
    "aws:sagemaker/model:Model": ("sagemaker", lambda n: f"model/{n.lower()}"),
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": (
        "sagemaker",
        lambda n: f"endpoint-config/{n.lower()}",
    ),
    "aws:sagemaker/endpoint:Endpoint": ("sagemaker", lambda n: f"endpoint/{n.lower()}"),
}


def _assign(args: pulumi_mocks.MockResourceArgs, state: dict[str, Any], name: str, r: str) -> str:
    """Add to `state` the outputs AWS would assign (ids, ARNs, names); the resource's id."""
    typ = args.typ
    named = _NAMED.get(typ)
    if named is not None:
        service, resource = named
        state.update(name=name, arn=_arn(service, r, resource(name)))
        return name
    rid = name
    match typ:
        case "aws:kms/key:Key":
            rid = hashlib.sha256(args.name.encode()).hexdigest()[:32]
            rid = f"{rid[:8]}-{rid[8:12]}-{rid[12:16]}-{rid[16:20]}-{rid[20:32]}"
            state.update(keyId=rid, arn=_arn("kms", r, f"key/{rid}"))
        case "aws:kms/alias:Alias":
            state.update(arn=_arn("kms", r, name))
        case "aws:s3/bucket:Bucket":
            bucket = _physical_name(args, "bucket")
            prefix = args.inputs.get("bucketPrefix")
            if not args.inputs.get("bucket") and isinstance(prefix, str) and prefix:
                # the provider: prefix + a 26-character unique suffix (plugin SDK
                # id.PrefixedUniqueId, UniqueIDSuffixLength), as infra/limits.py counts it
                digest = hashlib.sha256(f"{args.typ}/{args.name}".encode()).hexdigest()
                bucket = prefix + digest[:26]
            rid = bucket
            state.update(
                bucket=bucket,
                arn=f"arn:aws:s3:::{bucket}",
                bucketDomainName=f"{bucket}.s3.amazonaws.com",
                region=r,
            )
        case "aws:sns/topic:Topic":
            rid = _arn("sns", r, name)
            state.update(name=name, arn=rid)
        case "aws:iam/role:Role":
            state.update(name=name, arn=f"arn:aws:iam::{ACCOUNT_ID}:role/{name}")
        case "aws:iam/policy:Policy":
            rid = f"arn:aws:iam::{ACCOUNT_ID}:policy/{name}"
            state.update(name=name, arn=rid)
        case "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            host = str(args.inputs.get("url", "")).removeprefix("https://")
            rid = f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{host}"
            state.update(arn=rid)
        case "aws:iam/rolePolicy:RolePolicy":
            rid = f"{args.inputs.get('role', 'role')}:{name}"
            state.update(name=name)
        case "aws:lambda/function:Function":
            arn = _arn("lambda", r, f"function:{name}")
            state.update(name=name, arn=arn, invokeArn=arn, qualifiedArn=f"{arn}:$LATEST")
        case _:
            service = typ.split(":")[1].split("/")[0]
            state.setdefault("arn", _arn(service, r, name))
    return rid


class RecordingMocks(pulumi_mocks.Mocks):
    """Echoes inputs back as outputs and adds the ids, ARNs and names AWS would assign.

    `preview`: as `pulumi preview` of a stack's first deployment, where every resource is a
    create: the outputs are the inputs only, and the id and every computed output (ARNs,
    autonames) are unknown, so whatever the program derives from them is unknown too.
    """

    def __init__(self, region: str, *, preview: bool = False) -> None:
        self.region = region
        self.preview = preview

    def new_resource(
        self, args: pulumi_mocks.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        if not args.custom:
            return None, {}
        state: dict[str, Any] = dict(args.inputs)
        if self.preview:
            # An empty id is unknown during preview (pulumi.runtime.resource: "TFBridge in
            # particular is known to send the empty string as an ID when doing a preview").
            return "", {k: v for k, v in state.items() if v is not None}
        name = _physical_name(args)
        rid = _assign(args, state, name, self.region)
        return f"{rid}", state

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        # The SDK's mock monitor iterates the failures list: return [] rather than None.
        match args.token:
            case "aws:index/getCallerIdentity:getCallerIdentity":
                arn = f"arn:aws:iam::{ACCOUNT_ID}:user/offline"
                return {"accountId": ACCOUNT_ID, "arn": arn, "id": ACCOUNT_ID, "userId": "AIDA"}, []
            case "aws:index/getPartition:getPartition":
                out = {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
                return out | {"reverseDnsPrefix": "com.amazonaws"}, []
            case "aws:index/getRegion:getRegion":
                return {"name": self.region, "region": self.region, "id": self.region}, []
            case _:
                return {}, []


def _trigger(request: Any) -> Any:
    if not request.HasField("replacement_trigger"):
        return None
    return json_format.MessageToDict(request.replacement_trigger)


class RecordingEngine(pulumi_mocks.MockEngine):
    """The SDK's mock engine, keeping the program's warnings (`pulumi.log.warn`) as data."""

    def __init__(self) -> None:
        super().__init__(logging.getLogger("pulumi.offline"))
        self.warnings: list[str] = []

    def Log(self, request: Any) -> None:
        from pulumi.runtime.proto import engine_pb2

        if request.severity == engine_pb2.WARNING:
            self.warnings.append(str(request.message))
        else:
            super().Log(request)


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, also keeping the registration options and the stack's outputs."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.recorded: list[RecordedResource] = []
        self.stack_outputs: dict[str, Any] = {}
        self._stack_urn: str | None = None
        # The SDK's mock monitor runs on executor threads and gives each one its own event loop
        # (pulumi.runtime.sync_await._ensure_event_loop) that nobody closes; left to the garbage
        # collector, such a loop prints "Exception ignored in: BaseEventLoop.__del__" at exit.
        # The run owns them: `close_thread_loops` closes every one once the program is done.
        self._thread_loops: dict[int, asyncio.AbstractEventLoop] = {}
        self._loops_lock = threading.Lock()

    def _note_thread_loop(self) -> None:
        if threading.current_thread() is threading.main_thread():
            return
        try:
            loop = asyncio.get_event_loop()
        except RuntimeError:  # no loop on this thread: nothing to own
            return
        with self._loops_lock:
            self._thread_loops[id(loop)] = loop

    def close_thread_loops(self) -> None:
        """Close the event loops the SDK opened on executor threads (call after the run)."""
        with self._loops_lock:
            loops = list(self._thread_loops.values())
            self._thread_loops.clear()
        for loop in loops:
            if not loop.is_closed() and not loop.is_running():
                loop.close()

    def Invoke(self, request: Any) -> Any:
        try:
            return super().Invoke(request)
        finally:
            self._note_thread_loop()

    def ReadResource(self, request: Any) -> Any:
        try:
            return super().ReadResource(request)
        finally:
            self._note_thread_loop()

    def RegisterResource(self, request: Any) -> Any:
        try:
            return self._register(request)
        finally:
            self._note_thread_loop()

    def _register(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type == _STACK_TYPE:
            self._stack_urn = response.urn
            return response
        inputs = _unwrap(rpc.deserialize_properties(request.object))
        self.recorded.append(
            RecordedResource(
                type=request.type,
                name=request.name,
                urn=response.urn,
                custom=bool(request.custom),
                inputs=inputs,
                id=response.id or None,
                parent=request.parent or None,
                depends_on=tuple(request.dependencies),
                delete_before_replace=bool(request.deleteBeforeReplace),
                replace_on_changes=tuple(request.replaceOnChanges),
                ignore_changes=tuple(request.ignoreChanges),
                protect=bool(request.protect),
                provider=request.provider or None,
                retain_on_delete=bool(request.retainOnDelete),
                import_id=request.importId or None,
                replacement_trigger=_trigger(request),
                wire_inputs=request.object,
                wire_outputs=response.object,
            )
        )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        if request.urn == self._stack_urn:
            self.stack_outputs = _unwrap(rpc.deserialize_properties(request.outputs))
        return super().RegisterResourceOutputs(request)


# ---------------------------------------------------------------------------------------------
# Stack files and config


def stack_name_of(stack_file: Path) -> str:
    """`Pulumi.canary.yaml` -> `canary`."""
    name = stack_file.name
    if name.startswith("Pulumi.") and name.endswith((".yaml", ".yml")):
        return name.removeprefix("Pulumi.").rsplit(".", 1)[0]
    return stack_file.stem


def pulumi_config(raw: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """A stack file's `config:` map as Pulumi's runtime holds it: every value a string
    (structured values JSON-encoded), plus the keys that are secret."""
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in raw.items():
        plain, secret = strip_secure(value)
        config[key] = plain if isinstance(plain, str) else json.dumps(plain)
        if secret:
            secret_keys.append(key)
    return config, secret_keys


def read_stack_config(stack_file: Path, project: str = "sagemaker-rollouts") -> dict[str, Any]:
    """The `config:` map of a `Pulumi.<stack>.yaml` file (empty when it has none), read as the
    Pulumi CLI reads it (go-yaml v2 rules, `strategies.stackfile`), keys without a namespace
    given the project's (`endpoints` -> `<project>:endpoints`, as Pulumi does)."""
    data = read_stack_yaml(stack_file.read_text()).data or {}
    if not isinstance(data, dict):
        raise ValueError(f"{stack_file}: expected a mapping at the top level")
    config = data.get("config") or {}  # type: ignore[reportUnknownMemberType]
    if not isinstance(config, dict):
        raise ValueError(f"{stack_file}: `config` must be a mapping")
    return {
        (str(k) if ":" in str(k) else f"{project}:{k}"): v  # type: ignore[reportUnknownArgumentType]
        for k, v in config.items()  # type: ignore[reportUnknownVariableType]
    }


# ---------------------------------------------------------------------------------------------
# Running


@contextmanager
def _fresh_loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        for task in asyncio.all_tasks(loop):
            task.cancel()
            with suppress(BaseException):
                loop.run_until_complete(task)
        loop.close()
        asyncio.set_event_loop(None)


def _run_in_context(
    fn: Callable[[], Any],
    *,
    project: str,
    stack: str,
    config: dict[str, str],
    secret_keys: list[str],
    outcomes: awareness.OutcomeReader,
    endpoints: awareness.EndpointReader,
    preview: bool = False,
    root_directory: str | None = None,
    scaling: scaling_guard.ScalingRegistry | None = None,
) -> OfflineRun:
    region = config.get("aws:region") or DEFAULT_REGION
    monitor = RecordingMonitor(RecordingMocks(region, preview=preview))
    engine = RecordingEngine()
    settings.reset_options(project=project, stack=stack, preview=preview, organization="offline")
    settings.configure(
        pulumi_mocks.MockSettings(
            monitor=monitor,
            monitor_features=set(monitor.GetDeploymentInfo(None).supportedFeatures),
            engine=engine,
            project=project,
            stack=stack,
            dry_run=preview,
            organization="offline",
            callbacks=None,
            root_directory=root_directory,  # `pulumi.get_root_directory()`: where Pulumi.yaml is
        )
    )
    set_all_config(config, secret_keys)
    awareness.set_reader_override(outcomes)
    awareness.set_endpoint_reader_override(endpoints)
    scaling_guard.set_override(scaling_guard.NoScaling() if scaling is None else scaling)
    error: BaseException | None = None
    try:
        with _fresh_loop() as loop:
            try:
                loop.run_until_complete(run_in_stack(fn))
            except Exception as exc:  # the program's own error is the result, not a crash
                error = exc
    finally:
        monitor.close_thread_loops()
    # Registration order depends on asyncio scheduling; names start with their component's name,
    # so sorting by name keeps each endpoint's resources together and the order stable.
    return OfflineRun(
        resources=sorted(monitor.recorded, key=lambda r: (r.name, r.type)),
        outputs=dict(monitor.stack_outputs),
        error=error,
        stack=stack,
        project=project,
        config=config,
        warnings=engine.warnings,
        preview=preview,
    )


def run_function_offline(
    fn: Callable[[], Any],
    *,
    config: Mapping[str, Any] | None = None,
    outcomes: awareness.OutcomeReader | None = None,
    project: str = "sagemaker-rollouts",
    stack: str = "offline",
    endpoints: awareness.EndpointReader | None = None,
    preview: bool = False,
    root_directory: str | None = None,
    scaling: scaling_guard.ScalingRegistry | None = None,
) -> OfflineRun:
    """Run any Pulumi function (e.g. `lambda: render(plan)`) under recording mocks.

    `config` is a stack file's `config:` map (structured values allowed). `outcomes` answers
    deploy-time awareness; by default no rollout has any recorded outcome (never calls AWS).
    `preview`: run as the preview of a first deployment (see `RecordingMocks`).
    `root_directory`: the project directory the program sees (default: none, as in unit tests).
    """
    flat, secret_keys = pulumi_config(config or {})
    reader: awareness.OutcomeReader = outcomes if outcomes is not None else awareness.no_outcomes
    ctx = contextvars.copy_context()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(
            ctx.run,
            _run_in_context,
            fn,
            project=project,
            stack=stack,
            config=flat,
            secret_keys=secret_keys,
            outcomes=reader,
            endpoints=awareness.no_endpoints if endpoints is None else endpoints,
            preview=preview,
            root_directory=root_directory,
            scaling=scaling_guard.NoScaling() if scaling is None else scaling,
        )
        return future.result()


def run_offline(
    stack_file: Path | None = None,
    *,
    config: Mapping[str, Any] | None = None,
    outcomes: awareness.OutcomeReader | None = None,
    project: str = "sagemaker-rollouts",
    stack: str | None = None,
    endpoints: awareness.EndpointReader | None = None,
    preview: bool = False,
    scaling: scaling_guard.ScalingRegistry | None = None,
) -> OfflineRun:
    """Run the real program (`sagemaker_rollouts.infra.program.main`) under mocks with a stack's config.

    `config` entries are merged over the stack file's `config:` map. The stack name defaults to
    the file's (`Pulumi.<stack>.yaml`). Invalid config surfaces as `error` with no resources.
    """
    raw: dict[str, Any] = {} if stack_file is None else read_stack_config(stack_file, project)
    raw.update(config or {})
    if stack is None:
        stack = "offline" if stack_file is None else stack_name_of(stack_file)

    reader: awareness.OutcomeReader = outcomes if outcomes is not None else awareness.no_outcomes

    def program() -> None:
        from sagemaker_rollouts.infra.program import (
            main,  # imported here: the mocks are in place by now
        )

        main(outcomes=reader)

    # The same collector policy as the project's `__main__.py` (full collections made rare:
    # infra/gc_policy.py), for this run only: the caller's own settings come back afterwards.
    # pulumi_aws's service packages are loaded class by class, as `__main__.py` has them
    # (infra/aws_loader.py), for this run only: the finder is removed afterwards.
    with gc_policy.rare_full_collections(), aws_loader.installed():
        return run_function_offline(
            program,
            config=raw,
            outcomes=reader,
            project=project,
            stack=stack,
            endpoints=endpoints,
            preview=preview,
            root_directory=None if stack_file is None else str(stack_file.resolve().parent),
            scaling=scaling,
        )
