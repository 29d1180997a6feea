"""The `rollout` console script: plan, rehearse, status, history, pause, resume, promote, abort,
prune, and the evidence reports.

Exit codes: 0 success (rehearsal expectation met, live rollout completed), 1 failure (expectation
not met, rollout rolled back or failed), 2 usage (missing stack file, invalid config, unknown
endpoint, bad scenario), 3 a live rollout still in progress (`status`, at the timeout).
`plan` and `rehearse` never need AWS credentials: rehearse runs against its own moto server.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence

from sagemaker_rollouts import __version__
from sagemaker_rollouts.cli.errors import EXIT_USAGE, UsageError

OPERATOR_COMMANDS = ("pause", "resume", "promote", "abort")
# Commands that address deployed endpoints with --stack, or with --endpoint [--region] alone
# (cli/target.py: read from AWS, for endpoints declared any way, RolloutEndpoint included).
ADDRESSED_COMMANDS = ("status", "history", *OPERATOR_COMMANDS, "ab-report")

# Top-level modules that only the `[cli]` extra installs: a base install still has the `rollout`
# script, so a command that needs one of them says which extra to install instead of a traceback.
CLI_EXTRA_MODULES = frozenset({"moto", "matplotlib", "rich", "duckdb", "sqlglot", "werkzeug"})
FRAMEWORKS_EXTRA_MODULES = frozenset({"sagemaker"})


def _number(*, minimum: float, strict: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number >= minimum (> minimum when strict)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        low_ok = value > minimum if strict else value >= minimum
        if not math.isfinite(value) or not low_ok:
            bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
            raise argparse.ArgumentTypeError(f"must be a finite number {bound}, got {text!r}")
        return value

    return parse


# Shown under each subcommand's --help; tests/cli/test_help.py parses every line, so they stay real.
EXAMPLES: dict[str, tuple[str, ...]] = {
    "schema": (
        "rollout schema",
        "rollout schema --config-only",
    ),
    "plan": (
        "rollout plan --stack canary",
        "rollout plan --stack canary --png out/canary-plan.png",
        "rollout plan --stack multi --dir ../stacks --json",
        "rollout plan --stack canary --traffic 1200",
        "rollout plan --stack prod --esc-dir esc/",
    ),
    "rehearse": (
        "rollout rehearse --stack canary --scenario scenarios/regression.yaml",
        "rollout rehearse --stack canary --scenario scenarios/regression.yaml --png out/r.png",
        "rollout rehearse --scenario scenarios/compare-regression.yaml --compare canary,bluegreen",
    ),
    "status": (
        "rollout status --stack prod",
        "rollout status --stack prod --endpoint fraud --json",
        "rollout status --stack prod --wait --timeout 3600",
        "rollout status --stack prod --endpoint fraud --watch",
        "rollout status --endpoint fraud-detector --region us-east-1",
        "rollout status --endpoint fraud --wait --timeout 3600",
    ),
    "history": (
        "rollout history --stack prod",
        "rollout history --stack prod --endpoint fraud --json",
        "rollout history --endpoint fraud-detector --region us-east-1",
    ),
    "pause": (
        'rollout pause --stack prod --reason "p99 latency looks odd"',
        'rollout pause --endpoint fraud-detector --region us-east-1 --reason "p99 looks odd"',
    ),
    "resume": (
        "rollout resume --stack prod --endpoint fraud",
        "rollout resume --endpoint fraud-detector --region us-east-1",
    ),
    "promote": (
        "rollout promote --stack prod",
        'rollout promote --full --stack prod --reason "signed off by on-call"',
        "rollout promote --endpoint fraud-detector --region us-east-1",
    ),
    "abort": (
        'rollout abort --stack prod --endpoint fraud --reason "bad predictions"',
        'rollout abort --endpoint fraud-detector --region us-east-1 --reason "bad predictions"',
    ),
    "shadow-report": (
        "rollout shadow-report --stack shadow --since 2h",
        "rollout shadow-report --stack shadow --from-dir captures/ --no-metrics --json",
    ),
    "ab-report": (
        "rollout ab-report --stack ab",
        "rollout ab-report --stack ab --json",
        "rollout ab-report --endpoint ranker --region us-east-1",
    ),
    "prune": ("rollout prune --stack prod --dry-run", "rollout prune --stack prod --json"),
    "baseline": (
        "rollout baseline --from train.csv --features amount,country,score -o baselines/fraud.json",
        "rollout baseline --from train.jsonl --features amount --bins 20 -o baselines/amount.json",
    ),
}


# Every command's exit codes, listed under its --help (tests/cli/test_help.py checks each command
# has them, and that the README's CLI table agrees). Codes: cli/errors.py.
EXIT_CODES: dict[str, tuple[tuple[int, str], ...]] = {
    "schema": ((0, "printed"),),
    "plan": (
        (0, "planned"),
        (1, "the Pulumi program failed under mocks"),
        (2, "usage: missing stack file or invalid config (with --json: an error document)"),
    ),
    "rehearse": (
        (0, "the scenario's expect holds (or it has none)"),
        (1, "expect not met"),
        (2, "usage: bad scenario, unknown endpoint or alarm, invalid config"),
    ),
    "status": (
        (0, "completed"),
        (1, "rolled back or failed"),
        (2, "usage, or not deployed (no endpoint and no rollout record)"),
        (3, "still in progress (at the timeout with --wait/--watch)"),
    ),
    "history": (
        (0, "printed (also when nothing is recorded yet)"),
        (2, "usage, or the state table is not deployed"),
    ),
    **{
        name: (
            (0, "applied"),
            (1, "refused or not applied (the reason is printed)"),
            (2, "usage, or the stack is not deployed"),
        )
        for name in OPERATOR_COMMANDS
    },
    "shadow-report": (
        (0, "promote"),
        (1, "reject"),
        (2, "usage"),
        (3, "keep shadowing"),
    ),
    "ab-report": (
        (0, "a clear winner"),
        (2, "usage, or the endpoint is not deployed"),
        (3, "no decision yet"),
    ),
    "prune": ((0, "done (or nothing to prune)"), (2, "usage")),
    "baseline": ((0, "written"), (2, "usage: unreadable data, unknown feature")),
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rollout",
        description="Plan, rehearse and operate SageMaker model rollouts (sagemaker-rollouts).",
        epilog="exit codes: 0 ok/completed, 1 expectation not met or rolled back/failed, "
        "2 usage error, 3 still in progress",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def stack_args(sp: argparse.ArgumentParser, *, required: bool = True) -> None:
        sp.add_argument("--stack", required=required, help="stack name: reads Pulumi.STACK.yaml")
        sp.add_argument(
            "--dir", default=".", help="directory holding the stack files (default: current)"
        )

    def address_args(sp: argparse.ArgumentParser, default: str) -> None:
        """--stack, or --endpoint alone (read from AWS), and --region for the latter."""
        sp.add_argument(
            "--stack",
            help="stack name: reads Pulumi.STACK.yaml (or give --endpoint alone)",
        )
        sp.add_argument(
            "--dir", default=".", help="directory holding the stack files (default: current)"
        )
        sp.add_argument(
            "--endpoint",
            help=f"with --stack: endpoint key or name (default: {default}); without --stack: a "
            "deployed endpoint however it was declared (RolloutEndpoint too), by its SageMaker "
            "endpoint name or the name it was declared under, read from AWS",
        )
        sp.add_argument(
            "--region",
            help="with --endpoint and no --stack: the endpoint's region (default: AWS_REGION "
            "or the profile's)",
        )

    plan = sub.add_parser(
        "plan", help="resources and strategy profile of a stack, offline (no AWS, no Pulumi CLI)"
    )
    stack_args(plan)
    plan.add_argument("--json", action="store_true", help="machine-readable output")
    plan.add_argument("--png", metavar="FILE", help="draw the planned traffic timeline")
    plan.add_argument(
        "--traffic",
        type=_number(minimum=0),
        metavar="RPM",
        help="requests per minute: add the worst-case requests a bad candidate answers per step",
    )
    plan.add_argument(
        "--esc-dir",
        metavar="DIR",
        help="Pulumi ESC environment definitions (esc env get NAME --definition) as "
        "DIR/<project>/<env>.yaml, for a stack file with environment: (default: esc/ beside it)",
    )

    schema = sub.add_parser(
        "schema",
        help="print the JSON Schema of a stack file (for YAML editors; see docs/config.md)",
    )
    schema.add_argument(
        "--config-only",
        action="store_true",
        help="only the project's config keys (endpoints, tags, ...), not the whole stack file",
    )

    reh = sub.add_parser(
        "rehearse",
        help="rehearse a rollout offline on a simulated clock: canaries run the real controller "
        "against moto, blue/green and rolling an emulator of SageMaker's guardrails",
    )
    stack_args(reh, required=False)
    reh.add_argument("--scenario", required=True, metavar="FILE", help="scenario YAML")
    reh.add_argument("--endpoint", help="endpoint key or name (default: the scenario's)")
    reh.add_argument(
        "--json",
        action="store_true",
        help='print {"rehearsals": [{stack, endpoint, strategy, outcome, ..., decisions}], '
        '"expect"} (the same shape with --compare)',
    )
    reh.add_argument("--png", metavar="FILE", help="draw the rehearsed traffic timeline")
    reh.add_argument(
        "--compare",
        metavar="STACKS",
        help="rehearse the scenario on several stacks (comma-separated; STACK:ENDPOINT picks an "
        "endpoint; not with --stack or --endpoint) and print them side by side",
    )
    reh.add_argument(
        "--tick-by-tick",
        action="store_true",
        help="call the hook on every one-minute tick, even where nothing can change (slower; "
        "the decisions are the same)",
    )

    st = sub.add_parser(
        "status",
        help="the live rollout: step n of N, live and intended share, bake, gates, pause, "
        "last decisions",
    )
    address_args(st, "every endpoint")
    st.add_argument("--json", action="store_true", help="machine-readable output")
    st.add_argument(
        "--wait",
        action="store_true",
        help="poll until the rollout finishes, printing a line whenever it changes "
        "(on stderr with --json)",
    )
    st.add_argument(
        "--watch",
        action="store_true",
        help="keep the view on screen until the rollout finishes: refreshed in place on a "
        "terminal, one line per change otherwise",
    )
    st.add_argument(
        "--timeout",
        type=_number(minimum=0),
        default=None,
        metavar="S",
        help="with --wait or --watch: give up after S seconds (default 3600)",
    )
    st.add_argument(
        "--interval",
        type=_number(minimum=0, strict=True),
        default=None,
        metavar="S",
        help="with --wait or --watch: poll period (default 15; --watch 5)",
    )

    hi = sub.add_parser(
        "history",
        help="the audit trail of an endpoint's rollouts: decisions, intents (applied or "
        "refused, by whom, why), alarms and evidence",
    )
    address_args(hi, "every endpoint")
    hi.add_argument(
        "--rollout",
        metavar="ID",
        help="one rollout id (default: every rollout recorded for the endpoint)",
    )
    hi.add_argument(
        "--limit",
        type=int,
        default=200,
        metavar="N",
        help="at most N rows per endpoint, newest kept (default 200)",
    )
    hi.add_argument("--json", action="store_true", help="machine-readable output")

    for name, text in (
        ("pause", "hold the canary at its current step"),
        ("resume", "continue a paused canary (the step's bake restarts)"),
        ("promote", "advance the canary one step now (--full: straight to 100%%)"),
        ("abort", "roll the canary back: candidate weight 0 at once"),
    ):
        op = sub.add_parser(name, help=text)
        address_args(op, "the canary endpoint")
        op.add_argument("--reason", default="", help="why (recorded with who and when)")
        op.add_argument("--json", action="store_true", help="machine-readable output")
        if name == "promote":
            op.add_argument("--full", action="store_true", help="go straight to 100%%")
    sh = sub.add_parser(
        "shadow-report",
        help="compare a shadow variant's captured answers with production's; recommend",
    )
    stack_args(sh)
    sh.add_argument("--endpoint", help="endpoint key or name (default: the shadow endpoint)")
    sh.add_argument("--since", help="ISO 8601 time or a duration ago (30m, 2h); default until-1h")
    sh.add_argument("--until", help="ISO 8601 time or a duration ago; default now")
    sh.add_argument("--engine", choices=("local", "athena"), default="local")
    sh.add_argument("--capture-uri", metavar="S3URI", help="override the capture destination")
    sh.add_argument(
        "--from-dir", metavar="DIR", help="read capture files from DIR (<endpoint>/<variant>/...)"
    )
    sh.add_argument(
        "--no-metrics", action="store_true", help="with --from-dir: skip CloudWatch (offline)"
    )
    sh.add_argument("--json", action="store_true", help="machine-readable output")
    sh.add_argument("--png", metavar="FILE", help="draw the distribution of differences")
    pr = sub.add_parser(
        "prune",
        help="delete the stack's retained endpoint configs and models that no endpoint runs",
    )
    stack_args(pr)
    pr.add_argument("--dry-run", action="store_true", help="list what would be deleted")
    pr.add_argument("--json", action="store_true", help="machine-readable output")
    abr = sub.add_parser(
        "ab-report", help="per-variant A/B evidence from CloudWatch and the evaluator's decision"
    )
    address_args(abr, "the A/B endpoint")
    abr.add_argument("--json", action="store_true", help="machine-readable output")
    base = sub.add_parser("baseline", help="build a drift baseline file from training data")
    base.add_argument("--from", dest="source", required=True, metavar="FILE", help=".csv or .jsonl")
    base.add_argument(
        "--features", required=True, help="comma-separated columns (predictions too, for output)"
    )
    base.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="baseline JSON to write"
    )
    base.add_argument("--bins", type=int, default=10, help="numeric bins (default 10: deciles)")
    base.add_argument("--json", action="store_true", help="print the baseline")
    for name, command in sub.choices.items():
        command.formatter_class = argparse.RawDescriptionHelpFormatter
        command.epilog = (
            "examples:\n"
            + "\n".join(f"  {e}" for e in EXAMPLES.get(name, ()))
            + "\n\nexit codes:\n"
            + "\n".join(f"  {code}  {what}" for code, what in EXIT_CODES.get(name, ()))
        )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns its exit code (the console script exits with it).

    Called with no `argv` (the `rollout` console script, `python -m`), the process makes full
    garbage collections rare (`gc_policy.for_this_command`) and ends right after the command,
    without the interpreter's teardown (`exit_now`); with `argv` (tests, other programs) it
    returns the code like any function and leaves the collector alone.
    """
    if argv is None:
        # This process runs one command: full collections made rare for all of it, imports
        # included (why, and what it costs: infra/gc_policy.py).
        from sagemaker_rollouts.infra.gc_policy import for_this_command

        for_this_command()
    code = _run(argv)
    if argv is None:
        exit_now(code)
    return code


def exit_now(code: int) -> None:
    """End this process with `code` once its output is flushed and its atexit handlers ran,
    skipping the interpreter's teardown.

    Why: a command that ran a Pulumi program offline holds pulumi_aws's modules and the
    program's objects; tearing them down one by one (module dicts cleared, every object freed,
    a last collection) took 0.30-0.37 s of every `rollout plan` on a 2-core machine, after the
    command's work was done (bench/bench_cli.py). What still runs: every `atexit` handler
    (logging's flush and close, `weakref.finalize` callbacks such as temporary directories'
    removal) and the flush of stdout/stderr. What is skipped: `__del__` of objects still alive
    at exit and module teardown, which free memory the kernel reclaims anyway. When a non-daemon
    thread is still running, it returns instead (the interpreter waits for such threads, and so
    must we).
    """
    import atexit
    import contextlib
    import os
    import threading

    if any(
        t.is_alive() and not t.daemon and t is not threading.main_thread()
        for t in threading.enumerate()
    ):
        return
    atexit._run_exitfuncs()  # pyright: ignore[reportPrivateUsage]  # what sys.exit would run
    for stream in (sys.stdout, sys.stderr):
        # a closed pipe (`rollout plan | head`) or stream: nothing more can be written anyway
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def _run(argv: Sequence[str] | None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _check_usage(parser, args)
    try:
        match args.command:
            case "schema":
                from sagemaker_rollouts.cli import cmd_schema

                return cmd_schema.run(args)
            case "plan":
                from sagemaker_rollouts.cli import cmd_plan

                return cmd_plan.run(args)
            case "rehearse":
                from sagemaker_rollouts.cli import cmd_rehearse

                return cmd_rehearse.run(args)
            case "shadow-report":
                from sagemaker_rollouts.cli import cmd_shadow

                return cmd_shadow.run(args)
            case "ab-report":
                from sagemaker_rollouts.cli import cmd_ab

                return cmd_ab.run(args)
            case "prune":
                from sagemaker_rollouts.cli import cmd_prune

                return cmd_prune.run(args)
            case "baseline":
                from sagemaker_rollouts.cli import cmd_baseline

                return cmd_baseline.run(args)
            case "status":
                from sagemaker_rollouts.cli import cmd_live

                return cmd_live.status(args)
            case "history":
                from sagemaker_rollouts.cli import cmd_history

                return cmd_history.run(args)
            case _:
                from sagemaker_rollouts.cli import cmd_live

                return cmd_live.operate(args)
    except UsageError as e:
        _fail(args, e.lines, EXIT_USAGE)
        return EXIT_USAGE
    except ModuleNotFoundError as e:
        top = (e.name or "").split(".")[0]
        extra = (
            "cli"
            if top in CLI_EXTRA_MODULES
            else "frameworks"
            if top in FRAMEWORKS_EXTRA_MODULES
            else None
        )
        if extra is None:
            raise
        _fail(
            args,
            (
                f"{args.command}: needs the `{extra}` extra ({top} is not installed)",
                f"install it with: pip install 'sagemaker-rollouts[{extra}]'",
            ),
            EXIT_USAGE,
        )
        return EXIT_USAGE
    except Exception as e:
        # AWS could not be reached or refused us (live commands): say so in one line, no traceback.
        from botocore.exceptions import BotoCoreError, ClientError

        if not isinstance(e, BotoCoreError | ClientError):
            raise
        hint = (
            "AWS credentials or endpoint: set AWS_PROFILE (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) "
            "and AWS_REGION, or AWS_ENDPOINT_URL for a local moto server"
        )
        _fail(args, (f"{args.command}: AWS call failed: {e}", hint), EXIT_USAGE)
        return EXIT_USAGE


def _check_usage(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Option combinations argparse cannot express; `parser.error` exits 2 with the usage."""
    if args.command in ADDRESSED_COMMANDS:
        from sagemaker_rollouts.cli.target import check_address

        problem = check_address(args)
        if problem is not None:
            parser.error(f"{args.command}: {problem}")
    if args.command == "status":
        polling = args.wait or args.watch
        for flag, value in (("--timeout", args.timeout), ("--interval", args.interval)):
            if value is not None and not polling:
                parser.error(f"status: {flag} needs --wait or --watch (a single read never waits)")
        if args.watch and args.json:
            parser.error("status: --watch draws a live view; use --wait --json for a machine")


def _fail(args: argparse.Namespace, lines: Sequence[str], code: int) -> None:
    """Report a failure: on stderr, and with --json also as a JSON document on stdout, so a
    pipeline reading stdout gets `{"error": {...}}` rather than nothing."""
    _print_error(lines)
    if getattr(args, "json", False):
        import json

        doc = {
            "error": {
                "command": args.command,
                "exit_code": code,
                "kind": "usage" if code == EXIT_USAGE else "failed",
                "message": lines[0] if lines else "",
                "details": [line.strip() for line in lines[1:]],
            }
        }
        print(json.dumps(doc, indent=2, sort_keys=True))


def _print_error(lines: Sequence[str]) -> None:
    try:
        from rich.markup import escape
    except ModuleNotFoundError:  # a base install without the `cli` extra: plain text
        for i, line in enumerate(lines):
            print(f"error: {line}" if i == 0 else line, file=sys.stderr)
        return

    from sagemaker_rollouts.cli.render import console

    err = console(stderr=True)
    for i, line in enumerate(lines):
        err.print(f"[red]error:[/] {escape(line)}" if i == 0 else escape(line))


if __name__ == "__main__":
    sys.exit(main())
