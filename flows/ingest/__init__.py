"""The ingest flow: Great Expectations checks and the Prefect flow that files every incoming batch."""
