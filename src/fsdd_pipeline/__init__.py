"""Spoken-digit recognition on the Free Spoken Digit Dataset (FSDD).

The package holds all logic of the Snakemake workflow; the workflow's scripts only
call into it. Import sub-modules explicitly: importing this package stays cheap so
that the Snakefile can use it while it builds the DAG.
"""

__version__ = "0.1.0"
