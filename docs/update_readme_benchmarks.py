"""Copy every benchmark report (docs/benchmarks/*.json, written by the benchmarks' --output)
into README.md, between its <!-- benchmark:NAME:start/end --> markers.

    python -m docs.update_readme_benchmarks
"""

import json
from pathlib import Path

from benchmarks.report import report_markdown
from docs.update_readme_results import README, section

REPORTS = Path(__file__).resolve().parent / "benchmarks"


def main():
    text = README.read_text()
    for path in sorted(REPORTS.glob("*.json")):
        report = json.loads(path.read_text())
        text = section(text, f"benchmark:{path.stem}", report_markdown(report))
    README.write_text(text)


if __name__ == "__main__":
    main()
