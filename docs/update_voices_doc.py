"""Copy the enrollment and voice-lever benchmark reports (docs/benchmarks/enrollment.json,
docs/benchmarks/voice_levers.json) into docs/voices.md, between its
<!-- benchmark:NAME:start/end --> markers.

    python -m docs.update_voices_doc
"""

import json
from pathlib import Path

from benchmarks.report import report_markdown
from docs.update_readme_results import section

DOCS = Path(__file__).resolve().parent
PAGE = DOCS / "voices.md"
REPORTS = ("enrollment", "voice_levers")


def main():
    text = PAGE.read_text()
    for name in REPORTS:
        path = DOCS / "benchmarks" / f"{name}.json"
        if path.is_file():
            text = section(text, f"benchmark:{name}", report_markdown(json.loads(path.read_text())))
    PAGE.write_text(text)


if __name__ == "__main__":
    main()
