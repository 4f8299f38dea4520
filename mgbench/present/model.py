"""The report as data: sections of rows that keep their numbers, and columns that say how each
number is shown (and in which unit it is kept). Builders (``present.sections``) fill it,
renderers (``present.render``, ``present.html``) make the text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mgbench.analysis import stats
from mgbench.config.suite import Cell
from mgbench.present import formats


@dataclass(frozen=True)
class Column:
    """A heading, how its values are shown, the unit they are kept in, and the text for None."""

    header: str
    show: Callable[[Any], str] = formats.text
    unit: str | None = None
    missing: str = "n/a"

    def text(self, value: Any) -> str:
        return self.missing if value is None else self.show(value)


@dataclass
class Section:
    title: str
    columns: list[Column]
    rows: list[list[Any]]  # numbers, strings, None, or small lists/dicts of them (JSON-able)
    notes: list[str] = field(default_factory=list)

    @property
    def headers(self) -> list[str]:
        return [column.header for column in self.columns]

    def text_rows(self) -> list[list[str]]:
        return [
            [column.text(value) for column, value in zip(self.columns, row, strict=True)]
            for row in self.rows
        ]


@dataclass
class Report:
    title: str
    preamble: list[str]
    sections: list[Section]
    # Preamble lines and notes that say the hardware cannot show the claim: a page boxes them,
    # so a reader skimming tables cannot miss them.
    callouts: frozenset[str] = frozenset()


# -- columns shared by the sections ------------------------------------------------------------

CELL_COLUMNS = [Column("model"), Column("backend"), Column("px"), Column("batch/replica")]
STRATEGY_COLUMNS = [Column("strategy"), Column("replicas")]
RATE = "images/s"
VERDICT_HEADER = "verdict"  # the column a page shows as badges


def cell_values(cell: Cell) -> list[Any]:
    """The values of CELL_COLUMNS."""
    return [cell.model, cell.backend, cell.image_size, cell.batch_per_replica]


def strategy_values(cell: Cell) -> list[Any]:
    return [cell.strategy_label, cell.replicas]


def rate_column(header: str) -> Column:
    return Column(header, formats.rate, RATE)


def comparison_columns(change_header: str, alpha: float = stats.DEFAULT_ALPHA) -> list[Column]:
    return [
        Column(change_header, formats.signed_pct, "%"),
        Column(f"{stats.confidence_label(alpha)} CI", formats.pct_interval, "%"),
        Column("U p-value", formats.p_value),
        Column(VERDICT_HEADER),
    ]


def comparison_values(comparison: stats.Comparison, verdict: str) -> list[Any]:
    return [comparison.change_pct, comparison.ci_pct, comparison.p_value, verdict]


def mib_column(header: str, missing: str = "n/a") -> Column:
    return Column(header, formats.mib, "bytes", missing)


def devices_column(header: str) -> Column:
    return Column(header, formats.devices_mib, "bytes")
