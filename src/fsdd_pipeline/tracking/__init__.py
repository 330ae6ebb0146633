"""MLflow: the tracking store (which follows its project when the folder is moved or copied),
one run per workflow job, what a run records (parameters, tags, metrics, models, files), the
model registry, and ``fsdd-ui``, the MLflow UI opened on the project's ranked runs.

Importing it does not import MLflow; each function imports it where it is needed.
"""
