"""Reading YAML data files (the taxonomy, the gazetteer) into pydantic models, with line numbers in errors.

The file is composed into YAML nodes first, so every validation error can point at the line of the
value it is about; duplicate keys, which plain YAML loading silently accepts, are refused too. The
file is parsed once, by libyaml when PyYAML has it (seven times faster than its Python parser, which
every worker paid at start for the gazetteer), and the data is built from those same nodes; a file
that does not parse is parsed again by the Python parser, whose messages the errors quote.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from shared.errors import DataFileError

ModelT = TypeVar("ModelT", bound=BaseModel)
ContextFactory = Callable[[Any], dict[str, Any]]
FastLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_data_file(
    path: Path, *, model: type[ModelT], error: type[DataFileError], context: ContextFactory | None = None
) -> ModelT:
    """Parse and validate ``path`` as ``model``, raising ``error`` with the line and the reason."""
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as problem:
        raise error(f"cannot read the file: {problem}", path=str(path)) from None
    return parse_data_text(content, model=model, error=error, source=str(path), context=context)


def parse_data_text(
    content: str,
    *,
    model: type[ModelT],
    error: type[DataFileError],
    source: str,
    context: ContextFactory | None = None,
) -> ModelT:
    """Parse and validate YAML ``content``; ``source`` names it in errors.

    ``context`` builds the pydantic validation context from the raw data (e.g. the names that
    references may point at), so a bad reference is reported at its own line.
    """
    loader = FastLoader(content)
    try:
        root = loader.get_single_node()
    except yaml.YAMLError:
        root = _compose(content, error=error, source=source)  # raises with the Python parser's message
    if root is None:
        raise error("the file is empty", path=source, line=1)
    _refuse_duplicate_keys(root, error=error, source=source)
    try:
        data = loader.construct_document(root)  # type: ignore[no-untyped-call]  # PyYAML is untyped
    finally:
        loader.dispose()  # type: ignore[no-untyped-call]
    try:
        return model.model_validate(data, context=context(data) if context else None)
    except ValidationError as problem:
        first = problem.errors()[0]
        node = _node_at(root, first["loc"])
        location = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise error(f"{location}: {first['msg']}", path=source, line=node.start_mark.line + 1) from None


def _compose(content: str, *, error: type[DataFileError], source: str) -> yaml.Node | None:
    try:
        node: yaml.Node | None = yaml.compose(content, Loader=yaml.SafeLoader)
        return node
    except yaml.MarkedYAMLError as problem:
        mark = problem.problem_mark or problem.context_mark
        line = mark.line + 1 if mark is not None else None
        raise error(f"not valid YAML: {problem.problem or problem.context}", path=source, line=line) from None
    except yaml.YAMLError as problem:
        raise error(f"not valid YAML: {problem}", path=source) from None


def _refuse_duplicate_keys(node: yaml.Node, *, error: type[DataFileError], source: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key, value in node.value:
            if key.value in seen:
                raise error(f"duplicate key {key.value!r}", path=source, line=key.start_mark.line + 1)
            seen.add(key.value)
            _refuse_duplicate_keys(value, error=error, source=source)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _refuse_duplicate_keys(item, error=error, source=source)


def _node_at(root: yaml.Node, location: tuple[int | str, ...]) -> yaml.Node:
    """The deepest node along a pydantic error location (keys of mappings, indexes of lists)."""
    node = root
    for part in location:
        child = _child(node, part)
        if child is None:
            break
        node = child
    return node


def _child(node: yaml.Node, part: int | str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if str(key.value) == str(part):
                return value  # type: ignore[no-any-return]
    elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return node.value[part]  # type: ignore[no-any-return]
    return None
