"""Exploratory figures: durations, amplitude, counts, waveforms and feature examples."""

from pathlib import Path

from fsdd_pipeline.audio.reading import load_audio
from fsdd_pipeline.data.dataset import read_dataset
from fsdd_pipeline.evaluation import eda
from fsdd_pipeline.features.spectral import FeatureParams
from fsdd_pipeline.io import save_figure
from fsdd_pipeline.planning.naming import parse_recording_name
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    snakemake = mock_snakemake("plot_eda")
configure_logging(snakemake)
params = FeatureParams.from_dict(snakemake.params.features)
out = snakemake.output

dataset = read_dataset(snakemake.input.dataset)
examples = {
    parse_recording_name(path).digit: (
        Path(path).name,
        load_audio(path, params.sample_rate, params.endpoint, params.min_duration_s),
    )
    for path in snakemake.input.examples
}

save_figure(eda.plot_durations(dataset), out.durations)
save_figure(eda.plot_rms(dataset), out.rms_by_digit_speaker)
save_figure(eda.plot_counts(dataset), out.counts)
save_figure(eda.plot_waveforms(examples, params.sample_rate), out.waveforms)
for feature in ("mfcc", "chroma", "spectrogram"):
    save_figure(eda.plot_feature_examples(dataset, feature, params), out[f"{feature}_examples"])
