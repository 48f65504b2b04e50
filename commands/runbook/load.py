"""Reading `$ALP_RUNBOOK_DIR`: every `*.yaml`/`*.yml` file in it, each validated with the line of
every mistake.

A ConfigMap mounted as a volume holds its files as symlinks into a hidden `..data` directory:
top-level files are read through their links, hidden entries are skipped, nothing is recursed into.
What is refused, with `FILE:LINE: message` (line 0: the file as a whole):
- a file over `MAX_FILE_BYTES`, more than `MAX_FILES` files, a link that loops or leads nowhere;
- YAML that does not parse, anchors and aliases (a "billion laughs" file expands them exponentially),
  more than `MAX_NODES` nodes;
- anything the models in model.py refuse (wrong types, unknown keys, missing fields).
Cross-file and reference rules (names twice, unknown actions, RE2, SQL) are lint.py's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from commands.registry import did_you_mean
from commands.runbook.model import PROBE_KINDS, RunbookFile

MAX_FILE_BYTES = 1024 * 1024  # a ConfigMap holds at most 1 MiB in all
MAX_FILES = 200
MAX_NODES = 50_000

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One mistake: where and what. `str()` is the lint line `FILE:LINE: message`."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass
class Loaded:
    """One file that parsed and validated, with the line of every node (by its path in the document)."""

    path: Path
    content: RunbookFile
    lines: dict[Loc, int]

    def line(self, *loc: str | int) -> int:
        """The line of the nearest node at or above `loc` (1-based)."""
        while loc and loc not in self.lines:
            loc = loc[:-1]
        return self.lines.get(loc, 1)


@dataclass
class LoadResult:
    files: list[Loaded] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


class _Refused(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line, self.message = line, message


def _plain(node: yaml.Node, loc: Loc, lines: dict[Loc, int], seen: set[int]) -> Any:
    """A composed YAML node as plain data, recording each node's line; refuses aliases and huge files."""
    if id(node) in seen:
        raise _Refused(node.start_mark.line + 1, "YAML anchors and aliases are not allowed in runbook files")
    seen.add(id(node))
    if len(seen) > MAX_NODES:
        raise _Refused(node.start_mark.line + 1, f"more than {MAX_NODES} YAML nodes: split the file")
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.SafeLoader(" ").construct_object(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str | int | float | bool) or key_node.tag == "tag:yaml.org,2002:merge":
                raise _Refused(key_node.start_mark.line + 1, "a key must be a plain word (no merge keys)")
            if key in out:
                raise _Refused(key_node.start_mark.line + 1, f"key {key!r} given twice")
            out[key] = _plain(value_node, (*loc, str(key)), lines, seen)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item, (*loc, i), lines, seen) for i, item in enumerate(node.value)]
    return yaml.SafeLoader(" ").construct_object(node)


def parse(text: str, name: str) -> tuple[Any, dict[Loc, int]]:
    """YAML text as plain data and the line of each node. Raises `_Refused`."""
    try:
        docs = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        raise _Refused(line, f"not valid YAML: {getattr(err, 'problem', None) or err}") from None
    docs = [d for d in docs if d is not None]
    if not docs:
        return {}, {}
    if len(docs) > 1:
        raise _Refused(docs[1].start_mark.line + 1, "one YAML document per file")
    lines: dict[Loc, int] = {}
    return _plain(docs[0], (), lines, set()), lines


def _document_path(loc: Loc, lines: dict[Loc, int]) -> Loc:
    """Pydantic's error path as a path in the document: a discriminated union adds its tag
    (`…, 'probes', 1, 'pods', 'selector'`), which the document does not have."""
    path: Loc = ()
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if (*path, part) in lines or last or not (isinstance(part, str) and part in PROBE_KINDS):
            path = (*path, part)
    return path


def _validation_problems(name: str, err: ValidationError, lines: dict[Loc, int]) -> list[Problem]:
    out = []
    for e in err.errors(include_url=False):
        path = _document_path(tuple(e["loc"]), lines)
        msg = e["msg"]
        if e["type"] == "union_tag_invalid":  # `kind: pod`: name the kinds, and the nearest
            tag = str(e.get("ctx", {}).get("tag", ""))
            path = (*path, "kind")
            msg = f"unknown probe kind `{tag}`.{did_you_mean(tag, PROBE_KINDS)} Kinds: {', '.join(PROBE_KINDS)}"
        near = path
        while near and near not in lines:
            near = near[:-1]
        where = ".".join(str(p) for p in path) or "(top)"
        out.append(Problem(name, lines.get(near, 1), f"{where}: {msg}"))
    return out


def load_file(path: Path, shown: str | None = None) -> Loaded | list[Problem]:
    """One file: its content, or why it is refused."""
    name = shown or str(path)
    try:
        real = path.resolve(strict=True)
        size = real.stat().st_size
        if size > MAX_FILE_BYTES:
            return [Problem(name, 0, f"{size} bytes: a runbook file holds at most {MAX_FILE_BYTES} bytes")]
        raw = real.read_bytes()
    except RuntimeError:  # Python < 3.13 reports a symlink loop this way
        return [Problem(name, 0, "a symlink loop: the file cannot be read")]
    except OSError as err:
        return [Problem(name, 0, f"cannot be read: {err.strerror or err}")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return [Problem(name, 0, f"not UTF-8 text (byte {err.start})")]
    try:
        data, lines = parse(text, name)
    except _Refused as err:
        return [Problem(name, err.line, err.message)]
    if not isinstance(data, dict):
        return [
            Problem(name, 1, "a runbook file is a mapping with `symptoms:` (and optionally `extend:`, `services:`)")
        ]
    try:
        return Loaded(path, RunbookFile.model_validate(data), lines)
    except ValidationError as err:
        return _validation_problems(name, err, lines)


def load_dir(directory: Path) -> LoadResult:
    """Every runbook file of a directory, in name order. A missing or unreadable directory is a problem."""
    result = LoadResult()
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError as err:
        result.problems.append(Problem(str(directory), 0, f"cannot list the runbook directory: {err.strerror or err}"))
        return result
    files = [e for e in entries if not e.name.startswith(".") and e.name.endswith((".yaml", ".yml"))]
    if len(files) > MAX_FILES:
        result.problems.append(Problem(str(directory), 0, f"{len(files)} files: at most {MAX_FILES} are read"))
        files = files[:MAX_FILES]
    for entry in files:
        path = Path(entry.path)
        try:
            if path.resolve(strict=True).is_dir():
                continue
        except (OSError, RuntimeError):
            pass  # load_file says why
        got = load_file(path)
        if isinstance(got, Loaded):
            result.files.append(got)
        else:
            result.problems.extend(got)
    return result
