"""The benchmark reports read Snakemake's own log and benchmark files as they are written."""

from benchmarks.whole_workflow import benchmark_cpu

# Two jobs as Snakemake 9 logs them: a rule whose benchmark folder is named otherwise than
# the rule (strings/), and a local rule.
LOG = """[Thu Dec  3 09:48:10 2026]
rule train_segmenter:
    input: results/dataset/features.parquet
    output: results/strings/segmenter/segmenter.joblib
    log: results/logs/strings/train_segmenter.log
    jobid: 12
    benchmark: results/benchmarks/strings/train_segmenter.tsv
    reason: Missing output files: results/strings/segmenter/segmenter.joblib
    resources: tmpdir=/tmp, local_cpus=1
[Thu Dec  3 09:48:30 2026]
localrule evaluate_strings:
    input: results/strings/segmenter/segmenter.joblib
    output: results/strings/emb_frame_logreg_rooms/by_bucket.csv
    jobid: 13
    benchmark: results/benchmarks/strings/emb_frame_logreg_rooms.tsv
    wildcards: model=emb_frame_logreg_rooms
[Thu Dec  3 09:48:31 2026]
localrule compare_models:
    input: results/strings/emb_frame_logreg_rooms/by_bucket.csv
    jobid: 14
"""
HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def test_each_benchmark_file_counts_for_the_rule_whose_job_wrote_it(tmp_path):
    folder = tmp_path / "results/benchmarks/strings"
    folder.mkdir(parents=True)
    (folder / "train_segmenter.tsv").write_text(
        HEADER + "18.5\t0:00:18\t1\t1\t1\t1\t0\t0\t30\t5.2\n"
    )
    (folder / "emb_frame_logreg_rooms.tsv").write_text(
        HEADER + "95.6\t0:01:35\t1\t1\t1\t1\t0\t0\t60\t59.3\n"
    )
    assert benchmark_cpu(tmp_path, LOG) == {"train_segmenter": 5.2, "evaluate_strings": 59.3}
