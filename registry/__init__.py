"""MLflow I/O: runs, model versions, gate policy and verdicts, aliases, approvals, audit, rollback.

May import ``ppg_models``, mlflow and sqlalchemy; never prefect, ray or streamlit (DESIGN.md).
"""
