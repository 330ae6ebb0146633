"""Logging and debugging helpers shared by the workflow's scripts."""

import logging
import sys
from pathlib import Path

from .errors import PipelineError


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
