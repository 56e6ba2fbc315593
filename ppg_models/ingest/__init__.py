"""The ingest rules: read an incoming file, check it, decide accept / drop / quarantine, and file it.

Plain code only (no Prefect, no Great Expectations): the ingest flow in ``flows/ingest`` supplies the
expectation engine and calls ``intake.process_file`` once per file; ``ppg_models.lake`` stores the result.
"""
