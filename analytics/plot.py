"""Trend plots for analysts: one PNG, one panel per trend, one line per group."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402

from analytics.queries import TRENDS  # noqa: E402

__all__ = ["plot_trends"]


def plot_trends(trends: dict[str, list[dict]], path: Path, *, title: str) -> Path:
    """Draw {trend name: rows of group, t, value} into `path` (PNG)."""
    fig, axes = plt.subplots(len(trends), 1, figsize=(10, 3.6 * len(trends)), squeeze=False)
    for ax, (name, rows) in zip(axes[:, 0], trends.items()):
        ax.set_title(TRENDS[name].description)
        # A real time axis: as strings, matplotlib would order the dates by first appearance.
        groups: dict[str, list[tuple[datetime, float]]] = {}
        for row in rows:
            groups.setdefault(row["group"] or "(none)", []).append((datetime.fromisoformat(row["t"]), float(row["value"])))
        for group, points in sorted(groups.items()):
            points.sort()
            ax.plot([t for t, _ in points], [v for _, v in points], marker="o", label=group)
        moments = {t for points in groups.values() for t, _ in points}
        if len(moments) == 1:  # one instant: matplotlib would otherwise span years around it
            only = moments.pop()
            ax.set_xlim(only - timedelta(hours=1), only + timedelta(hours=1))
        if groups:
            ax.legend(loc="best", fontsize="small")
        else:
            ax.text(0.5, 0.5, "no data in this range", ha="center", va="center", transform=ax.transAxes)
        ax.tick_params(axis="x", labelrotation=30, labelsize="small")
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)
    return path
