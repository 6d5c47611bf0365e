"""``--arg k=v`` and JSON option parsing."""

from __future__ import annotations

import pytest

from mcp_gateway.cli.client import UsageError
from mcp_gateway.cli.parsing import parse_json_object, parse_str_map, parse_tool_args


def test_tool_arg_values_are_json_when_they_parse_else_strings() -> None:
    args = parse_tool_args(
        [
            "n=3",
            "ratio=0.5",
            "flag=true",
            "none=null",
            'tags=["a",1]',
            "name=bob",
            "zip=007",
            "eq=a=b",
            "empty=",
        ]
    )
    assert args == {
        "n": 3,
        "ratio": 0.5,
        "flag": True,
        "none": None,
        "tags": ["a", 1],
        "name": "bob",
        "zip": "007",
        "eq": "a=b",
        "empty": "",
    }


def test_repeated_tool_arg_keeps_the_last_value() -> None:
    assert parse_tool_args(["a=1", "a=2"]) == {"a": 2}


@pytest.mark.parametrize("item", ["no-equals-sign-hunter2", "=hunter2"])
def test_malformed_arg_is_a_usage_error_that_does_not_echo_the_item(item: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_tool_args([item])
    assert "key=value" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_str_map_keeps_values_as_strings() -> None:
    assert parse_str_map(["A=1", "B=true"], "--env") == {"A": "1", "B": "true"}


@pytest.mark.parametrize(("text", "message"), [("{", "not valid JSON"), ("[1]", "JSON object")])
def test_json_object_option_rejects_non_objects(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_json_object(text, "--json-args")


def test_json_object_option_parses_objects() -> None:
    assert parse_json_object('{"a": [1, {"b": null}]}', "--json-args") == {"a": [1, {"b": None}]}
