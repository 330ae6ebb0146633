"""What every snakemake call pays before it plans a job, a no-op rerun included: the
imports of the Snakefile and its rule files."""

import re
import subprocess
import sys

from .conftest import PROJECT

# Each costs from a tenth of a second to seconds to import; the jobs that need them
# import them, the Snakefile must not.
HEAVY_PACKAGES = (
    "keras",
    "librosa",
    "matplotlib",
    "mlflow",
    "numba",
    "onnxruntime",
    "scipy",
    "sklearn",
    "tensorflow",
)
_PACKAGE_IMPORT = re.compile(r"^\s*(?:from|import)\s+(fsdd_pipeline[\w.]*)", re.M)


def workflow_imports():
    """The fsdd_pipeline modules imported by the Snakefile and workflow/rules/*.smk."""
    files = [PROJECT / "Snakefile", *sorted((PROJECT / "workflow/rules").glob("*.smk"))]
    return sorted(
        {module for path in files for module in _PACKAGE_IMPORT.findall(path.read_text())}
    )


def test_the_workflow_imports_no_heavy_package_while_it_builds_the_dag():
    modules = workflow_imports()
    assert "fsdd_pipeline.planning.config_checks" in modules
    assert all(module.startswith("fsdd_pipeline.planning.") for module in modules), modules
    imports = "".join(f"import {module}\n" for module in modules)
    report = "import sys\nprint(*sorted({name.split('.')[0] for name in sys.modules}))\n"
    result = subprocess.run(
        [sys.executable, "-c", imports + report],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    heavy = sorted(set(result.stdout.split()) & set(HEAVY_PACKAGES))
    assert heavy == [], f"{modules} import {heavy}"


def test_a_dry_run_of_a_fresh_clone_lists_the_jobs_before_the_download(tmp_path):
    """`snakemake -n` before the recordings are downloaded: build_dataset's memory depends
    on the recording count, which the download checkpoint gives only after it has run."""
    from .conftest import make_workdir, run_snakemake

    workdir = make_workdir(tmp_path, tmp_path, overrides={"recordings_dir": None})
    result = run_snakemake(workdir, "-n", timeout=300)
    assert "checkpoint download_fsdd:" in result.stdout + result.stderr
    assert "build_dataset" in result.stdout + result.stderr
