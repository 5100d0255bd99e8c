"""Pydantic's validation errors, translated into Zeroserve's texts.

Only an error's type, location and input are read, never pydantic's message: what was
expected is described from the schema itself (the annotation of the field the location
points at), and an unknown field lists the fields allowed at its level.
"""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from zeroserve.resource.errors import Problem, invalid, missing, problem, show

Loc = tuple[int | str, ...]


def translate(error: ValidationError, root: type[BaseModel], prefix: str = "") -> list[Problem]:
    """One problem per field, in the order pydantic found them, without duplicates."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for detail in error.errors(include_url=False):
        loc: Loc = tuple(detail["loc"])
        walked, annotation, parent = _walk(root, loc)
        path = join_path(prefix, walked)
        kind, value = detail["type"], detail.get("input")
        if kind == "extra_forbidden" and parent is not None:
            name = str(walked[-1])
            allowed = ", ".join(sorted(parent.model_fields))
            found = problem(f"unknown field {show(name)}", path, allowed=allowed)
        elif kind == "missing" or (value is None and _is_model(annotation)):
            found = missing(path)  # Kubernetes reads null as absent
        elif loc and loc[-1] == "[key]":
            key = loc[-2] if len(loc) > 1 else value
            found = problem(
                f"invalid key: {show(key)}",
                path,
                allowed=f"string keys (quote it: {show(str(key))})",
            )
        else:
            found = invalid(path, value, _expected(annotation, value))
        if path not in seen:
            seen.add(path)
            problems.append(found)
    return problems


def join_path(prefix: str, loc: Loc) -> str:
    """``spec.predictor.containers[0].env[1].name``; map keys joined with dots, as Knative does."""
    text = prefix
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text = f"{text}.{part}" if text else part
    return text


def _walk(root: type[BaseModel], loc: Loc) -> tuple[Loc, Any, type[BaseModel] | None]:
    """Follow ``loc`` through the schema: (the part that names fields, its annotation, the
    model that holds the last field). Union member tags pydantic appends are dropped."""
    annotation: Any = root
    parent: type[BaseModel] | None = None
    walked: list[int | str] = []
    for part in loc:
        annotation = _without_none(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            parent = annotation
            info = annotation.model_fields.get(str(part))
            walked.append(part)
            annotation = info.annotation if info is not None else None
            continue
        origin = get_origin(annotation)
        if origin is list and isinstance(part, int):
            (annotation,) = get_args(annotation)
        elif origin is dict and isinstance(part, str):
            annotation = get_args(annotation)[1]
        else:
            break  # a union member's tag, not a field
        parent = None
        walked.append(part)
    return tuple(walked), annotation, parent


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _without_none(annotation: Any) -> Any:
    if _is_union(annotation):
        members = [a for a in get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def _is_union(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType)


def _expected(annotation: Any, value: object) -> str:
    text = _describe(_without_none(annotation))
    if text == "a string" and isinstance(value, bool | int | float):
        text += (
            f" (quote it: {show(str(value).lower() if isinstance(value, bool) else str(value))})"
        )
    return text


def _describe(annotation: Any) -> str:
    if annotation is None or annotation is Any:
        return "a value"
    if _is_union(annotation):
        members = [a for a in get_args(annotation) if a is not type(None)]
        if set(members) == {int, float, str}:
            return "a quantity such as 1, 0.5, 100m or 1Gi"
        return " or ".join(dict.fromkeys(_describe(a) for a in members))
    if _is_model(annotation):
        return "a mapping"
    origin = get_origin(annotation)
    if origin is list:
        (item,) = get_args(annotation)
        return f"a list (each item: {_describe(item)})"
    if origin is dict:
        return f"a mapping (each value: {_describe(get_args(annotation)[1])})"
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    return names.get(annotation, "a value")
