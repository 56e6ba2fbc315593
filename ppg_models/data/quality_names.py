"""The per-window signal-quality features by name, apart from their computation (``quality``), so that
the ingest policy can check its limits without loading SciPy (about 2 s of a command's start)."""

FEATURES = (
    "missing_frac", "flat_frac", "clipped_frac", "perfusion_index", "skewness", "cardiac_power_ratio",
    "pulse_snr_db",
)  # fmt: skip
