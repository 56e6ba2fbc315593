"""The main job end to end on the embedded defaults: simulate, ingest, baselines, train, register, gate.

``run_demo`` does the work and reports progress through a ``say`` callback; the ``ppg demo`` command
(``flows/cli/demo.py``) renders what it returns.
"""
