"""The README's configuration reference, generated from the config schema so the two
cannot drift (tests/test_config.py checks that they match).

    python -m docs.config_reference      # rewrite the README section
"""

import json
import re
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[1]
SCHEMA = PROJECT / "workflow/schemas/config.schema.yaml"
README = PROJECT / "README.md"
MARKERS = re.compile(r"(<!-- config:start -->\n).*?(<!-- config:end -->)", re.S)


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


def readme_section(text):
    match = MARKERS.search(text)
    if not match:
        raise SystemExit("README.md has no <!-- config:start/end --> markers")
    return text[match.end(1) : match.start(2)]


def main():
    text = README.read_text()
    readme_section(text)  # fails clearly without markers
    README.write_text(MARKERS.sub(lambda m: m.group(1) + config_table() + m.group(2), text))


if __name__ == "__main__":
    main()
