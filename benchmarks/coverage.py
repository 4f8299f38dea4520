"""Coverage of the paired interval's candidates: which one keeps its promise with few processes?

Simulates paired comparisons with a known true log ratio (0) under the random-effects model of
``mgbench.analysis.paired``,

    y[p, r] = mu + u[p] + e[p, r],   u ~ N(0, tau^2),   e = sigma x (a noise shape of sd 1),

and measures, for every per-process aggregate x across-process interval of
``mgbench.analysis.pooling`` (the functions ``paired.estimate`` itself calls), how often the
nominal 95% interval contains ``mu`` and how wide it is. The noise shapes, each scaled to sd 1:

* ``normal``;
* ``t3``: Student's t with 3 df over sqrt(3);
* ``contaminated``: 10% of rounds from a normal 5x wider than the rest;
* ``two regimes``: each block of a round (A's or B's) independently falls in a slow step-time
  regime with probability 0.2; when only one of the two does, the round's log ratio jumps by
  +-1.5 sd (B's block slow: +, A's: -), on top of normal noise holding the remaining variance:
  rounds cluster at 0 (68%) and +-1.5 sd (16% each), as MobileNetV2's two regimes would give.

The choice rule: among the candidates that cover at least :data:`REQUIRED_COVERAGE` in every case
with >= 2 processes, the one with the smallest median (over those cases) of its median
half-width. One process cannot see ``tau``; its rows are shown, and marked inconclusive by
construction.

Seeded and vectorised: every case's data sets come from ``numpy.random.default_rng([SEED,
case...])``, so a case's numbers do not depend on which other cases ran.

    python benchmarks/coverage.py [--datasets 20000] [--seed 22] [--output results/coverage]
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mgbench.analysis import pooling
from mgbench.records import environment

PROCESSES = (1, 2, 3, 6, 10)
ROUNDS = (8, 20)
TAUS = (0.0, 0.01, 0.02, 0.03)
SIGMAS = (0.03, 0.05)
SHAPES = ("normal", "t3", "contaminated", "two regimes")
ALPHA = 0.05
REQUIRED_COVERAGE = 0.94
SEED = 22  # the number

CONTAMINATED_SHARE, CONTAMINATED_WIDTH = 0.10, 5.0
SLOW_REGIME_CHANCE, REGIME_JUMP_SD = 0.2, 1.5


def standard_noise(shape: str, size: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Round noise of sd 1 in one of :data:`SHAPES`."""
    if shape == "normal":
        return rng.standard_normal(size)
    if shape == "t3":
        return rng.standard_t(3, size) / np.sqrt(3)
    if shape == "contaminated":
        wide = rng.random(size) < CONTAMINATED_SHARE
        noise = rng.standard_normal(size) * np.where(wide, CONTAMINATED_WIDTH, 1.0)
        share = CONTAMINATED_SHARE
        return noise / np.sqrt(1 - share + share * CONTAMINATED_WIDTH**2)
    if shape == "two regimes":
        a_slow = rng.random(size) < SLOW_REGIME_CHANCE
        b_slow = rng.random(size) < SLOW_REGIME_CHANCE
        jump = REGIME_JUMP_SD * (b_slow.astype(float) - a_slow.astype(float))
        jump_var = 2 * SLOW_REGIME_CHANCE * (1 - SLOW_REGIME_CHANCE) * REGIME_JUMP_SD**2
        return jump + np.sqrt(1 - jump_var) * rng.standard_normal(size)
    raise ValueError(f"unknown noise shape {shape!r}; known: {', '.join(SHAPES)}")


@dataclass(frozen=True)
class Case:
    shape: str
    sigma: float
    processes: int
    rounds: int
    tau: float

    @property
    def key(self) -> dict[str, object]:
        return {
            "shape": self.shape,
            "sigma_pct": round(self.sigma * 100, 6),
            "processes": self.processes,
            "rounds": self.rounds,
            "tau_pct": round(self.tau * 100, 6),
        }


def candidate_names(processes: int) -> list[tuple[str, str, str]]:
    """(name, aggregate, interval) of every candidate for data sets of ``processes``."""
    intervals = ["t over rounds"] if processes == 1 else list(pooling.INTERVALS)
    return [(f"{a} + {i}", a, i) for a in pooling.AGGREGATES for i in intervals]


def simulate(
    shape: str, processes: int, rounds: int, datasets: int, seed: int
) -> list[tuple[Case, dict[str, dict[str, float]]]]:
    """Every (sigma, tau) case of one noise shape and design, on common random numbers."""
    rng = np.random.default_rng([seed, SHAPES.index(shape), processes, rounds])
    noise = standard_noise(shape, (datasets, processes, rounds), rng)
    process_effect = rng.standard_normal((datasets, processes, 1))
    out = []
    for sigma in SIGMAS:
        for tau in TAUS:
            data = tau * process_effect + sigma * noise  # the true log ratio is 0
            found: dict[str, dict[str, float]] = {}
            for name, aggregate, interval in candidate_names(processes):
                summaries = pooling.AGGREGATES[aggregate](data)
                pool = pooling.one_process if processes == 1 else pooling.INTERVALS[interval]
                pooled = pool(summaries)
                half = pooled.half_width(ALPHA)
                found[name] = {
                    "coverage": float(np.mean(np.abs(pooled.centre) <= half)),
                    "median_half_width_pct": float(np.median(half) * 100),
                }
            out.append((Case(shape, sigma, processes, rounds, tau), found))
    return out


def choose(results: list[tuple[Case, dict[str, dict[str, float]]]]) -> dict[str, object]:
    """Per candidate over the cases with >= 2 processes: the worst coverage, the cases below
    :data:`REQUIRED_COVERAGE`, the median of its median half-widths; and the chosen one."""
    multi = [found for case, found in results if case.processes >= 2]
    summary = {}
    for name in multi[0]:
        coverages = [found[name]["coverage"] for found in multi]
        halves = [found[name]["median_half_width_pct"] for found in multi]
        summary[name] = {
            "worst_coverage": min(coverages),
            "cases_below": sum(c < REQUIRED_COVERAGE for c in coverages),
            "median_half_width_pct": statistics.median(halves),
        }
    passing = [n for n, s in summary.items() if s["cases_below"] == 0]
    chosen = min(passing, key=lambda n: summary[n]["median_half_width_pct"]) if passing else None
    return {"cases": len(multi), "candidates": summary, "chosen": chosen}


def _cell(found: dict[str, float]) -> str:
    return f"{found['coverage']:.3f} / {found['median_half_width_pct']:.2f}"


MODEL_TEXT = (
    "Model: round r of process p gives the log ratio `y = mu + u[p] + sigma x e[p, r]`, true "
    "`mu = 0`, `u ~ N(0, tau^2)`, and `e` of sd 1 (`benchmarks/coverage.py`; each case's sigma "
    "and tau values share one draw of `u` and `e`):",
    "",
    "- normal: `e ~ N(0, 1)`;",
    "- t3: Student's t with 3 df over sqrt(3);",
    f"- contaminated: {CONTAMINATED_SHARE:.0%} of rounds from a normal {CONTAMINATED_WIDTH:g}x "
    "wider than the rest, scaled to sd 1;",
    "- two regimes: each of a round's two blocks (A's, B's) is independently in a slow "
    f"step-time regime with probability {SLOW_REGIME_CHANCE:g}; a round with exactly one slow "
    f"block jumps by +-{REGIME_JUMP_SD:g} sd (B slow: +, A slow: -), over normal noise holding "
    "the remaining variance: rounds sit at 0 (68%) and at +-1.5 sd (16% each).",
)
OLD_METHOD = "mean + DL + Satterthwaite"  # paired.estimate's interval before this study


def by_shape(results: list[tuple[Case, dict[str, dict[str, float]]]], chosen: str) -> list[str]:
    """Per noise shape, over the cases with >= 2 processes: the worst coverage of the chosen
    candidate and of the old method, and the chosen one's half-width relative to the plain mean
    under the same interval (what the aggregate costs or saves)."""
    from tabulate import tabulate

    aggregate, interval = next((a, i) for n, a, i in candidate_names(2) if n == chosen)
    with_mean = f"mean + {interval}"
    rows = []
    for shape in SHAPES:
        block = [f for c, f in results if c.shape == shape and c.processes >= 2]
        ratios = [
            f[chosen]["median_half_width_pct"] / f[with_mean]["median_half_width_pct"]
            for f in block
        ]
        rows.append(
            [
                shape,
                f"{min(f[chosen]['coverage'] for f in block):.3f}",
                f"{min(f[OLD_METHOD]['coverage'] for f in block):.3f}",
                f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
                if aggregate != "mean"
                else "1",
            ]
        )
    headers = [
        "noise",
        "chosen: worst coverage",
        f"{OLD_METHOD}: worst coverage",
        f"chosen half-width relative to {with_mean}: median (range)",
    ]
    return [
        "By noise shape, over the cases with >= 2 processes:",
        "",
        tabulate(rows, headers, tablefmt="github", disable_numparse=True),
    ]


def render(
    results: list[tuple[Case, dict[str, dict[str, float]]]],
    choice: dict[str, object],
    header: str,
    mc_se: float,
) -> str:
    from tabulate import tabulate

    summary: dict[str, dict[str, float]] = choice["candidates"]  # type: ignore[assignment]
    chosen = choice["chosen"]
    lines = [
        "# Coverage of the paired interval's candidates",
        "",
        header,
        "",
        f"Nominal level {1 - ALPHA:.0%}. Monte Carlo standard error of one coverage near 0.95: "
        f"{mc_se:.4f}. Half-widths are of the log ratio x 100 (about the speed-up's % for small "
        "ratios).",
        "",
        *MODEL_TEXT,
        "",
        f"**Choice rule**: among the candidates covering >= {REQUIRED_COVERAGE} in every one "
        f"of the {choice['cases']} cases with >= 2 processes, the smallest median (over those "
        f"cases) of the median half-width. **Chosen: {chosen or 'none passes'}.**",
        "",
    ]
    reference = summary[chosen]["median_half_width_pct"] if chosen else None
    rows = [
        [
            name,
            f"{s['worst_coverage']:.3f}",
            s["cases_below"],
            f"{s['median_half_width_pct']:.2f}",
            f"{s['median_half_width_pct'] / reference:.2f}" if reference else "",
            "chosen" if name == chosen else ("passes" if s["cases_below"] == 0 else ""),
        ]
        for name, s in summary.items()
    ]
    headers = [
        "candidate",
        "worst coverage",
        f"cases < {REQUIRED_COVERAGE}",
        "median half-width %",
        "relative to chosen",
        "",
    ]
    lines += [tabulate(rows, headers, tablefmt="github", disable_numparse=True), ""]
    if chosen:
        lines += [*by_shape(results, chosen), ""]

    lines += [
        "## One process: inconclusive by construction",
        "",
        "One process cannot see the between-process spread tau, so its t-interval over rounds "
        "undercovers once tau > 0; `paired.estimate` still computes it, and every verdict on it "
        "is *inconclusive*. Coverage / median half-width %:",
        "",
    ]
    single = [(c, f) for c, f in results if c.processes == 1]
    names = list(single[0][1])
    rows = [
        [c.shape, f"{c.sigma * 100:g}", c.rounds, f"{c.tau * 100:g}"] + [_cell(f[n]) for n in names]
        for c, f in single
    ]
    lines += [
        tabulate(
            rows,
            ["noise", "sigma %", "rounds", "tau %", *names],
            tablefmt="github",
            disable_numparse=True,
        ),
        "",
    ]

    names = list(summary)
    lines += [
        "## Every case with >= 2 processes",
        "",
        "Each cell: coverage / median half-width %. Coverage below "
        f"{REQUIRED_COVERAGE} is marked `!`.",
        "",
    ]
    for shape in SHAPES:
        for sigma in SIGMAS:
            block = [
                (c, f)
                for c, f in results
                if c.shape == shape and c.sigma == sigma and c.processes >= 2
            ]
            rows = [
                [c.processes, c.rounds, f"{c.tau * 100:g}"]
                + [
                    _cell(f[n]) + (" !" if f[n]["coverage"] < REQUIRED_COVERAGE else "")
                    for n in names
                ]
                for c, f in block
            ]
            lines += [
                f"### {shape} rounds, sigma {sigma * 100:g}%",
                "",
                tabulate(
                    rows,
                    ["processes", "rounds", "tau %", *names],
                    tablefmt="github",
                    disable_numparse=True,
                ),
                "",
            ]
    return "\n".join(lines)


def rerender(published: Path, output: Path) -> None:
    """coverage.md again from a coverage.json, without simulating."""
    document = json.loads(published.read_text())
    results = [
        (
            Case(c["shape"], c["sigma_pct"] / 100, c["processes"], c["rounds"], c["tau_pct"] / 100),
            c["candidates"],
        )
        for c in document["cases"]
    ]
    choice = choose(results)
    if choice != document["choice"]:
        raise SystemExit(f"{published}: its choice differs from this rule's; simulate again")
    output.mkdir(parents=True, exist_ok=True)
    text = render(results, choice, document["header"], document["monte_carlo_se"])
    (output / "coverage.md").write_text(text + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=20_000, help="data sets per case")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--output", type=Path, default=Path("results/coverage"))
    parser.add_argument(
        "--from", dest="existing", type=Path, help="only re-render this coverage.json"
    )
    args = parser.parse_args()
    if args.existing is not None:
        rerender(args.existing, args.output)
        return

    started = time.monotonic()
    results = []
    for shape in SHAPES:
        for processes in PROCESSES:
            for rounds in ROUNDS:
                results += simulate(shape, processes, rounds, args.datasets, args.seed)
        print(f"{shape}: done at {time.monotonic() - started:.0f} s", flush=True)
    choice = choose(results)
    mc_se = float(np.sqrt((1 - ALPHA) * ALPHA / args.datasets))
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    host = environment.host_environment()
    machine = f"{host['host']} ({host['cpu']}, {host['cpu_count']} CPUs)"
    header = (
        f"Seed {args.seed}; {args.datasets} data sets per case; {len(results)} cases; "
        f"machine {machine}; {when}; {time.monotonic() - started:.0f} s."
    )
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "coverage.md").write_text(
        render(results, choice, header, mc_se) + "\n", encoding="utf-8"
    )
    document = {
        "header": header,
        "seed": args.seed,
        "datasets_per_case": args.datasets,
        "machine": machine,
        "date": when,
        "alpha": ALPHA,
        "required_coverage": REQUIRED_COVERAGE,
        "monte_carlo_se": mc_se,
        "choice": choice,
        "cases": [{**case.key, "candidates": found} for case, found in results],
    }
    (args.output / "coverage.json").write_text(json.dumps(document, indent=1) + "\n")
    print(header)
    print(f"chosen: {choice['chosen']}")


if __name__ == "__main__":
    main()
