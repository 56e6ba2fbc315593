"""Modelling core: task catalogue, batch format, simulator, importers, quality, baselines.

Imports only numpy, scipy, torch, pandas, pyarrow (and wfdb for reading WFDB records); never an MLOps
library (DESIGN.md).
"""
