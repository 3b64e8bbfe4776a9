"""How `hugai-llm replay` shows its rows: a table, flat rows for CSV, and a plot."""

from __future__ import annotations

from pathlib import Path

from rich.console import Group
from rich.table import Table

__all__ = ["replay_table", "flat", "plot_replay"]


def _mix(mix: dict[str, float]) -> str:
    return ", ".join(f"{model} {share:.0%}" for model, share in mix.items()) or "-"


def _money(value: float) -> str:
    return f"${value:.6f}"


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def flat(rows: list[dict]) -> list[dict]:
    """The rows with their mixes and refusal reasons as text, for CSV."""
    return [{**row, "actual_models": _mix(row["actual_models"]), "candidate_models": _mix(row["candidate_models"]),
             "refused_why": ", ".join(f"{why} {n}" for why, n in row["refused_why"].items())} for row in rows]


def replay_table(rows: list[dict], *, by: str, title: str) -> Group:
    """Two tables: which models would have answered (and which requests none), then what it would have cost
    and delivered. One wide table did not fit a terminal."""
    models = Table(title=f"{title}: models", caption="changed: answered by another model than recorded; refused: "
                   "no model would have answered (the reason's code)")
    for column in (by, "requests", "recorded models", "candidate models", "changed", "refused"):
        models.add_column(column, overflow="fold")
    figures = Table(title=f"{title}: cost, latency, quality", caption=(
        "the same requests and billed tokens at the candidate model's price; p50 and quality are the recorded "
        "figures of the model on the task. backed: the candidate's estimates that rest on recorded samples (the "
        "rest: latency unknown, quality the tier's prior)"))
    for column in (by, "recorded $", "candidate $", "p50 ms rec / cand", "quality rec / cand", "backed lat / qual"):
        figures.add_column(column, overflow="fold")
    for row in rows:
        style = "bold" if row[by] == "(total)" else None
        refused = str(row["refused"]) + (f" ({', '.join(f'{w} {n}' for w, n in row['refused_why'].items())})"
                                         if row["refused"] else "")
        models.add_row(row[by], str(row["requests"]), _mix(row["actual_models"]), _mix(row["candidate_models"]),
                       str(row["changed_model"]), refused, style=style)
        figures.add_row(
            row[by], _money(row["actual_cost_usd"]), _money(row["candidate_cost_usd"]),
            f"{_num(row['actual_p50_ms'], '.0f')} / {_num(row['candidate_p50_ms'], '.0f')}",
            f"{_num(row['actual_quality'], '.2f')} / {_num(row['candidate_quality'], '.2f')}",
            f"{row['latency_backed']} / {row['quality_backed']}", style=style)
    return Group(models, figures)


def plot_replay(rows: list[dict], path: Path, *, by: str, title: str) -> Path:
    """Cost per group, recorded against candidate, and the candidate's refusals."""
    import matplotlib

    matplotlib.use("Agg")  # files only
    import matplotlib.pyplot as plt

    groups = [row for row in rows if row[by] != "(total)"]
    names = [row[by] for row in groups]
    fig, (cost_ax, refused_ax) = plt.subplots(2, 1, figsize=(10, 7), squeeze=True)
    positions = range(len(groups))
    cost_ax.bar([p - 0.2 for p in positions], [r["actual_cost_usd"] for r in groups], width=0.4, label="recorded")
    cost_ax.bar([p + 0.2 for p in positions], [r["candidate_cost_usd"] for r in groups], width=0.4, label="candidate")
    cost_ax.set_title("cost, USD")
    cost_ax.legend(loc="best", fontsize="small")
    refused_ax.bar(list(positions), [r["refused"] for r in groups], color="tab:red")
    refused_ax.bar(list(positions), [r["changed_model"] for r in groups], bottom=[r["refused"] for r in groups],
                   color="tab:orange")
    refused_ax.set_title("requests refused (red) and moved to another model (orange) by the candidate")
    refused_ax.set_ylim(0, max([1] + [r["refused"] + r["changed_model"] for r in groups]) * 1.1)
    for ax in (cost_ax, refused_ax):
        ax.set_xticks(list(positions), names, rotation=20, fontsize="small")
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
