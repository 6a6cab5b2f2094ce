"""NVSA, the neuro-vector-symbolic architecture (Hersche et al., Nature Machine Intelligence 2023),
re-implemented after IBM's releases on locally generated RAVEN-style matrices."""
from ..registry import WorkloadSpec
from .workload import NVSAParams, build_nvsa

NVSA = WorkloadSpec(
    "nvsa", "NVSA on RAVEN-style matrices: ResNet-18 front end, sparse block-code back end (bind as grouped conv1d)",
    NVSAParams, build_nvsa, smoke={"d": 256, "k": 4, "image_size": 32})

__all__ = ["NVSA", "NVSAParams", "build_nvsa"]
