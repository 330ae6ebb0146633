"""Result tables as standalone HTML pages, for Snakemake's report: it shows HTML (and
images and PDFs) in place, while a Markdown or CSV file is only offered for download."""

import html
import numbers

STYLE = """
body { font-family: sans-serif; font-size: 14px; margin: 1em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; white-space: nowrap; }
th { background: #f2f2f2; }
td.number { text-align: right; }
tr.highlight td { font-weight: bold; background: #fff6d5; }
p.note { color: #555; max-width: 60em; }
"""


def html_table(frame, title, note="", highlight_rows=(), float_format=".4f"):
    """``frame`` as a complete HTML page: its title, an optional note and the table, numbers
    with ``float_format``, missing values as "n/a", every cell escaped; the rows at the
    positions in ``highlight_rows`` in bold (e.g. the champion)."""
    highlighted = set(highlight_rows)
    cells = frame.astype(object).where(frame.notna(), None)
    header = "".join(f"<th>{html.escape(str(column))}</th>" for column in frame.columns)
    rows = []
    for position, values in enumerate(cells.itertuples(index=False, name=None)):
        row_class = ' class="highlight"' if position in highlighted else ""
        row = "".join(_cell(value, float_format) for value in values)
        rows.append(f"<tr{row_class}>{row}</tr>")
    note_html = f'<p class="note">{html.escape(note)}</p>\n' if note else ""
    body = "\n".join(rows)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(title)}</title>\n'
        f"<style>{STYLE}</style>\n</head>\n<body>\n<h3>{html.escape(title)}</h3>\n{note_html}"
        f"<table>\n<thead><tr>{header}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>\n"
        "</body>\n</html>\n"
    )


def _cell(value, float_format):
    """One ``<td>``: numbers right-aligned, floats with ``float_format``, None as "n/a"."""
    if value is None:
        return "<td>n/a</td>"
    if isinstance(value, bool):
        return f"<td>{value}</td>"
    if isinstance(value, numbers.Integral):
        return f'<td class="number">{value}</td>'
    if isinstance(value, numbers.Real):
        return f'<td class="number">{format(value, float_format)}</td>'
    return f"<td>{html.escape(str(value))}</td>"
