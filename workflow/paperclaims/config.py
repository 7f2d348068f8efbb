"""Config validation against the JSON schema (defaults filled in) with errors a person can act on."""

from __future__ import annotations

import hashlib
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


def validate_config(config: dict, schema_path: str | Path) -> dict:
    """Fill defaults into ``config`` in place and validate it; raise ConfigError on the first fault."""
    schema_path = Path(schema_path)
    schema = _load(schema_path)
    cls = _with_defaults(Draft202012Validator)
    validator = cls(schema, registry=_registry(schema_path.parent))
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
    return config


def code_hash(*paths: str | Path) -> str:
    """Content hash of source files; put in a rule's params so editing them reruns the rule."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).name.encode())
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:16]
