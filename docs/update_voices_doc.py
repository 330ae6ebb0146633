"""Copy the enrollment, voice-lever, training-voice and room benchmark reports
(docs/benchmarks/{enrollment,voice_levers,tts_training,reverb_study,noise_study}.json) into
docs/voices.md, between its <!-- benchmark:NAME:start/end --> markers.

    python -m docs.update_voices_doc
"""

import json
from pathlib import Path

from docs.generate_performance import report_markdown
from docs.markers import write_sections

DOCS = Path(__file__).resolve().parent
PAGE = DOCS / "voices.md"
REPORTS = ("enrollment", "voice_levers", "tts_training", "reverb_study", "noise_study")


def page_sections():
    """{section name: generated body} of every report that exists."""
    sections = {}
    for name in REPORTS:
        path = DOCS / "benchmarks" / f"{name}.json"
        if path.is_file():
            sections[f"benchmark:{name}"] = report_markdown(json.loads(path.read_text()))
    return sections


def main():
    write_sections(PAGE, page_sections())


if __name__ == "__main__":
    main()
