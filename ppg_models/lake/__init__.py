"""The data lake: incoming, accepted and quarantined batches, their records, and dataset versions.

Plain code only (no Prefect, no Great Expectations): the ingest flow in ``flows/ingest`` calls into this
package for everything that touches files, and training asks ``dataset`` for a version's windows.
"""
