"""The configuration reference (docs/configuration.md), generated from the config schema so
the two cannot drift (tests/test_config.py checks that they match).

    python -m docs.config_reference      # rewrite the page's generated section
"""

import json
from pathlib import Path

import yaml

from docs.markers import section, write_sections

PROJECT = Path(__file__).resolve().parents[1]
SCHEMA = PROJECT / "workflow/schemas/config.schema.yaml"
PAGE = PROJECT / "docs/configuration.md"
SECTION = "config"


def _default(value):
    if isinstance(value, dict) and len(value) > 3:
        return "see its table"
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return "see `config/config.yaml`"
    return "`" + json.dumps(value) + "`"


def _rows(properties, prefix):
    rows = []
    for key, spec in properties.items():
        name = f"{prefix}{key}"
        if spec.get("type") == "object" and "properties" in spec:
            rows += _rows(spec["properties"], f"{name}.")
        else:
            meaning = " ".join(spec["description"].split())
            rows.append((name, _default(spec.get("default")), meaning))
    return rows


def config_table(schema_path=SCHEMA):
    """Markdown tables of every key: dotted name, default, description."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    definitions = schema["$defs"]
    parts = []
    for title, properties, prefix in (
        ("Workflow", schema["properties"], ""),
        ("`audio.endpoint`", definitions["endpoint"]["properties"], "audio.endpoint."),
        ("Each model (`models.{name}.*`)", definitions["model"]["properties"], ""),
        ("`augment` of a model", definitions["augment"]["properties"], "augment."),
        ("`spec_augment` of a model", definitions["spec_augment"]["properties"], "spec_augment."),
    ):
        lines = [f"**{title}**", "", "| key | default | meaning |", "|---|---|---|"]
        lines += [f"| `{k}` | {d} | {m} |" for k, d, m in _rows(properties, prefix)]
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def page_section():
    """The reference as the page holds it now."""
    return section(PAGE.read_text(), SECTION, PAGE.name)


def main():
    write_sections(PAGE, {SECTION: config_table()})


if __name__ == "__main__":
    main()
