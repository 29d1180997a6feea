"""`rollout rehearse`: arguments in, the rehearsal engine run, its printers out.

The engine is `sagemaker_rollouts.simulator.rehearsal` (the real canary controller on a simulated
clock against moto; the other strategies through their emulators); what is printed is
`cli/rehearse_output.py`. Evidence scenarios (shadow comparison, A/B evaluation) go to
`cli/rehearse_evidence.py`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape

from sagemaker_rollouts.cli import render
from sagemaker_rollouts.cli.errors import EXIT_FAILED, EXIT_OK, UsageError
from sagemaker_rollouts.cli.rehearse_output import (
    Printer,
    compare_table,
    draw,
    draw_summaries,
    print_summary,
    rehearsals_json,
)
from sagemaker_rollouts.cli.stack import rollout_of
from sagemaker_rollouts.simulator.native import Summary
from sagemaker_rollouts.simulator.rehearsal import (
    Rehearsal,
    check_summary,
    prepare_stack,
    resolve_for,
    summarize,
)
from sagemaker_rollouts.simulator.scenario import LoadedScenario, load_scenario


def run(args: argparse.Namespace) -> int:
    from sagemaker_rollouts.cli import rehearse_evidence

    if rehearse_evidence.is_evidence_scenario(Path(args.scenario)):
        return rehearse_evidence.run(args)  # shadow comparison / A/B evaluation scenarios
    loaded = load_scenario(Path(args.scenario))
    compare = _compare_list(args, loaded)
    if compare is not None:
        return _run_compare(args, loaded, compare)
    scenario = loaded.scenario
    st, ep = prepare_stack(Path(args.dir), loaded, args.stack, args.endpoint)
    resolve_for(loaded, ep)  # every scenario problem before anything runs
    show = not args.json
    out = render.console()
    if show:
        what = "" if rollout_of(ep) is not None else f" ({ep.strategy.replace('_', '/')}: emulated)"
        out.print(
            f"[bold]rehearsal[/] {escape(str(loaded.path))}: stack {st.name}, endpoint "
            f"{ep.endpoint_name}{what}, {render.duration(scenario.duration)} simulated"
        )
    printer = Printer(out) if show else None
    summary, result = summarize(
        Path(args.dir),
        loaded,
        args.stack,
        args.endpoint,
        printer,
        skip_quiet=not args.tick_by_tick,
    )
    if args.png is not None:
        if result is not None:
            draw(result, Path(args.png), loaded)
        else:
            draw_summaries([summary], Path(args.png), loaded)
    verdict, problems = check_summary(loaded, summary)
    if args.json:
        render.print_json(rehearsals_json(loaded, [(summary, result)], problems))
    else:
        print_summary(out, loaded, summary, problems, verdict)
        if args.png is not None:
            out.print(f"timeline written to {escape(args.png)}")
    return EXIT_OK if verdict else EXIT_FAILED


def _compare_list(args: argparse.Namespace, loaded: LoadedScenario) -> list[str] | None:
    """The stacks to compare (`--compare`, else the scenario's `compare:` unless --stack is given:
    then the scenario runs on that one stack), or None for a single rehearsal.

    Raises UsageError for `--compare` together with --stack or --endpoint (a compared target picks
    its endpoint as `STACK:ENDPOINT`), and for --endpoint with a scenario `compare:` but no --stack."""
    raw = getattr(args, "compare", None)
    flags = [
        f
        for f, v in (("--stack", args.stack), ("--endpoint", getattr(args, "endpoint", None)))
        if v is not None
    ]
    if raw is not None and flags:
        raise UsageError(
            f"--compare cannot be combined with {' and '.join(flags)}: list the targets in "
            "--compare as STACK or STACK:ENDPOINT"
        )
    if (
        raw is None
        and args.stack is None
        and loaded.scenario.compare is not None
        and getattr(args, "endpoint", None) is not None
    ):
        raise UsageError(
            f"{loaded.where('compare')}: the scenario compares stacks, so --endpoint alone is "
            "ambiguous: give --stack too (rehearse that one stack) or list the targets as "
            "STACK:ENDPOINT in compare"
        )
    if raw is not None:
        names = [n.strip() for n in str(raw).split(",") if n.strip()]
        if len(names) < 2:
            raise UsageError(f"--compare {raw!r}: give at least two stacks, comma-separated")
        return names
    if args.stack is None and loaded.scenario.compare is not None:
        return list(loaded.scenario.compare)
    return None


def _run_compare(args: argparse.Namespace, loaded: LoadedScenario, stacks: list[str]) -> int:
    """One scenario against several stacks (or endpoints `stack:endpoint`), side by side."""
    directory = Path(args.dir)
    targets: list[tuple[str, str | None]] = []
    for name in stacks:
        stack, _, endpoint = name.partition(":")
        targets.append((stack, endpoint or None))
    # every stack's problems first, before any rehearsal runs
    errors: list[str] = []
    for stack, endpoint in targets:
        try:
            _, ep = prepare_stack(directory, loaded, stack, endpoint)
            resolve_for(loaded, ep)
        except UsageError as e:
            errors.extend(f"--compare {stack}: {line}" for line in e.lines)
    if errors:
        raise UsageError(*errors)
    summaries: list[Summary] = []
    runs: list[tuple[Summary, Rehearsal | None]] = []
    verdicts: list[str] = []
    for (stack, endpoint), label in zip(targets, stacks, strict=True):
        summary, result = summarize(
            directory, loaded, stack, endpoint, skip_quiet=not args.tick_by_tick
        )
        summary.stack = label  # `stack` or `stack:endpoint`, as given
        summaries.append(summary)
        runs.append((summary, result))
        _ok, problems = check_summary(loaded, summary)
        verdicts.extend(f"{stack}: {p}" for p in problems)
    if args.png is not None:
        draw_summaries(summaries, Path(args.png), loaded)
    if args.json:
        render.print_json(rehearsals_json(loaded, runs, verdicts))
    else:
        out = render.console()
        out.print(
            f"[bold]comparison[/] {escape(str(loaded.path))}: "
            f"{render.duration(loaded.scenario.duration)} simulated"
        )
        out.print(compare_table(summaries, loaded))
        for s in summaries:
            for note in s.notes:
                out.print(f"[dim]{escape(s.stack)}: {escape(note)}[/]")
        for p in verdicts:
            out.print(f"[red]expectation not met:[/] {escape(p)}")
        if loaded.scenario.expect is not None and not verdicts:
            out.print("[green]expectation met[/] by every stack")
        if args.png is not None:
            out.print(f"timelines written to {escape(args.png)}")
    return EXIT_FAILED if verdicts else EXIT_OK
