"""Training variants whose difference from a plain model is known by construction: the groups of ReSi's
tests (Klabunde et al. 2025) on real networks.

A :class:`Variant` says how a model's training differs from plain training on its data set; everything
is seeded, so the variant is part of the model's cache key and is replayed exactly:

- ``label_noise`` q: a seeded q of the training images get their labels permuted among themselves
  (label randomization, Zhang et al. 2017): q = 1 keeps no relation between an image and its label, so
  the model classifies clean test images at chance;
- ``shortcut`` p: every training image carries a class mark (:func:`mark`, two bright pixels on the
  border at a class-coded place); the mark codes the image's own label in a seeded fraction p of the
  images and a uniformly drawn class in the rest. The variant leaves the test split unmarked; a model
  that learned the shortcut (p = 1) fails on unmarked images;
- ``augment`` s: Gaussian-noise augmentation, noise of standard deviation s (standardized units) added
  to every training batch afresh (``train.train``'s ``augment``).

:class:`ProbeMarks` marks the test images a shortcut test reads (its probe activations and its
functional references alike), as ReSi does: its shortcut test extracts every model's representations
on the ``ColorDot_0`` data set, in which every test image carries the colour dot of a uniformly drawn
class (``configs/vision/IN100_shortcut.yaml``: ``representation_dataset: ColorDot_0_ImageNet100DataModule``;
``vision/data/shortcuts/shortcut_transforms.py``, ``ColorDotShortcut.forward`` with
``correlation_prob = 0``; github.com/mklabunde/resi). There, a model that learned the shortcut predicts
the mark's class, one that did not predicts the digit, so models of one shortcut level agree with each
other and models of different levels do not.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from scenarios.networks.data import Dataset

__all__ = ["MARK_VALUE", "ProbeMarks", "Variant", "mark", "noisy", "partially_shuffled"]

#: The marked pixels' value in standardized units (about the brightest a digit's stroke gets).
MARK_VALUE = 4.0


@dataclass(frozen=True)
class Variant:
    """How a model's training differs from plain training (all off by default; see the module)."""

    label_noise: float = 0.0
    shortcut: float | None = None
    augment: float = 0.0
    seed: int = 0

    def __post_init__(self):
        if not 0.0 <= self.label_noise <= 1.0:
            raise ValueError(f"label_noise must be in [0, 1], got {self.label_noise}")
        if self.shortcut is not None and not 0.0 <= self.shortcut <= 1.0:
            raise ValueError(f"shortcut must be in [0, 1] or None, got {self.shortcut}")
        if not self.augment >= 0.0:
            raise ValueError(f"augment must be >= 0, got {self.augment}")

    @classmethod
    def seeded(cls, seed: int, **levels) -> "Variant":
        """The variant with ``levels`` drawn from ``seed``; plain training (seed unused) when all are off,
        so that a plain model is the same recipe as one trained without a variant."""
        variant = cls(**levels, seed=seed)
        return cls() if variant.plain else variant

    @property
    def plain(self) -> bool:
        return self == Variant(seed=self.seed)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def describe(self) -> str:
        """"" for plain training, else e.g. ``label_noise(0.5)/shortcut(1)``."""
        parts = [f"label_noise({self.label_noise:g})" if self.label_noise else "",
                 f"shortcut({self.shortcut:g})" if self.shortcut is not None else "",
                 f"augment({self.augment:g})" if self.augment else ""]
        return "/".join(p for p in parts if p)

    def training_data(self, data: Dataset) -> Dataset:
        """``data`` with the variant's training labels and images (test split untouched)."""
        generator = torch.Generator().manual_seed(self.seed)
        y_train, x_train = data.y_train, data.x_train
        if self.label_noise:
            y_train = partially_shuffled(y_train, self.label_noise, generator)
        if self.shortcut is not None:
            agree = torch.rand(len(y_train), generator=generator) < self.shortcut
            random = torch.randint(0, data.num_classes, y_train.shape, generator=generator)
            x_train = mark(x_train, torch.where(agree, y_train, random), data.num_classes)
        return dataclasses.replace(data, x_train=x_train, y_train=y_train)


@dataclass(frozen=True)
class ProbeMarks:
    """Class marks (:func:`mark`) on the test images: a seeded ``share`` of them (round(share * n)
    images, chosen by a seeded permutation) carry a mark; of those, round(agreement * marked) chosen
    ones carry their own label's mark and the rest the mark of a uniformly drawn class (which is their
    label's by chance, 1 / classes of them in expectation), as the shortcut variant draws its training
    marks. The other test images are untouched. ReSi's protocol (see the module) is the default: every
    test image marked, no agreement beyond chance."""

    share: float = 1.0
    agreement: float = 0.0
    seed: int = 0

    def __post_init__(self):
        for name in ("share", "agreement"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"probe marks: {name} must be in [0, 1], got {getattr(self, name)}")
            object.__setattr__(self, name, float(getattr(self, name)))  # 1 and 1.0: one cache key

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def describe(self) -> str:
        return f"marked({self.share:g}, agreement {self.agreement:g}, seed {self.seed})"

    def codes(self, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
        """The mark's class of each image [n] (-1: unmarked)."""
        generator = torch.Generator().manual_seed(self.seed)
        marked = torch.randperm(len(labels), generator=generator)[: round(self.share * len(labels))]
        agree = round(self.agreement * len(marked))
        random = torch.randint(0, num_classes, (len(marked) - agree,), generator=generator)
        codes = torch.full_like(labels, -1)
        codes[marked] = torch.cat([labels[marked[:agree]], random])
        return codes

    def apply(self, data: Dataset) -> Dataset:
        """``data`` with its test images marked (:meth:`codes`); the training split untouched."""
        return dataclasses.replace(data, x_test=mark(data.x_test, self.codes(data.y_test, data.num_classes),
                                                     data.num_classes))


def partially_shuffled(labels: torch.Tensor, fraction: float, generator: torch.Generator) -> torch.Tensor:
    """``labels`` with a random ``fraction`` of them (rounded) permuted among themselves."""
    chosen = torch.randperm(len(labels), generator=generator)[: round(fraction * len(labels))]
    out = labels.clone()
    out[chosen] = labels[chosen[torch.randperm(len(chosen), generator=generator)]]
    return out


def _border(height: int, width: int) -> list[tuple[int, int]]:
    """The border pixels of an image, clockwise from the top-left corner."""
    top = [(0, j) for j in range(width)]
    right = [(i, width - 1) for i in range(1, height)]
    bottom = [(height - 1, j) for j in range(width - 2, -1, -1)]
    left = [(i, 0) for i in range(height - 2, 0, -1)]
    return top + right + bottom + left


def mark(images: torch.Tensor, codes: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``images`` [n, c, h, w] with the class mark of ``codes`` [n]: class k sets two adjacent border
    pixels, starting at border position floor(k * B / num_classes) of the B border pixels, to
    :data:`MARK_VALUE` in every channel; an image whose code is no class (-1) stays unmarked. A copy;
    ``images`` is not changed."""
    border = _border(*images.shape[2:])
    if len(border) < 2 * num_classes:
        raise ValueError(f"images of {tuple(images.shape[2:])} have too few border pixels for {num_classes} marks")
    out = images.clone()
    for k in range(num_classes):
        rows = (codes == k).nonzero().flatten()
        start = k * len(border) // num_classes
        for i, j in border[start:start + 2]:
            out[rows, :, i, j] = MARK_VALUE
    return out


def noisy(images: torch.Tensor, sd: float, seed: int) -> torch.Tensor:
    """``images`` plus Gaussian noise of standard deviation ``sd``, seeded (noisy test inputs)."""
    generator = torch.Generator().manual_seed(seed)
    return images + sd * torch.randn(images.shape, generator=generator)
