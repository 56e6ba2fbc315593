"""Registered loss balancers, one per file; importing this package registers every one of them.

``create_balancer("pcgrad", tasks, **params)`` builds one by name (add ``protected="af"`` to protect a
task); an unknown name raises an error listing the known ones.
"""

from ppg_models.balancers import (
    aligned_mtl,
    cagrad,
    dwa,
    famo,
    fixed,
    gradnorm,
    magnitude,
    mgda,
    pcgrad,
    uncertainty,
    upgrad,
)
from ppg_models.balancers.base import BALANCERS, Balancer, Step, create_balancer

__all__ = [
    "BALANCERS",
    "Balancer",
    "Step",
    "aligned_mtl",
    "cagrad",
    "create_balancer",
    "dwa",
    "famo",
    "fixed",
    "gradnorm",
    "magnitude",
    "mgda",
    "pcgrad",
    "uncertainty",
    "upgrad",
]
