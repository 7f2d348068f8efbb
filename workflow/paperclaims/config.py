"""Config validation against the JSON schema (defaults filled in) with errors a person can act on."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator, validators
from referencing import Registry, Resource


class ConfigError(ValueError):
    pass


def _with_defaults(validator_class):
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = _copy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


def _copy(value):
    return yaml.safe_load(yaml.safe_dump(value))


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _registry(schema_dir: Path) -> Registry:
    resources = [
        (p.name, Resource.from_contents(_load(p), default_specification=_draft()))
        for p in sorted(schema_dir.glob("*.schema.yaml"))
    ]
    return Registry().with_resources(resources)


def _draft():
    from referencing.jsonschema import DRAFT202012

    return DRAFT202012


def _allowed(error) -> str:
    kw, val = error.validator, error.validator_value
    return {
        "enum": f"one of {val}",
        "type": f"of type {val}",
        "minimum": f">= {val}",
        "exclusiveMinimum": f"> {val}",
        "maximum": f"<= {val}",
        "exclusiveMaximum": f"< {val}",
        "minItems": f"a list of at least {val} items",
        "maxItems": f"a list of at most {val} items",
        "additionalProperties": "only the keys documented in config/README.md",
        "required": f"to have the key(s) {val}",
        "pattern": f"matching the pattern {val!r}",
        "uniqueItems": "a list without repeats",
    }.get(kw, f"valid under schema rule {kw}={val!r}")


def _coerced(text: str, types: list[str]):
    """``text`` read as the first of the schema's ``types`` it spells, or None if it spells none."""
    word = text.strip().lower()
    for kind in types:
        try:
            if kind == "integer" and re.fullmatch(r"[+-]?\d+", word):
                return int(word)
            if kind == "number" and math.isfinite(float(word)):
                return int(word) if re.fullmatch(r"[+-]?\d+", word) else float(word)
            if kind == "boolean" and word in _BOOLEANS:
                return _BOOLEANS[word]
        except ValueError:
            continue
    return None


_BOOLEANS = {"true": True, "false": False, "yes": True, "no": False}


def _coerce_command_line_strings(config: dict, validator) -> None:
    """Give strings the schema's declared scalar type, in place.

    Snakemake's ``--config key={nested: {width: 64}}`` parses nested values as strings ('64'); a
    string that spells a value of the declared type (integer, number, boolean, also inside lists)
    becomes that value. Anything else is left for validation to reject with key and value.
    """
    for _ in range(10_000):  # one fix per pass: fixing a value can reveal errors under it
        for error in validator.iter_errors(config):
            if error.validator != "type" or not isinstance(error.instance, str):
                continue
            types = error.validator_value
            value = _coerced(error.instance, [types] if isinstance(types, str) else list(types))
            if value is None:
                continue
            *parents, last = error.absolute_path
            container = config
            for key in parents:
                container = container[key]
            container[last] = value
            break
        else:
            return


def validate_config(config: dict, schema_path: str | Path) -> dict:
    """Fill defaults into ``config`` in place, coerce command-line strings to their declared type,
    and validate it; raise ConfigError on the first fault."""
    schema_path = Path(schema_path)
    schema = _load(schema_path)
    registered = _with_registered_claims(schema)
    cls = _with_defaults(Draft202012Validator)
    validator = cls(schema, registry=_registry(schema_path.parent))
    _coerce_command_line_strings(config, validator)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), str(e)))
    if errors:
        e = errors[0]
        key = ".".join(str(p) for p in e.absolute_path) or "(top level)"
        if e.validator == "additionalProperties":
            extra = sorted(set(e.instance) - set(e.schema.get("properties", {})))
            where = f"{key}." if e.absolute_path else ""
            msg = f"unknown config key(s) {[where + k for k in extra]}: allowed are " + str(
                sorted(e.schema.get("properties", {}))
            )
        else:
            msg = f"config key '{key}' = {e.instance!r} is invalid: must be {_allowed(e)}"
        more = f" ({len(errors) - 1} more problem(s) after this one)" if len(errors) > 1 else ""
        raise ConfigError(msg + more + ". See config/README.md.")
    for name, claim in registered.items():
        if name not in config.get("claims", []):
            continue
        for list_path, requirement in claim.required_cells:
            have = at_path(config, list_path)
            if not any(requirement.holds(value, config) for value in have):
                raise ConfigError(
                    f"config key '{list_path}' = {have!r} is invalid: must contain "
                    f"{requirement.describe(config)}, or a check the claim's verdict requires "
                    "would be silently dropped. See config/README.md."
                )
    if registered:
        from paperclaims.registry import check_claim_config

        for name, claim in registered.items():
            check_claim_config(claim, config[name], config["seed"])
    return config


def _with_registered_claims(schema: dict) -> dict:
    """The top schema names no claim: each registered claim adds its name to the ``claims`` enum
    and its section (``<name>.schema.yaml``, default {}) to the properties. Returns the claims."""
    if not schema.get("x-claims-from-registry"):
        return {}
    from paperclaims.registry import claims

    registered = claims()
    schema["properties"]["claims"]["items"]["enum"] = list(registered)
    for name in registered:
        schema["properties"][name] = {"$ref": f"{name}.schema.yaml", "default": {}}
    return registered


@dataclass(frozen=True)
class Contains:
    """A sweep list must hold a value for which ``holds(value, config)``; ``describe(config)``
    says which."""

    describe: Callable[[dict], str]
    holds: Callable[[object, dict], bool]


def value(wanted) -> Contains:
    return Contains(lambda _: repr(wanted), lambda v, _: v == wanted)


def value_of(path: str) -> Contains:
    """The list must contain the value of another key (``path``, dotted)."""
    return Contains(
        lambda config: f"{at_path(config, path)!r} (the value of '{path}')",
        lambda v, config: v == at_path(config, path),
    )


def some_value(text: str, holds: Callable[[object, dict], bool]) -> Contains:
    return Contains(lambda _: f"a value {text}", holds)


def at_path(config: dict, path: str):
    """The value at a dotted ``path`` ("" is the whole config)."""
    for key in filter(None, path.split(".")):
        config = config[key]
    return config


def code_hash(*paths: str | Path) -> str:
    """Content hash of source files; put in a rule's params so editing them reruns the rule."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).name.encode())
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:16]
