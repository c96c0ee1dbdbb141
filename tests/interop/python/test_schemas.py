"""Every pinned input schema (tests/snapshots/schemas, written by tests/schemas.rs) is a valid
JSON Schema 2020-12 document, accepts the examples its snapshot lists as valid and refuses the
ones it lists as invalid. tests/schemas.rs sends the same examples to the tool itself, so the
schema and the deserializer agree. The validator is the `jsonschema` package (pinned in
requirements.lock)."""

import json
import pathlib

import pytest
from jsonschema import Draft202012Validator

SNAPSHOTS = sorted((pathlib.Path(__file__).resolve().parents[2] / "snapshots" / "schemas").glob("*.json"))


def test_the_catalogue_is_there():
    assert len(SNAPSHOTS) >= 20


@pytest.mark.parametrize("path", SNAPSHOTS, ids=lambda p: p.stem)
def test_schema_is_valid_2020_12_and_agrees_with_the_examples(path):
    snapshot = json.loads(path.read_text())
    schema = snapshot["inputSchema"]
    Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object"
    validator = Draft202012Validator(schema)
    for value in snapshot["valid"]:
        errors = [e.message for e in validator.iter_errors({"value": value})]
        assert not errors, f"{value!r} should be valid: {errors}"
    for value in snapshot["invalid"]:
        assert not validator.is_valid({"value": value}), f"{value!r} should be invalid"
