"""Create the MLflow tracking store and experiment once, before parallel training jobs."""

from fsdd_pipeline.io import write_json
from fsdd_pipeline.tracking.store import init_tracking
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    snakemake = mock_snakemake("init_tracking")
configure_logging(snakemake)

tracking = snakemake.params.tracking
write_json(init_tracking(tracking["uri"], tracking["experiment"]), snakemake.output.experiment)
