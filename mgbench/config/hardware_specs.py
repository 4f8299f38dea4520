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

import json
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

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
    "precision",
    "source",
}


def parse_spec(text: str, path: str = "<hardware>", *, default_name: str = "") -> HardwareSpec:
    """Validate a spec's TOML text; ``path`` names it in every error."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise HardwareSpecError(_toml_error(path, error)) from error
    top = _Table(path, "top level", data)
    top.check_keys(_TOP_KEYS)
    gpus = top.integer("gpus", minimum=1)
    name = top.text("name", default=default_name or Path(path).stem)
    host = _Table(path, "host_link", top.table("host_link"))
    host.check_keys(_HOST_KEYS)
    uplinks = tuple(
        _uplink(_Table(path, f"shared_uplink.{i}", item), gpus)
        for i, item in enumerate(top.tables("shared_uplink"))
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
        description=top.text("description", default=""),
        path=path,
        gpus=gpus,
        h2d_gb_s=host.rate("h2d_gb_s"),
        d2h_gb_s=host.rate("d2h_gb_s"),
        uplinks=uplinks,
        peer=_peer(_Table(path, "peer", top.table("peer")), gpus),
        gpus_per_chip=top.integer("gpus_per_chip", minimum=1, default=1),
        references=tuple(
            _reference(_Table(path, f"reference.{i}", item))
            for i, item in enumerate(top.tables("reference"))
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


def _uplink(table: _Table, gpus: int) -> SharedUplink:
    table.check_keys(_UPLINK_KEYS)
    members = table.gpu_list("gpus", gpus)
    if len(members) < 2:
        table.fail("gpus", f"a shared uplink joins at least 2 GPUs, got {list(members)}")
    return SharedUplink(
        name=table.text("name", default=table.where),
        gpus=members,
        h2d_gb_s=table.rate("h2d_gb_s"),
        d2h_gb_s=table.rate("d2h_gb_s"),
    )


def _peer(table: _Table, gpus: int) -> Peer:
    table.check_keys(_PEER_KEYS)
    via = table.choice("via", PEER_VIA)
    gb_s = table.rate("gb_s", required=via in ("switch", "chip"))
    raw = table.data.get("nvlinks", [])
    pairs: list[NvLinkPair] = []
    seen: set[frozenset[int]] = set()
    shape = "a list of [GPU, GPU, links] triples, like [[0, 3, 2]]"
    if not isinstance(raw, list):
        table.fail("nvlinks", f"expected {shape}, got {_shown(raw)}")
    for item in raw:
        ok = (
            isinstance(item, list)
            and len(item) == 3
            and all(isinstance(v, int) and not isinstance(v, bool) for v in item)
        )
        if not ok:
            table.fail("nvlinks", f"expected {shape}, got the item {_shown(item)}")
        a, b, links = item
        for gpu in (a, b):
            if not 0 <= gpu < gpus:
                table.fail("nvlinks", f"GPU {gpu} is beyond gpus = {gpus} (0..{gpus - 1})")
        if a == b or links < 1:
            table.fail("nvlinks", f"expected two different GPUs and links >= 1, got {item}")
        if frozenset((a, b)) in seen:
            table.fail("nvlinks", f"the pair {a}-{b} is listed twice")
        seen.add(frozenset((a, b)))
        pairs.append(NvLinkPair(a, b, links))
    nvlink_gb_s = table.rate("nvlink_gb_s", required=bool(pairs))
    return Peer(via=via, gb_s=gb_s, nvlink_gb_s=nvlink_gb_s, nvlinks=tuple(pairs))


def _reference(table: _Table) -> ComputeReference:
    table.check_keys(_REFERENCE_KEYS)
    return ComputeReference(
        model=table.text("model"),
        image_size=table.integer("image_size", minimum=1),
        batch_per_gpu=table.integer("batch_per_gpu", minimum=1),
        gpus=table.integer("gpus", minimum=1),
        img_s=table.rate("img_s"),
        precision=table.choice("precision", PRECISIONS),
        source=table.text("source"),
        after_img_s=table.rate("after_img_s", required=False),
    )


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _shown_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


class _Table:
    """One TOML table and where it sits, for values read with one-line located errors."""

    def __init__(self, path: str, where: str, data: Mapping[str, Any]):
        self.path = path
        self.where = where
        self.data = data

    def fail(self, key: str | None, problem: str) -> None:
        place = f"[{self.where}]" + (f" {_shown_key(key)}" if key else "")
        raise HardwareSpecError(f"{self.path}: {place}: {problem}")

    def check_keys(self, allowed: set[str]) -> None:
        for key in self.data:
            if key not in allowed:
                self.fail(key, f"unknown key; allowed: {', '.join(sorted(allowed))}")

    def _get(self, key: str, required: bool) -> Any:
        if key not in self.data and required:
            self.fail(key, "missing")
        return self.data.get(key)

    def table(self, key: str) -> Mapping[str, Any]:
        value = self._get(key, True)
        if not isinstance(value, dict):
            self.fail(key, f"expected a table ([{key}]), got {_shown(value)}")
        return value

    def tables(self, key: str) -> list[Mapping[str, Any]]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.fail(key, f"expected tables ([[{key}]]), got {_shown(value)}")
        return value

    def text(self, key: str, default: str | None = None) -> str:
        value = self._get(key, default is None)
        if value is None:
            return default or ""
        if not isinstance(value, str) or not value.strip():
            self.fail(key, f"expected a non-empty string, got {_shown(value)}")
        return value

    def integer(self, key: str, *, minimum: int, default: int | None = None) -> int:
        value = self._get(key, default is None)
        if value is None:
            return default if default is not None else minimum
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(key, f"expected an integer >= {minimum}, got {_shown(value)}")
        return value

    def rate(self, key: str, *, required: bool = True) -> Any:
        value = self._get(key, required)
        if value is None:
            return None
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if not is_number or not 0 < value < math.inf:  # TOML allows nan and inf
            self.fail(key, f"expected a number > 0, got {_shown(value)}")
        return float(value)

    def choice(self, key: str, options: tuple[str, ...]) -> str:
        value = self._get(key, True)
        if value not in options:
            self.fail(key, f"expected one of {', '.join(map(repr, options))}, got {_shown(value)}")
        return value

    def gpu_list(self, key: str, gpus: int) -> tuple[int, ...]:
        value = self._get(key, True)
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            self.fail(key, f"expected a list of GPU indices, got {_shown(value)}")
        for gpu in value:
            if not 0 <= gpu < gpus:
                self.fail(key, f"GPU {gpu} is beyond gpus = {gpus} (0..{gpus - 1})")
        if len(set(value)) != len(value):
            self.fail(key, f"a GPU is listed twice in {value}")
        return tuple(value)
