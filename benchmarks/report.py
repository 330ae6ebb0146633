"""One report format for every benchmark: named tables printed as Markdown and written as
JSON (``--output docs/benchmarks/NAME.json``), from which `python -m docs.generate_performance`
generates docs/performance.md."""

import json
import os
import platform
from pathlib import Path

from docs.generate_performance import report_markdown


def machine_description():
    """The machine a benchmark ran on: CPU model, cores, memory, OS and Python."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [
            line.split(":", 1)[1].strip()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        total_kb = int(meminfo.read_text().split()[1])
        memory = f", {total_kb / 2**20:.0f} GiB RAM"
    return (
        f"{cpu}, {os.cpu_count()} cores{memory}, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}"
    )


def write_report(report, path=None):
    """Print the report as Markdown; write it as JSON to ``path`` when given."""
    print(report_markdown(report))
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(report, indent=2) + "\n")
