"""`pagebench check`: the CI gate. Did any task's metric fall against a baseline run?

Exit codes, meant for CI:
    0  no task fell by more than the tolerance
    1  a regression: at least one task fell by more than the tolerance
       (with --significant: and the paired randomisation test says p < alpha)
    2  not comparable: a baseline task is missing from the current run, or was
       evaluated on different data (fingerprint) or under another protocol or tie
       rule (`evaluation`); nothing can be vouched for. The CLI also exits 2 on wrong
       input: a results file the typed reader refuses (a metric that is not a number in
       [0, 1], a missing key, a wrong type) or an option out of range; never 1, which
       CI reads as a regression
Tasks only in the current run are listed and ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmark.core.defaults import CHECK_TOLERANCE, RESAMPLES, STATISTICS_SEED
from benchmark.core.vocabulary import DEFAULT_METRIC
from benchmark.evaluation.significance import compare_paired
from benchmark.report.collect import StoredResult
from benchmark.report.compare import aligned_scores, pair_tasks

PASSED, REGRESSED, NOT_COMPARABLE = 0, 1, 2


@dataclass(frozen=True)
class TaskCheck:
    task: str
    baseline: float
    current: float
    p_value: float | None  # only with --significant
    regressed: bool

    @property
    def delta(self) -> float:
        return self.current - self.baseline


@dataclass(frozen=True)
class CheckOutcome:
    metric: str
    tolerance: float
    alpha: float | None  # set in --significant mode
    checked: list[TaskCheck]
    not_comparable: list[tuple[str, str]]
    not_in_baseline: list[str]

    @property
    def exit_code(self) -> int:
        if self.not_comparable:
            return NOT_COMPARABLE
        return REGRESSED if any(check.regressed for check in self.checked) else PASSED


def check_regressions(
    baseline: dict[str, StoredResult],
    current: dict[str, StoredResult],
    *,
    metric: str = DEFAULT_METRIC,
    tolerance: float = CHECK_TOLERANCE,
    alpha: float | None = None,
    resamples: int = RESAMPLES,
    seed: int = STATISTICS_SEED,
) -> CheckOutcome:
    """`alpha` set: a drop counts only if it is also significant (paired test, p < alpha)."""
    pairing = pair_tasks(baseline, current)
    checked = []
    for task, base, now in pairing.pairs:
        baseline_value, current_value = base.metric(metric), now.metric(metric)
        beyond_tolerance = current_value - baseline_value < -tolerance
        p_value = None
        if alpha is not None:
            p_value = compare_paired(
                [aligned_scores(base, now, metric)], resamples=resamples, seed=seed
            ).p_value
        regressed = beyond_tolerance and (p_value is None or p_value < alpha)
        checked.append(TaskCheck(task, baseline_value, current_value, p_value, regressed))
    missing = [(task, "in the baseline but missing from the current run") for task in pairing.only_in_a]
    return CheckOutcome(
        metric, tolerance, alpha, checked, missing + pairing.different_data, pairing.only_in_b
    )


def describe_check(outcome: CheckOutcome) -> str:
    lines = []
    for check in outcome.checked:
        verdict = "REGRESSION" if check.regressed else "ok"
        significance = f", p = {check.p_value:.4f}" if check.p_value is not None else ""
        lines.append(
            f"{verdict:<10} {check.task}: {outcome.metric} baseline {check.baseline:.4f}, "
            f"current {check.current:.4f}, delta {check.delta:+.4f}{significance}"
        )
    for task, reason in outcome.not_comparable:
        lines.append(f"{'NOT COMPARABLE':<10} {task}: {reason}")
    for task in outcome.not_in_baseline:
        lines.append(f"{'ignored':<10} {task}: not in the baseline")
    rule = f"a fall of more than {outcome.tolerance:g}"
    if outcome.alpha is not None:
        rule += f" that the paired randomisation test finds significant (p < {outcome.alpha:g})"
    verdicts = {
        PASSED: f"passed: no task shows {rule}",
        REGRESSED: f"failed: {sum(c.regressed for c in outcome.checked)} task(s) show {rule}",
        NOT_COMPARABLE: (
            "not comparable: the current run does not cover the baseline's tasks "
            "on the same data and protocol"
        ),
    }
    lines.append(f"check {verdicts[outcome.exit_code]} (exit {outcome.exit_code})")
    return "\n".join(lines)
