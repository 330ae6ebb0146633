"""Per-clip features: the librosa spectral features (MFCC, chroma, log-mel), the frozen
pretrained speech embedding, pooling and the flat Parquet encoding of each matrix.

A new feature is computed in ``spectral.extract_features`` and named in
``planning.feature_names``.
"""
