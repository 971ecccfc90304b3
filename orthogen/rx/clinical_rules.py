"""Clinical rules: from an assessment's findings to prescription values, each with its reason.

The rules are data (``templates/rules/clinical_rules.yaml``: finding -> rule -> value, each with its
published source, read and checked by :mod:`orthogen.rx.rulebook`); this module applies them to one
foot's findings.  The steps, in order (the YAML file's header says the same):

1. findings (:mod:`orthogen.rx.findings`), with the foot posture classified from them;
2. the template: the clinician's, else the last rule that sets ``template``, else ``standard``;
   its defaults are the starting values;
3. rules set values (a constant, an accommodation, ``from`` a finding, or a ``table`` of steps);
4. ``at_least`` floors, then ``at_most`` caps (a cap lowering a rule's value is a warning);
5. the clinician's own values win;
6. a rule whose ``requires`` no longer hold is undone, with a warning.

The result, :class:`Derivation`, holds the values (a raw prescription mapping), a :class:`Decision`
(value and one-line reason) per key, the rows of the "why this device" table and the warnings.

Examples
--------
>>> from orthogen.rx.assessment import validate_assessment
>>> d = derive(validate_assessment({"leg_length_difference": {"mm": 9, "short_side": "left"}}))
>>> d.values["heel_lift_mm"], d.values["heel_lift_side"]
(6.0, 'left')
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orthogen.rx import templates as templates_io
from orthogen.rx.assessment import Assessment
from orthogen.rx.findings import FootFindings, gather
from orthogen.rx.model import Prescription
from orthogen.rx.rulebook import ClinicalRule, RuleBook, load_rulebook

#: The template when no rule and no clinician names one.
DEFAULT_TEMPLATE = "standard"


@dataclass(frozen=True)
class Decision:
    """The value of one prescription key and why: ``origin`` is rule, clinician, template or foot (side)."""

    key: str
    value: Any
    origin: str
    reason: str
    rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class WhyRow:
    """One row of the "why this device" table: finding -> rule -> value, with the rule's sources."""

    finding: str
    rule: str
    value: str
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class Derivation:
    """A prescription derived from one foot's findings: values, a decision per key, why rows, warnings."""

    values: dict[str, Any]
    decisions: tuple[Decision, ...]
    why: tuple[WhyRow, ...]
    warnings: tuple[str, ...]
    findings: FootFindings
    template: str

    def as_dict(self) -> dict:
        """JSON-serialisable summary (for design reports)."""
        return {
            "side": self.findings.side,
            "findings": [f.text for f in self.findings.shown()],
            "why": [
                {"finding": r.finding, "rule": r.rule, "value": r.value, "sources": list(r.sources)}
                for r in self.why
            ],
            "reasons": {d.key: {"origin": d.origin, "reason": d.reason} for d in self.decisions},
            "warnings": list(self.warnings),
        }


# ---------------------------------------------------------------------------------------------
# Applying the rules


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _holds_one(test: Any, value: Any) -> bool:
    if test == "present":
        return value is not None
    if test == "absent":
        return value is None
    if isinstance(test, dict):
        op, limit = next(iter(test.items()))
        v = _num(value)
        if v is None:
            return False
        return {"at_least": v >= limit, "at_most": v <= limit, "abs_at_least": abs(v) >= limit}[op]
    return value in (test if isinstance(test, list) else [test])


def holds(rule: ClinicalRule, f: FootFindings) -> bool:
    """Whether every test of the rule's ``when`` holds for the findings ``f``."""
    for name, test in rule.when.items():
        if name == "condition":
            names = test if isinstance(test, list) else [test]
            if not any(n in f.conditions for n in names):
                return False
        elif not _holds_one(test, f.value(name)):
            return False
    return True


def _rule_findings(rule: ClinicalRule, f: FootFindings) -> list[str]:
    """The finding texts a rule is based on, for its reason."""
    texts: list[str] = []
    for name, test in rule.when.items():
        if name == "condition":
            names = test if isinstance(test, list) else [test]
            texts += [f.get(f"condition:{n}").text for n in names if n in f.conditions]
        elif test != "absent" and f.get(name) is not None:
            texts.append(f.get(name).text)
    for spec in rule.set.values():
        if isinstance(spec, dict) and ("from" in spec or "table" in spec):
            found = f.get(spec.get("from") or spec.get("table"))
            if found is not None and found.text not in texts and found.name != "short_side":
                texts.append(found.text)
    texts += [f.get(f"condition:{c}").text for c in rule.supported_by if c in f.conditions]
    return list(dict.fromkeys(texts))


def _round_half_up(x: float, step: float) -> float:
    return round(math.floor(x / step + 0.5 + 1e-9) * step, 6)


def _compute(spec: Any, f: FootFindings) -> tuple[Any, Any]:
    """(value, unclamped value) of a set spec."""
    if isinstance(spec, dict) and "from" in spec:
        v = f.value(spec["from"])
        if _num(v) is None:
            return v, v
        x = float(v) * float(spec.get("times", 1.0))
        if "round" in spec:
            x = _round_half_up(x, float(spec["round"]))
        raw = x
        x = min(max(x, float(spec.get("min", -math.inf))), float(spec.get("max", math.inf)))
        return round(x, 6), raw
    if isinstance(spec, dict) and "table" in spec:
        v = float(f.value(spec["table"]))
        chosen = spec["steps"][0][1]
        for start, value in spec["steps"]:
            if v >= start:
                chosen = value
        return float(chosen), float(chosen)
    if isinstance(spec, dict):
        return dict(spec), dict(spec)
    return spec, spec


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return "added" if not value else ", ".join(f"{k} {_show(v)}" for k, v in value.items())
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _requirement_failures(rule: ClinicalRule, values: Mapping[str, Any]) -> list[str]:
    out = []
    for key, test in rule.requires.items():
        value = values.get(key)
        if isinstance(test, dict) and "in" in test:
            if value not in test["in"]:
                out.append(f"{key} in {', '.join(map(str, test['in']))} (it is {_show(value)})")
        elif not _holds_one(test, value):
            op, limit = next(iter(test.items()))
            out.append(f"{key} {op.replace('_', ' ')} {limit:g} (it is {_show(value)})")
    return out


@dataclass
class _State:
    values: dict[str, Any]
    by: dict[str, list[str]]  # key -> ids of the rules that gave its value
    notes: dict[str, str]  # key -> extra reason text (caps, clamps)
    warnings: list[str]
    history: list[tuple[str, str, Any]] = field(default_factory=list)  # (rule id, key, value it gave)
    wanted: dict[str, tuple[float, list[str]]] = field(default_factory=dict)  # capped key -> (value, by)


def _set_phase(fired: Sequence[ClinicalRule], f: FootFindings, s: _State) -> None:
    for rule in fired:
        for key, spec in rule.set.items():
            if key == "template" or (isinstance(spec, dict) and ("at_least" in spec or "at_most" in spec)):
                continue
            value, raw = _compute(spec, f)
            if s.by.get(key) and s.values.get(key) != value:
                s.warnings.append(
                    f"{key}: {rule.id} gives {_show(value)} over {', '.join(s.by[key])} "
                    f"({_show(s.values.get(key))}); the later rule in the rules file wins"
                )
            if raw != value:
                s.warnings.append(f"{rule.title}: {_show(raw)} limited to {_show(value)}")
                s.notes[key] = f"{_show(raw)} limited to {_show(value)}"
            s.values[key], s.by[key] = value, [rule.id]
            s.history.append((rule.id, key, value))


def _floor_phase(fired: Sequence[ClinicalRule], s: _State) -> None:
    for rule in fired:
        for key, spec in rule.set.items():
            if not (isinstance(spec, dict) and "at_least" in spec):
                continue
            limit, current = float(spec["at_least"]), _num(s.values.get(key))
            if current is None or current < limit:
                s.values[key], s.by[key] = limit, [rule.id]
                s.history.append((rule.id, key, limit))
            elif current == limit and s.by.get(key):
                s.by[key].append(rule.id)
                s.history.append((rule.id, key, limit))


def _cap_phase(fired: Sequence[ClinicalRule], f: FootFindings, s: _State, chosen: Mapping[str, Any]) -> None:
    """Each key takes its lowest cap; lowering a rule's value is a warning in the capping rule's words."""
    caps: dict[str, tuple[float, ClinicalRule]] = {}
    for rule in fired:
        for key, spec in rule.set.items():
            if (
                isinstance(spec, dict)
                and "at_most" in spec
                and (key not in caps or float(spec["at_most"]) < caps[key][0])
            ):
                caps[key] = (float(spec["at_most"]), rule)
    facts = {str(item.name): item.value for item in f.items}
    for key, (limit, rule) in caps.items():
        current = _num(s.values.get(key))
        if current is None or current <= limit:
            continue
        wanted_by = ", ".join(s.by.get(key) or [])
        if wanted_by and key not in chosen:  # a rule wanted more: say what was chosen and why
            text = rule.capped.get(
                key,
                rule.capped.get("*", "{rule} caps {key} at {value}; {wanted} wanted by {by}: {value} used"),
            )
            s.warnings.append(
                text.format_map(
                    {
                        **facts,
                        "key": key,
                        "value": f"{limit:g}",
                        "wanted": f"{current:g}",
                        "excess": f"{current - limit:g}",
                        "by": wanted_by,
                        "rule": rule.id,
                    }
                )
            )
        s.notes[key] = (
            f"{current:g} wanted by {wanted_by or 'the template'}, capped at {limit:g} by {rule.id}"
        )
        s.wanted[key] = (current, list(s.by.get(key) or []))
        s.values[key], s.by[key] = limit, [rule.id]
        s.history.append((rule.id, key, limit))


def _merge_chosen(values: dict[str, Any], chosen: Mapping[str, Any]) -> None:
    for key, value in chosen.items():
        if isinstance(value, dict) and isinstance(values.get(key), dict):
            values[key] = {**values[key], **value}
        else:
            values[key] = value


def derive(
    assessment: Assessment,
    scan: Mapping[str, Any] | None = None,
    side: str | None = None,
    chosen: Mapping[str, Any] | None = None,
    book: RuleBook | None = None,
    templates_dir: str | Path | None = None,
) -> Derivation:
    """Apply the clinical rules to one foot: ``scan`` is ``MeasuredFoot.report()`` (or None), ``side`` the
    foot (default: the scan's), ``chosen`` the clinician's own prescription values (they win).

    Raises PrescriptionError for a side-specific assessment without a side, or an unknown template.
    """
    book = book or load_rulebook()
    chosen = dict(chosen or {})
    if side is None and scan is not None and scan.get("side") in ("left", "right"):
        side = scan["side"]
    f = gather(assessment, scan, side, book.posture, book.forefoot_disagreement_deg)
    fired = [r for r in book.rules if holds(r, f)]
    template_rules = [r for r in fired if "template" in r.set]
    template = (
        chosen.get("template")
        if isinstance(chosen.get("template"), str)
        else (template_rules[-1].set["template"] if template_rules else DEFAULT_TEMPLATE)
    )
    defaults = templates_io.load_template(template, templates_dir)["defaults"]
    s = _State(dict(defaults), {}, {}, list(f.warnings))
    _set_phase(fired, f, s)
    _floor_phase(fired, s)
    _cap_phase(fired, f, s, chosen)
    ruled = dict(s.values)
    _merge_chosen(s.values, chosen)
    undone = _undo_unmet(fired, defaults, chosen, s)
    _warn_chosen_beyond_caps(fired, chosen, s)
    s.values["template"] = template
    if side in ("left", "right") and "side" not in chosen:
        s.values["side"] = side
    decisions = _decisions(f, fired, defaults, chosen, s, template, template_rules, ruled)
    values = {d.key: d.value for d in decisions}
    why = _why_rows(f, fired, undone, chosen, s, values)
    return Derivation(values, decisions, why, tuple(dict.fromkeys(s.warnings)), f, template)


def _undo_unmet(
    fired: Sequence[ClinicalRule], defaults: Mapping[str, Any], chosen: Mapping[str, Any], s: _State
) -> dict[str, str]:
    undone = {}
    for rule in fired:
        failures = _requirement_failures(rule, s.values)
        if not rule.requires or not failures:
            continue
        for key in rule.set:
            if key in chosen or key == "template" or rule.id not in s.by.get(key, []):
                continue
            if key in defaults:
                s.values[key] = defaults[key]
            else:
                s.values.pop(key, None)
            s.by.pop(key, None)
        undone[rule.id] = "; ".join(failures)
        s.warnings.append(f"{rule.title}: not applied, it needs {undone[rule.id]}")
    return undone


def _warn_chosen_beyond_caps(fired: Sequence[ClinicalRule], chosen: Mapping[str, Any], s: _State) -> None:
    for rule in fired:
        for key, spec in rule.set.items():
            v = _num(chosen.get(key))
            if isinstance(spec, dict) and "at_most" in spec and v is not None and v > spec["at_most"]:
                s.warnings.append(
                    f"{key} = {v:g} is the clinician's choice, above the {spec['at_most']:g} "
                    f"that {rule.id} allows ({rule.title}); kept as chosen"
                )


def _emitted_keys(defaults: Mapping[str, Any], s: _State, chosen: Mapping[str, Any]) -> list[str]:
    keys = [
        k
        for k in Prescription.model_fields
        if k != "template" and (k in defaults or k in s.by or k in chosen or k in s.notes or k == "side")
    ]
    return ["template", *[k for k in keys if k in s.values]]


def _decisions(
    f: FootFindings,
    fired: Sequence[ClinicalRule],
    defaults: Mapping[str, Any],
    chosen: Mapping[str, Any],
    s: _State,
    template: str,
    template_rules: Sequence[ClinicalRule],
    ruled: Mapping[str, Any],
) -> tuple[Decision, ...]:
    rules = {r.id: r for r in fired}
    out = []
    for key in _emitted_keys(defaults, s, chosen):
        value = s.values[key]
        ids = tuple(s.by.get(key, ()))
        if key in chosen:
            would = ""
            if ids and ruled.get(key) != value:
                would = f" (the rules would give {_show(ruled.get(key))}: {', '.join(ids)})"
            out.append(Decision(key, value, "clinician", f"clinician's choice{would}"))
            continue
        if key == "side":
            out.append(
                Decision(
                    key,
                    value,
                    "foot",
                    f"the {value} foot: its findings (assessment and scan) made this prescription",
                )
            )
            continue
        if key == "template":
            if template_rules:
                r = template_rules[-1]
                out.append(Decision(key, value, "rule", _because(r, f), (r.id,)))
            else:
                out.append(
                    Decision(key, value, "template", "no finding names a shoe or sport: standard device")
                )
            continue
        if ids and key in s.wanted and s.wanted[key][1]:
            wanted, by = s.wanted[key]
            parts = [_because(rules[i], f) for i in by]
            cap = _because(rules[ids[0]], f)
            reason = f"{'; '.join(parts)}: {wanted:g}; capped at {_show(value)} by {cap}"
            out.append(Decision(key, value, "rule", reason, (*by, *ids)))
        elif ids:
            parts = [_because(rules[i], f) for i in ids]
            note = f"; {s.notes[key]}" if key in s.notes else ""
            out.append(Decision(key, value, "rule", "; ".join(parts) + note, ids))
        else:
            note = f" ({s.notes[key]})" if key in s.notes else ""
            out.append(Decision(key, value, "template", f"template '{template}' default{note}"))
    return tuple(out)


def _because(rule: ClinicalRule, f: FootFindings) -> str:
    found = _rule_findings(rule, f)
    cite = ", ".join(rule.sources)
    return f"{', '.join(found) or 'always'} -> {rule.title} [{cite}]"


def _rule_value(rule: ClinicalRule, s: _State, chosen: Mapping[str, Any], values: Mapping[str, Any]) -> str:
    """What a fired rule did, for its row: the values it gave that stand, and what became of the others."""
    parts = []
    if "template" in rule.set and "template" not in chosen and values.get("template") == rule.set["template"]:
        parts.append(f"template = {rule.set['template']}")
    gave = {key: value for rid, key, value in s.history if rid == rule.id}
    for key, value in gave.items():
        if key in chosen:
            parts.append(f"{key}: the clinician's {_show(values.get(key))} instead of {_show(value)}")
        elif rule.id in s.by.get(key, []):
            parts.append(f"{key} = {_show(values.get(key))}")
        elif key in values:
            note = s.notes.get(key, "see warnings")
            parts.append(f"{key} {_show(value)}, then {_show(values.get(key))} ({note})")
    return ", ".join(parts) or "no change (already met)"


def _why_rows(
    f: FootFindings,
    fired: Sequence[ClinicalRule],
    undone: Mapping[str, str],
    chosen: Mapping[str, Any],
    s: _State,
    values: Mapping[str, Any],
) -> tuple[WhyRow, ...]:
    rows, used = [], set()
    for rule in fired:
        found = _rule_findings(rule, f)
        used.update(found)
        value = (
            f"not applied: needs {undone[rule.id]}"
            if rule.id in undone
            else _rule_value(rule, s, chosen, values)
        )
        rows.append(WhyRow("; ".join(found) or "-", rule.title, value, rule.sources))
    for key, value in chosen.items():
        rows.append(WhyRow("clinician", "set by hand", f"{key} = {_show(value)}"))
    posture = f.get("posture")
    if posture is not None and posture.text in used:
        used.update(i.text for i in f.items if i.text in posture.text)
    for item in f.shown():
        if item.text not in used:
            rows.append(WhyRow(item.text, "no rule uses this finding", "-"))
    return tuple(rows)
