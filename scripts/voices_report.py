"""Per model: LOSO beside the validation voices clean and in takes, by voice family, and
their digit strings (digit error rate, exact strings); and the accuracy per digit."""

import pandas as pd

from fsdd_pipeline.io import read_json, write_csv, write_text
from fsdd_pipeline.voices.validation import digit_table, model_summary
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    snakemake = mock_snakemake("voices_report")
configure_logging(snakemake)
models, loso_models = snakemake.params.models, snakemake.params.loso_models
loso = dict(zip(loso_models, map(read_json, snakemake.input.loso), strict=True))
predictions = {
    model: pd.read_csv(path)
    for model, path in zip(models, snakemake.input.predictions, strict=True)
}
strings = {
    model: pd.read_csv(path, dtype={"reference": str, "hypothesis": str}, keep_default_na=False)
    for model, path in zip(models, snakemake.input.strings, strict=True)
}
summary = pd.DataFrame(
    [
        model_summary(
            model, frame, loso.get(model), strings[model] if len(strings[model]) else None
        )
        for model, frame in predictions.items()
    ]
)
write_csv(summary, snakemake.output.summary)
write_csv(
    pd.concat([digit_table(model, frame) for model, frame in predictions.items()]),
    snakemake.output.digits,
)
write_text(summary.to_markdown(index=False, floatfmt=".4f") + "\n", snakemake.output.markdown)
