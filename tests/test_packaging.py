"""The three descriptions of the environment agree: pyproject, pinned requirements, conda file."""

from __future__ import annotations

import re
import tomllib

import yaml
from conftest import ROOT


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~ ;]", requirement.strip(), maxsplit=1)[0].lower()


def _pins(lines) -> dict[str, str]:
    pins = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            name, _, version = line.partition("==")
            pins[_name(name)] = version
    return pins


def test_requirements_and_conda_env_cover_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {_name(r) for r in project["dependencies"]}
    tests = {_name(r) for r in project["optional-dependencies"]["test"]}
    pinned = _pins((ROOT / "envs" / "requirements.txt").read_text().splitlines())
    env = yaml.safe_load((ROOT / "envs" / "paperclaims.yaml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda = _pins(pip_section)
    assert runtime <= set(pinned), runtime - set(pinned)
    assert tests <= set(pinned), tests - set(pinned)
    assert runtime <= set(conda), runtime - set(conda)
    # same versions wherever both pin a package
    assert {k: v for k, v in conda.items() if pinned.get(k) != v} == {}
    assert "python=3.11" in env["dependencies"]


def test_torch_is_capped_to_the_cpu_wheel():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    torch = next(r for r in project["dependencies"] if _name(r) == "torch")
    assert "<2.14" in torch
