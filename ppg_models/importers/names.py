"""How column and signal names found in real exports map onto batch channels and task labels.

Names are compared after lower-casing and dropping everything but letters and digits, so
" PLETH", "Pleth" and "pleth" are one name, and so are "ABP Sys" and "ABPSys".
"""

from __future__ import annotations

import re

CHANNEL_ALIASES = {
    "red": "red",
    "ir": "ir",
    "infrared": "ir",
    "green": "green",
    # A monitor's single plethysmogram is drawn from the infrared channel.
    "pleth": "ir",
    "ppg": "ir",
}

# Numerics only: in BIDMC and MIMIC numerics RESP is the respiratory rate (in the waveform files RESP
# is the impedance waveform, which is never read as a label). PULSE is the rate computed from the
# plethysmogram itself, so it is not an independent reference and is not used.
LABEL_ALIASES = {
    "hr": "hr",
    "heartrate": "hr",
    "spo2": "spo2",
    "sao2": "spo2",
    "resp": "rr",
    "rr": "rr",
    "respiratoryrate": "rr",
    "sbp": "sbp",
    "abpsys": "sbp",
    "artsys": "sbp",
    "nbpsys": "sbp",
    "dbp": "dbp",
    "abpdias": "dbp",
    "artdias": "dbp",
    "nbpdias": "dbp",
    "af": "af",
}

TIME_ALIASES = ("time", "times", "t", "timestamp", "elapsedtime", "timeseconds", "seconds")
# Numbers in milliseconds ("time_ms", "Time (ms)", "timestamp_ms", "millis"): many device exports.
MS_TIME_ALIASES = ("timems", "timestampms", "elapsedtimems", "ms", "millis", "milliseconds")


def normalise(name: str) -> str:
    """'Time [s]' -> 'times', ' ABP Sys' -> 'abpsys'."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def map_names(
    names: list[str], aliases: dict[str, str], overrides: dict[str, str] | None = None
) -> dict[str, str]:
    """Original name -> target for every name that maps; ``overrides`` (original name -> target) win."""
    overrides = overrides or {}
    mapped = {}
    for name in names:
        target = overrides.get(name) or aliases.get(normalise(name))
        if target:
            earlier = next((k for k, v in mapped.items() if v == target), None)
            if earlier is not None:
                raise ValueError(f"two columns map to {target!r}: {earlier!r} and {name!r}")
            mapped[name] = target
    return mapped
