"""Reading a route's body as JSON or as a multipart/url-encoded form, validated by the same model.

Form fields are strings; a field whose schema wants a number or a boolean is parsed as a JSON scalar
("20" -> 20, "0.6" -> 0.6, "true" -> true), so the strict models apply to both encodings: "true" is
no number in a form either. Repeated form fields fill list fields (`controlnet=depth&controlnet=seg`); an
item that is itself a list is its JSON text (SAM's `input_boxes=[0,0,8,8]`), and a list of numbers may
also come whole as one JSON part (`input_boxes=[[0,0,8,8]]`, as OpenAPI clients encode arrays of arrays).
File parts are returned separately, by field name, as bytes.
"""

from __future__ import annotations

import json
import types
import typing
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile
from starlette.requests import Request

from gateway.errors import invalid

Files = dict[str, list[bytes]]


def _wants(annotation: Any, kind: type) -> bool:
    """Whether a field's annotation accepts `kind` (str or list) somewhere in its unions/annotations."""
    if annotation is kind:
        return True
    origin = get_origin(annotation)
    if origin is Annotated:
        return _wants(get_args(annotation)[0], kind)
    if origin in (Union, types.UnionType):
        return any(_wants(arg, kind) for arg in get_args(annotation) if arg is not type(None))
    if origin is Literal:
        return kind is str and all(isinstance(arg, str) for arg in get_args(annotation))
    if origin is list:
        return kind is list
    return False


def _item_annotation(annotation: Any) -> Any:
    """list[X] | None -> X."""
    for arg in get_args(annotation):
        if get_origin(arg) is list:
            return get_args(arg)[0]
    return get_args(annotation)[0] if get_origin(annotation) is list else annotation


def _list_depth(annotation: Any) -> int:
    """How deeply lists nest in a field's annotation: list[float] 1, list[list[float]] 2, str 0."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _list_depth(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return max((_list_depth(arg) for arg in get_args(annotation) if arg is not type(None)), default=0)
    if origin is list:
        return 1 + _list_depth(get_args(annotation)[0])
    return 0


def _value_depth(value: Any) -> int:
    return 1 + (_value_depth(value[0]) if value else 0) if isinstance(value, list) else 0


def _whole_list(annotation: Any, text: str) -> list | None:
    """A form value that is the JSON text of the whole list field (as OpenAPI clients send an array of
    arrays: one application/json part), or None when it is one item. Text lists keep one item a field."""
    if _wants(_item_annotation(annotation), str):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, list) and _value_depth(value) == _list_depth(annotation) else None


def _scalar(annotation: Any, text: str) -> Any:
    """A form value as its field wants it: text, or the JSON number/boolean/list it spells."""
    if _wants(annotation, str):
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return text  # left to the model, whose error names the field
    if isinstance(value, (int, float, bool)) or value is None or (isinstance(value, list) and _wants(annotation, list)):
        return value
    return text


async def read_body(request: Request, model: type[BaseModel], file_fields: typing.Collection[str] = ()
                    ) -> tuple[BaseModel, Files]:
    """The validated body and the uploaded files (multipart only; JSON carries images as base64 fields)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    files: Files = {}
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        data = await _form_fields(request, model, file_fields, files)
    else:
        raw = await request.body()
        try:
            data = json.loads(raw)
        except ValueError as error:
            message = getattr(error, "msg", str(error))
            position = getattr(error, "pos", "?")
            raise invalid(None, f"malformed JSON body: {message} at position {position}", code="invalid_json") from None
        if not isinstance(data, dict):
            raise invalid(None, "request body: the body must be a JSON object", code="invalid_body")
    try:
        return model.model_validate(data), files
    except ValidationError as error:
        raise RequestValidationError(error.errors(include_url=False)) from None


async def _form_fields(request: Request, model: type[BaseModel], file_fields: typing.Collection[str],
                       files: Files) -> dict[str, Any]:
    form = await request.form(max_files=64, max_fields=256)
    try:
        return await _fields(form, model, file_fields, files)
    finally:
        await form.close()


async def _fields(form: Any, model: type[BaseModel], file_fields: typing.Collection[str], files: Files) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key in dict.fromkeys(form.keys()):
        name = key[:-2] if key.endswith("[]") else key  # OpenAI's SDK sends image[] for a list of images
        values = form.getlist(key)
        uploads = [value for value in values if isinstance(value, UploadFile)]
        if uploads:
            if name not in file_fields:
                raise invalid(name, f"invalid '{name}': a file was sent for a field that takes text", code="invalid_value")
            files.setdefault(name, []).extend([await upload.read() for upload in uploads])
            continue
        field = model.model_fields.get(name)
        if field is None:
            data[name] = values[0]  # the model refuses it as an unknown field
            continue
        if _wants(field.annotation, list):
            item = _item_annotation(field.annotation)
            for value in values:
                whole = _whole_list(field.annotation, value)
                data.setdefault(name, []).extend([_scalar(item, value)] if whole is None else whole)
        elif len(values) > 1:
            raise invalid(name, f"invalid '{name}': given {len(values)} times; it takes one value", code="invalid_value")
        else:
            data[name] = _scalar(field.annotation, values[0])
    return data
