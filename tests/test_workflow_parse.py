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
