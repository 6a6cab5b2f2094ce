"""Mask R-CNN R50-FPN image/frame parser with random weights.

``backend="torchvision"`` (default) builds torchvision's Mask R-CNN R50-FPN (the model of
``maskrcnn_resnet50_fpn``) with random weights under a fixed seed and frozen batch norm, as in
detectron2. ``backend="detectron2"`` builds
detectron2's model-zoo ``COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x`` (random weights) when
detectron2 is importable, and raises ``WorkloadError`` otherwise.

Inference settings follow detectron2's test path (docs/research/workload-architectures.md section 5):
shorter side resized to 800 (longer side at most 1333), RPN 1000 pre-/post-NMS proposals,
box NMS 0.5, 80 object classes. A trained parser's detections set how much work the mask head does;
with random weights the score threshold would not give that, so each call is *driven*:

- ``detections_per_img`` is the scene's object count, so the mask head segments exactly
  ``n_objects`` instances;
- the box score threshold is set per image, just below the ``candidates_per_object * n_objects``-th
  best (box, class) score, so NMS sees about as many candidates as a trained detector's 0.05
  threshold lets through (detections cluster on the objects), not all 1000 x 80 pairs that a
  threshold of 0 would pass on random scores (that turns the head into an NMS/indexing benchmark).
  ``candidates_per_object=None`` uses threshold 0 instead.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..base import WorkloadError

BACKENDS = ("torchvision", "detectron2")


def detectron2_available() -> bool:
    try:
        import detectron2  # noqa: F401
    except Exception:  # ImportError, or a broken build raising something else
        return False
    return True


def _to_chw_float(image: Any) -> torch.Tensor:
    """uint8 HxWx3 array/tensor, or float 3xHxW tensor in [0,1] -> float 3xHxW in [0,1]."""
    if isinstance(image, np.ndarray):
        image = torch.from_numpy(np.ascontiguousarray(image))
    if not isinstance(image, torch.Tensor):
        raise WorkloadError(f"image parser expects a numpy array or torch tensor, got {type(image).__name__}")
    if image.dim() != 3:
        raise WorkloadError(f"image parser expects a 3-d image, got shape {tuple(image.shape)}")
    if image.shape[-1] == 3 and image.shape[0] != 3:
        image = image.permute(2, 0, 1)
    if image.dtype == torch.uint8:
        image = image.float().div_(255.0)
    return image.float()


class MaskRCNNParser:
    """Per-image (or per-frame) instance segmentation with a random-weight Mask R-CNN R50-FPN.

    ``parser(image, n_objects)`` returns ``{"boxes": [n,4] (xyxy, input-image pixels),
    "scores": [n], "labels": [n], "masks": [n,1,H,W]}``, where ``image`` is a uint8 HxWx3
    array/tensor or a float 3xHxW tensor in [0,1].
    """

    def __init__(self, backend: str = "torchvision", min_size: int = 800, max_size: int = 1333,
                 num_classes: int = 80, seed: int = 0, candidates_per_object: int | None = 10):
        if backend not in BACKENDS:
            raise WorkloadError(f"image parser backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        self.backend = backend
        self.min_size, self.max_size, self.num_classes = min_size, max_size, num_classes
        self.candidates_per_object = candidates_per_object
        self._candidates = 0
        self.device = "cpu"
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            if backend == "torchvision":
                self.model = self._build_torchvision()
            else:
                self.model = self._build_detectron2()
        self.model.eval()
        if backend == "torchvision" and candidates_per_object:
            self.model.roi_heads.box_predictor.register_forward_hook(self._drive_threshold)

    # -- construction -------------------------------------------------------------------------
    def _build_torchvision(self) -> torch.nn.Module:
        from torchvision.models.detection import MaskRCNN
        from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
        from torchvision.ops.misc import FrozenBatchNorm2d

        # This is what maskrcnn_resnet50_fpn(weights=None, weights_backbone=None) builds, except for the
        # norm layer: without weights torchvision falls back to nn.BatchNorm2d, while detectron2's R50
        # (and torchvision's pretrained path) use FrozenBatchNorm2d, i.e. x * scale + bias per layer.
        backbone = resnet_fpn_backbone(backbone_name="resnet50", weights=None, norm_layer=FrozenBatchNorm2d,
                                       trainable_layers=3)
        # num_classes counts the background class in torchvision, hence +1 (detectron2's NUM_CLASSES=80).
        return MaskRCNN(backbone, num_classes=self.num_classes + 1, min_size=self.min_size, max_size=self.max_size,
                        rpn_pre_nms_top_n_test=1000, rpn_post_nms_top_n_test=1000,
                        box_score_thresh=0.0, box_nms_thresh=0.5, box_detections_per_img=100)

    def _build_detectron2(self) -> torch.nn.Module:
        if not detectron2_available():
            raise WorkloadError("image parser backend 'detectron2' needs detectron2, which cannot be imported "
                                "here; install detectron2 or use backend: torchvision")
        from detectron2 import model_zoo
        from detectron2.modeling import build_model

        cfg = model_zoo.get_config("COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x.yaml")
        cfg.MODEL.DEVICE = "cpu"
        cfg.MODEL.WEIGHTS = ""
        cfg.MODEL.ROI_HEADS.NUM_CLASSES = self.num_classes
        cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = 0.0
        cfg.INPUT.MIN_SIZE_TEST = self.min_size
        cfg.INPUT.MAX_SIZE_TEST = self.max_size
        self._d2_cfg = cfg
        return build_model(cfg)

    def to(self, device: str) -> "MaskRCNNParser":
        self.device = device
        self.model.to(device)
        if self.backend == "detectron2":
            self._d2_cfg.MODEL.DEVICE = device
        return self

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    # -- inference ----------------------------------------------------------------------------
    def __call__(self, image: Any, n_objects: int) -> dict:
        n_objects = max(1, int(n_objects))
        x = _to_chw_float(image).to(self.device)
        with torch.no_grad():
            if self.backend == "torchvision":
                return self._run_torchvision(x, n_objects)
            return self._run_detectron2(x, n_objects)

    def _drive_threshold(self, _module, _inputs, output) -> None:
        """Sets the score threshold so that ``self._candidates`` (box, class) pairs pass it."""
        class_logits = output[0]
        scores = torch.softmax(class_logits, -1)[:, 1:].reshape(-1)
        k = min(self._candidates, scores.numel())
        self.model.roi_heads.score_thresh = float(torch.topk(scores, k, sorted=False)[0].min()) * (1 - 1e-6)

    def _run_torchvision(self, x: torch.Tensor, n: int) -> dict:
        heads = self.model.roi_heads
        heads.detections_per_img = n          # drive the detection count from the scene
        if self.candidates_per_object:
            self._candidates = self.candidates_per_object * n
        out = self.model([x])[0]
        return {k: out[k] for k in ("boxes", "scores", "labels", "masks")}

    def _run_detectron2(self, x: torch.Tensor, n: int) -> dict:
        import torch.nn.functional as F

        h, w = x.shape[-2:]
        scale = self.min_size / min(h, w)
        if max(h, w) * scale > self.max_size:
            scale = self.max_size / max(h, w)
        nh, nw = int(round(h * scale)), int(round(w * scale))
        # ResizeShortestEdge, then RGB [0,1] -> BGR [0,255] as detectron2's DefaultPredictor feeds it.
        resized = F.interpolate(x[None], size=(nh, nw), mode="bilinear", align_corners=False)[0]
        bgr = resized.flip(0).mul(255.0)
        self.model.roi_heads.test_detections_per_img = n
        inst = self.model([{"image": bgr, "height": int(h), "width": int(w)}])[0]["instances"]
        return {"boxes": inst.pred_boxes.tensor, "scores": inst.scores, "labels": inst.pred_classes,
                "masks": inst.pred_masks[:, None].float()}


def make_image_parser(backend: str = "torchvision", min_size: int = 800, max_size: int = 1333,
                      num_classes: int = 80, seed: int = 0, candidates_per_object: int | None = 10) -> MaskRCNNParser:
    """Builds the shared image/frame parser (see :class:`MaskRCNNParser`)."""
    return MaskRCNNParser(backend=backend, min_size=min_size, max_size=max_size, num_classes=num_classes,
                          seed=seed, candidates_per_object=candidates_per_object)
