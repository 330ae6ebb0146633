checkpoint download_fsdd:
    input:
        checksums=config["download"]["checksums"],
    output:
        recordings=directory("resources/fsdd-v1.0.10/recordings"),
    log:
        "results/logs/download_fsdd.log",
    conda:
        "../../environment.yml"
    params:
        url=config["download"]["url"],
        timeout_s=config["download"]["timeout_s"],
    script:
        "../../scripts/download_fsdd.py"
