"""Using a trained model: the raw-audio MLflow model that ``mlflow models serve`` runs, and the
``fsdd-predict`` command.
"""
