"""The classification task's constants, one place each: the ten digit classes, the
probability columns of every prediction table, and the per-epoch history columns."""

N_CLASSES = 10
LABELS = list(range(N_CLASSES))
PROB_COLUMNS = [f"prob_{digit}" for digit in LABELS]
# One row per epoch of training (a scikit-learn model has one "epoch").
HISTORY_COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy"]
