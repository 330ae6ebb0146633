"""Generated sections of the docs: the text between ``<!-- NAME:start -->`` and
``<!-- NAME:end -->`` in a Markdown page, which a generator rewrites and a test compares."""

import re


def _pattern(name):
    return re.compile(
        rf"(<!-- {re.escape(name)}:start -->\n)(.*?)(<!-- {re.escape(name)}:end -->)", re.S
    )


def section(text, name, page="the page"):
    """The generated body of section ``name``; an error naming the page without its markers."""
    match = _pattern(name).search(text)
    if not match:
        raise SystemExit(f"{page} has no <!-- {name}:start/end --> markers")
    return match.group(2)


def replace_section(text, name, body, page="the page"):
    """``text`` with section ``name`` holding ``body`` (ending in one newline)."""
    section(text, name, page)  # fails clearly without markers
    body = body.rstrip("\n") + "\n"
    return _pattern(name).sub(lambda m: m.group(1) + body + m.group(3), text)


def write_sections(path, bodies):
    """Rewrite the sections {name: body} of the page at ``path``."""
    text = path.read_text()
    for name, body in bodies.items():
        text = replace_section(text, name, body, page=path.name)
    path.write_text(text)
