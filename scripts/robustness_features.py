"""Features of the test clips under one group of robustness transforms (noise, padding,
resampling, gain; realistic takes; those takes without endpointing), computed once for all
models that read the group, with the features they use."""

from fsdd_pipeline.data.dataset import read_dataset
from fsdd_pipeline.evaluation.robustness import robustness_features
from fsdd_pipeline.features.spectral import FeatureParams
from fsdd_pipeline.io import write_parquet
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    snakemake = mock_snakemake("robustness_features", group="standard")
configure_logging(snakemake)

test = read_dataset(snakemake.input.dataset, splits=["test"])
params = FeatureParams.from_dict(snakemake.params.features)
group, features = snakemake.wildcards.group, snakemake.params.feature_names
write_parquet(
    robustness_features(test, params, group, snakemake.params.seed, features),
    snakemake.output.features,
)
