import subprocess
import sys
import textwrap

from fsdd_pipeline.workflow_logging import logged_peak_memory_mb


def test_a_job_logs_its_peak_memory_when_it_ends(tmp_path):
    log = tmp_path / "logs/job.log"
    script = textwrap.dedent(
        f"""
        from types import SimpleNamespace
        import numpy as np
        from fsdd_pipeline.workflow_logging import configure_logging

        job = SimpleNamespace(log=[{str(log)!r}], rule="job")
        configure_logging(job)
        configure_logging(job)  # configured twice, still logged once
        block = np.ones(300 * 2**20 // 8)  # 300 MB, touched
        del block
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True)
    lines = log.read_text().splitlines()
    assert len([line for line in lines if "peak memory" in line]) == 1
    assert "peak memory" in lines[-1]
    assert 300 < logged_peak_memory_mb(log) < 2000  # the block, once, plus the interpreter


def test_a_log_without_peak_memory_gives_none(tmp_path):
    (tmp_path / "job.log").write_text("nothing measured\n")
    assert logged_peak_memory_mb(tmp_path / "job.log") is None
