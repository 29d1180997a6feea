"""Traffic timelines as PNG: candidate % over time, planned (from the plan) or rehearsed.

matplotlib runs on the Agg backend (no display needed); it is imported only when a PNG is asked for,
so the other commands start fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sagemaker_rollouts.cli.errors import UsageError

Points = Sequence[tuple[float, float]]  # (seconds, candidate %)


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    points: Points


@dataclass(frozen=True, slots=True)
class Marker:
    """A vertical line on the chart: an alarm, a command, a rollback."""

    at_seconds: float
    label: str
    color: str = "tab:red"


@dataclass(frozen=True, slots=True)
class Span:
    """A shaded stretch of time: `kind` "provisioning" (capacity starting, no traffic moves yet)
    or "downtime" (no endpoint answers: recreate)."""

    start_seconds: float
    end_seconds: float
    kind: str
    label: str = ""  # whose span (a stack in --compare): shaded in that series' colour
    series: int | None = None  # index of the series it belongs to


@dataclass(frozen=True, slots=True)
class Exposure:
    """Worst-case requests a bad candidate answers per step (`rollout plan --traffic`), drawn as
    a second panel. `groups`: per endpoint label, its steps as (step number from 1, candidate %,
    requests or None = until a human acts)."""

    requests_per_minute: float
    groups: Sequence[tuple[str, Sequence[tuple[int, int, float | None]]]]


# Lines of equal value must stay distinguishable: each series gets its own dash pattern, width and
# point marker, drawn widest first so a later (thinner) line on the same level shows on top.
_STYLES = (
    {"linestyle": "-", "linewidth": 4.5},
    {"linestyle": (0, (6, 2)), "linewidth": 2.6, "marker": "o", "markersize": 4},
    {"linestyle": (0, (2, 1.5)), "linewidth": 1.8, "marker": "s", "markersize": 3},
    {"linestyle": (0, (8, 2, 1.5, 2)), "linewidth": 1.2, "marker": "^", "markersize": 3},
)
_SPAN_COLORS = {"provisioning": "tab:blue", "downtime": "tab:red"}
# Marker labels go into horizontal rows; a label moves to the next row when it would overlap the
# previous label of its row (labels are ~`_LABEL_MINUTES` wide in minutes on a 9-inch figure).
_LABEL_ROWS = (101.0, 84.0, 67.0, 50.0, 33.0)


def label_rows(markers: Sequence[Marker], x_max_minutes: float) -> list[int]:
    """The row (index into the label heights) of each marker's label, so that no two labels in a
    row overlap: labels are placed in time order, each in the first row whose last label ends
    before it starts. Label width is estimated from its length at 7 pt on a 9-inch axis."""
    width_per_char = max(x_max_minutes, 1.0) * 0.0105  # minutes per character at 7 pt
    ends = [float("-inf")] * len(_LABEL_ROWS)
    rows = [0] * len(markers)
    for i in sorted(range(len(markers)), key=lambda k: markers[k].at_seconds):
        start = markers[i].at_seconds / 60
        row = next((r for r, end in enumerate(ends) if start >= end), None)
        if row is None:  # every row is busy here: the least busy one
            row = min(range(len(ends)), key=lambda r: ends[r])
        ends[row] = start + width_per_char * (len(markers[i].label) + 2)
        rows[i] = row
    return rows


def write_png(
    path: Path,
    title: str,
    series: Sequence[Series],
    markers: Sequence[Marker] = (),
    dashed: Sequence[Series] = (),
    spans: Sequence[Span] = (),
    exposure: Exposure | None = None,
) -> None:
    """Draw step lines of candidate % over minutes; `dashed` series are the plan behind a
    rehearsal; `spans` are shaded (provisioning, downtime); `exposure` adds a panel of the
    worst-case requests a bad candidate answers per step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_hex

    if exposure is None:
        fig, ax = plt.subplots(figsize=(9, 4.2), dpi=100)
        bottom = None
    else:
        fig, (ax, bottom) = plt.subplots(
            2, 1, figsize=(9, 6.6), dpi=100, gridspec_kw={"height_ratios": [3, 2]}
        )
    try:
        x_max = max(
            [1.0, *(t / 60 for s in (*series, *dashed) for t, _ in s.points)],
        )
        for s in dashed:
            xs, ys = _xy(s.points)
            ax.plot(xs, ys, drawstyle="steps-post", linestyle="--", alpha=0.6, label=s.label)
        colors: list[str] = []
        for i, s in enumerate(series):
            xs, ys = _xy(s.points)
            style = _STYLES[i % len(_STYLES)] if len(series) > 1 else {"linewidth": 2}
            (line,) = ax.plot(xs, ys, drawstyle="steps-post", label=s.label, zorder=2 + i, **style)  # type: ignore[arg-type]
            colors.append(to_hex(line.get_color()))
        shaded: set[tuple[str, str]] = set()
        for sp in spans:
            own = sp.series is not None and 0 <= sp.series < len(colors)
            color = colors[sp.series] if own and sp.series is not None else None
            key = (sp.kind, sp.label)
            ax.axvspan(
                sp.start_seconds / 60,
                sp.end_seconds / 60,
                facecolor=color or _SPAN_COLORS.get(sp.kind, "tab:gray"),
                edgecolor=color or _SPAN_COLORS.get(sp.kind, "tab:gray"),
                alpha=0.13,
                linewidth=0,
                label=None
                if key in shaded
                else (f"{sp.kind}: {sp.label}" if sp.label else sp.kind),
                hatch="xx" if sp.kind == "downtime" else "//",
                zorder=0,
            )
            shaded.add(key)
        for m, row in zip(markers, label_rows(markers, x_max), strict=True):
            ax.axvline(m.at_seconds / 60, color=m.color, linestyle=":", linewidth=1)
            ax.annotate(
                m.label,
                xy=(m.at_seconds / 60, _LABEL_ROWS[row]),
                xytext=(2, 0),
                textcoords="offset points",
                va="bottom",
                ha="left",
                fontsize=7,
                color=m.color,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
                zorder=10,
            )
        ax.set_title(title)
        ax.set_xlabel("minutes")
        ax.set_ylabel("candidate traffic %")
        ax.set_ylim(-3, 112 if markers else 105)
        ax.set_xlim(left=0)
        ax.grid(True, alpha=0.3)
        if len(series) + len(dashed) > 1 or spans:
            ax.legend(loc="center right", fontsize=8, framealpha=0.9)
        if bottom is not None and exposure is not None:
            _draw_exposure(bottom, exposure)
        fig.tight_layout()
        try:
            fig.savefig(path, format="png")
        except OSError as e:
            raise UsageError(f"{path}: cannot write PNG: {e.strerror or e}") from None
    finally:
        plt.close(fig)


def _draw_exposure(ax: object, exposure: Exposure) -> None:
    """Bars per step: worst-case requests a bad candidate answers before traffic leaves it."""
    from typing import Any

    a: Any = ax
    known = [r for _, steps in exposure.groups for _, _, r in steps if r is not None]
    top = max([1.0, *known])
    n = max(1, len(exposure.groups))
    width = 0.8 / n
    ticks: set[int] = set()
    for g, (label, steps) in enumerate(exposure.groups):
        xs = [step - 0.4 + width * (g + 0.5) for step, _, _ in steps]
        ticks.update(step for step, _, _ in steps)
        heights = [top * 1.05 if r is None else r for _, _, r in steps]
        bars = a.bar(
            xs,
            heights,
            width=width,
            alpha=0.75,
            label=label,
            hatch=["//" if r is None else "" for _, _, r in steps],
        )
        for bar, (_, pct, r) in zip(bars, steps, strict=True):
            text = "until a human acts" if r is None else f"{r:,.0f}"
            a.annotate(
                f"{text}\n({pct}%)",
                xy=(bar.get_x() + bar.get_width() / 2, bar.get_height()),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=7,
            )
    a.set_xticks(sorted(ticks))
    a.set_xlabel("traffic step (from 1)")
    if n > 1:
        a.legend(fontsize=8, loc="upper left")
    a.set_ylabel("bad requests at most")
    a.set_ylim(0, top * 1.35)
    a.set_title(
        f"worst-case exposure at {exposure.requests_per_minute:g} requests/min", fontsize=10
    )
    a.grid(True, axis="y", alpha=0.3)


def _xy(points: Points) -> tuple[list[float], list[float]]:
    return [t / 60 for t, _ in points], [float(p) for _, p in points]
