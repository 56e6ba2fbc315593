"""The Streamlit app: compare model versions and record promotion decisions.

May import ``registry`` and ``ppg_models``; never ``flows`` (DESIGN.md).
"""
