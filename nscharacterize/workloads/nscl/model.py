"""NSCL's neural scene-graph extractor, concept embeddings and quasi-symbolic program executor.

Re-implemented from the architecture notes (docs/research/workload-architectures.md section 1):
ResNet-34 cut after layer3, the SceneGraph module (context/relation 1x1 convs, a per-image loop
with box bookkeeping, three 7x7 RoI poolings at 1/16, fuse convs, Linear(12544, 256) heads, L2
normalisation), the attribute/relation concept embeddings, and the executor that runs each
question's program block by block with per-program mask caches. PreciseRoIPooling ships only
GPU kernels, so ``torchvision.ops.roi_align`` (7x7, 1/16, aligned) stands in for it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import roi_align

from ..clevr_common.attributes import ATTRIBUTES, CONCEPT_ATTRIBUTE, CONCEPTS, RELATIONS

POOL = 7
DOWNSAMPLE = 16
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# ----------------------------------------------------------------------------------------------
# Scene graph
# ----------------------------------------------------------------------------------------------
def resnet34_layer3() -> nn.Module:
    """ResNet-34 with layer4 replaced by Identity and no pooling/classifier: output stride 16, 256 ch."""
    from torchvision.models import resnet34

    net = resnet34(weights=None)
    net.layer4 = nn.Identity()
    return nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3, net.layer4)


def _union_box(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.stack([torch.min(a[:, 0], b[:, 0]), torch.min(a[:, 1], b[:, 1]),
                        torch.max(a[:, 2], b[:, 2]), torch.max(a[:, 3], b[:, 3])], dim=-1)


def _pool_bins(box: torch.Tensor, bins: int) -> torch.Tensor:
    """The bins x bins sub-boxes of each box: [n, bins*bins, 4] (x0, y0, x1, y1)."""
    ls = torch.linspace(0, 1, bins + 1, dtype=box.dtype, device=box.device)[None]
    xs = ls * (box[:, 2] - box[:, 0])[:, None] + box[:, 0:1]
    ys = ls * (box[:, 3] - box[:, 1])[:, None] + box[:, 1:2]
    x0, x1, y0, y1 = xs[:, :-1], xs[:, 1:], ys[:, :-1], ys[:, 1:]
    n = box.shape[0]
    gy0, gx0 = y0[:, :, None].expand(n, bins, bins), x0[:, None, :].expand(n, bins, bins)
    gy1, gx1 = y1[:, :, None].expand(n, bins, bins), x1[:, None, :].expand(n, bins, bins)
    return torch.stack([gx0, gy0, gx1, gy1], dim=-1).reshape(n, bins * bins, 4)


def _intersection_map(box: torch.Tensor, region: torch.Tensor, bins: int) -> torch.Tensor:
    """Fraction of each bin of ``region`` covered by ``box``: [n, 1, bins, bins]."""
    cells = _pool_bins(region, bins)
    b = box[:, None, :].expand_as(cells)
    iw = torch.max(torch.min(b[..., 2], cells[..., 2]) - torch.max(b[..., 0], cells[..., 0]),
                   torch.zeros_like(cells[..., 0]))
    ih = torch.max(torch.min(b[..., 3], cells[..., 3]) - torch.max(b[..., 1], cells[..., 1]),
                   torch.zeros_like(cells[..., 0]))
    area = (cells[..., 2] - cells[..., 0]) * (cells[..., 3] - cells[..., 1])
    return (iw * ih / area).view(box.shape[0], 1, bins, bins)


class SceneGraph(nn.Module):
    """Object features [N, 256] and relation features [N, N, 256] from a stride-16 feature map."""

    def __init__(self, feature_dim: int = 256, out_dims: tuple[int, int] = (256, 256)):
        super().__init__()
        half = feature_dim // 2
        self.context_feature_extract = nn.Conv2d(feature_dim, feature_dim, 1)
        self.relation_feature_extract = nn.Conv2d(feature_dim, half * 3, 1)
        self.object_feature_fuse = nn.Conv2d(feature_dim * 2, out_dims[0], 1)
        self.relation_feature_fuse = nn.Conv2d(half * 3 + out_dims[0] * 2, out_dims[1], 1)
        self.object_feature_fc = nn.Sequential(nn.ReLU(True), nn.Linear(out_dims[0] * POOL * POOL, out_dims[0]))
        self.relation_feature_fc = nn.Sequential(nn.ReLU(True), nn.Linear(out_dims[1] * POOL * POOL, out_dims[1]))
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)
                nn.init.zeros_(m.bias)

    @staticmethod
    def _pool(fmap: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        return roi_align(fmap, rois, output_size=POOL, spatial_scale=1.0 / DOWNSAMPLE, sampling_ratio=2,
                         aligned=True)

    def forward(self, fmap: torch.Tensor, boxes: list[torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        context = self.context_feature_extract(fmap)
        relation = self.relation_feature_extract(fmap)
        outputs = []
        for i, box in enumerate(boxes):                     # per image, as the original loops
            n = box.shape[0]
            with torch.no_grad():
                batch_ind = i + torch.zeros(n, 1, dtype=box.dtype, device=box.device)
                h, w = fmap.shape[2] * DOWNSAMPLE, fmap.shape[3] * DOWNSAMPLE
                image_box = torch.cat([torch.zeros(n, 1, dtype=box.dtype, device=box.device),
                                       torch.zeros(n, 1, dtype=box.dtype, device=box.device),
                                       w + torch.zeros(n, 1, dtype=box.dtype, device=box.device),
                                       h + torch.zeros(n, 1, dtype=box.dtype, device=box.device)], dim=-1)
                ids = torch.arange(n, device=box.device)
                sub_id, obj_id = ids[:, None].expand(n, n).reshape(-1), ids[None, :].expand(n, n).reshape(-1)
                sub_box = box[:, None, :].expand(n, n, 4).reshape(n * n, 4)
                obj_box = box[None, :, :].expand(n, n, 4).reshape(n * n, 4)
                union_box = _union_box(sub_box, obj_box)
                rel_batch_ind = i + torch.zeros(n * n, 1, dtype=box.dtype, device=box.device)
                box_context_imap = _intersection_map(box, image_box, POOL)
                sub_union_imap = _intersection_map(sub_box, union_box, POOL)
                obj_union_imap = _intersection_map(obj_box, union_box, POOL)

            x, y = self._pool(context, torch.cat([batch_ind, image_box], dim=-1)).chunk(2, dim=1)
            objects = self.object_feature_fuse(torch.cat(
                [self._pool(fmap, torch.cat([batch_ind, box], dim=-1)), x, y * box_context_imap], dim=1))
            x, y, z = self._pool(relation, torch.cat([rel_batch_ind, union_box], dim=-1)).chunk(3, dim=1)
            relations = self.relation_feature_fuse(torch.cat(
                [objects[sub_id], objects[obj_id], x, y * sub_union_imap, z * obj_union_imap], dim=1))
            obj = _l2(self.object_feature_fc(objects.view(n, -1)))
            rel = _l2(self.relation_feature_fc(relations.view(n * n, -1)).view(n, n, -1))
            outputs.append((obj, rel))
        return outputs


def _l2(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(2, dim=-1, keepdim=True)


class FeatureExtractor(nn.Module):
    """Image (uint8 HxWx3) + boxes (input-image pixels) -> (object [N,256], relation [N,N,256])."""

    def __init__(self, image_size: int = 256):
        super().__init__()
        self.image_size = image_size
        self.resnet = resnet34_layer3()
        self.scene_graph = SceneGraph(256, (256, 256))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(3, 1, 1), persistent=False)

    def preprocess(self, image: torch.Tensor) -> tuple[torch.Tensor, float]:
        """uint8 HxWx3 -> normalised [1,3,h,w] with the shorter side at ``image_size``; returns the scale."""
        from torchvision.transforms.functional import resize

        x = image.permute(2, 0, 1).float().div(255.0)
        h, w = x.shape[-2:]
        x = resize(x, [self.image_size], antialias=True)
        x = (x - self.mean) / self.std
        return x[None], self.image_size / min(h, w)

    def forward(self, image: torch.Tensor, boxes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, scale = self.preprocess(image)
        fmap = self.resnet(x)
        return self.scene_graph(fmap, [boxes.float() * scale])[0]


# ----------------------------------------------------------------------------------------------
# Concept embeddings
# ----------------------------------------------------------------------------------------------
class ConceptTaxonomy(nn.Module):
    """Attribute operators (Linear 256->64 each) and concepts (embedding [A,64], belong [A])."""

    MARGIN, MARGIN_CROSS, TAU = 0.85, 0.5, 0.25

    def __init__(self, attributes: list[str], concepts: dict[str, str], in_dim: int = 256, dim: int = 64):
        super().__init__()
        self.attributes = sorted(attributes)
        self.attribute_index = {a: i for i, a in enumerate(self.attributes)}
        self.operators = nn.ModuleDict({a: nn.Linear(in_dim, dim) for a in self.attributes})
        self.concepts = list(concepts)
        self.concept_index = {c: i for i, c in enumerate(self.concepts)}
        self.embedding = nn.ParameterDict({c: nn.Parameter(torch.randn(len(self.attributes), dim))
                                           for c in self.concepts})
        belong = {}
        for c, a in concepts.items():                     # known belong: -100 everywhere, 100 at its attribute
            b = torch.full((len(self.attributes),), -100.0)
            b[self.attribute_index[a]] = 100.0
            belong[c] = nn.Parameter(b, requires_grad=False)
        self.belong = nn.ParameterDict(belong)

    def _embedding(self, c: str) -> torch.Tensor:
        e = self.embedding[c]
        return e / e.norm(2, dim=-1, keepdim=True)

    def similarity(self, f: torch.Tensor, c: str) -> torch.Tensor:
        """Log-odds that each object (or pair) shows concept ``c``: [N] (or [N,N])."""
        mapped = torch.stack([self.operators[a](f) for a in self.attributes], dim=-2)
        mapped = mapped / mapped.norm(2, dim=-1, keepdim=True)
        logits = ((mapped * self._embedding(c)).sum(-1) - 1 + self.MARGIN) / self.MARGIN / self.TAU
        logits = logits + F.log_softmax(self.belong[c], dim=-1)
        m = logits.max(dim=-1, keepdim=True)[0]             # logsumexp, spelled out as Jacinle does
        return (logits - m).exp().sum(-1).log() + m.squeeze(-1)

    def cross_similarity(self, f: torch.Tensor, attribute: str) -> torch.Tensor:
        """Log-odds that two objects share ``attribute``: [N, N]."""
        q = self.operators[attribute](f)
        q = q / q.norm(2, dim=-1, keepdim=True)
        n = q.shape[0]
        q1, q2 = q[:, None].expand(n, n, -1), q[None, :].expand(n, n, -1)
        return ((q1 * q2).sum(-1) - 1 + self.MARGIN_CROSS) / self.MARGIN_CROSS / self.TAU

    def query_attribute(self, f: torch.Tensor, attribute: str) -> torch.Tensor:
        """Scores of every concept for ``attribute``: [N, n_concepts] (a Python loop over concepts)."""
        a = self.attribute_index[attribute]
        q = self.operators[attribute](f)
        q = q / q.norm(2, dim=-1, keepdim=True)
        masks = []
        for c in self.concepts:
            m = ((q * self._embedding(c)[a]).sum(-1) - 1 + self.MARGIN) / self.MARGIN / self.TAU
            masks.append(m + F.log_softmax(self.belong[c], dim=-1)[a])
        return torch.stack(masks, dim=-1)


def attribute_taxonomy() -> ConceptTaxonomy:
    return ConceptTaxonomy(list(ATTRIBUTES) + ["others"], {c: CONCEPT_ATTRIBUTE[c] for c in CONCEPTS})


def relation_taxonomy() -> ConceptTaxonomy:
    return ConceptTaxonomy(["spatial_relation", "others"], {r: "spatial_relation" for r in RELATIONS})


# ----------------------------------------------------------------------------------------------
# Scene-parsing loss (the release's evaluation forward runs it for its monitors)
# ----------------------------------------------------------------------------------------------
class SceneParsingLoss(nn.Module):
    """Scene-parsing accuracies from the concept embeddings, as the release's ``SceneParsingLoss``
    computes them in every forward, evaluation included (its losses only in training).

    Per attribute: the similarity of each of its concepts over all objects ([N] each, stacked),
    checked against the object labels; the attribute's cross-similarity over all object pairs,
    checked against same/different labels. Then every relational concept over all N*N pairs.
    ``labels`` holds tensors made from the scene annotation (samples.scene_labels).
    """

    def forward(self, attribute: ConceptTaxonomy, relation: ConceptTaxonomy, obj_f: torch.Tensor,
                rel_f: torch.Tensor, labels: dict) -> dict[str, torch.Tensor]:
        monitors = {}
        for attr, concepts in ATTRIBUTES.items():
            scores = torch.stack([attribute.similarity(obj_f, c) for c in concepts], dim=-1)      # [N, k]
            single = (scores > 0).float().sum(dim=-1) == 1
            monitors[f"acc/scene/attribute/{attr}"] = (
                single * (scores.argmax(-1) == labels["attribute"][attr])).float().mean()
            cross = attribute.cross_similarity(obj_f, attr).view(-1)                               # [N*N]
            monitors[f"acc/scene/attribute-relation/{attr}"] = (
                (cross > 0).long() == labels["attribute_relation"][attr].long()).float().mean()
        pairs = rel_f.view(-1, rel_f.shape[-1])
        scores = torch.stack([relation.similarity(pairs, c) for c in RELATIONS], dim=-1)         # [N*N, 4]
        monitors["acc/scene/relation/spatial_relation"] = (
            (scores > 0).long() == labels["relation"].long()).float().mean()
        return monitors


# ----------------------------------------------------------------------------------------------
# Quasi-symbolic executor
# ----------------------------------------------------------------------------------------------
OBJECT_INPUTS = {"relate": (True,), "relate_attribute_equal": (True,), "query": (True,),
                 "query_attribute_equal": (True, True)}


def _self_mask(m: torch.Tensor) -> torch.Tensor:
    eye = torch.eye(m.shape[-1], dtype=m.dtype, device=m.device)
    return m * (1 - eye) - 10 * eye


class _ProgramContext:
    """Per-question state: the features and the lazily built, stacked mask caches."""

    def __init__(self, attr: ConceptTaxonomy, rel: ConceptTaxonomy, obj_f: torch.Tensor, rel_f: torch.Tensor,
                 program: list[dict]):
        self.attr, self.rel, self.obj_f, self.rel_f = attr, rel, obj_f, rel_f
        self.concept_groups = [b["concept"] for b in program if b["op"] == "filter"]
        self.relation_groups = [b["relational_concept"] for b in program if b["op"] == "relate"]
        self.attribute_groups = [b["attribute"] for b in program
                                 if b["op"] in ("relate_attribute_equal", "query_attribute_equal")]
        self.query_groups = [b["attribute"] for b in program if b["op"] == "query"]
        self._cache: dict[str, torch.Tensor] = {}

    def concept_masks(self) -> torch.Tensor:                                      # [G, N]
        if "concept" not in self._cache:
            self._cache["concept"] = torch.stack(
                [_conjunction(self.attr, self.obj_f, group) for group in self.concept_groups], dim=0)
        return self._cache["concept"]

    def relation_masks(self) -> torch.Tensor:                                     # [G, N, N]
        if "relation" not in self._cache:
            self._cache["relation"] = torch.stack(
                [_self_mask(_conjunction(self.rel, self.rel_f, group)) for group in self.relation_groups], dim=0)
        return self._cache["relation"]

    def attribute_masks(self) -> torch.Tensor:                                    # [G, N, N]
        if "attribute" not in self._cache:
            self._cache["attribute"] = torch.stack(
                [_self_mask(self.attr.cross_similarity(self.obj_f, a)) for a in self.attribute_groups], dim=0)
        return self._cache["attribute"]

    def query_masks(self) -> torch.Tensor:                                        # [G, N, 15]
        if "query" not in self._cache:
            self._cache["query"] = torch.stack(
                [self.attr.query_attribute(self.obj_f, a) for a in self.query_groups], dim=0)
        return self._cache["query"]


def _conjunction(embedding, features: torch.Tensor, concepts) -> torch.Tensor:
    """Soft AND of several concepts (e.g. "large red"): element-wise min of their similarities."""
    mask = None
    for c in concepts:
        new = embedding.similarity(features, c)
        mask = new if mask is None else torch.min(mask, new)
    return mask


def _unique(selected: torch.Tensor) -> torch.Tensor:
    """Inference-time ``unique``: greedy one-hot of the argmax."""
    return F.one_hot(selected.max(dim=-1)[1], selected.shape[-1]).to(selected.dtype)


def _count(selected: torch.Tensor) -> torch.Tensor:
    return (selected > 0).float().sum()


class Executor(nn.Module):
    """Runs NSCL programs on scene-graph features; one Python loop over questions, one over blocks."""

    def __init__(self):
        super().__init__()
        self.attribute = attribute_taxonomy()
        self.relation = relation_taxonomy()

    def run(self, obj_f: torch.Tensor, rel_f: torch.Tensor, program: list[dict]) -> str:
        ctx = _ProgramContext(self.attribute, self.relation, obj_f, rel_f, program)
        group = {"filter": 0, "relate": 0, "attribute": 0, "query": 0}
        buffer: list[torch.Tensor] = []
        for block in program:
            op = block["op"]
            if op == "scene":
                buffer.append(10 + torch.zeros(obj_f.shape[0], dtype=torch.float, device=obj_f.device))
                continue
            flags = OBJECT_INPUTS.get(op, ())
            inputs = [_unique(buffer[i]) if k < len(flags) and flags[k] else buffer[i]
                      for k, i in enumerate(block["inputs"])]
            if op == "filter":
                g = group["filter"]
                group["filter"] += 1
                out = torch.min(inputs[0][None], ctx.concept_masks())[g]
            elif op == "relate":
                g = group["relate"]
                group["relate"] += 1
                out = (ctx.relation_masks() * inputs[0][None, :, None]).sum(dim=-2)[g]
            elif op == "relate_attribute_equal":
                g = group["attribute"]
                group["attribute"] += 1
                out = (ctx.attribute_masks() * inputs[0][None, :, None]).sum(dim=-2)[g]
            elif op == "intersect":
                out = torch.min(inputs[0], inputs[1])
            elif op == "union":
                out = torch.max(inputs[0], inputs[1])
            elif op == "query":
                g = group["query"]
                group["query"] += 1
                scores = (ctx.query_masks() * inputs[0][None, :, None]).sum(dim=-2)[g]
                return self.attribute.concepts[int(scores.argmax(-1))]
            elif op == "query_attribute_equal":
                g = group["attribute"]
                group["attribute"] += 1
                m = (ctx.attribute_masks() * inputs[0][None, :, None]).sum(dim=-2)
                out = (m * inputs[1][None]).sum(dim=-1)[g]
            elif op == "exist":
                out = inputs[0].max(dim=-1)[0]
            elif op == "count":
                return str(int(_count(inputs[0])))
            elif op in ("count_less", "count_equal", "count_greater"):
                a, b = _count(inputs[0]), _count(inputs[1])
                cmp = {"count_less": a < b, "count_equal": a == b, "count_greater": a > b}[op]
                out = -10 + 20 * cmp.float()
            else:
                raise ValueError(f"unsupported NSCL op {op!r}")
            buffer.append(out)
        return "yes" if float(buffer[-1]) > 0 else "no"

    def forward(self, obj_f: torch.Tensor, rel_f: torch.Tensor, programs: list[list[dict]]) -> list[str]:
        return [self.run(obj_f, rel_f, program) for program in programs]
