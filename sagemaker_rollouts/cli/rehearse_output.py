"""What `rollout rehearse` prints: the running log, the result table, `--json`, the PNG timelines.

The engine (`sagemaker_rollouts.simulator.rehearsal`) reports to an `Observer`; `Printer` is the
one that prints. Requests are counts, times simulated seconds, percentages 0-100.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn
from rich.table import Table

from sagemaker_rollouts.cli import render
from sagemaker_rollouts.simulator.native import NativeStep, Summary
from sagemaker_rollouts.simulator.rehearsal import Rehearsal, Step, check_summary
from sagemaker_rollouts.simulator.scenario import LoadedScenario

NO_TRAFFIC_TEXT = "n/a (no traffic in scenario)"
NO_BAD_FROM_TEXT = "n/a (no bad_from in scenario)"


def served_text(loaded: LoadedScenario, s: Summary) -> str:
    """Requests the candidate served, or n/a when the scenario gives no `traffic:`."""
    return NO_TRAFFIC_TEXT if loaded.scenario.traffic is None else f"{s.served:,.0f}"


def served_bad_text(loaded: LoadedScenario, s: Summary) -> str:
    """Requests served while bad, or n/a without `traffic:` or without `bad_from:`."""
    if loaded.scenario.traffic is None:
        return NO_TRAFFIC_TEXT
    if loaded.scenario.bad_from is None:
        return NO_BAD_FROM_TEXT
    return f"{s.served_bad:,.0f}"


def rehearsal_json(
    loaded: LoadedScenario, s: Summary, result: Rehearsal | None = None
) -> dict[str, Any]:
    """One rehearsal as `--json` prints it: the summary, then every decision.

    Requests are counts (null when the scenario gives no `traffic:`; `..._while_bad` also null
    without `bad_from:`), times are simulated seconds, `candidate_percent` is 0-100 or null."""
    scenario = loaded.scenario
    decisions = [st.as_json() for st in (result.steps if result is not None else s.steps)]
    _ok, problems = check_summary(loaded, s)
    return {
        "stack": s.stack,
        "endpoint": s.endpoint,
        "strategy": s.strategy,
        "outcome": s.outcome,
        "candidate_percent": s.final_percent,
        "time_to_full_seconds": s.time_to_full_seconds,
        "extra_instance_hours": s.extra_instance_hours,
        "requests_served": None if scenario.traffic is None else round(s.served, 3),
        "requests_served_while_bad": (
            None
            if scenario.traffic is None or scenario.bad_from is None
            else round(s.served_bad, 3)
        ),
        "downtime_seconds": s.downtime_seconds,
        "evidence": [list(r) for r in s.evidence],
        "notes": list(s.notes),
        "expectation_met": None if scenario.expect is None else not problems,
        "decisions": decisions,
    }


def rehearsals_json(
    loaded: LoadedScenario,
    runs: Sequence[tuple[Summary, Rehearsal | None]],
    problems: Sequence[str],
) -> dict[str, Any]:
    """The one `--json` shape of a single rehearsal and of `--compare`:
    `{"scenario", "duration_seconds", "rehearsals": [rehearsal_json...], "expect"}` where
    `expect` is null without an `expect:` block, else `{"met": bool, "problems": [str]}`."""
    return {
        "scenario": str(loaded.path),
        "duration_seconds": loaded.scenario.duration,
        "rehearsals": [rehearsal_json(loaded, s, r) for s, r in runs],
        "expect": (
            None
            if loaded.scenario.expect is None
            else {"met": not problems, "problems": list(problems)}
        ),
    }


def compare_table(summaries: Sequence[Summary], loaded: LoadedScenario) -> Table:
    """Side by side: time to 100%, extra instance-hours, exposure, downtime, outcome."""
    t = Table(title="side by side", title_justify="left")
    t.add_column("")
    for s in summaries:
        t.add_column(f"{s.stack} ({s.strategy.replace('_', '/')})", justify="right")
    rows: list[tuple[str, Callable[[Summary], str]]] = [
        ("outcome", lambda s: s.outcome),
        (
            "time to 100%",
            lambda s: (
                "never"
                if s.time_to_full_seconds is None
                else render.duration(s.time_to_full_seconds)
            ),
        ),
        ("extra instance-hours", lambda s: f"{s.extra_instance_hours:g}"),
        ("requests served by candidate", lambda s: served_text(loaded, s)),
    ]
    if loaded.scenario.bad_from is not None:
        rows.append(
            (
                f"… while bad (from {render.clock(loaded.scenario.bad_from)})",
                lambda s: served_bad_text(loaded, s),
            )
        )
    rows.append(
        (
            "downtime",
            lambda s: render.duration(s.downtime_seconds) if s.downtime_seconds else "none",
        )
    )
    for label, fn in rows:
        t.add_row(label, *(escape(fn(s)) for s in summaries))
    return t


class Printer:
    """The rehearsal's `Observer` on a console: prints each decision that changes something,
    and a hold only when its reason changes (a bake countdown would otherwise print every
    minute); a transient progress bar for long scenarios on a terminal."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self._last_hold: str | None = None
        self.progress: Progress | None = None
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def begin(self, duration: int) -> None:
        self._bar = _progress(self, duration)
        self._task = self._bar.add_task("simulating", total=duration) if self._bar else None

    def at(self, t: int) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=t)

    def end(self) -> None:
        if self._bar is not None:
            self._bar.stop()

    def _print(self, text: str) -> None:
        out = self.progress.console if self.progress is not None else self.out
        out.print(text, soft_wrap=True)

    def note(self, t: int, text: str) -> None:
        self._print(f"[dim]{render.clock(t)}[/]  [cyan]{escape(text)}[/]")

    def native(self, step: NativeStep) -> None:
        """A step of an emulated (non-canary) rehearsal: SageMaker's move or a window."""
        color = {"shift": "green", "complete": "bold green", "rollback": "bold red"}.get(
            step.decision, "white"
        )
        self._print(
            f"[dim]{render.clock(step.at)}[/]  [{color}]{step.decision:<9}[/] "
            f"{escape(render.weights_text(step.weights)):<28} {escape(step.reason)}"
        )

    def decision(self, step: Step) -> None:
        if step.decision == "hold":
            shape = re.sub(r"\d+(\.\d+)?", "#", step.reason)
            if shape == self._last_hold:
                return
            self._last_hold = shape
        else:
            self._last_hold = None
        color = {
            "advance": "green",
            "complete": "bold green",
            "rollback": "bold red",
            "reconcile": "yellow",
        }.get(step.decision, "white")
        self._print(
            f"[dim]{render.clock(step.at)}[/]  [{color}]{step.decision:<9}[/] "
            f"{escape(render.weights_text(step.weights)):<28} {escape(step.reason)}"
        )


def _progress(printer: Printer | None, total: int) -> Progress | None:
    """A transient progress bar for long scenarios on a terminal."""
    if printer is None or total < 3600 or not printer.out.is_terminal:
        return None
    progress = Progress(
        TextColumn("[dim]simulated[/]"),
        BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f} s"),
        console=printer.out,
        transient=True,
    )
    printer.progress = progress
    progress.start()
    return progress


def print_summary(
    out: Any, loaded: LoadedScenario, result: Summary, problems: Sequence[str], ok: bool
) -> None:
    t = Table(show_header=False, title="result", title_justify="left")
    t.add_column("k", style="bold")
    t.add_column("v")
    t.add_row("outcome", result.outcome)
    pct = result.final_percent
    t.add_row("candidate traffic", "unknown" if pct is None else f"{pct:g}%")
    full = result.time_to_full_seconds
    t.add_row("time to 100%", "never" if full is None else render.duration(full))
    t.add_row("extra instance-hours", f"{result.extra_instance_hours:g}")
    t.add_row("requests served by candidate", served_text(loaded, result))
    t.add_row("… while bad", served_bad_text(loaded, result))
    t.add_row(
        "downtime",
        render.duration(result.downtime_seconds) if result.downtime_seconds else "none",
    )
    for label, value in result.evidence:
        t.add_row(label, value)
    out.print(t)
    for note in result.notes:
        out.print(f"[dim]{escape(note)}[/]")
    for p in problems:
        out.print(f"[red]expectation not met:[/] {escape(p)}")
    if ok:
        out.print("[green]expectation met[/]" if not problems else "")


def draw_summaries(summaries: Sequence[Summary], path: Path, loaded: LoadedScenario) -> None:
    """Every rehearsal's candidate share on one figure (markers: alarms and rollbacks)."""
    from sagemaker_rollouts.cli.timeline import Marker, Series, Span, write_png

    end = float(loaded.scenario.duration)
    series: list[Series] = []
    markers: list[Marker] = []
    spans = [
        Span(a, b, kind, s.stack, i)
        for i, s in enumerate(summaries)
        for a, b, kind in s.spans
        if b > a
    ]
    for s in summaries:
        points = list(s.timeline)
        if points:
            points.append((end, points[-1][1]))
        series.append(Series(f"{s.stack} ({s.strategy.replace('_', '/')})", points))
        at: set[int] = set()
        for t, label, color in s.markers:  # one label per time and stack (alarm, then rollback)
            if t not in at:
                at.add(t)
                markers.append(Marker(float(t), f"{s.stack}: {label}", color))
    names = " vs ".join(s.stack for s in summaries)
    write_png(path, f"rehearsal {loaded.path.name}: {names}", series, markers, spans=spans)


def draw(result: Rehearsal, path: Path, loaded: LoadedScenario) -> None:
    from sagemaker_rollouts.cli.timeline import Marker, Series, write_png

    points: list[tuple[float, float]] = []
    for s in result.steps:
        if s.candidate_percent is not None:
            points.append((float(s.at), s.candidate_percent))
    if points:
        points.append((float(loaded.scenario.duration), points[-1][1]))
    planned = [(float(t), float(p)) for t, p in result.endpoint.timeline]
    if planned:
        planned.append((float(loaded.scenario.duration), planned[-1][1]))
    markers = [Marker(float(t), label, color) for t, label, color in result.markers]
    rollback = next((s for s in result.steps if s.decision == "rollback"), None)
    if rollback is not None and all(m.at_seconds != rollback.at for m in markers):
        markers.append(Marker(float(rollback.at), "rollback", "tab:red"))  # e.g. past a limit
    write_png(
        path,
        f"rehearsal {loaded.path.name}: {result.endpoint.endpoint_name} -> {result.final_status}",
        [Series("rehearsed", points)],
        markers,
        dashed=[Series("planned", planned)] if planned else [],
    )
