"""``mgbench run --plan`` as text: the cells and processes, each cell's per-phase costs and where
they come from, the estimated wall time, what ``--deadline`` would leave out, the assumptions
behind the defaults, and the paired CI half-width the booked rounds should reach."""

from __future__ import annotations

from collections.abc import Sequence

from tabulate import tabulate

from mgbench.analysis import paired
from mgbench.analysis import plan as planning
from mgbench.analysis.allocation import RunAllocation
from mgbench.analysis.comparisons import process_pairs
from mgbench.analysis.plan import RunPlan
from mgbench.analysis.sequential import FIRST_LOOK_PROCESSES
from mgbench.present.allocation import allocation_lines
from mgbench.vocabulary import DeviceMode

MODE_TEXT: dict[str, str] = {
    DeviceMode.CPU_SIMULATION: "CPU simulation (no GPU: replicas share the CPU)",
    DeviceMode.VIRTUAL_GPU: "virtual GPUs (one GPU split: replicas share its chip)",
    DeviceMode.GPU: "GPUs (one per replica)",
}


def duration(seconds: float) -> str:
    """``7m31s``, ``1h02m``, or ``42 s`` under a minute."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    return tabulate(rows, headers=list(headers), tablefmt="github", disable_numparse=True)


def plan_line(plan: RunPlan) -> str:
    """One line for the start of a run: processes and the estimate."""
    return (
        f"plan: {plan.isolated_processes} isolated + {plan.paired_processes} paired"
        f"{f' + {len(plan.timelines)} timeline' if plan.timelines else ''} processes, "
        f"estimated {duration(plan.total_s)} "
        f"({'costs from ' + plan.earlier if plan.earlier else 'stated default costs'})"
    )


def _costs_sentence(plan: RunPlan) -> str:
    on_defaults = plan.models_on_defaults
    if plan.earlier is None:
        return "Per-phase costs: stated defaults for every cell (no earlier run used)."
    if not on_defaults:
        return f"Per-phase costs: measured by {plan.earlier} for every cell."
    return (
        f"Per-phase costs: measured by {plan.earlier} where it ran the cell; stated defaults "
        f"for the rest ({', '.join(on_defaults)})."
    )


def _cell_rows(plan: RunPlan) -> list[list[object]]:
    rows: list[list[object]] = []
    for each, label in [(c, "") for c in plan.cells] + [(c, " (timeline)") for c in plan.timelines]:
        cost = each.cost
        rows.append(
            [
                each.cell.cell_id + label,
                each.processes,
                f"{cost.fixed_s:.1f}",
                f"{cost.first_step_s:.1f}",
                cost.steps,
                f"{cost.step_s * 1000:,.0f}" if cost.steps else "",
                f"{cost.total_s:.0f} s",
                duration(each.total_s),
                cost.source,
            ]
        )
    return rows


def _deadline_lines(plan: RunPlan, deadline_min: float) -> list[str]:
    left_out = plan.left_out_by(deadline_min * 60)
    if not left_out:
        return [f"With --deadline {deadline_min:g}: every process fits (if the estimates hold)."]
    shown = [f"{cell_id} {'timeline' if r is None else f'r{r}'}" for cell_id, r in left_out]
    return [
        f"With --deadline {deadline_min:g}: {len(left_out)} process(es) would be left out "
        f"(recorded as skipped): {', '.join(shown)}."
    ]


def _assumption_lines(plan: RunPlan) -> list[str]:
    lines = [
        "Per-phase cost model: one process = fixed + first step + later steps x step.",
        "  fixed: process start (interpreter, TensorFlow, devices), build and compile, the "
        "placement and transfer audit, the record and exit;",
        "  first step: tracing the train step (one model copy per replica in its graph) and "
        "running it once; a paired process traces each of its k strategies;",
        "  later steps: warmup + timed (isolated), k x warmup + rounds x k x block_steps "
        "(paired, at the mean of its strategies' step times).",
    ]
    defaults = [c for c in (*plan.cells, *plan.timelines) if c.cost.source.startswith("default")]
    if defaults:
        machine = planning.MACHINE_DEFAULTS[plan.device_mode]
        bases: list[str] = [machine.basis]
        lines += [
            "",
            f"Defaults on {plan.device_mode} [1]: process start {machine.start_s:g} s, exit "
            f"{machine.exit_s:g} s, first step beyond tracing {machine.first_step_extra_s:g} s, "
            f"per step beyond the images {machine.step_overhead_s * 1000:g} ms, mirrored's "
            f"steps x{machine.mirrored_step_factor:g}.",
            "A step's images: the global batch where replicas share a device (CPU simulation, "
            "virtual GPUs), one replica's batch on real GPUs; cost per image scales with pixels.",
            "",
        ]
        rows = []
        for model in dict.fromkeys(c.cell.model for c in defaults):
            costs, label = planning.model_defaults(model, plan.device_mode)
            if costs.basis not in bases:
                bases.append(costs.basis)
            rows.append(
                [
                    model if label.endswith(plan.device_mode) else f"{model} (as ResNet50)",
                    f"{costs.image_ms:g}",
                    costs.reference_px,
                    f"{costs.build_s:g}",
                    f"{costs.trace_s_per_replica:g}",
                    f"{costs.audit_s_per_replica:g}",
                    f"[{bases.index(costs.basis) + 1}]",
                ]
            )
        headers = [
            "model",
            "ms per image",
            "at px",
            "build s",
            "trace s per replica",
            "audit s per replica",
            "basis",
        ]
        lines.append(_table(headers, rows))
        lines += [f"[{i}] {basis}" for i, basis in enumerate(bases, start=1)]
    measured = [c for c in plan.cells if c.phases_s]
    if measured:
        lines += ["", f"Phases as {plan.earlier} recorded them (medians, seconds):"]
        for each in measured:
            phases = ", ".join(f"{name} {value:.1f}" for name, value in each.phases_s.items())
            lines.append(f"  {each.cell.cell_id}: {phases}")
    return lines


def _ci_lines(plan: RunPlan) -> list[str]:
    if not plan.ci:
        return []
    alpha = plan.ci[0].alpha
    rows = []
    for ci in plan.ci:
        tau = "unseen" if ci.noise.tau_log is None else f"{ci.noise.tau_log * 100:.1f}%"
        if ci.processes == 1:
            tau = f"{tau} (one process: not in its CI)"
        rows.append(
            [
                ci.cell.cell_id,
                f"{ci.processes} x {ci.rounds}",
                f"{ci.noise.within_sd_log * 100:.1f}%",
                tau,
                f"{ci.df:.1f}",
                f"±{ci.half_width_pct:.2f}%",
                ci.noise.source,
            ]
        )
    headers = [
        "comparison",
        "processes x rounds",
        "within-process sd",
        "between-process tau",
        "df",
        "CI half-width",
        "noise from",
    ]
    notes = [
        "More rounds shrink the within-process part of the interval only; more processes "
        "(--pairs) shrink both parts.",
        *_decision_lines(plan),
    ]
    if any(ci.processes == 1 for ci in plan.ci):
        notes.insert(
            0,
            "One process cannot show tau: its interval is over its rounds alone, and does not "
            "cover how far another process would differ.",
        )
    return [
        "",
        f"Paired CI half-width the booked rounds should reach ({(1 - alpha) * 100:g}%, at a true "
        "difference of 0; sd and tau of one round's log ratio):",
        "",
        _table(headers, rows),
        "",
        *notes,
    ]


def _pairs_cost(plan: RunPlan, ci: planning.CiForecast) -> str:
    one = plan.process_s(ci.cell)
    if ci.pairs_needed is None or one is None:
        return ""
    return f" (~{duration(ci.pairs_needed * one)} of paired processes for this cell)"


def _decision_lines(plan: RunPlan) -> list[str]:
    """What each paired cell's processes can decide, and what a decisive answer would take."""
    power = f"{paired.POWER:.0%}"
    lines = [
        "",
        f"What the run can decide (a decisive answer: {power} power when the true speed-up lies "
        f"{planning.DECIDE_DISTANCE_PCT:g}% or more from the nearest edge a verdict reads: 0, "
        f"±{planning.DECIDE_DISTANCE_PCT:g}% or the claim's ends; same sd and tau as above):",
    ]
    for ci in plan.ci:
        needs = (
            f"more than {paired.MAX_MORE_PAIRS} paired processes would be needed: "
            "under these assumptions no run of this size decides it"
            if ci.pairs_needed is None
            else f"a decisive answer needs about {ci.pairs_needed} paired processes of "
            f"{ci.rounds} rounds{_pairs_cost(plan, ci)}"
        )
        # tau 0 (or unseen) sets no floor: rounds alone could decide.
        floor = (
            planning.pairs_to_decide(
                planning.Noise(0.0, ci.noise.tau_log, ci.noise.source), ci.rounds, ci.alpha
            )
            if ci.noise.tau_log
            else None
        )
        if ci.pairs_needed is not None and floor is not None and floor < ci.pairs_needed:
            # tau^2 / P is the part rounds cannot shrink: it sets a floor on the processes.
            needs += f"; no number of rounds brings that under {floor}"
        if ci.processes == 1:
            said = f"one process: no verdict (inconclusive by construction); {needs}"
        elif ci.decides:
            said = f"{ci.processes} paired processes: decides with {power} power"
        else:
            said = (
                f"{ci.processes} paired processes (CI ±{ci.half_width_pct:.2f}%): a verdict only "
                f"when the speed-up lies well away from the edges; {needs}"
            )
        lines.append(f"  {ci.cell.cell_id}: {said}.")
    short = [ci for ci in plan.ci if not ci.decides]
    if short and all(ci.pairs_needed is not None for ci in short):
        extra = sum(
            ((ci.pairs_needed or 0) - ci.processes) * (plan.process_s(ci.cell) or 0.0)
            for ci in short
        )
        lines.append(
            f"  Deciding every paired cell would take about {duration(extra)} more "
            f"(--pairs per cell as above; estimated {duration(plan.total_s + extra)} in all)."
        )
    return lines


def plan_text(
    plan: RunPlan,
    *,
    deadline_min: float | None = None,
    allocation: RunAllocation | str | None = None,
) -> str:
    """The whole ``--plan`` output; ``allocation``: the paired cells' allocation by variance
    component (a string: why there is none), after the CI section."""
    processes = plan.isolated_processes + plan.paired_processes + len(plan.timelines)
    isolated = [c for c in plan.cells if not c.cell.paired]
    # A paired cell of k strategies is one process a repeat giving every pair of them.
    comparisons = sum(len(process_pairs(c.cell)) for c in plan.cells)
    counts = (
        f"Processes: {plan.isolated_processes} isolated ({len(isolated)} cell(s)) + "
        f"{plan.paired_processes} paired ({comparisons} comparison(s))"
    )
    if plan.timelines:
        counts += f" + {len(plan.timelines)} timeline"
    headers = [
        "cell",
        "processes",
        "fixed s",
        "first step s",
        "later steps",
        "step ms",
        "one process",
        "all",
        "costs from",
    ]
    lines = [
        f"Plan for suite {plan.suite} ({plan.profile} profile) on "
        f"{MODE_TEXT[plan.device_mode]}: an estimate, nothing was run.",
        _costs_sentence(plan),
        *[f"Note: {note}" for note in plan.notes],
        "",
        _table(headers, _cell_rows(plan)),
        "",
        f"{counts} = {processes}.",
        f"Estimated wall time: {duration(plan.total_s)} (processes run one after another).",
    ]
    most = sorted({c.cell.sequential_max for c in plan.cells if c.cell.sequential_max})
    if most:
        shortest = plan.shortest_until_decided_s
        lines.append(
            f"Until decided: each paired cell stops once a look decides it, after "
            f"{FIRST_LOOK_PROCESSES} to {'/'.join(map(str, most))} processes; its counts and "
            f"times above are that maximum. The run takes between {duration(shortest)} (every "
            f"paired cell stopping at its first look) and {duration(plan.total_s)}: at least "
            f"{shortest / plan.total_s:.0%} of the fixed budget's time, whatever the data."
        )
    if deadline_min is not None:
        lines += _deadline_lines(plan, deadline_min)
    lines += ["", *_assumption_lines(plan), *_ci_lines(plan)]
    if allocation is not None:
        lines += allocation_lines(allocation)
    return "\n".join(lines)
