"""The model types a config may name, by the library that trains them; light enough for the
Snakefile, which plans the jobs of scikit-learn and Keras models differently."""

KERAS_TYPES = ("cnn", "rnn", "crnn", "mlp")
SKLEARN_TYPES = ("svm", "logreg", "frame_logreg")
