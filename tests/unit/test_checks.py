"""The checked readers every room reads TOML and JSON with: each reader's good and bad values with
their exact messages, how a place names a table's key, a JSON field and a flag, and how values
and keys are quoted."""

from __future__ import annotations

import math

import pytest

from mgbench.config import checks
from mgbench.config.checks import Fields, Place, shown, shown_key, table_place


class Refused(ValueError):
    """A room's own exception."""


FIELD = Place("timing.step_s", Refused)  # a JSON field, values cut short
KEY = table_place("s.toml", "suite", Refused, show=repr).key("repeats")  # values in full


def refusal(reader, value, place=FIELD, /, **options) -> str:
    with pytest.raises(Refused) as caught:
        reader(value, place, **options)
    return str(caught.value)


# -- quoting -----------------------------------------------------------------------------------


def test_shown_is_the_repr_cut_to_40_characters():
    assert shown("x") == "'x'"
    assert shown([1, 2]) == "[1, 2]"
    assert shown("a" * 38) == "'" + "a" * 38 + "'"  # 40: whole
    assert shown("a" * 39) == "'" + "a" * 36 + "..."  # 41: cut to 37 and "..."
    assert len(shown(list(range(100)))) == 40
    assert shown("line\nbreak") == "'line\\nbreak'"  # one line, whatever the value holds


@pytest.mark.parametrize(
    ("key", "written"),
    [
        ("repeats", "repeats"),
        ("gpus-per-node", "gpus-per-node"),
        ("0", "0"),
        ("two words", '"two words"'),
        ("line\nbreak", '"line\\nbreak"'),
        ("a.b", '"a.b"'),
        ("é", '"\\u00e9"'),
        ("", '""'),
    ],
)
def test_shown_key_is_bare_when_toml_allows_it_and_quoted_otherwise(key, written):
    assert shown_key(key) == written


def test_is_integer_leaves_out_bools():
    assert checks.is_integer(3) and checks.is_integer(-1)
    assert not checks.is_integer(True) and not checks.is_integer(3.0)


# -- places ------------------------------------------------------------------------------------


def test_a_table_place_names_the_file_the_table_and_the_key():
    place = table_place("hw.toml", "peer", Refused)
    assert str(place.error("expected a table")) == "hw.toml: [peer]: expected a table"
    assert str(place.key("gb_s").expected("a number > 0", -1)) == (
        "hw.toml: [peer] gb_s: expected a number > 0, got -1"
    )
    assert place.key("two words").name == 'hw.toml: [peer] "two words"'
    # an empty key has always been named by its table alone
    assert place.key("").name == "hw.toml: [peer]"


def test_a_field_place_names_the_path():
    place = Place("memory", Refused).key("nvml").key("0")
    assert str(place.error("missing")) == "memory.nvml.0: missing"
    assert isinstance(place.error("missing"), Refused)


def test_a_place_can_name_its_keys_as_flags():
    flags = Place("the command line", ValueError, show=repr, key_name=lambda _, key: f"--{key}")
    error = flags.key("time").expected("an integer", "1:00")
    assert type(error) is ValueError
    assert str(error) == "--time: expected an integer, got '1:00'"


def test_a_place_shows_values_its_rooms_way():
    long = "x" * 60
    assert str(FIELD.expected("a string", 3)) == "timing.step_s: expected a string, got 3"
    assert str(FIELD.expected("a", long)).endswith("got '" + "x" * 36 + "...")
    assert str(KEY.expected("a", long)).endswith(f"got {long!r}")
    assert str(FIELD.expected("pairs", 3, item=True)) == (
        "timing.step_s: expected pairs, got the item 3"
    )


# -- readers -----------------------------------------------------------------------------------


def test_flag():
    assert checks.flag(False, FIELD) is False
    assert refusal(checks.flag, 1) == "timing.step_s: expected true or false, got 1"


@pytest.mark.parametrize(
    ("value", "options", "message"),
    [
        ("2", {}, "expected an integer, got '2'"),
        (True, {}, "expected an integer, got True"),
        (2.0, {"minimum": 1}, "expected an integer, got 2.0"),
        (0, {"minimum": 1}, "expected an integer >= 1, got 0"),
        (-1, {"minimum": 0}, "expected an integer >= 0, got -1"),
        ("2", {"minimum": 1, "expected": "an integer >= 1"}, "expected an integer >= 1, got '2'"),
        (1, {"minimum": 2, "expected": "two or more"}, "expected two or more, got 1"),
    ],
)
def test_integer(value, options, message):
    assert checks.integer(5, FIELD, **options) == 5
    assert refusal(checks.integer, value, KEY, **options) == f"s.toml: [suite] repeats: {message}"


def test_finite_number_takes_what_float_takes_but_strings_and_bools():
    assert checks.finite_number(3, FIELD) == 3.0 and type(checks.finite_number(3, FIELD)) is float
    assert checks.finite_number(-0.5, FIELD) == -0.5
    for bad in ("1.5", True, None, [1], math.nan, math.inf, -math.inf, 10**400):
        assert refusal(checks.finite_number, bad) == (
            f"timing.step_s: expected a finite number, got {shown(bad)}"
        )


def test_positive_number():
    assert checks.positive_number(2, FIELD) == 2.0
    for bad in (0, -1, "1", False, math.nan, math.inf):
        assert refusal(checks.positive_number, bad, KEY) == (
            f"s.toml: [suite] repeats: expected a number > 0, got {bad!r}"
        )
    # a number too big for a float is refused, not an OverflowError
    assert refusal(checks.positive_number, 10**400).startswith(
        "timing.step_s: expected a number > 0, got 1000"
    )


def test_text_and_nonempty_text():
    assert checks.text("", FIELD) == ""
    assert refusal(checks.text, 3) == "timing.step_s: expected a string, got 3"
    assert checks.nonempty_text(" a ", FIELD) == " a "
    assert refusal(checks.nonempty_text, "  ") == (
        "timing.step_s: expected a non-empty string, got '  '"
    )
    assert refusal(checks.nonempty_text, 3) == "timing.step_s: expected a non-empty string, got 3"


def test_choice():
    assert checks.choice("tf32", FIELD, ("fp32", "tf32")) == "tf32"
    assert refusal(checks.choice, "fp16", options=("fp32", "tf32")) == (
        "timing.step_s: expected one of 'fp32', 'tf32', got 'fp16'"
    )


def test_mapping_and_tables():
    assert checks.mapping({"a": 1}, FIELD) == {"a": 1}
    assert refusal(checks.mapping, [1], expected="a table ([peer])") == (
        "timing.step_s: expected a table ([peer]), got [1]"
    )
    assert refusal(checks.mapping, [1], expected="an object", show=lambda v: type(v).__name__) == (
        "timing.step_s: expected an object, got list"
    )
    assert checks.tables([{}, {"a": 1}], FIELD) == [{}, {"a": 1}]
    assert refusal(checks.tables, [{}, 3], expected="tables ([[reference]])") == (
        "timing.step_s: expected tables ([[reference]]), got [{}, 3]"
    )


def test_listed_items_and_integers():
    assert checks.listed([1, "a"], FIELD) == [1, "a"]
    assert refusal(checks.listed, (1,)) == "timing.step_s: expected a list, got (1,)"
    assert checks.listed((1,), FIELD, kinds=(list, tuple)) == (1,)

    assert checks.items([1, 2.5], FIELD, checks.finite_number, expected="a list of numbers") == (
        1.0,
        2.5,
    )
    numbers = {"read_item": checks.finite_number, "expected": "a list of numbers"}
    assert refusal(checks.items, "x", **numbers) == (
        "timing.step_s: expected a list of numbers, got 'x'"
    )
    assert refusal(checks.items, [1, "x"], **numbers) == (
        "timing.step_s: expected a finite number, got 'x'"
    )
    assert refusal(checks.items, [1, None], **numbers) == "timing.step_s: missing"

    assert checks.integers([0, 3], FIELD) == (0, 3)
    assert refusal(checks.integers, [0, True], expected="a list of GPU indices") == (
        "timing.step_s: expected a list of GPU indices, got [0, True]"
    )


def test_required_and_optional():
    assert checks.required(3, FIELD, checks.integer, minimum=1) == 3
    assert refusal(checks.required, None, read=checks.integer) == "timing.step_s: missing"
    assert checks.optional(None, FIELD, checks.integer) is None
    assert refusal(checks.optional, "x", read=checks.integer) == (
        "timing.step_s: expected an integer, got 'x'"
    )


# -- fields ------------------------------------------------------------------------------------


def test_fields_read_each_key_at_its_own_place():
    fields = Fields(
        {"gpus": 2, "via": "pcie", "gb_s": "fast"}, table_place("hw.toml", "peer", Refused)
    )
    assert "gpus" in fields and "name" not in fields
    assert fields.get("via") == "pcie" and fields.get("name") is None
    assert fields.required("gpus", checks.integer, minimum=1) == 2
    assert fields.optional("name", checks.text) is None
    with pytest.raises(Refused, match=r"^hw\.toml: \[peer\] name: missing$"):
        fields.required("name", checks.text)
    with pytest.raises(Refused, match=r"^hw\.toml: \[peer\] gb_s: expected a number > 0, got"):
        fields.optional("gb_s", checks.positive_number)


def test_fields_refuse_the_first_unknown_key_listing_the_known_ones():
    Fields({"a": 1}, FIELD).check_keys({"a", "b"})
    fields = Fields({"a": 1, "two words": 2, "c": 3}, table_place("s.toml", "cpu", Refused))
    with pytest.raises(Refused) as caught:
        fields.check_keys({"b", "a"})
    assert str(caught.value) == 's.toml: [cpu] "two words": unknown key; allowed: a, b'
