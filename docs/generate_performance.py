"""docs/performance.md from the benchmark reports (docs/benchmarks/*.json, written by each
benchmark's ``--output``): every report's tables between its <!-- benchmark:NAME:start/end -->
markers, and the whole run's wall time in README.md. tests/test_docs.py checks both are what
this makes from the committed reports.

    python -m docs.generate_performance
"""

import json
from pathlib import Path

import pandas as pd

from docs.markers import write_sections

DOCS = Path(__file__).resolve().parent
REPORTS = DOCS / "benchmarks"
PAGE = DOCS / "performance.md"
README = DOCS.parent / "README.md"
README_SECTION = "run-time"


def report_markdown(report):
    """A benchmark report's tables as Markdown, each under its name, then the machine."""
    parts = []
    for name, rows in report["tables"].items():
        table = pd.DataFrame(rows)
        table = table.astype(object).where(table.notna(), None)  # not measured: blank
        parts.append(f"*{name}*\n\n{table.to_markdown(index=False, missingval='')}")
    parts.append(f"Measured by `{report['command']}` on {report['machine']}.")
    return "\n\n".join(parts) + "\n"


def reports():
    """{name: report} of every committed benchmark report."""
    return {path.stem: json.loads(path.read_text()) for path in sorted(REPORTS.glob("*.json"))}


def page_sections():
    return {f"benchmark:{name}": report_markdown(report) for name, report in reports().items()}


def run_time_sentence():
    """The README's one line on how long a full run takes, from the whole-workflow report."""
    report = reports()["whole_workflow"]
    summary = {row["measure"]: row["value"] for row in report["tables"]["summary"]}
    cores = report["machine"].split(", ")[1]
    return (
        f"A full run from nothing took {summary['wall time (s)']:.0f} s ({summary['jobs']} jobs) "
        f"on {cores} without a GPU, most of it training "
        "([performance](docs/performance.md)).\n"
    )


def main():
    write_sections(PAGE, page_sections())
    write_sections(README, {README_SECTION: run_time_sentence()})


if __name__ == "__main__":
    main()
