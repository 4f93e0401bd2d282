"""Validate JSON against the schemas of Google's discovery documents.

Strict on purpose: a field the schema does not declare is an error (Google
would not send it), and 64-bit integers must be decimal strings, as Google's
JSON mapping writes them. Used by the tests to hold every simulator response to
the same documents googleapiclient is built from.
"""

from __future__ import annotations

import re

from . import discovery

INT64_FORMATS = {"int64", "uint64"}
INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "uint32": (0, 2**32 - 1)}
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DECIMAL = re.compile(r"^-?\d+$")
BASE64 = re.compile(r"^[A-Za-z0-9+/_=-]*$")


class SchemaError(AssertionError):
    """A document that does not match its discovery schema; lists every problem."""


def problems(api: str, schema_name: str, value) -> list[str]:
    """Every mismatch between ``value`` and the named schema, as ``path: problem``."""
    found: list[str] = []
    schemas = discovery.document(api)["schemas"]
    _walk(schemas, {"$ref": schema_name}, value, schema_name, found)
    return found


def check(api: str, schema_name: str, value) -> None:
    found = problems(api, schema_name, value)
    if found:
        raise SchemaError(f"{schema_name} does not match {api} discovery:\n  " + "\n  ".join(found))


def _walk(schemas: dict, schema: dict, value, path: str, found: list[str]) -> None:
    if "$ref" in schema:
        schema = schemas[schema["$ref"]]
    kind = schema.get("type")
    if kind == "any" or kind is None and "properties" not in schema:
        return
    if kind == "object" or (kind is None and "properties" in schema):
        _object(schemas, schema, value, path, found)
    elif kind == "array":
        if not isinstance(value, list):
            found.append(f"{path}: expected array, got {type(value).__name__}")
            return
        for index, item in enumerate(value):
            _walk(schemas, schema.get("items", {}), item, f"{path}[{index}]", found)
    elif kind == "string":
        _string(schema, value, path, found)
    elif kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            found.append(f"{path}: expected integer, got {value!r}")
        elif schema.get("format") in INT_RANGES:
            low, high = INT_RANGES[schema["format"]]
            if not low <= value <= high:
                found.append(f"{path}: {value} out of {schema['format']} range")
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            found.append(f"{path}: expected number, got {value!r}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            found.append(f"{path}: expected boolean, got {value!r}")
    else:
        found.append(f"{path}: unknown schema type {kind}")


def _object(schemas: dict, schema: dict, value, path: str, found: list[str]) -> None:
    if not isinstance(value, dict):
        found.append(f"{path}: expected object, got {type(value).__name__}")
        return
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    for key, item in value.items():
        if key in properties:
            _walk(schemas, properties[key], item, f"{path}.{key}", found)
        elif extra is not None:
            _walk(schemas, extra, item, f"{path}[{key!r}]", found)
        else:
            found.append(f"{path}.{key}: not in the schema")


def _string(schema: dict, value, path: str, found: list[str]) -> None:
    fmt = schema.get("format")
    if not isinstance(value, str):
        hint = " (64-bit integers travel as strings)" if fmt in INT64_FORMATS else ""
        found.append(f"{path}: expected string{hint}, got {value!r}")
        return
    if fmt in INT64_FORMATS and not DECIMAL.match(value):
        found.append(f"{path}: {fmt} must be a decimal string, got {value!r}")
    elif fmt in ("date-time", "google-datetime") and not DATE_TIME.match(value):
        found.append(f"{path}: not an RFC 3339 date-time: {value!r}")
    elif fmt == "date" and not DATE.match(value):
        found.append(f"{path}: not a date: {value!r}")
    elif fmt == "byte" and not BASE64.match(value):
        found.append(f"{path}: not base64: {value!r}")
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{path}: {value!r} not one of {schema['enum']}")
