"""What one optimizer step does for each family: regression, classification, conditional GAN.

An objective owns its loss and anything extra it trains (the discriminator); the loop owns the
data, schedule, checkpoints and logging. ``step`` returns floats for logging.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader

from tinct import color
from tinct.inference import checkpoint
from tinct.models import quantization
from tinct.models.gan import PatchDiscriminator
from tinct.models.hints import sample_true_hints
from tinct.runtime import autocast
from tinct.train import losses
from tinct.train.config import ConfigError, TrainConfig


def _unwrap(net: nn.Module) -> nn.Module:
    return net.module if hasattr(net, "module") else net


def load_teacher(name_or_path: str, device: torch.device, channels_last: bool = False
                 ) -> nn.Module:
    """The saved classifier a run keeps its colour distributions near (``loss.distill``):
    frozen, in eval mode, float32 on ``device``. ``checkpoint.ModelLoadError`` when it is not
    an automatic colour classifier."""
    if not name_or_path:
        raise ConfigError("loss.distill needs loss.distill_from: the teacher model, "
                         "e.g. --loss.distill_from=tinct-base")
    folder = checkpoint.resolve_model(name_or_path)
    teacher, _ = checkpoint.load_pretrained(folder, device)
    if (getattr(teacher, "output_kind", None) != "classification"
            or getattr(teacher, "accepts_hints", False)):
        raise checkpoint.ModelLoadError(
            f"{folder}: loss.distill_from must be an automatic colour classifier")
    teacher.requires_grad_(False)
    return teacher.to(memory_format=torch.channels_last) if channels_last else teacher


class Objective:
    """Regression objective (L1 / L2 / Huber) with an optional colorfulness term."""

    teacher: nn.Module | None = None  # loss.distill's teacher (classifiers only)
    _teacher_bins_checked = False     # its colour bins were compared with the model's

    def __init__(self, cfg: TrainConfig, model: nn.Module, device: torch.device):
        self.cfg, self.device = cfg, device
        self.scale = color.CHROMA_SCALE
        self.critic = None  # loss.semantic's frozen ImageNet classifier
        if cfg.loss.semantic:
            from tinct.train.semantic import SemanticCritic

            self.critic = SemanticCritic(cfg.loss.semantic_variant, cfg.model.space).to(device)

    @property
    def wants_clean_input(self) -> bool:
        """Whether ``step`` needs the undamaged lightness (a teacher or a critic looks at
        the true photo)."""
        return self.teacher is not None or self.critic is not None

    # -- hooks
    def prepare(self, train_set, log) -> None:
        """One-off work on the training data before step 0 (nothing for regression)."""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    # -- loss
    def loss(self, model: nn.Module, out: torch.Tensor, chroma: torch.Tensor,
             decoded: torch.Tensor | None = None) -> torch.Tensor:
        """The training loss of ``out`` against the true ``chroma``; ``decoded`` is
        ``decode(out.float())`` when the caller already has it (terms on the decoded chroma
        use it instead of decoding again)."""
        loss = losses.regression_loss(out, chroma, self.cfg.loss.kind, self.scale)
        if self.cfg.loss.colorfulness:
            pred = _unwrap(model).decode(out.float()) if decoded is None else decoded
            loss = loss + self.cfg.loss.colorfulness * losses.colorfulness_loss(pred, chroma)
        return loss

    def hints_for(self, net: nn.Module, chroma: torch.Tensor) -> torch.Tensor | None:
        """Colour hints drawn from the true ``chroma`` ``(B, 2, H, W)`` (Lab units) for a
        hint-taking model (``data.hints_*``; torch's global generator, saved with the run),
        as a hint map ``(B, 3, H, W)``; None for other models."""
        if not getattr(_unwrap(net), "accepts_hints", False):
            return None
        d = self.cfg.data
        return sample_true_hints(color.normalize_chroma(chroma, self.scale), d.hints_share,
                                 d.hints_mean, d.hints_patch)

    def step(self, net, optimizer, L, chroma, step: int, amp_dtype,
             clean_L: torch.Tensor | None = None) -> dict[str, float]:
        """One optimizer step on inputs ``L`` ``(B, 1, H, W)`` (network units, old-print
        damage applied to some) and true ``chroma`` ``(B, 2, H, W)``; ``clean_L`` is ``L``
        before the damage, what ``loss.distill``'s teacher sees (default ``L``)."""
        hints = self.hints_for(net, chroma)
        with autocast(self.device, amp_dtype):
            out = net(L) if hints is None else net(L, hints)
        # the semantic critic looks at the decoded chroma; the loss's terms on it reuse it
        decoded = _unwrap(net).decode(out.float()) if self.critic is not None else None
        loss = self.loss(net, out, chroma, decoded)
        logged = {}
        seen_L = L if clean_L is None else clean_L  # what a teacher or critic looks at
        if self.teacher is not None:
            kept = self.distillation(net, seen_L, out, amp_dtype)
            loss = loss + self.cfg.loss.distill * kept
            logged["distill"] = float(kept.detach())
        if self.critic is not None:
            seen = self.semantic(seen_L, decoded, chroma, amp_dtype)
            loss = loss + self.cfg.loss.semantic * seen
            logged["semantic"] = float(seen.detach())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self._clip(net)
        optimizer.step()
        return {"loss": float(loss.detach()), **logged}

    def distillation(self, net, L: torch.Tensor, out: torch.Tensor, amp_dtype) -> torch.Tensor:
        """KL divergence of the student's colour distributions ``out`` ``(B, Q, h, w)``
        from the teacher's on ``L``, the same photos undamaged: the teacher's best guess of
        their colours (``losses.distillation_loss``)."""
        if not self._teacher_bins_checked:  # once: the bins do not change after step 0
            student_centres = _unwrap(net).centres
            if not torch.equal(self.teacher.centres.to(student_centres), student_centres):
                raise ConfigError("loss.distill_from: the teacher's colour bins differ from "
                                 "the model's; the teacher must use the same bins")
            self._teacher_bins_checked = True
        with torch.no_grad(), autocast(self.device, amp_dtype):
            target = self.teacher(L)
        return losses.distillation_loss(out, target)

    def semantic(self, L: torch.Tensor, pred: torch.Tensor, chroma: torch.Tensor,
                 amp_dtype) -> torch.Tensor:
        """How differently ``loss.semantic``'s classifier sees the photo colorized with the
        network's decoded chroma ``pred`` ``(B, 2, h, w)`` (network units) and the true photo
        (``chroma`` ``(B, 2, H, W)``, Lab units), both on the undamaged lightness ``L``
        ``(B, 1, H, W)`` (network units), so the term judges the colour alone
        (``losses.semantic_loss``)."""
        with autocast(self.device, amp_dtype):
            with torch.no_grad():
                seen_true = self.critic(L, color.normalize_chroma(chroma, self.scale))
            seen_pred = self.critic(L, pred)
        return losses.semantic_loss(seen_pred, seen_true)

    def _clip(self, net) -> None:
        if self.cfg.optim.grad_clip:
            nn.utils.clip_grad_norm_(net.parameters(), self.cfg.optim.grad_clip)

    @torch.no_grad()
    def val_metrics(self, model, out, L, chroma) -> dict[str, float]:
        """Validation loss plus ab RMSE and mean saturation of prediction and truth (Lab units)."""
        pred = color.denormalize_chroma(model.decode(out).float(), self.scale)
        pred = F.interpolate(pred, size=chroma.shape[-2:], mode="bilinear", align_corners=False)
        err = (pred - chroma).pow(2).sum(dim=1)
        return {"loss": float(self.loss(model, out, chroma)),
                "ab_rmse": float(err.mean().sqrt()),
                "sat_pred": float(pred.norm(dim=1).mean()),
                "sat_true": float(chroma.norm(dim=1).mean())}


class ClassificationObjective(Objective):
    """Cross-entropy on soft-encoded bins, rebalanced by the colour prior of the training data.

    The cross-entropy only sees whether a pixel's probability is on the bins next to the true
    colour: every other bin costs the same, near or far. ``loss.regression`` adds a Huber term
    on the decoded chroma (the annealed mean at the model's temperature, network units), so a
    wrong colour costs more the further it is from the truth (a mixed objective).
    """

    def __init__(self, cfg, model, device):
        super().__init__(cfg, model, device)
        if cfg.loss.distill:
            self.teacher = load_teacher(cfg.loss.distill_from, device, cfg.run.channels_last)

    def prepare(self, train_set, log) -> None:
        model = self.model_ref
        n = min(self.cfg.loss.prior_images, len(train_set.paths))
        train_set.set_epoch(0, self.cfg.data.epoch_fraction)
        loader = DataLoader(torch.utils.data.Subset(train_set, range(n)), batch_size=32,
                            num_workers=self.cfg.data.workers)
        batches = [b["chroma"] for b in loader]
        if model.tinct_spec["args"].get("bins") == "kmeans":
            pixels = torch.cat([losses.resize_target(b, (16, 16)) for b in batches])
            pixels = pixels.permute(0, 2, 3, 1).reshape(-1, 2)
            palette = quantization.kmeans_palette(pixels, model.num_bins, seed=self.cfg.run.seed)
            model.centres.copy_(palette)
            log(f"k-means palette of {model.num_bins} colours from {n} photos")
        model.prior.copy_(losses.bin_prior(batches, model.centres))
        log(f"colour prior from {n} photos; entropy "
            f"{float(-(model.prior * model.prior.clamp(min=1e-12).log()).sum()):.2f} nats")

    def loss(self, model, out, chroma, decoded=None):
        m = _unwrap(model)
        weights = quantization.rebalancing_weights(m.prior, self.cfg.loss.rebalance)
        loss = losses.classification_loss(out, chroma, m.centres, weights)
        if self.cfg.loss.colorfulness or self.cfg.loss.regression:
            decoded = m.decode(out.float()) if decoded is None else decoded
            if self.cfg.loss.colorfulness:
                loss = loss + self.cfg.loss.colorfulness * losses.colorfulness_loss(decoded,
                                                                                    chroma)
            if self.cfg.loss.regression:
                loss = loss + self.cfg.loss.regression * losses.regression_loss(
                    decoded, chroma, "huber", self.scale)
        return loss


class GANObjective(Objective):
    """Conditional GAN (pix2pix): the colorizer is the generator, a PatchGAN the critic.

    Generator-only reconstruction steps (``loss.kind``) first, then adversarial + weighted
    reconstruction. Works for any regression model (``loss.adversarial``), pix2pix's U-Net
    generator being the classic one.
    """

    def __init__(self, cfg, model, device):
        super().__init__(cfg, model, device)
        self.disc = PatchDiscriminator().to(device)
        self.d_opt = torch.optim.Adam(self.disc.parameters(), lr=cfg.optim.d_lr,
                                      betas=(0.5, 0.999))
        self.d_net = self.disc
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            from torch.nn.parallel import DistributedDataParallel

            for tensor in self.disc.state_dict().values():
                torch.distributed.broadcast(tensor, 0)
            self.d_net = DistributedDataParallel(self.disc)

    def state_dict(self) -> dict:
        return {"disc": self.disc.state_dict(), "d_opt": self.d_opt.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.disc.load_state_dict(state["disc"])
        self.d_opt.load_state_dict(state["d_opt"])

    def step(self, net, optimizer, L, chroma, step, amp_dtype, clean_L=None):
        if step < self.cfg.loss.gan_pretrain_steps:
            return super().step(net, optimizer, L, chroma, step, amp_dtype)
        with autocast(self.device, amp_dtype):
            fake = net(L)
        # the critic sees lightness and chroma at the generator's output resolution (pix2pix
        # predicts at full size; the encoder-decoder families at a fraction of it)
        size = fake.shape[-2:]
        L = losses.resize_target(L, size)
        real = color.normalize_chroma(losses.resize_target(chroma, size), self.scale)
        with autocast(self.device, amp_dtype):
            d_real = self.d_net(L, real)
            d_fake = self.d_net(L, fake.detach())
        d_loss = 0.5 * (losses.gan_loss(d_real, True) + losses.gan_loss(d_fake, False))
        self.d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        self.d_opt.step()
        for p in self.disc.parameters():
            p.requires_grad_(False)
        with autocast(self.device, amp_dtype):
            g_adv = losses.gan_loss(self.disc(L, fake), True)
        recon = self.loss(net, fake, chroma)  # loss.kind, plus the colorfulness term if set
        g_loss = self.cfg.loss.gan_weight * g_adv + self.cfg.loss.l1_weight * recon
        optimizer.zero_grad(set_to_none=True)
        g_loss.backward()
        for p in self.disc.parameters():
            p.requires_grad_(True)
        self._clip(net)
        optimizer.step()
        return {"loss": float(recon.detach()), "g_adv": float(g_adv.detach()),
                "d_loss": float(d_loss.detach())}


def build_objective(cfg: TrainConfig, model: nn.Module, device: torch.device) -> Objective:
    """The objective that fits the model family and ``loss.kind``; ``ConfigError`` (a
    one-line message) for a loss the model cannot train with."""
    kind = cfg.loss.kind
    if getattr(model, "made_from_saved_models", False):
        raise ConfigError(f"{cfg.model.architecture} is made from saved models "
                          "(scripts/make_ensemble.py), not trained; train its members")
    if getattr(model, "output_kind", "regression") == "classification":
        if kind != "ce":
            raise ConfigError(f"{cfg.model.architecture} is a classifier: set loss.kind=ce "
                             f"(got {kind!r})")
        if cfg.loss.adversarial:
            raise ConfigError("loss.adversarial needs a regression model; "
                             f"{cfg.model.architecture} is a classifier")
        obj: Objective = ClassificationObjective(cfg, model, device)
    elif kind == "ce":
        raise ConfigError(f"loss.kind=ce needs a classifier model, not {cfg.model.architecture!r}")
    elif cfg.loss.distill:
        raise ConfigError("loss.distill keeps a classifier's colour distributions near a "
                         f"teacher's; {cfg.model.architecture} is a regression model")
    elif cfg.loss.regression:
        raise ConfigError("loss.regression mixes a regression term into a classifier's loss; "
                         f"{cfg.model.architecture} is a regression model already")
    elif kind not in losses.REGRESSION_LOSSES:
        raise ConfigError(f"unknown loss.kind {kind!r}; choose l1, l2, huber or ce")
    elif cfg.model.architecture == "pix2pix" or cfg.loss.adversarial:
        if cfg.loss.semantic:
            raise ConfigError("loss.semantic is not part of GAN training (pix2pix, "
                             "loss.adversarial); set loss.semantic=0")
        obj = GANObjective(cfg, model, device)
    else:
        obj = Objective(cfg, model, device)
    obj.model_ref = model
    return obj
