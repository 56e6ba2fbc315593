"""Prefect flows, Ray Tune search and the ``ppg`` command line (``flows.cli:app``)."""
