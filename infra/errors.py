"""Errors a user caused, as Pulumi's Python language host shows them: the message, no traceback.

Pulumi runs a Python program through `pulumi-language-python-exec` (pulumi/pulumi,
`sdk/python/cmd/pulumi-language-python-exec`): `except pulumi.RunError as e:
pulumi.log.error(str(e))`, while any other exception is logged as "Program failed with an
unhandled exception:" followed by its traceback. So every error that asks the user to change
something (stack config, component args, AWS credentials, a rolled-back candidate) must be a
`pulumi.RunError` by the time it leaves the program or the component, and its message must read
like `rollout plan`'s: first line what and where, then one `key.path: message` per line.

The pure core (`strategies/`) cannot import pulumi, so its `ConfigError` stays a `ValueError`;
this module turns it into `StackConfigError` / `ComponentArgsError` at the boundary. Both are
still `ConfigError`s (with `.errors`), so callers and tests that catch `ConfigError` keep working.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi

from sagemaker_rollouts.strategies.config import ConfigError

__all__ = [
    "AwsReadError",
    "ComponentArgsError",
    "ResolvedSecretError",
    "StackConfigError",
    "TypedArgsError",
    "UserError",
    "config_lines",
]


class UserError(pulumi.RunError):
    """Base of the errors the user can fix. A `RunError`: the Pulumi CLI prints only `str(e)`."""


def config_lines(headline: str, errors: Sequence[str]) -> str:
    """`rollout plan`'s layout: a headline, then each `key.path: message` indented by two."""
    return "\n".join([headline, *(f"  {e}" for e in errors)])


class StackConfigError(ConfigError, UserError):
    """An invalid stack config under `pulumi preview/up`: every problem by key path.

    `str(e)` is `Pulumi.<stack>.yaml: invalid stack config` and then one indented line per
    problem, the same lines `rollout plan --stack <stack>` prints after `error:`.
    """

    def __init__(self, errors: Sequence[str], *, stack: str) -> None:
        ConfigError.__init__(self, errors)
        self.stack = stack
        self.args = (config_lines(f"Pulumi.{stack}.yaml: invalid stack config", self.errors),)

    def __str__(self) -> str:
        return str(self.args[0])


class ComponentArgsError(ConfigError, UserError):
    """Invalid `RolloutEndpoint` args: every problem by the args' key paths."""

    def __init__(self, errors: Sequence[str], *, component: str) -> None:
        ConfigError.__init__(self, errors)
        self.component = component
        self.args = (config_lines(f"RolloutEndpoint {component!r}: invalid args", self.errors),)

    def __str__(self) -> str:
        return str(self.args[0])


class TypedArgsError(ConfigError, UserError):
    """Invalid typed args, `RolloutEndpointArgs(...)` or `RolloutEndpointArgs.parse(...)`: raised
    where the user's program builds them, before any component (and its name) exists.

    `str(e)` is `RolloutEndpointArgs: invalid args` and the same `key.path: message` lines the
    component prints for the same args."""

    def __init__(self, errors: Sequence[str]) -> None:
        ConfigError.__init__(self, errors)
        self.args = (config_lines("RolloutEndpointArgs: invalid args", self.errors),)

    def __str__(self) -> str:
        return str(self.args[0])


class ResolvedSecretError(UserError):
    """A component's secret `pulumi.Output` resolved to a value its key refuses.

    Raised while the engine resolves that Output, that is while the Python SDK prepares the first
    resource that takes it. The SDK re-raises a `ValueError` from there as its own `ValueError`
    ("While processing resource: ...", pulumi `runtime/resource.py` `do_register`), which the
    language host prints with a traceback; so this is a `RunError` and deliberately not a
    `ConfigError` (a `ValueError`). `.errors` holds the `key.path: message` lines, with the
    secret values themselves shown as `[secret]` (the terminal and CI logs never see them).
    """

    def __init__(self, errors: Sequence[str], *, component: str) -> None:
        self.errors = list(errors)
        self.component = component
        super().__init__(
            config_lines(
                f"RolloutEndpoint {component!r}: invalid args (secret values, checked once "
                "resolved)",
                self.errors,
            )
        )


class AwsReadError(UserError):
    """A read the program makes before declaring anything (deploy-time awareness) failed.

    Deploying blind could redeploy a rolled-back candidate, so the run stops; the usual causes
    are the deployer's: missing or expired credentials, a wrong `aws:profile` or region, a role
    without read access. The message names what was read, the AWS error and what to check.
    """

    def __init__(self, what: str, error: BaseException, *, profile: str | None) -> None:
        self.what = what
        self.error = error
        creds = f"the AWS profile {profile!r} (aws:profile)" if profile else "the AWS credentials"
        super().__init__(
            f"deploy-time awareness could not read {what}: {type(error).__name__}: {error}\n"
            f"  check {creds}, the region (aws:region) and that the deploying identity may read "
            "it; `pulumi up` stops rather than deploy without knowing the rollout's state"
        )
