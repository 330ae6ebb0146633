"""Features of augmented copies of one batch's recordings, for every model whose training
uses this augmentation (computed once, read by their training and LOSO jobs)."""

from fsdd_pipeline.augment.augmented_features import augmented_feature_frame
from fsdd_pipeline.data.dataset import read_feature_batches
from fsdd_pipeline.features.spectral import FeatureParams
from fsdd_pipeline.io import write_parquet
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    import yaml

    from fsdd_pipeline.planning.augmentation_plan import augmentation_plan

    first = next(iter(augmentation_plan(yaml.safe_load(open("config/config.yaml"))["models"])))
    snakemake = mock_snakemake("augment_features", augmentation=first, batch="batch000")
configure_logging(snakemake)

recordings = read_feature_batches(
    [snakemake.input.features], allow_rejected=True, columns=["file_name", "digit", "samples"]
)
augmented = augmented_feature_frame(
    recordings,
    snakemake.params.augment,
    FeatureParams.from_dict(snakemake.params.feature_params),
    snakemake.params.features,
)
write_parquet(augmented, snakemake.output.features)
