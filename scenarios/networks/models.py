"""Networks with named stages, so that hooks, pruning and stitching can address layers by name.

Every model is an ``nn.Sequential`` of named stages followed by a ``head`` (the classifier). The
stitchable layers are the stages (:func:`layer_names`); a stage's output is the representation that is
compared and stitched. ``model.config`` describes the current architecture (widths change under
structured pruning, blocks disappear under block removal), and :func:`build` rebuilds it from that dict.
A removed stage (:func:`remove_stages`: a VGG stage whose convolution keeps the channels, a residual
block with an identity shortcut) is replaced by the identity (a VGG stage keeps its max-pool) and is
listed in ``config["removed"]``, so that the other stages keep their names; it is no longer a
stitchable layer.

CPU profile: ``mlp``, ``cnn`` (small VGG-style), ``resnet`` (small ResNet with basic blocks), ``vit`` (a
small vision transformer: patch embedding with a class token, pre-norm attention blocks; every stage
outputs its token stream channels first, [n, dim, tokens], so that the conventions of
``metrics.reshape_activations`` apply to tokens as to positions, and a stitch between token streams is
one linear map applied to every token, as a 1x1 convolution is to every position).
GPU profile: ``vgg11``, ``vgg19`` (Simonyan & Zisserman 2015), ``resnet18``, ``resnet101`` (He et al.
2016), with CIFAR-style stems (3x3 convolution, stride 1, no max-pooling) and a global-average-pool head.
"""
from __future__ import annotations

import math
import re
from collections import OrderedDict

import torch
from torch import nn

__all__ = ["ARCHITECTURES", "HEAD", "MLP", "mlp_named", "VGG", "RemovedStage", "ResNet", "TransformerBlock", "ViT", "build",
           "config_for", "layer_names", "prefix", "suffix", "removal_blocker", "removable_stages", "remove_stages"]

#: The name of every model's classifier stage (not a stitchable layer).
HEAD = "head"


def _conv_head(channels: int, num_classes: int) -> nn.Sequential:
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes))


class MLP(nn.Sequential):
    """Fully connected ReLU network; stages ``fc1..fcK`` (the first flattens the image)."""

    def __init__(self, in_features: int, hidden: list[int], num_classes: int):
        stages, width = OrderedDict(), in_features
        for i, out in enumerate(hidden, 1):
            flatten = [nn.Flatten()] if i == 1 else []
            stages[f"fc{i}"] = nn.Sequential(*flatten, nn.Linear(width, out), nn.ReLU())
            width = out
        stages[HEAD] = nn.Sequential(nn.Linear(width, num_classes))
        super().__init__(stages)

    @property
    def config(self) -> dict:
        linears = [m for m in self.modules() if isinstance(m, nn.Linear)]
        return {
            "arch": "mlp",
            "in_features": linears[0].in_features,
            "hidden": [m.out_features for m in linears[:-1]],
            "num_classes": linears[-1].out_features,
        }

    def channel_groups(self):
        """(producer, batch norm or None, consumer) for every hidden layer: its units can be removed."""
        linears = [m for m in self.modules() if isinstance(m, nn.Linear)]
        return [(a, None, b) for a, b in zip(linears[:-1], linears[1:])]


class RemovedStage(nn.Sequential):
    """A VGG stage removed by :func:`remove_stages`: its convolution, BatchNorm and ReLU are gone (the
    identity stands in), its max-pool, if it had one, stays, so that the stages after it see the shapes
    they were trained on."""


class VGG(nn.Sequential):
    """VGG-style network: 3x3 conv + BatchNorm + ReLU stages ``conv1..convK`` ("M" in ``cfg`` appends a
    2x2 max-pool to the stage before it), then global average pooling and a linear classifier.

    ``removed`` names stages removed by :func:`remove_stages` (a :class:`RemovedStage` each: the
    identity, then the stage's max-pool if it had one); their entries in ``cfg`` repeat the width they
    receive and pass on, and every stage keeps its name (``conv1, conv2, conv4`` are left after removing
    ``conv3``).
    """

    def __init__(self, cfg: list, in_channels: int, num_classes: int, removed: list[str] = ()):
        stages, width = OrderedDict(), in_channels
        for item in cfg:
            if item == "M":
                stages[next(reversed(stages))].append(nn.MaxPool2d(2))
                continue
            name = f"conv{len(stages) + 1}"
            if name in removed:
                if item != width:
                    raise ValueError(f"removed stage {name!r} must keep the width it receives ({width}), got {item}")
                stages[name] = RemovedStage()
                continue
            conv = nn.Conv2d(width, item, 3, padding=1, bias=False)
            stages[name] = nn.Sequential(conv, nn.BatchNorm2d(item), nn.ReLU())
            width = item
        unknown = sorted(set(removed) - set(stages))
        if unknown:
            raise ValueError(f"removed stages {unknown} are not stages of cfg {cfg}")
        stages[HEAD] = _conv_head(width, num_classes)
        super().__init__(stages)

    def _stages(self) -> list[nn.Sequential]:
        """The stages that are left (not removed), in forward order."""
        return [s for name, s in self.named_children() if name != HEAD and not isinstance(s, RemovedStage)]

    @property
    def config(self) -> dict:
        cfg, removed, width = [], [], self._stages()[0][0].in_channels
        for name, stage in self.named_children():
            if name == HEAD:
                continue
            if isinstance(stage, RemovedStage):
                removed.append(name)
            else:
                width = stage[0].out_channels
            cfg.append(width)
            cfg.extend("M" for m in stage if isinstance(m, nn.MaxPool2d))
        return {"arch": "vgg", "cfg": cfg, "in_channels": self._stages()[0][0].in_channels,
                "num_classes": self.head[-1].out_features, "removed": removed}

    def channel_groups(self):
        stages = self._stages()
        consumers = [s[0] for s in stages[1:]] + [self.head[-1]]
        return [(s[0], s[1], consumer) for s, consumer in zip(stages, consumers)]


class BasicBlock(nn.Module):
    """relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), two 3x3 convolutions (He et al. 2016)."""

    expansion = 1

    def __init__(self, in_channels: int, width: int, stride: int, inner: list[int] | None = None):
        super().__init__()
        (mid,) = inner or [width]
        self.conv1 = nn.Conv2d(in_channels, mid, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.shortcut = _shortcut(in_channels, width, stride)

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))

    @property
    def inner(self) -> list[int]:
        return [self.conv1.out_channels]

    def channel_groups(self):
        return [(self.conv1, self.bn1, self.conv2)]


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3, 1x1 expand (x4), plus shortcut (He et al. 2016, ResNet-50/101/152)."""

    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int, inner: list[int] | None = None):
        super().__init__()
        mid1, mid2 = inner or [width, width]
        out = width * self.expansion
        self.conv1 = nn.Conv2d(in_channels, mid1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid1)
        self.conv2 = nn.Conv2d(mid1, mid2, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(mid2)
        self.conv3 = nn.Conv2d(mid2, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.shortcut = _shortcut(in_channels, out, stride)

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        return torch.relu(self.bn3(self.conv3(out)) + self.shortcut(x))

    @property
    def inner(self) -> list[int]:
        return [self.conv1.out_channels, self.conv2.out_channels]

    def channel_groups(self):
        return [(self.conv1, self.bn1, self.conv2), (self.conv2, self.bn2, self.conv3)]


def _shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels))


BLOCKS = {"basic": BasicBlock, "bottleneck": Bottleneck}


class ResNet(nn.Sequential):
    """ResNet with a CIFAR-style stem (3x3 conv, stride 1); stages ``stem, block{stage}_{i}``.

    ``inner`` gives the inner widths of every block (changed by structured pruning), ``removed`` the
    names of blocks replaced by the identity (CKA-guided block removal).
    """

    def __init__(self, block: str, widths: list[int], depths: list[int], in_channels: int, num_classes: int,
                 stem: int | None = None, inner: list[list[int]] | None = None, removed: list[str] = ()):
        kind = BLOCKS[block]
        stem = stem or widths[0]
        stages = OrderedDict(stem=nn.Sequential(
            nn.Conv2d(in_channels, stem, 3, 1, 1, bias=False), nn.BatchNorm2d(stem), nn.ReLU()))
        channels, index = stem, 0
        for s, (width, depth) in enumerate(zip(widths, depths), 1):
            for i in range(1, depth + 1):
                stride = 2 if (s > 1 and i == 1) else 1
                name = f"block{s}_{i}"
                block_inner = inner[index] if inner else None
                stages[name] = nn.Identity() if name in removed else kind(channels, width, stride, block_inner)
                channels, index = width * kind.expansion, index + 1
        stages[HEAD] = _conv_head(channels, num_classes)
        super().__init__(stages)
        self._spec = {"arch": "resnet", "block": block, "widths": list(widths), "depths": list(depths),
                      "in_channels": in_channels, "num_classes": num_classes, "stem": stem}

    def blocks(self) -> list[tuple[str, nn.Module]]:
        return [(n, m) for n, m in self.named_children() if n.startswith("block")]

    @property
    def config(self) -> dict:
        full = [m.inner if not isinstance(m, nn.Identity) else [] for _, m in self.blocks()]
        removed = [n for n, m in self.blocks() if isinstance(m, nn.Identity)]
        return {**self._spec, "inner": full, "removed": removed}

    def removable_blocks(self) -> list[str]:
        """Blocks with an identity shortcut (stage transitions change the shape and are not removable)."""
        return [n for n, m in self.blocks() if not isinstance(m, nn.Identity) and isinstance(m.shortcut, nn.Identity)]

    def channel_groups(self):
        return [g for _, m in self.blocks() if not isinstance(m, nn.Identity) for g in m.channel_groups()]


class PatchEmbedding(nn.Module):
    """Non-overlapping ``patch`` x ``patch`` patches linearly embedded (a strided convolution), a learned
    class token prepended and learned position embeddings added: [n, c, h, w] -> [n, dim, 1 + patches]."""

    def __init__(self, in_channels: int, dim: int, patch: int, image_size: int):
        super().__init__()
        self.project = nn.Conv2d(in_channels, dim, patch, stride=patch)
        tokens = 1 + (image_size // patch) ** 2
        self.class_token = nn.Parameter(torch.zeros(1, dim, 1))
        self.position = nn.Parameter(0.02 * torch.randn(1, dim, tokens))

    def forward(self, x):
        patches = self.project(x).flatten(2)
        return torch.cat([self.class_token.expand(len(x), -1, -1), patches], dim=2) + self.position


class TransformerBlock(nn.Module):
    """A pre-norm transformer block on a channels-first token stream [n, dim, tokens]:
    t + attention(norm1(t)), then + mlp(norm2(.)), with ``heads`` heads of scaled dot-product attention
    (its projections plain linear layers, so that pruning sees them) and a GELU MLP of ``mlp`` units
    (Dosovitskiy et al. 2021)."""

    def __init__(self, dim: int, heads: int, mlp: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp), nn.GELU(), nn.Linear(mlp, dim))

    def forward(self, x):
        t = x.transpose(1, 2)  # [n, tokens, dim]
        n, tokens, dim = t.shape
        q, k, v = self.qkv(self.norm1(t)).reshape(n, tokens, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        attended = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(dim // self.heads), dim=-1) @ v
        t = t + self.proj(attended.transpose(1, 2).reshape(n, tokens, dim))
        t = t + self.mlp(self.norm2(t))
        return t.transpose(1, 2)


class ClassTokenHead(nn.Module):
    """LayerNorm of the class token of a channels-first token stream, then a linear classifier."""

    def __init__(self, dim: int, num_classes: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.classifier = nn.Linear(dim, num_classes)

    def forward(self, x):
        return self.classifier(self.norm(x[:, :, 0]))


class ViT(nn.Sequential):
    """A small vision transformer: stages ``embed`` (patches, class token, positions) and
    ``block1..blockK`` (pre-norm attention blocks), each a token stream [n, dim, tokens]; the head
    classifies the class token. ``removed`` names blocks replaced by the identity (a pre-norm block is
    x + f(x): the identity stands in for it)."""

    def __init__(self, dim: int, depth: int, heads: int, mlp: int, patch: int, image_size: int, in_channels: int,
                 num_classes: int, removed: list[str] = ()):
        stages = OrderedDict(embed=PatchEmbedding(in_channels, dim, patch, image_size))
        for i in range(1, depth + 1):
            name = f"block{i}"
            stages[name] = nn.Identity() if name in removed else TransformerBlock(dim, heads, mlp)
        stages[HEAD] = ClassTokenHead(dim, num_classes)
        super().__init__(stages)
        self._spec = {"arch": "vit", "dim": dim, "depth": depth, "heads": heads, "mlp": mlp, "patch": patch,
                      "image_size": image_size, "in_channels": in_channels, "num_classes": num_classes}

    @property
    def config(self) -> dict:
        return {**self._spec, "removed": [n for n, m in self.named_children() if isinstance(m, nn.Identity)]}


VGG11 = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]
VGG19 = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]

#: Architecture presets: name -> config without the data-dependent in_channels / in_features / num_classes.
ARCHITECTURES = {
    "mlp": {"arch": "mlp", "hidden": [128, 96, 64]},
    "cnn": {"arch": "vgg", "cfg": [16, "M", 32, 32, "M", 64]},
    "cnn_small": {"arch": "vgg", "cfg": [8, "M", 16, 16, "M", 32]},
    "resnet": {"arch": "resnet", "block": "basic", "widths": [8, 16], "depths": [2, 2]},
    "vit": {"arch": "vit", "dim": 32, "depth": 4, "heads": 4, "mlp": 64, "patch": 7},
    "vgg11": {"arch": "vgg", "cfg": VGG11},
    "vgg19": {"arch": "vgg", "cfg": VGG19},
    "resnet18": {"arch": "resnet", "block": "basic", "widths": [64, 128, 256, 512], "depths": [2, 2, 2, 2]},
    "resnet101": {"arch": "resnet", "block": "bottleneck", "widths": [64, 128, 256, 512], "depths": [3, 4, 23, 3]},
}


#: An MLP of given hidden widths by name: ``mlp[1024]``, ``mlp[256,128]`` (:func:`mlp_named`).
_MLP_NAME = re.compile(r"mlp\[([1-9][0-9]*(?:,[1-9][0-9]*)*)\]")


def mlp_named(hidden: list[int]) -> str:
    """The architecture name of an MLP with hidden widths ``hidden`` (``mlp[64,32]``): any width, by name,
    for experiments that sweep it (``networks.width_null``)."""
    if not hidden or any(int(width) < 1 for width in hidden):
        raise ValueError(f"an MLP needs one or more hidden widths >= 1, got {hidden}")
    return f"mlp[{','.join(str(int(width)) for width in hidden)}]"


def _preset(name: str) -> dict:
    if name in ARCHITECTURES:
        return dict(ARCHITECTURES[name])
    if match := _MLP_NAME.fullmatch(name):
        return {"arch": "mlp", "hidden": [int(width) for width in match.group(1).split(",")]}
    raise ValueError(f"unknown architecture {name!r}; choose one of {sorted(ARCHITECTURES)} or an MLP by its "
                     f"hidden widths, e.g. mlp[256,128]")


def config_for(name: str, shape: tuple[int, ...], num_classes: int) -> dict:
    """The full config of preset ``name`` (or of ``mlp[w1,...]``: :func:`mlp_named`) for images of
    ``shape`` [c, h, w] and ``num_classes`` classes."""
    preset = dict(_preset(name), num_classes=num_classes)
    if preset["arch"] == "mlp":
        return {**preset, "in_features": math.prod(shape)}
    if preset["arch"] == "vit":
        return {**preset, "in_channels": shape[0], "image_size": shape[-1]}
    return {**preset, "in_channels": shape[0]}


def build(config: dict) -> nn.Module:
    """A freshly initialized model from a config (as returned by ``model.config`` or :func:`config_for`)."""
    kwargs = {k: v for k, v in config.items() if k != "arch"}
    return {"mlp": MLP, "vgg": VGG, "resnet": ResNet, "vit": ViT}[config["arch"]](**kwargs)


def _is_removed(stage: nn.Module) -> bool:
    return isinstance(stage, (nn.Identity, RemovedStage))


def layer_names(model: nn.Sequential) -> list[str]:
    """The stitchable layers: every stage but the classifier head and the removed stages, in forward
    order."""
    return [name for name, stage in model.named_children() if name != HEAD and not _is_removed(stage)]


def removal_blocker(model: nn.Sequential, name: str) -> str | None:
    """Why stage ``name`` of ``model`` cannot be removed, or None when it can.

    A stage can go when the identity can stand in for it: a VGG stage whose convolution keeps the number
    of channels (its max-pool, if any, stays: the shapes downstream do not change), a residual block
    with an identity shortcut (a projection shortcut means the block changes the shape), or a
    transformer block (pre-norm: x + f(x)). The stem, the patch embedding, MLP layers and the head cannot
    be removed.
    """
    stages = dict(model.named_children())
    if name not in stages or name == HEAD:
        return f"it is not a stage; the stages are {[n for n in stages if n != HEAD]}"
    stage = stages[name]
    if _is_removed(stage):
        return "it is already removed"
    if isinstance(model, ViT):
        return None if isinstance(stage, TransformerBlock) else "it is the patch embedding (only blocks can be removed)"
    if isinstance(model, ResNet):
        if not hasattr(stage, "shortcut"):
            return "it is not a residual block (only blocks with an identity shortcut can be removed)"
        if not isinstance(stage.shortcut, nn.Identity):
            projection = stage.shortcut[0]
            return (f"its shortcut is a projection ({projection.in_channels} -> {projection.out_channels} channels, "
                    f"stride {projection.stride[0]}): the block changes the shape")
        return None
    if isinstance(model, VGG):
        conv = stage[0]
        if conv.in_channels != conv.out_channels:
            return (f"its convolution changes the number of channels ({conv.in_channels} -> {conv.out_channels}): "
                    f"the identity cannot stand in for it")
        return None
    return f"stages of a {type(model).__name__} cannot be removed (only VGG stages, residual and transformer blocks)"


def removable_stages(model: nn.Sequential) -> list[str]:
    """The stages of ``model`` that :func:`remove_stages` can remove, in forward order."""
    return [name for name in layer_names(model) if removal_blocker(model, name) is None]


def remove_stages(model: nn.Sequential, names) -> None:
    """Remove the stages ``names`` of ``model`` in place: a residual block becomes the identity, a VGG
    stage a :class:`RemovedStage` (the identity, then its max-pool if it had one); ``model.config`` then
    lists them under ``removed``. Every name is checked first: ValueError (naming the stage and why)
    when one cannot be removed, and nothing is changed."""
    names = list(names)
    if len(set(names)) != len(names):
        raise ValueError(f"stages to remove must be distinct, got {names}")
    for name in names:
        reason = removal_blocker(model, name)
        if reason is not None:
            raise ValueError(f"cannot remove stage {name!r} of {model.config['arch']!r}: {reason}; "
                             f"removable stages are {removable_stages(model)}")
    for name in names:
        stage = getattr(model, name)
        if isinstance(model, VGG):
            setattr(model, name, RemovedStage(*[m for m in stage if isinstance(m, nn.MaxPool2d)]))
        else:
            setattr(model, name, nn.Identity())


def _index(model: nn.Sequential, layer: str) -> int:
    names = [name for name, _ in model.named_children()]
    if layer not in names or layer == HEAD:
        raise ValueError(f"unknown layer {layer!r}; stitchable layers are {layer_names(model)}")
    return names.index(layer)


def prefix(model: nn.Sequential, layer: str) -> nn.Sequential:
    """model[:layer]: the stages up to and including ``layer`` (shares modules with ``model``)."""
    return nn.Sequential(*list(model.children())[: _index(model, layer) + 1])


def suffix(model: nn.Sequential, layer: str) -> nn.Sequential:
    """model[layer:]: the stages after ``layer``, through the head (shares modules with ``model``)."""
    return nn.Sequential(*list(model.children())[_index(model, layer) + 1:])
