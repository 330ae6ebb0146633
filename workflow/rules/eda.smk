# Bookkeeping and plots run where snakemake runs, not as cluster jobs.
localrules:
    plot_eda,


rule plot_eda:
    input:
        dataset=rules.build_dataset.output.dataset,
        examples=eda_example_recordings,
    output:
        **{
            figure: report(
                f"results/figures/eda/{figure}.png",
                caption=f"../report/eda_{figure}.rst",
                category="1. Data",
                labels={"figure": figure.replace("_", " ")},
            )
            for figure in EDA_FIGURES
        },
    log:
        "results/logs/plot_eda.log",
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        local_cpus=local_cpus,
        mem_mb=memory_mb(1000),
        runtime=15,
    params:
        features=feature_params(),
    script:
        "../../scripts/plot_eda.py"
