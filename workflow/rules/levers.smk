# Bookkeeping and plots run where snakemake runs, not as cluster jobs.
localrules:
    lever_table,


rule lever_table:
    input:
        loso=expand(rules.loso.output.summary, model=LEVER_LOSO_MODELS),
        metrics=expand(rules.evaluate.output.test_metrics, model=LEVER_MODELS),
        robustness=expand(rules.evaluate.output.robustness, model=LEVER_MODELS),
    output:
        table="results/comparison/levers.csv",
        markdown="results/comparison/levers.md",
        # The report shows HTML in place; it only offers Markdown for download.
        html=report(
            "results/comparison/levers.html",
            caption="../report/levers.rst",
            category="4. Comparison",
            labels={"figure": "what each lever was worth"},
        ),
    log:
        "results/logs/lever_table.log",
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        levers=config["levers"],
        models=LEVER_MODELS,
        loso_models=LEVER_LOSO_MODELS,
    script:
        "../../scripts/lever_table.py"
