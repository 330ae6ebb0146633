"""The files of one evaluated split, apart from ``evaluation`` so that the Snakefile can
name them while it builds the DAG without importing matplotlib and scikit-learn (1.5 s
of every snakemake call, even a no-op)."""

# By kind; the rules name them "{split}_{file name}".
EVALUATION_FILES = {
    "metrics": "metrics.json",
    "predictions": "predictions.csv",
    "report": "classification_report.txt",
    "confusion": "confusion_matrix.csv",
    "confusion_png": "confusion_matrix.png",
    "roc_png": "roc_curves.png",
}
