"""`pagebench compare RUN_A RUN_B`: per task and overall, is B better than A?

Only tasks whose fingerprints match (same queries, qrels and data revision) are
compared; the rest are listed with the reason. The overall line averages tasks with
equal weight, like the leaderboard; its interval and p-value come from the same
paired tests run across all compared tasks at once (see `benchmark.significance`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from benchmark.core.defaults import RESAMPLES, STATISTICS_SEED
from benchmark.core.vocabulary import DEFAULT_METRIC
from benchmark.evaluation.significance import PairedComparison, compare_paired
from benchmark.report.collect import StoredResult
from benchmark.report.table import render_table


@dataclass(frozen=True)
class TaskPairing:
    """The tasks two runs share, and why the others cannot be compared."""

    pairs: list[tuple[str, StoredResult, StoredResult]] = field(default_factory=list)
    only_in_a: list[str] = field(default_factory=list)
    only_in_b: list[str] = field(default_factory=list)
    different_data: list[tuple[str, str]] = field(default_factory=list)  # (task, why)

    def reasons(self, a_label: str = "A", b_label: str = "B") -> list[tuple[str, str]]:
        return (
            [(task, f"only in {a_label}") for task in self.only_in_a]
            + [(task, f"only in {b_label}") for task in self.only_in_b]
            + self.different_data
        )


def pair_tasks(run_a: dict[str, StoredResult], run_b: dict[str, StoredResult]) -> TaskPairing:
    pairs, different_data = [], []
    for task in sorted(set(run_a) & set(run_b)):
        a, b = run_a[task], run_b[task]
        if a.fingerprint != b.fingerprint:
            different_data.append(
                (task, f"different data (fingerprint {a.fingerprint[:12]} vs {b.fingerprint[:12]})")
            )
        elif a.document.evaluation != b.document.evaluation:
            different_data.append((task, f"evaluated differently ({_evaluation(a)} vs {_evaluation(b)})"))
        elif set(a.document.per_query) != set(b.document.per_query):
            different_data.append((task, "different query ids"))
        else:
            pairs.append((task, a, b))
    return TaskPairing(
        pairs=pairs,
        only_in_a=sorted(set(run_a) - set(run_b)),
        only_in_b=sorted(set(run_b) - set(run_a)),
        different_data=different_data,
    )


def _evaluation(result: StoredResult) -> str:
    evaluation = result.document.evaluation
    return f"protocol {evaluation.protocol}, ties by {evaluation.tie_rule}"


def aligned_scores(a: StoredResult, b: StoredResult, metric: str) -> tuple[list[float], list[float]]:
    """Per-query values of both runs in the same (sorted query id) order."""
    values_a, values_b = a.per_query(metric), b.per_query(metric)
    order = sorted(values_a)
    return [values_a[qid] for qid in order], [values_b[qid] for qid in order]


@dataclass(frozen=True)
class RunComparison:
    metric: str
    label_a: str
    label_b: str
    tasks: list[tuple[str, PairedComparison]]
    overall: PairedComparison | None
    not_comparable: list[tuple[str, str]]

    def as_dict(self) -> dict:
        return {
            "metric": self.metric,
            "a": self.label_a,
            "b": self.label_b,
            "difference_is": "b - a",
            "tasks": {task: comparison.as_dict() for task, comparison in self.tasks},
            "overall": self.overall.as_dict() if self.overall else None,
            "not_comparable": dict(self.not_comparable),
        }


def compare_runs(
    run_a: dict[str, StoredResult],
    run_b: dict[str, StoredResult],
    *,
    metric: str = DEFAULT_METRIC,
    labels: tuple[str, str] = ("A", "B"),
    resamples: int = RESAMPLES,
    seed: int = STATISTICS_SEED,
) -> RunComparison:
    pairing = pair_tasks(run_a, run_b)
    groups = {task: aligned_scores(a, b, metric) for task, a, b in pairing.pairs}
    tasks = [
        (task, compare_paired([scores], resamples=resamples, seed=seed)) for task, scores in groups.items()
    ]
    overall = (
        compare_paired(list(groups.values()), resamples=resamples, seed=seed) if len(groups) > 1 else None
    )
    return RunComparison(metric, labels[0], labels[1], tasks, overall, pairing.reasons(*labels))


def comparison_table(report: RunComparison) -> str:
    headers = [
        "task",
        "queries",
        f"A {report.metric}",
        f"B {report.metric}",
        "B - A",
        "95% CI",
        "p",
        "B wins/ties/losses",
    ]
    rows = [_row(task, comparison) for task, comparison in report.tasks]
    if report.overall:
        rows.append(_row(f"overall ({len(report.tasks)} tasks, equal weight)", report.overall))
    lines = [f"A = {report.label_a}", f"B = {report.label_b}", ""]
    lines.append(render_table(headers, rows) if rows else "no task can be compared")
    if report.not_comparable:
        lines.append("\nnot comparable:")
        lines.extend(f"  {task}: {reason}" for task, reason in report.not_comparable)
    lines.append(
        "\np: paired randomisation test on per-query values; CI: paired bootstrap "
        "(queries resampled within each task)."
    )
    return "\n".join(lines)


def _row(name: str, c: PairedComparison) -> list:
    return [
        name,
        c.n_queries,
        c.mean_a,
        c.mean_b,
        f"{c.difference:+.4f}",
        f"[{c.ci_low:+.4f}, {c.ci_high:+.4f}]",
        f"{c.p_value:.4f}" if c.p_value >= 0.001 else f"{c.p_value:.1e}",
        f"{c.wins}/{c.ties}/{c.losses}",
    ]
