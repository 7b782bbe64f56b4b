"""One classifier training run, step by step: cache the frozen front, train an epoch, validate.

Training has two phases (LP-FT: Kumar et al., "Fine-Tuning can Distort
Pretrained Features", 2022). In the *head* phase only the new linear layer
learns, on the frozen backbone's pooled features of a few augmented views of
each image, computed once: many epochs cost seconds, and the head reaches its
best fit before any gradient reaches the backbone, so fine-tuning starts from
a sensible head instead of sending a random head's large gradients into
pretrained layers. In the *fine-tune* phase the strategy's backbone groups
join (see :mod:`inspector.training.classifier_optim`) at small rates.

Split from :mod:`inspector.training.train_classifier`, which reads the data,
drives the epochs, keeps the best weights and saves the package.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import albumentations as A
import numpy as np
import torch
import torch.nn.functional as F

from inspector.ml.classifier import BACKBONE_GROUPS, GROUP_NAMES, pretrained_classifier
from inspector.ml.device import inference_context
from inspector.ml.efficientnet_lite import INPUT_MEAN, INPUT_STD
from inspector.ml.preprocess import preprocess
from inspector.training import classifier_optim as optim
from inspector.training.classifier_config import TrainConfig
from inspector.training.classifier_data import (
    AugmentedImages,
    batch_loader,
    epoch_batches,
    should_balance,
)
from inspector.training.prefix_cache import (
    MAX_CACHE_BYTES,
    cache_bytes,
    compute_prefix,
    pool_cached,
)

Progress = Callable[[int, int, int, Mapping[str, Any]], None]
HEAD, FINE_TUNE = "head", "fine-tune"


def _class_weights(counts: np.ndarray, balanced: bool, config: TrainConfig) -> torch.Tensor | None:
    """Inverse of how often each class reaches the loss (uniform after balanced sampling)."""
    if config.class_weights == "none":
        return None
    delivered = np.ones(len(counts)) if balanced else counts / counts.sum()
    weights = 1.0 / delivered
    return torch.tensor(weights / weights.mean(), dtype=torch.float32)


class ClassifierTrainer:
    """One training run's state and steps: data, caches, model, optimizers, loss.

    :func:`inspector.training.train_classifier.train_classifier` drives it;
    it is a class so each step (cache, epoch, validation) stays small.

    Args:
        config: The options (already checked).
        train_images: Resized ``uint8`` training images ``(N, S, S, 3)``.
        train_labels: Their class indices.
        val_images: Resized validation images.
        val_labels: Their class indices.
        classes: Class names.
        pipeline: Augmentation of training images, ``None`` for none.
        device: Where to train.
        report: Progress function (it raises to cancel).
    """

    def __init__(
        self,
        config: TrainConfig,
        train_images: np.ndarray,
        train_labels: np.ndarray,
        val_images: np.ndarray,
        val_labels: np.ndarray,
        classes: tuple[str, ...],
        pipeline: A.Compose | None,
        device: torch.device,
        report: Progress,
    ) -> None:
        self.config, self.classes, self.device, self.report = config, classes, device, report
        self.train_images, self.train_labels = train_images, train_labels
        self.val_images, self.val_labels = val_images, val_labels
        self.pipeline = pipeline
        self.model, self.backbone_sha256 = pretrained_classifier(len(classes), config.dropout)
        self.model.to(device, memory_format=torch.channels_last)
        self.max_groups = optim.max_trainable_groups(config.strategy, config.unfreeze_groups)
        counts = np.bincount(train_labels, minlength=len(classes))
        self.balanced = should_balance(counts, config.sampler)
        weight = _class_weights(counts, self.balanced, config)
        self.class_weight = weight.tolist() if weight is not None else None
        self.criterion = optim.build_loss(config.loss, weight).to(device)
        self.head_optimizer = optim.build_optimizer(
            self.model, config.optimizer, config.head_lr, config.decay, 0
        )
        self.fine_tune_lr = config.head_lr * config.backbone_lr_factor
        self.optimizer = optim.build_optimizer(
            self.model, config.optimizer, self.fine_tune_lr, config.decay, self.max_groups
        )
        self.head_trained = config.head_epochs > 0
        cached = config.views > 0 and self.max_groups < BACKBONE_GROUPS
        self.cache_at = BACKBONE_GROUPS - self.max_groups if cached else 0
        self.train_cache: torch.Tensor | None = None
        self.val_cache: torch.Tensor | None = None
        self.train_pooled: torch.Tensor | None = None
        self.val_pooled: torch.Tensor | None = None

    def build_cache(self) -> None:
        """Compute the never-trained groups' outputs once, and the head phase's pooled inputs.

        See :mod:`inspector.training.prefix_cache`. With ``views`` 0 nothing is
        cached and every step runs from the images.
        """
        config, n, n_val = self.config, len(self.train_images), len(self.val_images)
        if config.views == 0 or (self.cache_at == 0 and not self.head_trained):
            return
        views = config.views if self.pipeline is not None else 1
        stop = self.cache_at or BACKBONE_GROUPS  # full fine-tuning: cache pooled inputs only
        size = cache_bytes(self.model, stop, config.image_size, n * views + n_val)
        if size > MAX_CACHE_BYTES:
            msg = (
                f"the cached features would take {size / 2**30:.1f} GiB: lower --views "
                f"({config.views}) or --image-size, or use --views 0"
            )
            raise ValueError(msg)
        seeds = np.random.default_rng([config.seed, 1]).integers(0, 2**31 - 1, size=(n, views))
        pooling = 0 < self.cache_at < BACKBONE_GROUPS and self.head_trained
        total = (n * views + n_val) * (2 if pooling else 1)
        done = 0

        def step(count: int, _: int) -> None:
            self.report(0, done + count, total, {"stage": "cache"})

        common = {"device": self.device, "batch_size": config.batch_size, "step": step}
        prefix = {"mean": INPUT_MEAN, "std": INPUT_STD, **common}
        train = compute_prefix(
            self.model,
            self.train_images,
            stop,
            views=views,
            seeds=seeds,
            pipeline=self.pipeline,
            **prefix,
        )
        done = n * views
        val = compute_prefix(
            self.model, self.val_images, stop, views=1, seeds=None, pipeline=None, **prefix
        )
        done += n_val
        if self.cache_at:
            self.train_cache, self.val_cache = train, val[:, 0]
        if not self.head_trained:
            return
        self.train_pooled = pool_cached(self.model, train, stop, **common)
        done += n * views if pooling else 0
        self.val_pooled = pool_cached(self.model, val, stop, **common)[:, 0]

    def _inputs(self, phase: str) -> tuple[torch.Tensor | None, torch.Tensor | None, int]:
        """Cached train and validation inputs of a phase, and the group they enter at."""
        if phase == HEAD and self.train_pooled is not None:
            return self.train_pooled, self.val_pooled, BACKBONE_GROUPS
        return self.train_cache, self.val_cache, self.cache_at

    def _batches(
        self, source: torch.Tensor | None, draw: int
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        config = self.config
        keys = epoch_batches(self.train_labels, self.balanced, config.batch_size, config.seed, draw)
        if source is None:
            dataset = AugmentedImages(self.train_images, self.train_labels, self.pipeline)
            yield from batch_loader(
                dataset, keys, config.image_size, INPUT_MEAN, INPUT_STD, config.workers, config.seed
            )
            return
        views = source.shape[1]
        for batch in keys:
            index = torch.tensor([i for i, _ in batch])
            view = torch.tensor([s % views for _, s in batch])
            labels = torch.as_tensor(self.train_labels[index.numpy()], dtype=torch.long)
            yield source[index, view].float(), labels

    def _logits(self, x: torch.Tensor, start: int) -> torch.Tensor:
        x = x.to(self.device)
        if x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.model.classify(self.model.run_groups(x, start, BACKBONE_GROUPS))

    def train_epoch(self, phase: str, epoch: int, number: int) -> dict[str, Any]:
        """One epoch of ``phase`` (its ``epoch``-th, 1-based; ``number`` overall).

        Returns:
            The epoch's train loss and accuracy, head learning rate and what learned.
        """
        config = self.config
        if phase == HEAD:
            groups, optimizer, lr = 0, self.head_optimizer, config.head_lr
            multiplier = optim.cosine_multiplier(epoch, config.head_epochs)
        else:
            groups = optim.trainable_groups(
                config.strategy, config.unfreeze_groups, epoch, self.head_trained
            )
            optimizer, lr = self.optimizer, self.fine_tune_lr
            multiplier = optim.cosine_multiplier(epoch, config.epochs)
        optim.set_trainable(self.model, groups)
        optim.set_lr_multiplier(optimizer, multiplier)
        source, _, start = self._inputs(phase)
        total = -(-len(self.train_labels) // config.batch_size)
        loss_sum, right, seen = 0.0, 0, 0
        for step, (x, y) in enumerate(self._batches(source, number), start=1):
            y = y.to(self.device)
            logits = self._logits(x, start)
            loss = self.criterion(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += float(loss.detach()) * len(y)
            right += int((logits.argmax(1) == y).sum())
            seen += len(y)
            self.report(number, step, total, {"stage": "train", "train_loss": loss_sum / seen})
        trained = GROUP_NAMES[BACKBONE_GROUPS - groups :] if groups else ()
        return {
            "phase": phase,
            "train_loss": loss_sum / seen,
            "train_accuracy": right / seen,
            "lr": lr * multiplier,
            "trained": ["head", *reversed(trained)],
        }

    def validate(self, phase: str) -> tuple[float, np.ndarray]:
        """Plain cross-entropy on the validation split, and the predicted classes."""
        self.model.eval()
        _, source, start = self._inputs(phase)
        parts = []
        with inference_context(self.device):
            for begin in range(0, len(self.val_labels), self.config.batch_size):
                end = begin + self.config.batch_size
                if source is not None:
                    x = source[begin:end].float()
                else:
                    x = preprocess(
                        self.val_images[begin:end], self.config.image_size, INPUT_MEAN, INPUT_STD
                    )
                parts.append(self._logits(x, start).float().cpu())
        logits = torch.cat(parts)
        labels = torch.as_tensor(self.val_labels, dtype=torch.long)
        return float(F.cross_entropy(logits, labels)), logits.argmax(1).numpy()

    def state(self) -> dict[str, torch.Tensor]:
        """A CPU copy of the model's weights."""
        return {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}
