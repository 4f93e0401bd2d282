"""Google's discovery documents, as bundled with googleapiclient, used as the contract.

The simulator takes its routes, its accepted query parameters and (in tests)
its response schemas from the same documents the client library builds its
methods from, so the two cannot drift apart.
"""

from __future__ import annotations

import functools
import json
import pathlib

import googleapiclient

from . import errors

DOCUMENTS = pathlib.Path(googleapiclient.__file__).parent / "discovery_cache" / "documents"
API_DOCUMENTS = {"gmail": "gmail.v1.json", "calendar": "calendar.v3.json", "directory": "admin.directory_v1.json"}


@functools.cache
def document(api: str) -> dict:
    return json.loads((DOCUMENTS / API_DOCUMENTS[api]).read_text())


@functools.cache
def methods(api: str) -> dict[str, dict]:
    """Every method of an API by id (``gmail.users.messages.list``)."""
    found: dict[str, dict] = {}

    def walk(resources: dict) -> None:
        for resource in resources.values():
            for method in resource.get("methods", {}).values():
                found[method["id"]] = method
            walk(resource.get("resources", {}))

    walk(document(api).get("resources", {}))
    return found


def method(api: str, method_id: str) -> dict:
    return methods(api)[method_id]


@functools.cache
def parameters(api: str, method_id: str) -> dict[str, dict]:
    """The query parameters a method accepts: the API's common ones and its own (read-only, shared)."""
    return {**document(api).get("parameters", {}), **method(api, method_id).get("parameters", {})}


def snake(name: str) -> str:
    return "".join("_" + ch.lower() if ch.isupper() else ch for ch in name)


class Params:
    """Typed access to a call's query parameters, refusing what Google refuses.

    One Platform APIs (Gmail, Directory) answer 400 for a parameter the method
    does not declare; Calendar's front end ignores unknown ones.
    """

    def __init__(self, args, api: str, method_id: str, strict: bool = True):
        self.args = args
        declared = parameters(api, method_id)
        self.declared = declared
        if strict:
            for name in args:
                if name not in declared:
                    raise errors.unknown_parameter(name)
        for name, spec in declared.items():
            if name not in args:
                continue  # no values: nothing to check (and no lookup that raises inside werkzeug's MultiDict)
            values = args.getlist(name)
            if len(values) > 1 and not spec.get("repeated"):
                raise errors.bad_request(f"Parameter {name} is not repeated.", reason="invalid")
            for value in values:
                if "enum" in spec and value not in spec["enum"]:
                    raise errors.invalid_parameter(snake(name), value, "TYPE_ENUM")

    def _first(self, name: str) -> str | None:
        """The parameter's first value, or None. Not ``args.get``: werkzeug's MultiDict answers a missing
        key by raising and catching its BadRequestKeyError (an HTTPException, costly to build), and most
        declared parameters are missing from most calls."""
        values = self.args.getlist(name) if name in self.args else ()
        return values[0] if values else None

    def str(self, name: str, default: str | None = None) -> str | None:
        value = self._first(name)
        return default if value in (None, "") else value

    def list(self, name: str) -> list[str]:
        return [value for value in self.args.getlist(name) if value != ""]

    def int(self, name: str, default: int, maximum: int | None = None) -> int:
        raw = self._first(name)
        if raw in (None, ""):
            return default
        try:
            value = int(raw)
        except ValueError:
            raise errors.invalid_parameter(snake(name), raw, "TYPE_UINT32") from None
        if value < 0:
            raise errors.invalid_parameter(snake(name), raw, "TYPE_UINT32")
        return min(value, maximum) if maximum else value

    def bool(self, name: str, default: bool = False) -> bool:
        raw = self._first(name)
        if raw in (None, ""):
            return default
        if raw.lower() not in ("true", "false"):
            raise errors.invalid_parameter(snake(name), raw, "TYPE_BOOL")
        return raw.lower() == "true"
