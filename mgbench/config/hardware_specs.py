"""Hardware specs: the links and compute references of a multi-GPU machine, as small TOML files.

A spec says how fast bytes move between the host and each GPU (and which GPUs share one
physical uplink to the host), how a GPU reaches another (NVLink pairs, an NVSwitch, PCIe
peer-to-peer, staged through host memory, or a copy inside one chip for virtual GPUs), and
published per-GPU training throughputs that give a compute time per step. Four specs ship in
``shipped_specs/``; a user's own ``FILE.toml`` has the same keys. Every problem is a
:class:`HardwareSpecError` naming the file and the key.

Bandwidths are GB/s (10^9 bytes/s), one direction.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from mgbench.config.checks import (
    Fields,
    Place,
    choice,
    integer,
    integers,
    is_integer,
    listed,
    mapping,
    nonempty_text,
    positive_number,
    table_place,
    tables,
)
from mgbench.vocabulary import WRAPPERS

PEER_VIA = ("pcie", "host", "switch", "chip")
PRECISIONS = ("fp32", "tf32")
_SHIPPED = "shipped_specs"


class HardwareSpecError(ValueError):
    """A hardware spec cannot be used; the one-line message names the file and the key."""


@dataclass(frozen=True)
class SharedUplink:
    """One physical link to the host that several GPUs share (a PCIe switch's uplink)."""

    name: str
    gpus: tuple[int, ...]
    h2d_gb_s: float
    d2h_gb_s: float


@dataclass(frozen=True)
class NvLinkPair:
    a: int
    b: int
    links: int


@dataclass(frozen=True)
class Peer:
    """How one GPU reaches another.

    ``nvlinks`` join some pairs directly (each link ``nvlink_gb_s`` per direction); every other
    pair goes ``via``: ``pcie`` (peer-to-peer over the PCIe tree, capped at ``gb_s`` when set),
    ``host`` (staged through host memory: down, then up), ``switch`` (an NVSwitch: each GPU has
    one port of ``gb_s`` per direction) or ``chip`` (virtual GPUs of one chip: a copy inside its
    memory, every such copy sharing ``gb_s``).
    """

    via: str
    gb_s: float | None
    nvlink_gb_s: float | None
    nvlinks: tuple[NvLinkPair, ...]

    def nvlink_gb_s_between(self, a: int, b: int) -> float | None:
        """The direct NVLink bandwidth between two GPUs, one direction, or None."""
        for pair in self.nvlinks:
            if {pair.a, pair.b} == {a, b} and self.nvlink_gb_s is not None:
                return pair.links * self.nvlink_gb_s
        return None


@dataclass(frozen=True)
class ComputeReference:
    """A published training throughput: ``img_s`` images/s over ``gpus`` physical GPUs, at
    ``batch_per_gpu``; ``after_img_s`` is a claim's "after" figure where the spec has one."""

    model: str
    image_size: int
    batch_per_gpu: int
    gpus: int
    img_s: float
    precision: str
    source: str
    after_img_s: float | None = None
    # The multi-GPU split whose step img_s measured (PR #10230's "before": wholebatch): its
    # copies are inside that step time, so a prediction takes them out of the compute term.
    includes_copies_of: str | None = None

    @property
    def img_s_per_gpu(self) -> float:
        return self.img_s / self.gpus


@dataclass(frozen=True)
class HardwareSpec:
    name: str
    description: str
    path: str
    gpus: int
    h2d_gb_s: float  # each GPU's own link, host -> GPU
    d2h_gb_s: float  # and GPU -> host
    uplinks: tuple[SharedUplink, ...]
    peer: Peer
    gpus_per_chip: int  # > 1: virtual GPUs that share one chip's compute
    references: tuple[ComputeReference, ...]

    def uplink_of(self, gpu: int) -> SharedUplink | None:
        return next((u for u in self.uplinks if gpu in u.gpus), None)

    def references_for(self, model: str, image_size: int) -> tuple[ComputeReference, ...]:
        return tuple(r for r in self.references if r.model == model and r.image_size == image_size)


# -- loading ---------------------------------------------------------------------------------


def _shipped() -> dict[str, Any]:
    folder = resources.files(__package__).joinpath(_SHIPPED)
    return {
        entry.name.removesuffix(".toml"): entry
        for entry in folder.iterdir()
        if entry.name.endswith(".toml")
    }


def names() -> list[str]:
    """The shipped specs' names."""
    return sorted(_shipped())


def load_spec(name_or_path: str | Path) -> HardwareSpec:
    """A shipped spec by name, or a user's TOML file by path."""
    text = str(name_or_path)
    shipped = _shipped()
    if text in shipped:
        entry = shipped[text]
        return parse_spec(entry.read_text(encoding="utf-8"), str(entry), default_name=text)
    path = Path(text)
    if path.suffix != ".toml" and not path.exists():
        known = ", ".join(sorted(shipped))
        raise HardwareSpecError(
            f"unknown hardware spec {text!r}; known: {known} (or give a FILE.toml)"
        )
    try:
        data = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise HardwareSpecError(f"{path}: no such hardware file") from error
    except IsADirectoryError as error:
        raise HardwareSpecError(f"{path}: a folder, not a hardware TOML file") from error
    except OSError as error:
        raise HardwareSpecError(
            f"{path}: cannot read the hardware file: {error.strerror}"
        ) from error
    except UnicodeDecodeError as error:
        raise HardwareSpecError(f"{path}: not UTF-8 text (byte {error.start})") from error
    return parse_spec(data, str(path), default_name=path.stem)


_TOP_KEYS = {
    "name",
    "description",
    "gpus",
    "gpus_per_chip",
    "host_link",
    "shared_uplink",
    "peer",
    "reference",
}
_HOST_KEYS = {"h2d_gb_s", "d2h_gb_s"}
_UPLINK_KEYS = {"name", "gpus", "h2d_gb_s", "d2h_gb_s"}
_PEER_KEYS = {"via", "gb_s", "nvlink_gb_s", "nvlinks"}
_REFERENCE_KEYS = {
    "model",
    "image_size",
    "batch_per_gpu",
    "gpus",
    "img_s",
    "after_img_s",
    "includes_copies_of",
    "precision",
    "source",
}


def parse_spec(text: str, path: str = "<hardware>", *, default_name: str = "") -> HardwareSpec:
    """Validate a spec's TOML text; ``path`` names it in every error."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise HardwareSpecError(_toml_error(path, error)) from error
    top = _table(path, "top level", data)
    top.check_keys(_TOP_KEYS)
    gpus = top.required("gpus", _count)
    name = top.optional("name", nonempty_text) or default_name or Path(path).stem
    host = _table(path, "host_link", _subtable(top, "host_link"))
    host.check_keys(_HOST_KEYS)
    uplinks = tuple(
        _uplink(path, f"shared_uplink.{i}", item, gpus)
        for i, item in enumerate(_subtables(top, "shared_uplink"))
    )
    shared: dict[int, str] = {}
    for uplink in uplinks:
        for gpu in uplink.gpus:
            if gpu in shared:
                raise HardwareSpecError(
                    f"{path}: [[shared_uplink]] {uplink.name!r} gpus: GPU {gpu} is already "
                    f"behind {shared[gpu]!r}"
                )
            shared[gpu] = uplink.name
    return HardwareSpec(
        name=name,
        description=top.optional("description", nonempty_text) or "",
        path=path,
        gpus=gpus,
        h2d_gb_s=host.required("h2d_gb_s", positive_number),
        d2h_gb_s=host.required("d2h_gb_s", positive_number),
        uplinks=uplinks,
        peer=_peer(_table(path, "peer", _subtable(top, "peer")), gpus),
        gpus_per_chip=top.optional("gpus_per_chip", _count) or 1,
        references=tuple(
            _reference(_table(path, f"reference.{i}", item))
            for i, item in enumerate(_subtables(top, "reference"))
        ),
    )


def _toml_error(path: str, error: tomllib.TOMLDecodeError) -> str:
    # tomllib (3.11) puts the position only in its message: "... (at line 3, column 7)".
    message = str(error)
    found = re.search(r"\(at line (\d+), column (\d+)\)$", message)
    if found is None:
        return f"{path}: not valid TOML: {message}"
    reason = message[: found.start()].rstrip()
    return f"{path}:{found.group(1)}: not valid TOML: {reason} (column {found.group(2)})"


def _table(path: str, name: str, data: Mapping[str, Any]) -> Fields:
    return Fields(data, table_place(path, name, HardwareSpecError))


def _subtable(table: Fields, key: str) -> Mapping[str, Any]:
    return table.required(key, mapping, expected=f"a table ([{key}])")


def _subtables(table: Fields, key: str) -> list[Mapping[str, Any]]:
    return table.optional(key, tables, expected=f"tables ([[{key}]])") or []


def _count(value: Any, place: Place) -> int:
    # a spec's refusals say the bound, a wrong type's too
    return integer(value, place, minimum=1, expected="an integer >= 1")


def _rate(table: Fields, key: str, *, required: bool = True) -> float | None:
    read = table.required if required else table.optional
    return read(key, positive_number)


def _check_gpu(gpu: int, gpus: int, place: Place) -> None:
    if not 0 <= gpu < gpus:
        raise place.error(f"GPU {gpu} is beyond gpus = {gpus} (0..{gpus - 1})")


def _gpu_list(value: Any, place: Place, gpus: int) -> tuple[int, ...]:
    members = integers(value, place, expected="a list of GPU indices")
    for gpu in members:
        _check_gpu(gpu, gpus, place)
    if len(set(members)) != len(members):
        raise place.error(f"a GPU is listed twice in {value}")
    return members


def _uplink(path: str, where: str, data: Mapping[str, Any], gpus: int) -> SharedUplink:
    table = _table(path, where, data)
    table.check_keys(_UPLINK_KEYS)
    members = table.required("gpus", _gpu_list, gpus)
    if len(members) < 2:
        raise table.place_of("gpus").error(
            f"a shared uplink joins at least 2 GPUs, got {list(members)}"
        )
    return SharedUplink(
        name=table.optional("name", nonempty_text) or where,
        gpus=members,
        h2d_gb_s=table.required("h2d_gb_s", positive_number),
        d2h_gb_s=table.required("d2h_gb_s", positive_number),
    )


def _peer(table: Fields, gpus: int) -> Peer:
    table.check_keys(_PEER_KEYS)
    via = table.required("via", choice, PEER_VIA)
    gb_s = _rate(table, "gb_s", required=via in ("switch", "chip"))
    place = table.place_of("nvlinks")
    shape = "a list of [GPU, GPU, links] triples, like [[0, 3, 2]]"
    pairs: list[NvLinkPair] = []
    seen: set[frozenset[int]] = set()
    for item in table.optional("nvlinks", listed, expected=shape) or []:
        if not (isinstance(item, list) and len(item) == 3 and all(map(is_integer, item))):
            raise place.expected(shape, item, item=True)
        a, b, links = item
        for gpu in (a, b):
            _check_gpu(gpu, gpus, place)
        if a == b or links < 1:
            raise place.error(f"expected two different GPUs and links >= 1, got {item}")
        if frozenset((a, b)) in seen:
            raise place.error(f"the pair {a}-{b} is listed twice")
        seen.add(frozenset((a, b)))
        pairs.append(NvLinkPair(a, b, links))
    nvlink_gb_s = _rate(table, "nvlink_gb_s", required=bool(pairs))
    return Peer(via=via, gb_s=gb_s, nvlink_gb_s=nvlink_gb_s, nvlinks=tuple(pairs))


def _reference(table: Fields) -> ComputeReference:
    table.check_keys(_REFERENCE_KEYS)
    return ComputeReference(
        model=table.required("model", nonempty_text),
        image_size=table.required("image_size", _count),
        batch_per_gpu=table.required("batch_per_gpu", _count),
        gpus=table.required("gpus", _count),
        img_s=table.required("img_s", positive_number),
        precision=table.required("precision", choice, PRECISIONS),
        source=table.required("source", nonempty_text),
        after_img_s=table.optional("after_img_s", positive_number),
        includes_copies_of=table.optional("includes_copies_of", choice, WRAPPERS),
    )
