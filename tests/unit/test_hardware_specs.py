"""Hardware profiles: every shipped profile loads and says where its numbers come from; bad
files give one-line errors that name the file and the key."""

from __future__ import annotations

import re
from itertools import combinations
from pathlib import Path

import pytest

from mgbench.analysis.claim import PR_10230
from mgbench.config import hardware_specs
from mgbench.config.hardware_specs import HardwareSpecError, load_spec, parse_spec

SHIPPED = Path(hardware_specs.__file__).parent / "shipped_specs"
CLAIM_MACHINE = "4xP100-pcie3"
MINIMAL = """
gpus = 2
[host_link]
h2d_gb_s = 10
d2h_gb_s = 10
[peer]
via = "host"
"""


def test_the_four_profiles_ship_and_load():
    assert hardware_specs.names() == ["4xP100-pcie3", "8xH100-sxm", "dgx1-v100", "h200-4virtual"]
    for name in hardware_specs.names():
        profile = load_spec(name)
        assert profile.name == name
        assert profile.description
        models = {(r.model, r.image_size) for r in profile.references}
        assert {("ResNet50", 224), ("InceptionV3", 299)} <= models, name
        assert all(r.source for r in profile.references)


@pytest.mark.parametrize("path", sorted(SHIPPED.glob("*.toml")), ids=lambda p: p.stem)
def test_every_number_in_a_shipped_profile_has_a_source_comment(path):
    """Each block of lines that sets a bandwidth or a throughput carries a comment, and each
    file cites public sources (URLs), or says ESTIMATE where it has none."""
    text = path.read_text()
    assert "https://" in text
    for block in re.split(r"\n\s*\n", text):
        if re.search(r"^\s*(\w*gb_s|img_s|after_img_s|nvlinks)\s*=", block, re.MULTILINE):
            assert "#" in block or "source =" in block, f"{path.name}: no source for:\n{block}"


def test_the_claim_machine_carries_the_prs_six_rows_as_the_claim_states_them():
    profile = load_spec(CLAIM_MACHINE)
    figures = {
        (r.model, r.image_size, r.batch_per_gpu, r.gpus): (r.img_s, r.after_img_s)
        for r in profile.references
    }
    assert figures == {
        (e.model, e.image_size, e.batch_per_replica, e.replicas): (e.before_img_s, e.after_img_s)
        for e in PR_10230
    }
    assert figures[("InceptionV3", 299, 96, 4)] == (270.0, 294.0)  # 96 per GPU, not 64
    assert figures[("InceptionV3", 224, 128, 4)] == (488.0, 526.0)  # 128 per GPU, not 96
    # "before" is the whole-batch split's step: its copies come out of the compute term
    assert {r.includes_copies_of for r in profile.references} == {"wholebatch"}
    assert profile.peer.nvlinks == () and profile.uplinks == ()


def test_the_dgx1_mesh_leaves_some_pairs_unlinked():
    profile = load_spec("dgx1-v100")
    links = {i: 0 for i in range(8)}
    for pair in profile.peer.nvlinks:
        links[pair.a] += pair.links
        links[pair.b] += pair.links
    assert set(links.values()) == {6}  # six NVLinks per V100
    unlinked = [
        (a, b)
        for a, b in combinations(range(8), 2)
        if profile.peer.nvlink_gb_s_between(a, b) is None
    ]
    assert len(unlinked) == 12 and (0, 5) in unlinked
    assert profile.peer.via == "host"
    assert profile.uplink_of(1).name == profile.uplink_of(0).name != profile.uplink_of(2).name


def test_the_virtual_gpus_share_one_link_and_one_chip():
    profile = load_spec("h200-4virtual")
    assert profile.uplink_of(0).gpus == (0, 1, 2, 3)
    assert profile.peer.via == "chip" and profile.gpus_per_chip == 4


def test_a_users_file_loads_by_path(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(MINIMAL)
    profile = load_spec(path)
    assert profile.name == "mine" and profile.gpus == 2 and profile.references == ()


def one_line_error(text: str, tmp_path: Path, name: str = "bad.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(HardwareSpecError) as caught:
        load_spec(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    return message


def test_malformed_toml_says_file_and_line(tmp_path):
    message = one_line_error("gpus = 2\n[host_link]\nh2d_gb_s = = 3\n", tmp_path)
    assert re.match(rf"{re.escape(str(tmp_path / 'bad.toml'))}:3: not valid TOML: ", message)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("gpus = 2", ""), "[top level] gpus: missing"),
        (("gpus = 2", 'gpus = "two"'), "[top level] gpus: expected an integer >= 1, got 'two'"),
        (("h2d_gb_s = 10", ""), "[host_link] h2d_gb_s: missing"),
        (("h2d_gb_s = 10", "h2d_gb_s = -1"), "[host_link] h2d_gb_s: expected a number > 0"),
        (("h2d_gb_s = 10", "h2d_gb_s = nan"), "[host_link] h2d_gb_s: expected a number > 0"),
        (("h2d_gb_s = 10", "h2d_gb_s = 10\nh2d_gbs = 3"), "[host_link] h2d_gbs: unknown key"),
        (('via = "host"', 'via = "wormhole"'), "[peer] via: expected one of 'pcie', 'host'"),
        (('via = "host"', 'via = "switch"'), "[peer] gb_s: missing"),
        (('via = "host"', 'via = "host"\nnvlinks = [[0, 1, 1]]'), "[peer] nvlink_gb_s: missing"),
        (('via = "host"', 'via = "host"\nnvlinks = [[0, 2, 1]]'), "GPU 2 is beyond gpus = 2"),
        (('via = "host"', 'via = "host"\nnvlinks = [[0, 1]]'), "[peer] nvlinks: expected a list"),
        (("[peer]", "[peers]"), "[top level] peers: unknown key"),
    ],
)
def test_bad_keys_are_named(tmp_path, change, expected):
    old, new = change
    assert old in MINIMAL
    assert expected in one_line_error(MINIMAL.replace(old, new, 1), tmp_path)


def test_bad_uplinks_and_references_are_named(tmp_path):
    uplink = '\n[[shared_uplink]]\nname = "sw"\ngpus = [0, 1]\nh2d_gb_s = 10\nd2h_gb_s = 10\n'
    twice = MINIMAL + uplink + uplink.replace('"sw"', '"sw2"')
    assert "GPU 0 is already behind 'sw'" in one_line_error(twice, tmp_path)
    beyond = MINIMAL + uplink.replace("[0, 1]", "[0, 5]")
    assert "[shared_uplink.0] gpus: GPU 5 is beyond gpus = 2" in one_line_error(beyond, tmp_path)
    reference = (
        '\n[[reference]]\nmodel = "ResNet50"\nimage_size = 224\nbatch_per_gpu = 32\ngpus = 1\n'
        'img_s = 100\nprecision = "fp16"\nsource = "x"\n'
    )
    message = one_line_error(MINIMAL + reference, tmp_path)
    assert "[reference.0] precision: expected one of 'fp32', 'tf32', got 'fp16'" in message
    no_source = reference.replace('source = "x"\n', "").replace("fp16", "fp32")
    assert "[reference.0] source: missing" in one_line_error(MINIMAL + no_source, tmp_path)


def test_unknown_names_and_missing_files(tmp_path):
    with pytest.raises(HardwareSpecError) as caught:
        load_spec("dgx2")
    assert str(caught.value) == (
        "unknown hardware spec 'dgx2'; known: 4xP100-pcie3, 8xH100-sxm, dgx1-v100, "
        "h200-4virtual (or give a FILE.toml)"
    )
    with pytest.raises(HardwareSpecError, match="no such hardware file"):
        load_spec(tmp_path / "absent.toml")
    with pytest.raises(HardwareSpecError, match="not UTF-8"):
        (tmp_path / "latin.toml").write_bytes(b"name = '\xe9'\n")
        load_spec(tmp_path / "latin.toml")


def test_parse_spec_names_its_source_in_errors():
    with pytest.raises(HardwareSpecError, match=r"^inline: \[top level\] gpus: missing$"):
        parse_spec("", "inline")
