"""Scoring recordings at scale on Spark with the registered raw-audio model.

``mlflow.pyfunc.spark_udf`` runs the same pyfunc model that ``mlflow models serve`` runs, in
Spark's Python workers, on batches of rows: each recording's bytes are read by Spark
(``binaryFile``), sent base64-encoded in the ``audio_base64`` column, and answered with the
digit and its probability. Needs ``pyspark`` (the ``spark`` extra) and a Java runtime.

A batch with an unusable recording fails its Spark task with the model's message, which
names the row in the batch and the reason; check files with ``fsdd-predict`` first when a
folder may hold broken ones.
"""

# The columns the UDF returns, of the pyfunc model's output (serving.pyfunc.signature).
RESULT_TYPE = "digit long, probability double"


def recordings_frame(spark, folder, pattern="*.wav"):
    """A DataFrame of the recordings in ``folder`` matching ``pattern``: ``path`` and
    ``audio_base64`` (the file's bytes, base64), sorted by path."""
    from pyspark.sql import functions

    return (
        spark.read.format("binaryFile")
        .option("pathGlobFilter", pattern)
        .load(str(folder))
        .select("path", functions.base64("content").alias("audio_base64"))
        .orderBy("path")
    )


def predict_recordings(spark, model_uri, folder, pattern="*.wav"):
    """``path``, ``digit`` and ``probability`` of every recording in ``folder``, predicted by
    the raw-audio model at ``model_uri`` (e.g. ``models:/fsdd-digit-classifier@champion``)
    in Spark's workers, in this Python environment."""
    import mlflow.pyfunc
    from pyspark.sql import functions

    digit_of = mlflow.pyfunc.spark_udf(
        spark, model_uri, result_type=RESULT_TYPE, env_manager="local"
    )
    frame = recordings_frame(spark, folder, pattern)
    # In a struct, the column reaches the model by its name (bare, it would be named "0").
    predicted = frame.withColumn("prediction", digit_of(functions.struct("audio_base64")))
    return predicted.select("path", "prediction.digit", "prediction.probability")
