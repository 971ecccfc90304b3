"""The clinical rules file (``templates/rules/clinical_rules.yaml``): read, checked, and rendered as the
README's rule table.

A rules file is data: sources (citation key -> reference), the foot-posture table, and rules (``id``,
``title``, ``when``, ``set``, optional ``requires``, ``supported_by``, ``capped``) each naming its sources.
A malformed file is refused with one line naming the file and the rule (``PrescriptionError``).
:mod:`orthogen.rx.clinical_rules` applies the rules.

``python -m orthogen.rx.rulebook --table`` prints the README's rule table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from orthogen.errors import PrescriptionError
from orthogen.rx.assessment import CONDITIONS
from orthogen.rx.findings import DIRECTION
from orthogen.rx.model import ACCOMMODATIONS, Prescription

#: The rules file shipped with orthogen.
RULES_PATH = Path(__file__).resolve().parents[2] / "templates" / "rules" / "clinical_rules.yaml"
VALUE_OPS = ("from", "table", "at_least", "at_most")
WHEN_OPS = ("at_least", "at_most", "abs_at_least")
#: Findings a rule may test or read (conditions and posture have their own entries).
FINDINGS = (
    "leg_length_difference_mm",
    "short_side",
    "foot_posture_index",
    "navicular_drop_mm",
    "rcsp_deg",
    "forefoot_deg",
    "body_mass_kg",
    "activity",
    "shoe_type",
    "shoe_drop_mm",
    "arch_index",
    "foot_type",
    "arch_height_mm",
    "forefoot_to_rearfoot_deg",
)


@dataclass(frozen=True)
class ClinicalRule:
    """One rule: when its findings hold, it sets values; ``sources`` name the evidence."""

    id: str
    title: str
    when: Mapping[str, Any]
    set: Mapping[str, Any]
    requires: Mapping[str, Any]
    sources: tuple[str, ...]
    supported_by: tuple[str, ...] = ()
    capped: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleBook:
    """The parsed rules file."""

    path: str
    sources: Mapping[str, str]
    posture: tuple[Mapping[str, Any], ...]
    forefoot_disagreement_deg: float
    rules: tuple[ClinicalRule, ...]


# ---------------------------------------------------------------------------------------------
# Reading and checking the rules file


def _problem(path: str, where: str, text: str) -> PrescriptionError:
    return PrescriptionError(f"{where}: {text}", path)


def _check_value(path: str, where: str, key: str, spec: Any) -> None:
    if key == "template":
        if not isinstance(spec, str):
            raise _problem(path, where, "template must be a template name")
        return
    if key not in Prescription.model_fields:
        raise _problem(path, where, f"unknown prescription key {key!r}")
    ops = [op for op in VALUE_OPS if isinstance(spec, dict) and op in spec]
    if len(ops) > 1:
        raise _problem(path, where, f"{key} mixes {', '.join(ops)}")
    if ops and ops[0] in ("from", "table"):
        name = spec[ops[0]]
        if name not in FINDINGS:
            raise _problem(path, where, f"{key} reads unknown finding {name!r}")
    if ops == ["table"] and not (isinstance(spec.get("steps"), list) and spec["steps"]):
        raise _problem(path, where, f"{key}: a table needs steps: [[from, value], ...]")
    if isinstance(spec, dict) and not ops and key not in ACCOMMODATIONS:
        raise _problem(path, where, f"{key} = {spec!r} is neither a value nor one of {', '.join(VALUE_OPS)}")


def _check_when(path: str, where: str, when: Any) -> None:
    if not isinstance(when, dict) or not when:
        raise _problem(path, where, "when must be a non-empty mapping of findings")
    for name, test in when.items():
        if name == "condition":
            names = test if isinstance(test, list) else [test]
            bad = [n for n in names if n not in CONDITIONS]
            if bad:
                raise _problem(path, where, f"unknown condition(s) {bad}")
        elif name == "posture":
            names = test if isinstance(test, list) else [test]
            if any(n not in DIRECTION for n in names):
                raise _problem(path, where, f"posture must be one of {', '.join(DIRECTION)}")
        elif name not in FINDINGS:
            raise _problem(path, where, f"unknown finding {name!r} in when")
        elif isinstance(test, dict) and (len(test) != 1 or next(iter(test)) not in WHEN_OPS):
            raise _problem(path, where, f"{name}: a test is one of {', '.join(WHEN_OPS)}, present, absent")


def _parse(path: str, data: Any) -> RuleBook:
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise PrescriptionError("a rules file is a mapping with sources, posture and a list of rules", path)
    sources = data.get("sources") or {}
    rules, seen = [], set()
    for i, raw in enumerate(data["rules"], 1):
        if not isinstance(raw, dict):
            raise _problem(path, f"rule #{i}", "must be a mapping")
        rid = str(raw.get("id", f"#{i}"))
        where = f"rule {rid}"
        unknown = set(raw) - {"id", "title", "when", "set", "requires", "sources", "supported_by", "capped"}
        if unknown or rid in seen or not raw.get("title") or not isinstance(raw.get("set"), dict):
            extra = f"; unknown {sorted(unknown)}" if unknown else ""
            raise _problem(
                path,
                where,
                "needs a unique id, a title, when and set (and nothing else but "
                f"requires, sources, supported_by, capped){extra}",
            )
        seen.add(rid)
        _check_when(path, where, raw.get("when"))
        for key, spec in raw["set"].items():
            _check_value(path, where, key, spec)
        refs = tuple(raw.get("sources") or ())
        if not refs or any(r not in sources for r in refs):
            raise _problem(path, where, f"every rule names its sources, from: {', '.join(sources)}")
        capped = raw.get("capped") or {}
        capped = {"*": capped} if isinstance(capped, str) else dict(capped)
        rules.append(
            ClinicalRule(
                id=rid,
                title=str(raw["title"]),
                when=raw["when"],
                set=raw["set"],
                requires=raw.get("requires") or {},
                sources=refs,
                supported_by=tuple(raw.get("supported_by") or ()),
                capped=capped,
            )
        )
    posture = tuple(data.get("posture") or ())
    for entry in posture:
        if not isinstance(entry, dict) or ("classes" not in entry and "bands" not in entry):
            raise _problem(path, "posture", "each entry names a finding and its classes or bands")
    return RuleBook(path, sources, posture, float(data.get("forefoot_disagreement_deg", 3.0)), tuple(rules))


@lru_cache(maxsize=8)
def _load_cached(path: str, mtime_ns: int) -> RuleBook:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        problem = " ".join(str(exc).split())
        raise PrescriptionError(f"cannot read the clinical rules ({problem})", path) from None
    return _parse(path, data)


def load_rulebook(path: str | Path | None = None) -> RuleBook:
    """The clinical rules (default: ``templates/rules/clinical_rules.yaml``); problems raise one line."""
    p = Path(path or RULES_PATH)
    try:
        mtime = p.stat().st_mtime_ns
    except OSError:
        raise PrescriptionError("clinical rules file not found", p) from None
    return _load_cached(str(p), mtime)


# ---------------------------------------------------------------------------------------------
# The README table


def markdown_table(book: RuleBook | None = None) -> str:
    """The rule tables for the README: foot posture, then rule, when, sets, sources (cited in full below)."""
    book = book or load_rulebook()
    lines = ["| foot posture from (first present decides) | classes | sources |", "|---|---|---|"]
    used: list[str] = []
    for p in book.posture:
        if "bands" in p:
            classes = ", ".join(f"≥ {lo:g} {cls.replace('_', ' ')}" for lo, cls in p["bands"])
        else:
            classes = ", ".join(f"{k} {v.replace('_', ' ')}" for k, v in p["classes"].items())
        refs = list(p.get("sources", ())) or ["the clinician"]
        used += [s for s in p.get("sources", ()) if s not in used]
        lines.append(f"| {p['finding']} | {classes} | {', '.join(refs)} |")
    lines += ["", "| rule | when | sets | sources |", "|---|---|---|---|"]
    for r in book.rules:
        when = ", ".join(f"{k}: {_when_text(v)}" for k, v in r.when.items())
        sets = ", ".join(f"{k} {_spec_text(v)}" for k, v in r.set.items())
        if r.requires:
            sets += "; requires " + ", ".join(f"{k} {_spec_text(v)}" for k, v in r.requires.items())
        used += [s for s in r.sources if s not in used]
        lines.append(f"| `{r.id}`: {r.title} | {when} | {sets} | {', '.join(r.sources)} |")
    lines.append("")
    lines += [f"- **{key}**: {book.sources[key]}" for key in used]
    return "\n".join(lines) + "\n"


def _when_text(test: Any) -> str:
    if isinstance(test, list):
        return " or ".join(map(str, test))
    if isinstance(test, dict):
        op, v = next(iter(test.items()))
        return {"at_least": "≥ ", "at_most": "≤ ", "abs_at_least": "magnitude ≥ "}[op] + f"{v:g}"
    return str(test)


def _spec_text(spec: Any) -> str:
    if isinstance(spec, dict):
        if "at_least" in spec:
            return f"≥ {spec['at_least']:g}"
        if "at_most" in spec:
            return f"≤ {spec['at_most']:g}"
        if "in" in spec:
            return "in " + "/".join(spec["in"])
        if "from" in spec:
            extra = "".join(f", {k} {v}" for k, v in spec.items() if k != "from")
            return f"= {spec['from']}{extra}"
        if "table" in spec:
            return f"= table of {spec['table']}"
        return "added" if not spec else str(spec)
    return f"= {spec}"


if __name__ == "__main__":  # python -m orthogen.rx.rulebook --table
    import sys

    if sys.argv[1:] != ["--table"]:
        sys.exit("usage: python -m orthogen.rx.rulebook --table")
    sys.stdout.write(markdown_table())
