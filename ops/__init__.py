"""GPU kernels with their PyTorch references, installed as ``panoptic.ops``."""
