"""The docs stay current without a full run: the README's module map names every module of the
package and nothing else, every generated section has its markers, the performance page is
what its generator makes from the committed benchmark reports, links between the pages
resolve, the README stays a front door, and CI runs the README's own commands."""

import re

import pytest

import fsdd_pipeline
from docs import generate_performance, update_voices_doc
from docs.markers import replace_section, section

from .conftest import PROJECT

README = PROJECT / "README.md"
PACKAGE = PROJECT / "src/fsdd_pipeline"
PAGES = sorted((PROJECT / "docs").glob("*.md")) + [README, PROJECT / "CHANGELOG.md"]
GENERATED_SECTIONS = {
    README: ["results-glance", "run-time", "modules"],
    PROJECT / "docs/configuration.md": ["config"],
    PROJECT / "docs/results.md": ["results"],
    generate_performance.PAGE: [f"benchmark:{name}" for name in generate_performance.reports()],
}


def package_modules():
    """Every module of the package but the __init__ files, relative to the package."""
    return {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if path.name != "__init__.py"
    }


def test_the_tests_read_this_package():
    assert fsdd_pipeline.__file__.startswith(str(PACKAGE))


def test_the_module_map_lists_every_module_and_no_other():
    listed = re.findall(r"^- `([\w/]+\.py)`:", section(README.read_text(), "modules"), re.M)
    modules = package_modules()
    assert len(listed) == len(set(listed)), "a module is listed twice"
    assert not modules - set(listed), (
        f"missing from the README's module map: {modules - set(listed)}"
    )
    assert not set(listed) - modules, (
        f"in the module map but not in the package: {set(listed) - modules}"
    )


@pytest.mark.parametrize(
    "page, name",
    [(page, name) for page, names in GENERATED_SECTIONS.items() for name in names],
    ids=lambda value: getattr(value, "name", value),
)
def test_every_generated_section_has_its_markers(page, name):
    section(page.read_text(), name, page.name)


def test_the_performance_page_is_what_the_committed_reports_make():
    text = generate_performance.PAGE.read_text()
    for name, body in generate_performance.page_sections().items():
        assert section(text, name) == body, (
            f"docs/performance.md section {name} is stale: run python -m docs.generate_performance"
        )
    assert section(README.read_text(), "run-time") == generate_performance.run_time_sentence()


def test_the_voices_page_is_what_the_committed_reports_make():
    text = update_voices_doc.PAGE.read_text()
    sections = update_voices_doc.page_sections()
    assert set(sections) == {f"benchmark:{name}" for name in update_voices_doc.REPORTS}
    for name, body in sections.items():
        assert section(text, name) == body.rstrip("\n") + "\n", (
            f"docs/voices.md section {name} is stale: run python -m docs.update_voices_doc"
        )


def test_markers_replace_only_their_section():
    text = "a\n<!-- x:start -->\nold\n<!-- x:end -->\nb\n"
    assert replace_section(text, "x", "new") == "a\n<!-- x:start -->\nnew\n<!-- x:end -->\nb\n"
    with pytest.raises(SystemExit, match="y:start/end"):
        replace_section(text, "y", "new")


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_links_between_pages_resolve(page):
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
        if re.match(r"[a-z]+://|mailto:", target):
            continue
        assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def test_the_readme_is_a_front_door():
    assert len(README.read_text().splitlines()) <= 300


def quickstart_commands():
    """{purpose: command} of the README's quickstart block (lines ending in `# purpose`)."""
    block = re.search(r"## Quickstart\n\n```bash\n(.*?)```", README.read_text(), re.S).group(1)
    return {
        purpose.strip(): command.strip()
        for command, purpose in (line.rsplit("#", 1) for line in block.splitlines())
    }


def test_ci_runs_the_readmes_install_and_test_commands():
    commands = quickstart_commands()
    assert set(commands) == {"install", "run", "test"}
    ci = (PROJECT / ".ci/run").read_text().splitlines()
    assert commands["install"] in ci
    # CI has no internet: it points the tests at the shared copy of the recordings.
    assert f"FSDD_RECORDINGS=../shared/data/fsdd/recordings {commands['test']}" in ci
