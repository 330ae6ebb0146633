# Helpers shared by the rules: where the recordings are, how they are batched, the
# config sections that reach the rules through params, and repeated output lists.
import functools
import os

from snakemake.exceptions import IncompleteCheckpointException, WorkflowError

from fsdd_pipeline.planning.augmentation_plan import (
    augmentation_plan,
    model_augmentation,
)
from fsdd_pipeline.planning.evaluation_files import EVALUATION_FILES
from fsdd_pipeline.planning.feature_names import model_feature_names
from fsdd_pipeline.planning.robustness_groups import (
    NO_ENDPOINTING_GROUP,
    TRANSFORM_GROUPS,
)
from fsdd_pipeline.planning.model_types import SKLEARN_TYPES
from fsdd_pipeline.planning.naming import DOWNLOADED_RECORDINGS
from fsdd_pipeline.planning.tracking_uri import sqlite_file
from fsdd_pipeline.planning.validation_voices import espeak_validation_names
from fsdd_pipeline.planning.batches import (
    RecordingBatches,
    RecordingPaths,
    recordings_stamp,
)


wildcard_constraints:
    batch=r"batch\d{3}",
    model="|".join(config["models"]),
    augmentation=r"[0-9a-f]+",
    group="|".join(TRANSFORM_GROUPS),


MODELS = list(config["models"])
LOSO_MODELS = config["loso"]["models"]
STRINGS_MODELS = config["strings"]["models"]
LEVER_MODELS = sorted(
    {
        lever[key]
        for lever in config["levers"]
        for key in ("baseline", "variant")
        if key in lever
    }
)
LEVER_LOSO_MODELS = [model for model in LEVER_MODELS if model in LOSO_MODELS]
# Models also evaluated on the realistic takes without endpointing (an endpointing lever).
ENDPOINTING_ABLATION_MODELS = sorted(
    {
        lever["baseline"]
        for lever in config["levers"]
        if lever.get("ablation") == "endpointing"
    }
)
# Models scored on the validation voices, and those of them with LOSO folds.
VOICES_MODELS = config["voices"]["models"]
VOICES_LOSO_MODELS = [model for model in VOICES_MODELS if model in LOSO_MODELS]
# Distinct augment blocks of the models: their augmented features are computed once.
AUGMENTATIONS = augmentation_plan(config["models"])


def recordings_dir():
    """The configured recordings folder, or the downloaded one (after the checkpoint ran)."""
    if config["recordings_dir"]:
        return os.path.abspath(os.path.expanduser(config["recordings_dir"]))
    return checkpoints.download_fsdd.get().output.recordings


@functools.cache
def recording_batches(folder):
    """The recordings of ``folder`` in batch_count() batches (features.recordings_per_batch,
    or features.batches if set), listed once per run: every extraction job asks for its
    batch, and listing the folder each time made planning quadratic in the recordings.
    """
    settings = config["features"]
    return RecordingBatches(
        folder, settings["recordings_per_batch"], settings.get("batches")
    )


def batches():
    """{batch: (recording paths)} of every recording in the recordings folder."""
    return recording_batches(recordings_dir()).by_batch


def batch_recordings(wildcards):
    return batches()[wildcards.batch]


def recordings_folder(wildcards):
    """The recordings folder as one input, ``ancient``: a file added to it changes its
    modification time, which must not re-extract every batch. Which recordings changed is
    told by batch_recordings_stamp, a param."""
    return ancient(recordings_dir())


def batch_recording_paths(wildcards):
    """The batch's recordings for the extraction script (compared through the stamp)."""
    return RecordingPaths(batch_recordings(wildcards))


def batch_recordings_stamp(wildcards):
    """Digest of the batch's names, sizes and modification times: a param, so that a
    changed or added recording re-extracts its batch without every WAV being an input.
    """
    return recordings_stamp(batch_recordings(wildcards))


def augmented_features(wildcards):
    """The precomputed augmented features (every batch) of the model, [] without augment."""
    augmentation = model_augmentation(config["models"], wildcards.model)
    if augmentation is None:
        return []
    return expand(
        rules.augment_features.output.features,
        augmentation=augmentation,
        batch=sorted(batches()),
    )


def training_voice_features(wildcards):
    """The training voices' features when the model trains on them (``training_voices``),
    else []."""
    if not config["models"][wildcards.model].get("training_voices"):
        return []
    return rules.synthesize_training_voices.output.features


def training_voice_names():
    """The validation voices' espeak-ng names, which the training voices leave out."""
    return espeak_validation_names(config["voices"])


def feature_batch_dirs(wildcards):
    return expand(rules.extract_features.output.features, batch=sorted(batches()))


def recording_count():
    return len(recording_batches(recordings_dir()).paths)


def dataset_memory_mb(wildcards):
    """build_dataset's mem_mb: benchmarks/scaling.py measured 358 MB for 3,000 recordings
    and 1,386 MB for 30,000. Before the download (a dry run) the count is not known yet:
    Snakemake 9.27 would turn the checkpoint's exception into a resource of 0 and crash
    printing the job, so the base is given."""
    try:
        return 1000 + recording_count() // 20
    except IncompleteCheckpointException:
        return 1000


# Memory a job that loads its inputs holds per MB of them, above its base: the measured
# peaks (every job logs its own) were 1.6-2.9 MB per input MB above the libraries' own
# (benchmarks/scaling.py, and FSDD's full run: training 1.4 GB on 117 MB of input,
# robustness evaluation 1.7 GB on 320 MB). Requests at 20x asked a cluster for 8 GB where
# 1.7 were used, and 65 GB at 30,000 recordings.
MEMORY_PER_INPUT_MB = 4


def memory_mb(base_mb):
    """A rule's mem_mb: ``base_mb`` for the process and its libraries, plus its inputs."""

    def mem_mb(wildcards, input):
        return base_mb + int(MEMORY_PER_INPUT_MB * input.size_mb)

    return mem_mb


def recording_speakers():
    """Speakers of the recordings (from their file names): one LOSO fold each."""
    return recording_batches(recordings_dir()).speakers


def eda_example_recordings(wildcards):
    """One recording per digit (the first by name) for the waveform figure."""
    return list(recording_batches(recordings_dir()).first_per_digit.values())


def feature_params():
    """Everything that determines a recording's features; a change re-extracts all."""
    batching = ("batches", "recordings_per_batch")
    features = {
        key: value for key, value in config["features"].items() if key not in batching
    }
    return config["audio"] | features


def tracking_store():
    """{"store": file} of a local SQLite tracking store (an output of init_tracking), none
    for a tracking server."""
    database = sqlite_file(config["tracking"]["uri"])
    return {"store": str(database)} if database else {}


def check_tracking_store():
    """Stop when the SQLite store was deleted while files still point into it: Snakemake
    would find nothing to do (it does not rerun a job because an input went missing), and
    the runs, the registered champion and fsdd-predict would be gone unnoticed."""
    store = tracking_store().get("store")
    marker = rules.init_tracking.output.experiment
    if store and not os.path.exists(store) and os.path.exists(marker):
        raise WorkflowError(
            f"tracking store {store} is missing, but {marker} and the run ids under "
            "results/ point into it: restore it from a backup, or train and evaluate "
            f"everything again into a new store: rm {marker} && snakemake --cores 8 "
            "--forcerun init_tracking"
        )


def robustness_groups(model):
    """The groups of robustness transforms that ``model`` is evaluated on."""
    return [
        group
        for group in TRANSFORM_GROUPS
        if group != NO_ENDPOINTING_GROUP or model in ENDPOINTING_ABLATION_MODELS
    ]


def robustness_group_features(wildcards):
    """The features that the models evaluated on a group of transforms read: only those
    are computed for its transformed clips."""
    models = [model for model in MODELS if wildcards.group in robustness_groups(model)]
    return sorted(
        {
            feature
            for model in models
            for feature in model_feature_names(config["models"][model])
        }
    )


def model_robustness_features(wildcards):
    """The robustness feature files (one per group of transforms) of a model's evaluation."""
    return expand(
        rules.robustness_features.output.features,
        group=robustness_groups(wildcards.model),
    )


def model_config(wildcards):
    return config["models"][wildcards.model]


def training_threads(wildcards):
    """Keras models train on training.threads; scikit-learn's fits here use one thread."""
    if config["models"][wildcards.model]["type"] in SKLEARN_TYPES:
        return 1
    return config["training"]["threads"]


# Priority of the longest jobs: they start first, so that none is left to end the run alone.
LONG_JOB_PRIORITY = 2


def training_priority(wildcards):
    """Keras models over sequences of augmented copies train longest, then other Keras
    models over sequences, then pooled Keras models, then scikit-learn ones; the models
    whose folds the digit-string evaluation reads rank with the long jobs (it waits on
    them, and is one itself)."""
    model = config["models"][wildcards.model]
    if model["type"] in SKLEARN_TYPES:
        priority = 0
    elif model.get("pooling", "sequence") != "sequence":
        priority = LONG_JOB_PRIORITY - 1
    else:
        priority = LONG_JOB_PRIORITY + 1 if model.get("augment") else LONG_JOB_PRIORITY
    if wildcards.model in config["strings"]["models"]:
        return max(priority, LONG_JOB_PRIORITY)
    return priority


# The augmented copies feed the longest trainings: they come before anything they wait on.
AUGMENTATION_PRIORITY = LONG_JOB_PRIORITY + 1
# Every job waits on the features and the dataset: they come before the augmented copies.
FEATURE_PRIORITY = AUGMENTATION_PRIORITY + 1

# Jobs that keep CPUs busy declare resources: local_cpus (their threads). A local run holds
# their sum to one more than the CPUs this process may use (the extra one fills the gaps
# while jobs start and end), whatever --cores says: `--cores 8` on two CPUs ran eight such
# jobs at once, and a training took 40% more CPU time beside seven others than alone
# (cache and scheduler contention). Light jobs (summaries, tables) fill the other --cores
# slots. `--resources local_cpus=N` sets another limit; a cluster has none (each job has
# CPUs of its own).
LOCAL_CPUS = "local_cpus"
# The executor is not known yet while the Snakefile is read; --jobs (nodes) is set for
# cluster runs (profiles/slurm), the same sign Snakemake's scheduler lifts --cores on.
CLUSTER_RUN = workflow.global_resources["_nodes"].value is not None
if not CLUSTER_RUN and LOCAL_CPUS not in workflow.global_resources:
    workflow.register_resource(LOCAL_CPUS, len(os.sched_getaffinity(0)) + 1)


def local_cpus(wildcards, threads):
    """A job's share of local_cpus: its threads (Snakemake caps every resource of a job at
    the global limit, so a job with more threads than the limit still starts)."""
    return threads


def training_params():
    return {"frames": config["training"]["frames"]}


def evaluation_outputs(folder, split, report_category=None):
    """The evaluation files of one split (EVALUATION_FILES) as named outputs
    ``{split}_{kind}``; with ``report_category``, its figures go into the report."""
    outputs = {}
    for kind, file_name in EVALUATION_FILES.items():
        path = f"{folder}/{split}_{file_name}"
        if report_category and file_name.endswith(".png"):
            figure = file_name.removesuffix(".png")
            path = report(
                path,
                caption=f"../report/{figure}.rst",
                category=report_category,
                subcategory=figure.replace("_", " "),
                labels={"model": "{model}", "figure": figure.replace("_", " ")},
            )
        outputs[f"{split}_{kind}"] = path
    return outputs


EDA_FIGURES = [
    "durations",
    "rms_by_digit_speaker",
    "counts",
    "waveforms",
    "mfcc_examples",
    "chroma_examples",
    "spectrogram_examples",
]


def loso_outputs():
    return [rules.plot_loso.output.figure] if LOSO_MODELS else []


def voices_outputs():
    """The validation voices' report, when the default run includes it."""
    wanted = config["voices"]["in_default_run"] and VOICES_MODELS
    return [rules.voices_report.output.summary] if wanted else []


def segmenter_settings():
    """config strings without the evaluation's keys: changing how many takes are evaluated
    retrains no segmenter (and so no model)."""
    evaluation_only = (
        "models",
        "test_takes",
        "loso_takes_per_speaker",
        "pin_takes_per_speaker",
    )
    return {k: v for k, v in config["strings"].items() if k not in evaluation_only}
