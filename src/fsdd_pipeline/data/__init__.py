"""The dataset: downloading FSDD, speaker metadata, extracting every recording into its Parquet
file, and combining them into one table with its official/validation/train split.
"""
