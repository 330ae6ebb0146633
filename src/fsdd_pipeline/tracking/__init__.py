"""MLflow: the tracking store, one run per workflow job, what a run records (parameters, tags,
metrics, models, files) and the model registry.

Importing it does not import MLflow; each function imports it where it is needed.
"""
