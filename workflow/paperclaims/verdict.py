"""Checks, their outcomes and the claim verdict: verdict.json (contract in DESIGN.md) and the
claims table.

The rules, stated once here and in the README:

- A **threshold** (comparison, value, source) is the region of values that agree with the paper. It
  renders its own text and decides the outcome, so no threshold is written twice.
- A **claim check** ``supports`` when its whole interval lies inside that region, ``contradicts``
  when the whole interval lies outside, and is ``inconclusive`` otherwise — an under-powered check,
  with its wide interval, never reads as support. A failed **precondition** (the net did not fit;
  the effect is within noise; the regime is not the theorem's) makes it ``inconclusive``.
- A **control** is a model, process or data set for which the paper's statement is false, sent
  through the same check code with the same threshold. It should come out ``contradicts``; a check
  whose control also ``supports`` is **uninformative** and counts as inconclusive in the verdict.
- **Implementation checks** verify our code (quadrature against simulation, identities, laws of
  large numbers). They are shown and counted apart and never enter the verdict.
- The **claim verdict** (``claim_verdict``): ``not reproduced`` if a headline check contradicts;
  else ``reproduced`` if every claim check supports informatively; else ``inconclusive`` if none
  does; else ``partly reproduced``.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from paperclaims.fits import Estimate
from paperclaims.io import write_json

SUPPORTS, CONTRADICTS, INCONCLUSIVE = "supports", "contradicts", "inconclusive"
OUTCOMES = (SUPPORTS, CONTRADICTS, INCONCLUSIVE)
VERDICTS = ("reproduced", "partly reproduced", "not reproduced", "inconclusive")
# Claim checks' intervals: a percentile bootstrap over seeds at this level unless a check says
# otherwise in its ``interval_method``.
CLAIM_LEVEL = 0.95
EXACT = "exact (a deterministic computation: no sampling error)"
_SYMBOLS = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "within": "within"}


class CheckCodeError(RuntimeError):
    """A claim's verdict code is wrong (no checks, a required check missing, a malformed check):
    the verdict step fails loudly instead of writing a verdict."""


@dataclass(frozen=True)
class Threshold:
    """The region of values that agree with the paper: ``comparison`` is one of ``>=``, ``>``,
    ``<=``, ``<`` (``value`` a number) or ``within`` (``value`` = [low, high], inclusive)."""

    comparison: str
    value: float | tuple[float, float]
    source: str

    def __post_init__(self):
        if self.comparison not in _SYMBOLS:
            raise CheckCodeError(
                f"threshold comparison {self.comparison!r} is not one of {list(_SYMBOLS)}"
            )
        if self.comparison == "within":
            low, high = self.value
            if not low <= high:
                raise CheckCodeError(f"threshold band {self.value} has low > high")
            object.__setattr__(self, "value", (float(low), float(high)))
        else:
            object.__setattr__(self, "value", float(self.value))
        if not self.source:
            raise CheckCodeError("a threshold needs its source (theory, figure, table or rule)")

    @classmethod
    def around(cls, centre: float, *, rel: float, source: str) -> Threshold:
        """Within ±``rel`` (a fraction) of ``centre``."""
        half = abs(centre) * rel
        return cls("within", (centre - half, centre + half), source)

    def agrees(self, x: float) -> bool:
        c, v = self.comparison, self.value
        if c == "within":
            return v[0] <= x <= v[1]
        return {">=": x >= v, ">": x > v, "<=": x <= v, "<": x < v}[c]

    def outcome(self, low: float, high: float) -> str:
        """``supports`` if [low, high] lies inside the region, ``contradicts`` if wholly outside.

        Every region is an interval of the line, so the check's interval lies inside it when both
        ends do; a one-sided region's complement is an interval too, so both ends outside means
        wholly outside; a band is missed wholly only on one side.
        """
        if not (_finite(low) and _finite(high)):
            return INCONCLUSIVE
        if self.agrees(low) and self.agrees(high):
            return SUPPORTS
        if self.comparison == "within":
            outside = high < self.value[0] or low > self.value[1]
        else:
            outside = not self.agrees(low) and not self.agrees(high)
        return CONTRADICTS if outside else INCONCLUSIVE

    def margin(self, x: float) -> float:
        """Signed distance of ``x`` from the region's edge, in units of the threshold's scale
        (|value|, or the band's half-width): > 0 agrees, < 0 does not. Lets rows of unlike
        checks share one axis in the at-a-glance figure."""
        if not _finite(x):
            return math.nan
        if self.comparison == "within":
            low, high = self.value
            half = (high - low) / 2 or 1.0
            return (half - abs(x - (low + high) / 2)) / half
        scale = abs(self.value) or 1.0
        sign = 1.0 if self.comparison in (">=", ">") else -1.0
        return sign * (x - self.value) / scale

    def text(self) -> str:
        if self.comparison == "within":
            return f"within [{_fmt(self.value[0])}, {_fmt(self.value[1])}]"
        return f"{_SYMBOLS[self.comparison]} {_fmt(self.value)}"

    def to_dict(self) -> dict:
        value = list(self.value) if self.comparison == "within" else self.value
        return {
            "comparison": self.comparison,
            "value": value,
            "source": self.source,
            "text": self.text(),
        }


@dataclass(frozen=True)
class Precondition:
    """When the comparison means anything; ``held=False`` makes the check inconclusive."""

    what: str
    held: bool
    measured: float | str | None = None

    def to_dict(self) -> dict:
        return {"what": self.what, "held": bool(self.held), "measured": self.measured}


def decide(
    threshold: Threshold, interval, precondition: Precondition | None = None
) -> tuple[str, str]:
    """The one rule that decides every check's outcome: (outcome, reason)."""
    if precondition is not None and not precondition.held:
        return INCONCLUSIVE, f"precondition failed: {precondition.what}"
    if interval is None or not all(_finite(v) for v in interval):
        return INCONCLUSIVE, "no finite interval"
    low, high = sorted(interval)
    outcome = threshold.outcome(low, high)
    where = {SUPPORTS: "inside", CONTRADICTS: "outside", INCONCLUSIVE: "across the edge of"}[
        outcome
    ]
    return (
        outcome,
        f"interval [{_fmt(low)}, {_fmt(high)}] lies {where} the region {threshold.text()}",
    )


@dataclass
class Control:
    """A case where the paper's statement is false, judged by the same threshold as its check."""

    name: str
    description: str
    measured: float | None
    interval: list[float] | None
    outcome: str = INCONCLUSIVE
    reason: str = ""
    precondition: Precondition | None = None

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "measured": self.measured,
            "interval": self.interval,
            "outcome": self.outcome,
            "reason": self.reason,
            "precondition": self.precondition.to_dict() if self.precondition else None,
        }


@dataclass
class Check:
    """One number-by-number comparison with the paper; its outcome is decided at construction.

    ``expected`` holds the paper's value or trend and its source; ``interval`` is ``measured``'s
    interval by ``interval_method`` (a check without sampling error says ``EXACT``).
    """

    id: str
    statement: str
    expected: dict
    measured: float | str | None
    threshold: Threshold
    interval: list[float] | None = None
    interval_method: str = ""
    precondition: Precondition | None = None
    headline: bool = False
    details: dict = field(default_factory=dict)
    control: Control | None = None
    outcome: str = field(init=False)
    reason: str = field(init=False)

    def __post_init__(self):
        if self.interval is None and self.interval_method == EXACT and _finite(self.measured):
            self.interval = [float(self.measured), float(self.measured)]
        if self.interval is not None:
            self.interval = [float(v) for v in self.interval]
        self.outcome, self.reason = decide(self.threshold, self.interval, self.precondition)

    @classmethod
    def from_estimate(cls, est: Estimate, **kwargs) -> Check:
        method = kwargs.pop("interval_method", None) or (
            f"{est.level:.0%} percentile bootstrap over seeds"
        )
        return cls(measured=est.value, interval=est.interval(), interval_method=method, **kwargs)

    def also_requires(self, precondition: Precondition) -> Check:
        """Add a precondition (e.g. one shared by every check of a data set) and decide again;
        a failure's reason names the precondition(s) that failed."""
        parts = [p for p in (self.precondition, precondition) if p is not None]
        self.precondition = Precondition(
            "; and ".join(p.what for p in parts),
            all(p.held for p in parts),
            "; ".join(str(p.measured) for p in parts if p.measured is not None) or None,
        )
        self.outcome, self.reason = decide(self.threshold, self.interval, self.precondition)
        if not self.precondition.held:
            failed = "; and ".join(p.what for p in parts if not p.held)
            self.reason = f"precondition failed: {failed}"
        return self

    def with_control(
        self,
        name: str,
        description: str,
        measured: float | None,
        interval: list[float] | None,
        precondition: Precondition | None = None,
    ) -> Check:
        """Judge ``name`` (a case where the statement is false) by this check's threshold."""
        interval = [float(v) for v in interval] if interval is not None else None
        outcome, reason = decide(self.threshold, interval, precondition)
        self.control = Control(name, description, measured, interval, outcome, reason, precondition)
        return self

    @property
    def uninformative(self) -> bool:
        """The control, for which the statement is false, also supports: the check cannot tell."""
        return self.control is not None and self.control.outcome == SUPPORTS

    @property
    def effective_outcome(self) -> str:
        return INCONCLUSIVE if self.uninformative else self.outcome

    def to_dict(self) -> dict:
        return _clean(
            {
                "id": self.id,
                "statement": self.statement,
                "headline": self.headline,
                "expected": self.expected,
                "measured": self.measured,
                "interval": self.interval,
                "interval_method": self.interval_method,
                "threshold": self.threshold.to_dict(),
                "precondition": self.precondition.to_dict() if self.precondition else None,
                "outcome": self.outcome,
                "reason": self.reason,
                "control": self.control.to_dict() if self.control else None,
                "uninformative": self.uninformative,
                "details": self.details,
            }
        )


def claim_verdict(checks: list[Check]) -> str:
    """The claim-level word from its claim checks (the rule in this module's docstring)."""
    outcomes = [c.effective_outcome for c in checks]
    if any(c.headline and c.effective_outcome == CONTRADICTS for c in checks):
        return "not reproduced"
    if all(o == SUPPORTS for o in outcomes):
        return "reproduced"
    if SUPPORTS not in outcomes:
        return "inconclusive"
    return "partly reproduced"


def _validate(checks: list[Check], implementation_checks: list[Check], required: list[str]) -> None:
    if not checks:
        raise CheckCodeError("a claim with no claim checks has no verdict")
    if not any(c.headline for c in checks):
        raise CheckCodeError("a claim needs at least one headline check")
    ids = [c.id for c in [*checks, *implementation_checks]]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise CheckCodeError(f"check ids appear twice: {duplicates}")
    missing = [r for r in required if not any(i == r or i.startswith(f"{r}[") for i in ids)]
    if missing:
        raise CheckCodeError(
            f"required check(s) {missing} were not computed (have {ids}): a config that drops them "
            "must fail validation, and verdict code that skips them is a bug"
        )
    for c in checks:
        if not c.interval_method:
            raise CheckCodeError(f"claim check {c.id} states no interval method")


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def computed_from(inputs, code: str) -> dict:
    """What a verdict or table was computed from: its inputs' checksums and its code's hash, so
    `paperclaims audit` can tell when it is stale."""
    return {"inputs": {str(p): file_sha256(p) for p in inputs}, "code": code}


def verdict_dict(
    *,
    claim: str,
    paper: str,
    checks: list[Check],
    config: dict,
    implementation_checks: list[Check] = (),
    required: list[str] = (),
    reconstruction: str | None = None,
    notes: list[str] | None = None,
    provenance: dict | None = None,
) -> dict:
    implementation_checks = list(implementation_checks)
    _validate(checks, implementation_checks, list(required))
    outcomes = [c.effective_outcome for c in checks]
    return {
        "claim": claim,
        "paper": paper,
        "verdict": claim_verdict(checks),
        "verdict_rule": (
            "not reproduced if a headline check contradicts; reproduced if every claim check "
            "supports (a check whose control also supports counts as inconclusive); inconclusive "
            "if none supports; partly reproduced otherwise"
        ),
        "counts": {o: outcomes.count(o) for o in OUTCOMES},
        "reconstruction": reconstruction,
        "checks": [c.to_dict() for c in checks],
        "implementation_checks": [c.to_dict() for c in implementation_checks],
        "notes": notes or [],
        "config": config,
        "computed_from": provenance,
    }


def write_verdict(step, **kwargs) -> dict:
    """Write ``step.output[0]`` (verdict.json), recording the step's inputs and code hash."""
    provenance = computed_from(list(step.input), step.extra.get("code_hash", ""))
    verdict = verdict_dict(provenance=provenance, **kwargs)
    write_json(verdict, step.output[0])
    return verdict


def _finite(value) -> bool:
    """A finite real number (numpy scalars included, booleans not)."""
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, (bool, np.bool_))
        and math.isfinite(value)
    )


def _clean(obj):
    """JSON has no NaN/inf: write them as null (the table shows 'n/a')."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item"):
        return _clean(obj.item())
    return obj


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _fmt_expected(expected: dict) -> str:
    value = expected.get("value", expected.get("trend", ""))
    source = expected.get("source")
    return f"{_fmt(value)} ({source})" if source else _fmt(value)


def _outcome_text(check: dict) -> str:
    text = check["outcome"]
    if check.get("uninformative"):
        text += " — **uninformative** (its control supports too)"
    return text


def _control_text(check: dict) -> str:
    control = check.get("control")
    if not control:
        return "none yet"
    ours = _fmt(control["measured"])
    if control.get("interval"):
        ours += " [{}, {}]".format(*map(_fmt, control["interval"]))
    return f"{control['name']}: {ours} → {control['outcome']}"


def _ours(check: dict) -> str:
    ours = _fmt(check["measured"])
    if check.get("interval") and check["interval"][0] != check["interval"][1]:
        ours += " [{}, {}]".format(*map(_fmt, check["interval"]))
    return ours


def _row(cells) -> str:
    return "| " + " | ".join(str(s).replace("|", "\\|").replace("\n", " ") for s in cells) + " |"


def claims_table(verdict_paths: list[str | Path], code: str = "") -> str:
    """Markdown table of every check of every claim, regenerated from the verdict files."""
    verdicts = [json.loads(Path(p).read_text()) for p in verdict_paths]
    record = json.dumps(computed_from(verdict_paths, code), sort_keys=True)
    lines = [
        "# Claims: verdicts",
        "",
        "Generated by the `claims_table` rule from `results/*/verdict.json`; do not edit by hand.",
        "A claim check *supports* when its whole interval lies inside the threshold's region,",
        "*contradicts* when wholly outside, and is *inconclusive* otherwise or when its precondition",
        "failed; a check whose control (a case where the statement is false) also supports is",
        "*uninformative*. Implementation checks test our code and never enter the verdict.",
        "",
        "| claim | paper | verdict | supports | contradicts | inconclusive | uninformative | implementation checks passed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for v in verdicts:
        counts = {o: sum(c["outcome"] == o for c in v["checks"]) for o in OUTCOMES}
        uninformative = sum(bool(c.get("uninformative")) for c in v["checks"])
        impl = v.get("implementation_checks", [])
        impl_ok = sum(c["outcome"] == SUPPORTS for c in impl)
        lines.append(
            _row(
                [v["claim"], v["paper"], f"**{v['verdict']}**", *counts.values(), uninformative]
                + [f"{impl_ok}/{len(impl)}"]
            )
        )
    for v in verdicts:
        lines += ["", f"## {v['claim']}: {v['paper']} — {v['verdict']}", ""]
        if v.get("reconstruction"):
            lines += [f"*Reconstruction:* {v['reconstruction']}", ""]
        header = "| check | statement | paper (source) | ours [interval] | threshold (source) | precondition | control | outcome |"
        lines += [header, "|---|---|---|---|---|---|---|---|"]
        for c in v["checks"]:
            pre = c.get("precondition")
            pre_text = f"{pre['what']}: {'held' if pre['held'] else 'FAILED'}" if pre else "—"
            name = f"**{c['id']}** (headline)" if c.get("headline") else c["id"]
            threshold = f"{c['threshold']['text']} ({c['threshold']['source']})"
            row = [name, c["statement"], _fmt_expected(c["expected"]), _ours(c), threshold]
            lines.append(_row([*row, pre_text, _control_text(c), _outcome_text(c)]))
        if v.get("implementation_checks"):
            lines += ["", "Implementation checks (our code, not the claim):", ""]
            lines += ["| check | statement | ours | threshold | outcome |", "|---|---|---|---|---|"]
            for c in v["implementation_checks"]:
                row = [c["id"], c["statement"], _ours(c), c["threshold"]["text"], c["outcome"]]
                lines.append(_row(row))
        for note in v.get("notes", []):
            lines.append(f"\n- {note}")
    lines += ["", f"<!-- computed_from: {record} -->"]
    return "\n".join(lines) + "\n"


def write_claims_table(step) -> None:
    """Step function of the ``claims_table`` rule."""
    path = Path(step.output[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(claims_table(list(step.input.verdicts), step.extra.get("code_hash", "")))


def render_claims_html(step) -> None:
    """The claims table as a standalone HTML page (for `snakemake --report`)."""
    import mistune  # ships with nbconvert

    body = mistune.html(Path(step.input[0]).read_text())
    style = (
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px}"
    )
    page = f"<!doctype html><meta charset='utf-8'><style>{style}</style>{body}"
    Path(step.output[0]).write_text(page)
