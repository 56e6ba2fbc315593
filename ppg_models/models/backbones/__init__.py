"""Registered backbones: importing this package registers every one of them."""

from ppg_models.models.backbones import cross_stitch, lora_experts, resnet1d
from ppg_models.models.backbones.base import BACKBONES, Backbone, create_backbone

__all__ = ["BACKBONES", "Backbone", "create_backbone", "cross_stitch", "lora_experts", "resnet1d"]
