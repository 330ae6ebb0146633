"""Logging and debugging helpers shared by the workflow's scripts."""

import atexit
import logging
import re
import resource
import sys
from pathlib import Path

from fsdd_pipeline.errors import PipelineError


def configure_logging(snakemake, level=logging.INFO):
    """Send the script's logging (and uncaught errors) to the rule's log file and stderr."""
    handlers = [logging.StreamHandler(sys.stderr)]
    if snakemake.log:
        log_path = Path(str(snakemake.log[0]))
        log_path.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    logging.captureWarnings(True)

    def log_uncaught(kind, error, traceback):
        # Bad input is explained by its message; a traceback is only for real bugs.
        expected = issubclass(kind, PipelineError)
        logging.getLogger(getattr(snakemake, "rule", "script")).error(
            "%s failed: %s",
            getattr(snakemake, "rule", "script"),
            error,
            exc_info=None if expected else (kind, error, traceback),
        )

    sys.excepthook = log_uncaught
    atexit.unregister(log_peak_memory)  # once, however often logging is configured
    atexit.register(log_peak_memory)


PEAK_MEMORY_PATTERN = re.compile(r"peak memory: (\d+(?:\.\d+)?) MB")


def peak_memory_mb():
    """The process's peak resident memory so far (the kernel's high-water mark), in MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes there, KiB here


def log_peak_memory():
    """Log the job's peak memory as its last line: exact, where Snakemake's benchmark files
    sample it every 30 s after a job's first 15 s, and the figure a cluster's mem_mb needs."""
    logging.getLogger("workflow").info("peak memory: %.1f MB", peak_memory_mb())


def logged_peak_memory_mb(log_path):
    """The peak memory a job logged (see log_peak_memory), or None."""
    found = PEAK_MEMORY_PATTERN.findall(Path(log_path).read_text(errors="replace"))
    return float(found[-1]) if found else None


def mock_snakemake(rule_name, snakefile="Snakefile", config=None, **wildcards):
    """The ``snakemake`` object a rule's script would get, to run the script by hand.

    Use from the project root when debugging a script outside Snakemake, e.g.
    ``snakemake = mock_snakemake("extract_features", batch="batch000")``; ``config``
    overrides config keys as ``--config`` would.
    """
    from snakemake.api import SnakemakeApi
    from snakemake.iocontainers import Snakemake, Wildcards
    from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

    with SnakemakeApi(OutputSettings()) as api:
        workflow_api = api.workflow(
            resource_settings=ResourceSettings(cores=1),
            config_settings=ConfigSettings(config=dict(config or {})),
            snakefile=Path(snakefile),
        )
        workflow = workflow_api._get_workflow(check_envvars=False)
        workflow.include(workflow_api.snakefile, overwrite_default_target=True)
        rule = workflow.get_rule(rule_name)
        job_wildcards = Wildcards(fromdict=wildcards)
        job_input = rule.expand_input(job_wildcards)[0]
        job_output = rule.expand_output(job_wildcards)[0]
        job_params, _ = rule.expand_params(job_wildcards, job_input, job_output, None)
        job_log = rule.expand_log(job_wildcards)
        return Snakemake(
            job_input,
            job_output,
            job_params,
            job_wildcards,
            1,
            {},
            job_log,
            workflow.config,
            rule_name,
            None,
        )
