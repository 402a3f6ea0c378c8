"""The gateway's OpenAPI document is accurate, and every number in every request body is strict.

In-process (no tritonserver): the real app answers every request below before it would call Triton,
since each is refused by validation. The routes are read from the document itself, so a route added
later is covered without touching this file.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.settings import GatewaySettings

ERROR_REF = "#/components/schemas/ErrorResponse"


@pytest.fixture(scope="module")
def app():
    # No lifespan: the replica pool never starts, so nothing here can reach a Triton server.
    return create_app(GatewaySettings(replicas=["127.0.0.1:9"]))


@pytest.fixture(scope="module")
def document(app) -> dict:
    return app.openapi()


@pytest.fixture(scope="module")
def client(app) -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


def _refs(node: Any, path: str = "#") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield path, value
            else:
                yield from _refs(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _refs(value, f"{path}/{index}")


def _resolve(document: dict, ref: str) -> Any:
    assert ref.startswith("#/"), f"{ref} points outside the document"
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _operations(document: dict) -> Iterator[tuple[str, str, dict]]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield method.upper(), path, operation


def _body_schemas(document: dict, operation: dict) -> dict[str, dict]:
    """The request body's schema per media type, references resolved."""
    content = operation.get("requestBody", {}).get("content", {})
    schemas = {media_type: entry["schema"] for media_type, entry in content.items() if "schema" in entry}
    return {media_type: _resolve(document, schema["$ref"]) if "$ref" in schema else schema
            for media_type, schema in schemas.items()}


def test_every_ref_resolves(document: dict) -> None:
    refs = list(_refs(document))
    assert refs, "the document has no $ref at all (the walk is broken)"
    unresolved = []
    for where, ref in refs:
        try:
            _resolve(document, ref)
        except (KeyError, AssertionError):
            unresolved.append(f"{where}: {ref}")
    assert not unresolved, "\n".join(unresolved)


def test_no_validation_422_is_documented(document: dict) -> None:
    """Validation errors are 400s in the gateway's error shape (gateway/errors.py), never FastAPI's 422.
    The one 422 is the workflows' unprocessable input (no foreground found), with the error body."""
    documented = {p: op["responses"]["422"] for m, p, op in _operations(document) if "422" in op["responses"]}
    assert set(documented) == {"/v1/background-replace", "/v1/restyle-room", "/v1/product-enhance"}
    for path, response in documented.items():
        assert response["content"]["application/json"]["schema"] == {"$ref": ERROR_REF}, path
    assert "HTTPValidationError" not in document.get("components", {}).get("schemas", {})


def test_streaming_routes_document_event_streams(document: dict) -> None:
    streaming = [(m, p, op) for m, p, op in _operations(document)
                 if any("stream" in schema.get("properties", {}) for schema in _body_schemas(document, op).values())]
    assert {p for _, p, _ in streaming} >= {"/v1/images/generations", "/v1/images/edits", "/v1/txt2img",
                                            "/v1/background-replace", "/v1/restyle-room", "/v1/product-enhance"}
    for method, path, operation in streaming:
        content = operation["responses"]["200"]["content"]
        assert "text/event-stream" in content, f"{method} {path}"
        events = content["text/event-stream"]["schema"]["oneOf"]
        assert "error" in [event["properties"]["event"]["const"] for event in events], f"{method} {path}"
        assert "501" in operation["responses"], f"{method} {path}: streaming disabled is a 501"


def test_errors_are_documented_with_the_error_body(document: dict) -> None:
    for method, path, operation in _operations(document):
        if method != "POST":
            continue
        # A catalog job is queued (202) without calling Triton in the request: no 429/503/504 from replicas.
        statuses = ("400", "413", "500") if path == "/v1/jobs" else ("400", "413", "429", "500", "503", "504")
        for status in statuses:
            response = operation["responses"].get(status)
            assert response is not None, f"{method} {path} does not document {status}"
            assert response["content"]["application/json"]["schema"] == {"$ref": ERROR_REF}, f"{method} {path} {status}"


def test_png_answers_are_documented(document: dict) -> None:
    for path in ("/v1/txt2img", "/v1/img2img", "/v1/inpaint", "/v1/images/{image_id}", "/v1/background-replace",
                 "/v1/restyle-room", "/v1/product-enhance"):
        operation = next(iter(document["paths"][path].values()))
        assert "image/png" in operation["responses"]["200"]["content"], path


# --- strict numbers: every number and integer of every request body, both encodings ---

def _value_schema(schema: dict) -> dict:
    """An optional field's schema without its null branch."""
    branches = [branch for branch in schema.get("anyOf", [schema]) if branch.get("type") != "null"]
    return branches[0] if len(branches) == 1 else schema


def _leaf_type(schema: dict) -> str | None:
    schema = _value_schema(schema)
    if schema.get("type") == "array":
        return _leaf_type(schema.get("items", {}))
    return schema.get("type")


def _with_leaf(schema: dict, leaf: Any) -> Any:
    """A value of `schema` whose every number is `leaf` (arrays hold as many items as they must)."""
    schema = _value_schema(schema)
    if schema.get("type") == "array":
        return [_with_leaf(schema.get("items", {}), leaf)] * max(1, schema.get("minItems", 1))
    return leaf


def _minimal(schema: dict) -> Any:
    """A value for a required field that passes validation, so the error is about the field under test."""
    schema = _value_schema(schema)
    if schema.get("type") == "array":
        return [_minimal(schema.get("items", {}))] * max(1, schema.get("minItems", 1))
    return "a"  # the required fields are prompts, labels, captions and base64 images (decoded after validation)


def _numeric_fields(document: dict, media_type: str) -> list[tuple[str, str, dict, str]]:
    """(path, field, body schema, number|integer) for every numeric field of every body in `media_type`."""
    found = []
    for _, path, operation in _operations(document):
        schema = _body_schemas(document, operation).get(media_type)
        if schema is None:
            continue
        for name, prop in schema.get("properties", {}).items():
            kind = _leaf_type(prop)
            if kind in ("number", "integer"):
                found.append((path, name, schema, kind))
    return found


def _body(schema: dict, field: str, leaf: Any) -> dict:
    required = {name: _minimal(schema["properties"][name]) for name in schema.get("required", ())
                if schema["properties"][name].get("format") != "binary"}
    return {**required, field: _with_leaf(schema["properties"][field], leaf)}


def _assert_names(response, field: str) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == field and field in error["message"], error


def test_every_numeric_field_is_found(document: dict) -> None:
    """The audit below sees the fields the issue named (a broken walk must not pass vacuously)."""
    json_fields = {(path, field) for path, field, _, _ in _numeric_fields(document, "application/json")}
    form_fields = {(path, field) for path, field, _, _ in _numeric_fields(document, "multipart/form-data")}
    assert {("/v1/images/generations", "guidance_scale"), ("/v1/txt2img", "guidance_scale"),
            ("/v1/txt2img", "controlnet_conditioning_scale"), ("/v1/sam", "input_boxes"),
            ("/v1/images/generations", "n"), ("/v1/inpaint", "strength")} <= json_fields
    assert {("/v1/images/edits", "strength"), ("/v1/images/edits", "n"), ("/v1/txt2img", "width")} <= form_fields


@pytest.mark.parametrize("leaf", [True, False, "7"], ids=["true", "false", "string"])
def test_json_numbers_are_strict(document: dict, client: TestClient, leaf: Any) -> None:
    """A boolean or a numeric string is no number in a JSON body: 400 naming the field (as OpenAI's API)."""
    for path, field, schema, _ in _numeric_fields(document, "application/json"):
        response = client.post(path, json=_body(schema, field, leaf))
        _assert_names(response, field)


def _file_field(schema: dict) -> str:
    for name, prop in schema["properties"].items():
        if "binary" in (prop.get("format"), prop.get("items", {}).get("format")):
            return name
    raise AssertionError(f"a multipart body without a file field: {schema}")


@pytest.mark.parametrize("leaf", ["true", "false", "yes"])
def test_form_numbers_are_strict(document: dict, client: TestClient, leaf: str) -> None:
    """Form fields are text: "7" spells a number, "true" does not (gateway/request_body.py)."""
    for path, field, schema, _ in _numeric_fields(document, "multipart/form-data"):
        data: dict[str, Any] = {}
        for name, value in _body(schema, field, "LEAF").items():
            items = value if isinstance(value, list) else [value]  # a list field is repeated form fields
            data[name] = [json.dumps(item).replace('"LEAF"', leaf) if isinstance(item, list)
                          else item.replace("LEAF", leaf) for item in items]
        # Files are decoded after validation, so any bytes do; the part makes the body multipart.
        response = client.post(path, data=data, files={_file_field(schema): ("a.png", b"not decoded", "image/png")})
        _assert_names(response, field)


def test_form_number_text_is_a_number(client: TestClient) -> None:
    """The other side of the rule: "7.5" in a form is 7.5 (here out of range, so named as a range error)."""
    response = client.post("/v1/txt2img", data={"prompt": "a", "guidance_scale": "75"},
                           headers={"content-type": "application/x-www-form-urlencoded"})
    _assert_names(response, "guidance_scale")
    assert "less than or equal to 30" in response.json()["error"]["message"]
