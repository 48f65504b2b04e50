"""Turn `--option value` words into a check's validated parameters."""

from __future__ import annotations

from pydantic import BaseModel, ValidationError


class UsageError(ValueError):
    """Words that do not make a valid request; the message is shown to the user as is."""


def parse_options(words: list[str]) -> dict[str, str | bool]:
    """`--group user-service --samples=5 --verbose` -> {"group": ..., "samples": "5", ...}."""
    out: dict[str, str | bool] = {}
    i = 0
    while i < len(words):
        word = words[i]
        if not word.startswith("--") or word == "--":
            raise UsageError(f"unexpected word `{word}`: options look like `--name value`")
        key, eq, value = word[2:].partition("=")
        key = key.replace("-", "_")
        if eq:
            out[key] = value
        elif i + 1 < len(words) and not words[i + 1].startswith("--"):
            out[key] = words[i + 1]
            i += 1
        else:
            out[key] = True
        i += 1
    return out


def validate_params(model: type[BaseModel], words: list[str]) -> BaseModel:
    """Parse and validate options, or raise UsageError naming the offending option."""
    raw = parse_options(words)
    unknown = sorted(set(raw) - set(model.model_fields))
    if unknown:
        valid = ", ".join("--" + n.replace("_", "-") for n in model.model_fields) or "none"
        raise UsageError(f"unknown option --{unknown[0].replace('_', '-')} (valid: {valid})")
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        name = "--" + str(first["loc"][0]).replace("_", "-") if first["loc"] else "options"
        raise UsageError(f"{name}: {first['msg']}") from None
