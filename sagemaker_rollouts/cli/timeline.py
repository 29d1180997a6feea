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


def write_png(
    path: Path,
    title: str,
    series: Sequence[Series],
    markers: Sequence[Marker] = (),
    dashed: Sequence[Series] = (),
) -> None:
    """Draw step lines of candidate % over minutes; `dashed` series are the plan behind a rehearsal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.2), dpi=100)
    try:
        for s in dashed:
            xs, ys = _xy(s.points)
            ax.plot(xs, ys, drawstyle="steps-post", linestyle="--", alpha=0.6, label=s.label)
        for s in series:
            xs, ys = _xy(s.points)
            ax.plot(xs, ys, drawstyle="steps-post", linewidth=2, label=s.label)
        for m in markers:
            ax.axvline(m.at_seconds / 60, color=m.color, linestyle=":", linewidth=1)
            ax.annotate(
                m.label,
                xy=(m.at_seconds / 60, 100),
                xytext=(3, -4),
                textcoords="offset points",
                rotation=90,
                va="top",
                fontsize=7,
                color=m.color,
            )
        ax.set_title(title)
        ax.set_xlabel("minutes")
        ax.set_ylabel("candidate traffic %")
        ax.set_ylim(-3, 105)
        ax.set_xlim(left=0)
        ax.grid(True, alpha=0.3)
        if len(series) + len(dashed) > 1:
            ax.legend(loc="lower right", fontsize=8)
        fig.tight_layout()
        try:
            fig.savefig(path, format="png")
        except OSError as e:
            raise UsageError(f"{path}: cannot write PNG: {e.strerror or e}") from None
    finally:
        plt.close(fig)


def _xy(points: Points) -> tuple[list[float], list[float]]:
    return [t / 60 for t, _ in points], [float(p) for _, p in points]
