"""Alert rules read from a dockyard.yml's `alerts:` section (alerts.py evaluates them).

Apart from alerts.py: validating the rules loads pydantic, ruamel and the spec's models, which an
agent started without --rules never needs (issue 30: the agent under 40 MB).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from dockyard.errors import SpecError
from dockyard.spec.alerts import AlertRule

__all__ = ["AlertRule", "load_rules", "parse_rules"]


def parse_rules(data: Any, source: str = "dockyard.yml") -> list[AlertRule]:
    """The `alerts:` list of a dockyard.yml (already loaded), validated; names the bad item."""
    raw = (data or {}).get("alerts") if isinstance(data, dict) else None
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise SpecError([f"{source}: alerts: must be a list of rules like {{name: down, when: down}}"])
    rules, problems = [], []
    for index, item in enumerate(raw):
        try:
            rule = AlertRule.model_validate(item)
        except ValidationError as exc:
            problems += [f"{source}: alerts[{index}].{'.'.join(map(str, e['loc'])) or 'rule'}: {e['msg']}"
                         for e in exc.errors()]
            continue
        if rule.app is None and isinstance(data.get("app"), str):
            rule = rule.model_copy(update={"app": data["app"]})
        rules.append(rule)
    if problems:
        raise SpecError(problems)
    return rules


def load_rules(path: Path) -> list[AlertRule]:
    try:
        data = YAML(typ="safe").load(path.read_text())
    except FileNotFoundError as exc:
        raise SpecError([f"{path}: file not found"]) from exc
    except YAMLError as exc:
        raise SpecError([f"{path}: invalid YAML: {exc}"]) from exc
    return parse_rules(data, str(path))
