"""Models: the builders of every model type (Keras and scikit-learn), the linear frame models
and speed views, the input spec that turns features into model inputs, the trained
classifier that predicts from raw audio, and training.

A new model type goes into ``builders``; its name into ``planning.model_types``.
"""
