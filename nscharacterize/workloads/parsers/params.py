"""The image/frame parser's parameters, shared by every workload that runs Mask R-CNN (NSCL, NS-DR),
so that a config sets the parser the same way whichever workload it drives."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from ..registry import Params
from .mask_rcnn import MaskRCNNParser


class MaskRCNNParams(Params):
    parser_backend: Literal["torchvision", "detectron2"] = Field(
        "torchvision", description="Mask R-CNN implementation: torchvision, or detectron2 when it is installed")
    parser_min_size: int = Field(800, ge=32, description="parser test resize: shorter side (detectron2 test: 800)")
    parser_max_size: int = Field(1333, ge=32, description="parser test resize: longest side cap (detectron2 test: 1333)")
    parser_classes: int = Field(80, ge=1, description="object classes of the Mask R-CNN heads (COCO: 80)")
    parser_candidates_per_object: Optional[int] = Field(
        10, ge=1, description="(box, class) pairs per object let through to NMS, standing in for a trained "
        "detector's 0.05 score threshold; null = threshold 0 (every pair reaches NMS)")

    def build_parser(self, seed: int) -> MaskRCNNParser:
        return MaskRCNNParser(backend=self.parser_backend, min_size=self.parser_min_size,
                              max_size=self.parser_max_size, num_classes=self.parser_classes, seed=seed,
                              candidates_per_object=self.parser_candidates_per_object)

    def parser_info(self, parser: MaskRCNNParser) -> dict:
        return {"backend": parser.backend, "min_size": self.parser_min_size, "max_size": self.parser_max_size,
                "candidates_per_object": self.parser_candidates_per_object, "parameters": parser.parameters}
