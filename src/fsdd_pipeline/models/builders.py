"""Model builders, one per architecture type; every hyperparameter comes from config.

Keras models take unnormalized features: their first layer is a Normalization layer
whose statistics are fitted on the training split only, so the saved model carries
them and nothing of the validation or test splits leaks in.
"""

from fsdd_pipeline.labels import N_CLASSES


def _keras():
    import keras

    return keras


def _normalized_input(spec, train_x, model_config):
    """Input layer, Normalization fitted on ``train_x`` and optional SpecAugment."""
    keras = _keras()
    inputs = keras.Input(shape=spec.shape, name="features")
    normalizer = keras.layers.Normalization(axis=-1, name="normalization")
    normalizer.adapt(train_x)
    x = normalizer(inputs)
    masking = model_config.get("spec_augment")
    if masking:
        from fsdd_pipeline.augment.spec_augment import SpecAugment

        x = SpecAugment(**masking, seed=model_config["seed"], name="spec_augment")(x)
    return inputs, x


def _classifier_head(x, units, dropout):
    keras = _keras()
    for width in units:
        x = keras.layers.Dense(width, activation="relu")(x)
        x = keras.layers.Dropout(dropout)(x)
    return keras.layers.Dense(N_CLASSES, activation="softmax", name="digit")(x)


def _conv_block(x, filters, kernel_size, pool):
    keras = _keras()
    x = keras.layers.Conv2D(filters, kernel_size, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Activation("relu")(x)
    return keras.layers.MaxPooling2D(pool)(x)


def build_cnn(config, spec, train_x):
    """2-D CNN over (time, frequency): conv-BN-ReLU-pool blocks, then a dense head.

    The feature maps are flattened rather than globally pooled: where in frequency a
    pattern sits is what tells the vowels of the digits apart.
    """
    keras = _keras()
    inputs, x = _normalized_input(spec, train_x, config)
    x = keras.layers.Reshape((*spec.shape, 1))(x)
    for filters in config["conv_filters"]:
        x = _conv_block(x, filters, config["kernel_size"], (2, 2))
        x = keras.layers.SpatialDropout2D(config.get("conv_dropout", 0.0))(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(config["dropout"])(x)
    return keras.Model(inputs, _classifier_head(x, config["dense_units"], config["dropout"]))


def _recurrent_layers(x, config):
    keras = _keras()
    cell = {"gru": keras.layers.GRU, "lstm": keras.layers.LSTM}[config["cell"]]
    units = config["rnn_units"]
    for i, width in enumerate(units):
        layer = cell(width, return_sequences=i < len(units) - 1)
        x = keras.layers.Bidirectional(layer)(x) if config.get("bidirectional") else layer(x)
        x = keras.layers.Dropout(config["dropout"])(x)
    return x


def build_rnn(config, spec, train_x):
    """Recurrent model (GRU or LSTM, optionally bidirectional) over the feature sequence."""
    keras = _keras()
    inputs, x = _normalized_input(spec, train_x, config)
    x = _recurrent_layers(x, config)
    return keras.Model(inputs, _classifier_head(x, config["dense_units"], config["dropout"]))


def build_crnn(config, spec, train_x):
    """Convolutional front end (pooling mostly along frequency) feeding a recurrent layer."""
    keras = _keras()
    inputs, x = _normalized_input(spec, train_x, config)
    x = keras.layers.Reshape((*spec.shape, 1))(x)
    for i, filters in enumerate(config["conv_filters"]):
        # Halve time only in the first block so the recurrent layer still sees a sequence.
        x = _conv_block(x, filters, config["kernel_size"], (2 if i == 0 else 1, 2))
    frames, bins, channels = x.shape[1:]
    x = keras.layers.Reshape((frames, bins * channels))(x)
    x = _recurrent_layers(x, config)
    return keras.Model(inputs, _classifier_head(x, config["dense_units"], config["dropout"]))


def build_mlp(config, spec, train_x):
    """A dense network on one pooled vector per clip: the normalized input, a ReLU layer of
    each of ``dense_units`` with ``dropout`` after it, softmax (the seed MLP: 40 mean MFCCs,
    128-256-128; emb_mlp: the pooled embedding, 256)."""
    keras = _keras()
    inputs, x = _normalized_input(spec, train_x, config)
    return keras.Model(inputs, _classifier_head(x, config["dense_units"], config["dropout"]))


KERAS_BUILDERS = {"cnn": build_cnn, "rnn": build_rnn, "crnn": build_crnn, "mlp": build_mlp}


def build_keras_model(config, spec, train_x):
    """Build and compile the Keras model that ``config['type']`` names."""
    keras = _keras()
    model = KERAS_BUILDERS[config["type"]](config, spec, train_x)
    optimizers = {
        "adam": keras.optimizers.Adam,
        "adamw": keras.optimizers.AdamW,
        "rmsprop": keras.optimizers.RMSprop,
        "sgd": keras.optimizers.SGD,
    }
    model.compile(
        optimizer=optimizers[config["optimizer"]](learning_rate=config["learning_rate"]),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def build_sklearn_model(config):
    """Standardized inputs into an RBF SVM (``svm``) or a logistic regression (``logreg``);
    ``frame_logreg``: logistic regressions on a sequence's pooled statistics and on each of
    its frames (frame_logreg.py); with ``speed_views``, the model trains and predicts on
    every clip and its speed views (speed_views.py); with ``room_gate``, two of them behind
    a room detector (room_gate.py)."""
    if config.get("room_gate"):
        from fsdd_pipeline.models.room_gate import RoomGateClassifier

        return RoomGateClassifier(
            build_sklearn_model(config | {"room_gate": False}), max_iter=config["max_iter"]
        )
    if config.get("speed_views"):
        from fsdd_pipeline.models.speed_views import SpeedViewsClassifier

        return SpeedViewsClassifier(_single_clip_model(config))
    return _single_clip_model(config)


def _single_clip_model(config):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    if config["type"] == "frame_logreg":
        from fsdd_pipeline.models.frame_logreg import PooledFrameLogisticRegression

        return PooledFrameLogisticRegression(
            C=config["C"], frame_C=config["frame_C"], max_iter=config["max_iter"]
        )
    if config["type"] == "logreg":
        from fsdd_pipeline.models.linear import standardized_logreg

        return standardized_logreg(config["C"], config["max_iter"])
    return make_pipeline(
        StandardScaler(),
        SVC(
            C=config["C"],
            gamma=config["gamma"],
            kernel="rbf",
            probability=True,
            random_state=config["seed"],
        ),
    )
