"""One report format for every benchmark: named tables printed as Markdown and written as
JSON, from which `docs/update_readme_results.py --benchmarks` generates the README tables."""

import json
import os
import platform
from pathlib import Path

import pandas as pd


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


def report_markdown(report):
    """The report's tables as Markdown, each under its name, then the machine."""
    parts = []
    for name, rows in report["tables"].items():
        table = pd.DataFrame(rows)
        table = table.astype(object).where(table.notna(), None)  # not measured: blank
        parts.append(f"*{name}*\n\n{table.to_markdown(index=False, missingval='')}")
    parts.append(f"Measured by `{report['command']}` on {report['machine']}.")
    return "\n\n".join(parts) + "\n"


def write_report(report, path=None):
    """Print the report as Markdown; write it as JSON to ``path`` when given."""
    print(report_markdown(report))
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(report, indent=2) + "\n")
