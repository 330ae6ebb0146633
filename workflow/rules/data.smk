# Runs where snakemake runs: compute nodes often have no internet.
localrules:
    download_fsdd,


checkpoint download_fsdd:
    input:
        checksums=config["download"]["checksums"],
    output:
        recordings=directory(DOWNLOADED_RECORDINGS),
    log:
        "results/logs/download_fsdd.log",
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        url=config["download"]["url"],
        timeout_s=config["download"]["timeout_s"],
    script:
        "../../scripts/download_fsdd.py"
