checkpoint download_fsdd:
    input:
        checksums=config["download"]["checksums"],
    output:
        recordings=directory("resources/fsdd-v1.0.10/recordings"),
    log:
        "results/logs/download_fsdd.log",
    params:
        url=config["download"]["url"],
        timeout_s=config["download"]["timeout_s"],
    conda:
        "../../environment.yml"
    script:
        "../../scripts/download_fsdd.py"
