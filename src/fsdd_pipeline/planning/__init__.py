"""What the Snakefile may import while it builds the DAG: names of recordings and their
batches, feature and model names, the augmentation plan, the evaluation files and the config
checks.

Nothing here imports numpy-heavy or ML packages, so ``snakemake -n`` stays fast (a test
checks it).
"""
