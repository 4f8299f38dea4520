"""The claim under test, and the one way a verdict is reached and qualified by the hardware.

A :class:`Claim` names two strategies and says the first trains faster than the second by a
range of percentages; :data:`DEFAULT_CLAIM` is Keras PR #10230's. Every verdict reads a
confidence interval, never a point estimate:

* against a claimed range (:func:`placed_against_claim`): *supports* when the interval lies inside
  it, *contradicts* when it lies wholly below or above, *inconclusive* when it straddles an edge;
* against 0 and a minimum effect when nothing is claimed: *faster*, *slower*, *no difference*
  (inside +-the minimum effect) or *inconclusive*.

Hardware that cannot show the claim's mechanism (a CPU simulation, where host and default device
coincide; virtual GPUs on one chip, where the concat split's extra copies stay in one memory)
never *supports* it. That rule is decided here, as data: :class:`Caveats` says what the records
were measured on and :meth:`Caveats.qualify` turns such a verdict into "CI inside the claimed
range", so every section, plot and prediction shows one verdict with one caveat.

Pure and light: no numbers are computed here (``paired`` and ``stats`` estimate), and nothing
heavier than the vocabulary is imported, so the command line can read the defaults.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import Enum

from mgbench.vocabulary import DeviceMode, Strategy

DEFAULT_ALPHA = 0.05  # intervals are at 1 - alpha; tests at alpha
DEFAULT_MIN_EFFECT_PCT = 2.0  # the smallest change in % that counts as one


@dataclass(frozen=True)
class Evidence:
    """One configuration a claim was measured on: images/s with the old split and the new."""

    model: str
    image_size: int
    batch_per_replica: int
    replicas: int
    before_img_s: float
    after_img_s: float

    @property
    def gain_pct(self) -> float:
        """The measured speed-up of the new split over the old, in %."""
        return (self.after_img_s / self.before_img_s - 1) * 100

    @property
    def global_batch(self) -> int:
        return self.batch_per_replica * self.replicas


@dataclass(frozen=True)
class Claim:
    """Strategy ``a`` trains ``range_pct`` percent faster than strategy ``b``; with no range, the
    question whether it trains faster at all (read against 0 and a minimum effect)."""

    a: str
    b: str
    range_pct: tuple[float, float] | None
    source: str = ""
    evidence: tuple[Evidence, ...] = ()
    name: str = "The claim"  # how a heading names it: "The claim", "The seed's question"

    def __post_init__(self) -> None:
        if self.range_pct is None:
            return
        low, high = self.range_pct
        if not 0 <= low < high:
            raise ValueError(f"a claimed range needs 0 <= LOW < HIGH, got {low:g}:{high:g}")

    @property
    def pair(self) -> tuple[str, str]:
        return self.a, self.b

    @property
    def has_range(self) -> bool:
        return self.range_pct is not None

    @property
    def claimed_range(self) -> tuple[float, float]:
        """The range; ValueError for a question without one."""
        if self.range_pct is None:
            raise ValueError(f"{self.a} against {self.b} claims no range")
        return self.range_pct

    @property
    def low_pct(self) -> float:
        return self.claimed_range[0]

    @property
    def high_pct(self) -> float:
        return self.claimed_range[1]

    @property
    def range_text(self) -> str:
        """``"5-12%"``."""
        return f"{self.low_pct:g}-{self.high_pct:g}%"

    @property
    def range_arg(self) -> str:
        """``"5:12"``: the range as ``--claim`` takes it."""
        return f"{self.low_pct:g}:{self.high_pct:g}"

    @property
    def pair_arg(self) -> str:
        """``"inplace/concat"``: the pair as ``--claim PAIR=LOW:HIGH`` names it."""
        return f"{self.a}/{self.b}"

    def is_about(self, a: str, b: str) -> bool:
        """True when ``a`` against ``b`` is the comparison this claim is about."""
        return (a, b) == self.pair

    def with_range(self, range_pct: tuple[float, float] | None) -> Claim:
        """The same comparison with another claimed range (``--claim``), or none."""
        if range_pct is None:
            return replace(self, range_pct=None)
        return replace(self, range_pct=(float(range_pct[0]), float(range_pct[1])))


# Keras PR #10230's benchmark table (4 x Tesla P100, NCHW; images/s before => after): "before" is
# Keras 2.0.9-2.1.6's multi_gpu_model (the whole batch to every GPU), "after" the in-place split.
PR_10230 = (
    Evidence("ResNet50", 224, 96, 4, 392.0, 417.0),
    Evidence("ResNet50", 299, 64, 4, 229.0, 244.0),
    Evidence("ResNet50", 224, 8, 4, 148.0, 163.0),
    Evidence("InceptionV3", 224, 128, 4, 488.0, 526.0),
    Evidence("InceptionV3", 299, 96, 4, 270.0, 294.0),
    Evidence("InceptionV3", 224, 8, 4, 146.0, 158.0),
)

DEFAULT_CLAIM = Claim(
    a=Strategy.INPLACE,
    b=Strategy.WHOLEBATCH,
    range_pct=(5.0, 12.0),
    source="Keras PR #10230 (2018), 4 x Tesla P100",
    evidence=PR_10230,
)
# The seed's own question: is the in-place split faster than Matterport's concat split? No range
# was ever claimed for it.
SEED_QUESTION = Claim(
    a=Strategy.INPLACE,
    b=Strategy.CONCAT,
    range_pct=None,
    source="the seed's question (no range was claimed)",
    name="The seed's question",
)


@dataclass(frozen=True)
class Claims:
    """The comparisons a report reads against a claim (or a question), the claim's own first."""

    items: tuple[Claim, ...]

    @property
    def primary(self) -> Claim:
        return self.items[0]

    def about(self, a: str, b: str) -> Claim | None:
        """The claim (or question) about ``a`` against ``b``, if any."""
        return next((c for c in self.items if c.is_about(a, b)), None)

    def with_range(
        self, range_pct: tuple[float, float] | None, pair: tuple[str, str] | None = None
    ) -> Claims:
        """These claims with ``pair``'s range (default: the primary claim's) replaced."""
        target = pair or self.primary.pair
        if not any(c.pair == target for c in self.items):
            raise ValueError(f"no claim or question about {target[0]} against {target[1]}")
        return Claims(tuple(c.with_range(range_pct) if c.pair == target else c for c in self.items))


DEFAULT_CLAIMS = Claims((DEFAULT_CLAIM, SEED_QUESTION))


def claim_args(claims: Claims) -> list[str]:
    """The ``--claim`` arguments that turn :data:`DEFAULT_CLAIMS` into ``claims``."""
    args = []
    for claim, default in zip(claims.items, DEFAULT_CLAIMS.items, strict=False):
        if claim.range_pct == default.range_pct:
            continue
        value = claim.range_arg if claim.has_range else "none"
        args.append(value if claim is claims.primary else f"{claim.pair_arg}={value}")
    return args


def parse_claim(text: str, claims: Claims = DEFAULT_CLAIMS) -> Claims:
    """``--claim``'s value applied to ``claims``: ``LOW:HIGH`` (the claim's own pair),
    ``A/B=LOW:HIGH`` (another pair's, ``inplace/concat=1:4``) or ``A/B=none`` (no range).
    ValueError naming what was wrong."""
    pair_text, _, value = text.rpartition("=")
    pair = None
    if pair_text:
        a, slash, b = pair_text.partition("/")
        if not slash or not a or not b:
            raise ValueError(f"expected A/B=LOW:HIGH, like inplace/concat=1:4; got {text!r}")
        pair = (a, b)
        if claims.about(a, b) is None:
            known = ", ".join(c.pair_arg for c in claims.items)
            raise ValueError(f"no claim or question about {a}/{b} (known: {known})")
    range_pct = None if value == "none" else parse_range(value)
    return claims.with_range(range_pct, pair)


def parse_range(text: str) -> tuple[float, float]:
    """``"5:12"`` -> (5.0, 12.0); ValueError saying what was expected otherwise."""
    try:
        low, high = (float(part) for part in text.split(":"))
    except ValueError as error:
        raise ValueError(f"expected LOW:HIGH in percent, like 5:12; got {text!r}") from error
    if not 0 <= low < high:
        raise ValueError(f"expected 0 <= LOW < HIGH, got {text!r}")
    return low, high


class Outcome(Enum):
    """What a verdict says; the value is how it reads."""

    SUPPORTS = "supports the claim"
    SMALLER = "contradicts: smaller than claimed"
    LARGER = "contradicts: larger than claimed"
    # What a supporting interval says on hardware that cannot show the claim (see Caveats).
    INSIDE_RANGE = "CI inside the claimed range"
    FASTER = "faster"
    SLOWER = "slower"
    NO_DIFFERENCE = "no difference"
    INCONCLUSIVE = "inconclusive"

    @property
    def contradicts(self) -> bool:
        return self in (Outcome.SMALLER, Outcome.LARGER)


@dataclass(frozen=True)
class Verdict:
    """A decision and why. When inconclusive, what would decide: ``more_rounds`` or
    ``more_pairs`` (a paired comparison), or ``processes_needed`` a side (an unpaired one)."""

    outcome: Outcome
    detail: str = ""
    more_rounds: int | None = None
    more_pairs: int | None = None
    processes_needed: int | None = None

    @property
    def text(self) -> str:
        return f"{self.outcome.value} ({self.detail})" if self.detail else self.outcome.value


def around_zero(low: float, high: float) -> str:
    """What a CI below the claim says about 0."""
    if high < 0:
        return "slower"
    if low <= 0:
        return "no detectable difference"
    return "faster, by less than claimed"


def placed_against_claim(
    ci_pct: tuple[float, float], range_pct: tuple[float, float]
) -> Verdict | None:
    """Where a CI stands against the claimed range [L, U] in percent: inside it, wholly below
    (with what it says about 0) or wholly above; None when it straddles an edge. The one rule
    every comparison against the claim is read by."""
    lower, upper = range_pct
    if not lower < upper:
        raise ValueError(f"the claimed range needs LOW < HIGH, got {range_pct}")
    low, high = ci_pct
    if lower <= low and high <= upper:
        return Verdict(Outcome.SUPPORTS, f"CI inside {lower:g}-{upper:g}%")
    if high < lower:
        return Verdict(Outcome.SMALLER, around_zero(low, high))
    if low > upper:
        return Verdict(Outcome.LARGER)
    return None


class Caveat(Enum):
    """Hardware that cannot show the claim's mechanism."""

    CPU_SIMULATION = DeviceMode.CPU_SIMULATION.value
    VIRTUAL_GPUS = DeviceMode.VIRTUAL_GPU.value


@dataclass(frozen=True)
class Caveats:
    """What the measuring hardware lets a verdict on the claim say."""

    found: frozenset[Caveat] = frozenset()

    @classmethod
    def of(cls, device_modes: Iterable[str | None]) -> Caveats:
        """The caveats of records with these device modes (any record on such hardware)."""
        modes = set(device_modes)
        return cls(frozenset(c for c in Caveat if c.value in modes))

    @property
    def cpu_simulation(self) -> bool:
        return Caveat.CPU_SIMULATION in self.found

    @property
    def virtual_gpus(self) -> bool:
        return Caveat.VIRTUAL_GPUS in self.found

    def __bool__(self) -> bool:
        return bool(self.found)

    def qualify(self, verdict: Verdict) -> Verdict:
        """``verdict`` as this hardware may state it: never *supports* on hardware that cannot
        show the claim (the interval is then only inside the claimed range)."""
        if self.found and verdict.outcome is Outcome.SUPPORTS:
            return replace(verdict, outcome=Outcome.INSIDE_RANGE)
        return verdict


NO_CAVEATS = Caveats()  # real GPUs, one per replica: the claim's own hardware
