"""Exploratory figures of the combined dataset."""

import numpy as np

from fsdd_pipeline.evaluation.plots import pyplot
from fsdd_pipeline.features.codec import unflatten_feature
from fsdd_pipeline.features.librosa_runtime import load_librosa

DIGITS = range(10)
SPLIT_COLOURS = {"train": "#4C72B0", "val": "#DD8452", "test": "#55A868"}


def _digit_grid(title):
    plt = pyplot()
    figure, axes = plt.subplots(2, 5, figsize=(17, 7), sharey=True, layout="constrained")
    figure.suptitle(title)
    return figure, axes.ravel()


def plot_durations(dataset):
    """Durations after endpointing, per digit, and how much endpointing cut."""
    plt = pyplot()
    figure, (hist, box, cut) = plt.subplots(1, 3, figsize=(19, 4.5))
    hist.hist(dataset["duration_s"], bins=50, color="#4C72B0")
    hist.set(xlabel="duration after endpointing (s)", ylabel="recordings", title="Durations")
    cut.hist(1000 * dataset["cut_s"], bins=50, color="#DD8452")
    whole = int((~dataset["speech_found"]).sum())
    cut.set(
        xlabel="audio cut around the word (ms)",
        ylabel="recordings",
        title=f"Endpointing: cut per recording ({whole} kept whole: no pause to measure)",
    )
    box.boxplot(
        [dataset.loc[dataset.digit == d, "duration_s"] for d in DIGITS], tick_labels=list(DIGITS)
    )
    box.set(xlabel="digit", ylabel="duration (s)", title="Duration per digit")
    return figure


def plot_rms(dataset):
    plt = pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(13, 4.5), sharey=True)
    for axis, column in zip(axes, ("digit", "speaker"), strict=True):
        stats = dataset.groupby(column)["rms"].agg(["mean", "std"])
        axis.bar(stats.index.astype(str), stats["mean"], yerr=stats["std"], capsize=3)
        axis.set(xlabel=column, title=f"Average amplitude (RMS) per {column}")
    axes[0].set_ylabel("RMS amplitude (full scale = 1), mean ± sd")
    return figure


def plot_counts(dataset):
    plt = pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    for axis, column in zip(axes, ("digit", "speaker"), strict=True):
        counts = dataset.groupby([column, "split"]).size().unstack(fill_value=0)
        bottom = np.zeros(len(counts))
        for split in [s for s in SPLIT_COLOURS if s in counts.columns]:
            axis.bar(
                counts.index.astype(str),
                counts[split],
                bottom=bottom,
                label=split,
                color=SPLIT_COLOURS[split],
            )
            bottom += counts[split].to_numpy()
        axis.set(xlabel=column, ylabel="recordings", title=f"Recordings per {column}")
        axis.legend(title="split")
    return figure


def plot_waveforms(examples, sample_rate):
    """``examples``: {digit: (file name, samples)}."""
    figure, axes = _digit_grid("One waveform per digit")
    for axis, digit in zip(axes, DIGITS, strict=True):
        if digit not in examples:
            axis.set_axis_off()
            continue
        name, samples = examples[digit]
        axis.plot(np.arange(samples.size) / sample_rate, samples, linewidth=0.6)
        axis.set(title=f"{digit}  ({name})", xlabel="time (s)")
    axes[0].set_ylabel("amplitude")
    axes[5].set_ylabel("amplitude")
    return figure


def plot_feature_examples(dataset, feature, params):
    """One example of ``feature`` per digit, the first recording of that digit by name."""
    load_librosa()  # compiles librosa's kernels safely before librosa.display uses them
    import librosa.display
    from matplotlib.ticker import MaxNLocator

    labels = {
        "mfcc": ("MFCC per digit", "MFCC coefficient", None),
        "chroma": ("Chroma per digit", None, "chroma"),
        "spectrogram": ("Log-mel spectrogram per digit (dB re. peak)", None, "mel"),
    }
    title, ylabel, y_axis = labels[feature]
    figure, axes = _digit_grid(title)
    image = None
    for axis, digit in zip(axes, DIGITS, strict=True):
        rows = dataset[dataset.digit == digit].sort_values("file_name")
        if rows.empty:
            axis.set_axis_off()
            continue
        row = rows.iloc[0]
        matrix = unflatten_feature(row[feature], row[f"{feature}_shape"])
        image = librosa.display.specshow(
            matrix,
            sr=params.sample_rate,
            hop_length=params.hop_length,
            x_axis="time",
            y_axis=y_axis,
            fmin=params.fmin,
            fmax=params.fmax,
            ax=axis,
        )
        axis.set(title=f"{digit}  ({row.file_name})", xlabel="time (s)")
        axis.xaxis.set_major_locator(MaxNLocator(3))
        if ylabel and axis in (axes[0], axes[5]):
            axis.set_ylabel(ylabel)
    if image is not None:
        colorbar = figure.colorbar(image, ax=axes.tolist(), shrink=0.8)
        colorbar.set_label(
            {"mfcc": "coefficient value", "chroma": "relative energy", "spectrogram": "dB"}[feature]
        )
    return figure
