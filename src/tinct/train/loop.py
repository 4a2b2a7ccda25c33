"""The training loop, readable top to bottom: ``train(config, run_dir)``.

One loop serves every family; what differs is the objective (``objectives.py``). The run
folder holds the resolved config, ``metrics.csv``, TensorBoard events, picture grids,
``state.pt`` (resume state, written atomically every few minutes) and the saved models
``best/`` and ``last/``.
"""

from __future__ import annotations

import contextlib
import math
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from tinct import color
from tinct.errors import InputError
from tinct.inference import checkpoint
from tinct.models.hints import sample_true_hints
from tinct.models.registry import create_model
from tinct.runtime import cpu_description, resolve_device, resolve_precision
from tinct.train import cache as training_cache
from tinct.train import distributed as dist_utils
from tinct.train.config import TrainConfig, load_config
from tinct.train.data import (
    DATA_ENV,
    ColorizationDataset,
    apply_shares,
    check_folders,
    folder_specs,
    interleave_by_folder,
    resolve_data_root,
    scan_folders,
    split_files,
)
from tinct.train.logging import RunLogger
from tinct.train.objectives import build_objective
from tinct.train.state import Progress, TrainState, remove_stale_temp_files

CONFIG_FILE = "config.yaml"


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warmup to ``optim.lr``, then cosine decay to ``lr * min_lr_ratio``."""
    o, total = cfg.optim, cfg.run.steps
    if step < o.warmup_steps:
        return o.lr * (step + 1) / o.warmup_steps
    progress = (step - o.warmup_steps) / max(1, total - o.warmup_steps)
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return o.lr * (o.min_lr_ratio + (1 - o.min_lr_ratio) * cosine)


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig, lr: float | None = None
                   ) -> torch.optim.Optimizer:
    """The optimizer of ``model``'s trainable parameters. Parameters whose names start with a
    prefix of ``optim.lr_scale`` form groups of their own whose ``lr_scale`` multiplies the
    scheduled learning rate (see the training loop); the rest form the first group."""
    o = cfg.optim
    kinds = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
    if o.name not in kinds:
        raise InputError(f"optim.name must be adam or adamw, got {o.name!r}")
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    groups = [{"params": [], "lr_scale": 1.0}]
    for prefix, scale in o.lr_scale.items():
        if not isinstance(scale, int | float) or not 0 < scale < float("inf"):
            raise InputError(f"optim.lr_scale: {prefix!r} needs a positive number, got {scale!r}")
        matched = [p for name, p in named if name.startswith(prefix)]
        if not matched:
            raise InputError(f"optim.lr_scale: no trainable parameter starts with {prefix!r}")
        groups.append({"params": matched, "lr_scale": float(scale)})
    scaled = {id(p) for group in groups[1:] for p in group["params"]}
    groups[0]["params"] = [p for _, p in named if id(p) not in scaled]
    for group in groups:
        group["lr"] = (lr or o.lr) * group["lr_scale"]
    # the fused kernel updates every tensor in one pass (5x faster than foreach on a 2-core
    # CPU); the same maths, and its state dict is the same as the unfused one's
    fused = o.fused and all(p.device.type in ("cpu", "cuda") for _, p in named)
    return kinds[o.name]([g for g in groups if g["params"]], lr=lr or o.lr,
                         betas=tuple(o.betas), weight_decay=o.weight_decay, fused=fused)


def split_data(cfg: TrainConfig, scan_cache: Path, log=print):
    """Scans the folders and splits them: (train files, validation files, scan report, root).
    Train files carry their sampling weights (folder shares applied)."""
    root = resolve_data_root(cfg.data.root)
    folders = folder_specs(cfg.data.folders)
    report = scan_folders(folders, root=root, cache=scan_cache)
    log(f"data: {report.summary()}")
    train_files, val_files = split_files(report.files, cfg.data.val_fraction, root)
    train_files = apply_shares(train_files, report.folders, folders)
    return train_files, val_files, report, root


def scan_cache_path(cfg: TrainConfig, run_dir: Path) -> Path:
    """Where a run keeps its scan verdicts: beside its decoded pool, else in the run folder."""
    if cfg.data.cache:
        return Path(cfg.data.cache).expanduser() / training_cache.SCAN_FILE
    return Path(run_dir) / "data_scan.json"


def build_training_cache(cfg: TrainConfig, progress: bool = True, log=print,
                         split: tuple | None = None) -> Path:
    """Builds (or finds up to date) the decoded pool of ``cfg.data.cache``; returns it.
    ``split``: the result of :func:`split_data` when the caller has it (no second scan)."""
    if not cfg.data.cache:
        raise InputError("data.cache is not set: give the cache folder, e.g. "
                         "--data.cache=~/tinct-cache/pool-160")
    cache_dir = Path(cfg.data.cache).expanduser()
    cache_dir.mkdir(parents=True, exist_ok=True)
    train_files, _, _, root = split or split_data(cfg, cache_dir / training_cache.SCAN_FILE, log)
    training_cache.build_cache(cache_dir, train_files, root, cfg.data.cache_side,
                               cfg.data.folders, workers=max(2, cfg.data.workers),
                               progress=progress)
    log(f"training cache: {len(train_files)} photos at {cfg.data.cache_side} px in {cache_dir}")
    return cache_dir


def freeze_parameters(model: torch.nn.Module, prefixes: list[str]) -> int:
    """Stops training the parameters whose names start with one of ``prefixes``; returns how
    many tensors were frozen. A prefix that matches nothing is an error (a typo would
    otherwise silently train everything)."""
    count = 0
    for prefix in prefixes:
        matched = [p for name, p in model.named_parameters() if name.startswith(prefix)]
        if not matched:
            raise InputError(f"optim.freeze: no parameter of the model starts with {prefix!r}")
        for p in matched:
            p.requires_grad_(False)
        count += len(matched)
    return count


def prepare_data(cfg: TrainConfig, run_dir: Path, log) -> tuple[ColorizationDataset,
                                                                 ColorizationDataset, dict]:
    """Scans the folders, splits train/validation, builds the two datasets (the training
    set reads the decoded pool when ``data.cache`` is set)."""
    pixels = None
    if cfg.data.cache:
        Path(cfg.data.cache).expanduser().mkdir(parents=True, exist_ok=True)
    split = split_data(cfg, scan_cache_path(cfg, run_dir), log)
    train_files, val_files, report, root = split
    if cfg.data.cache:
        cache_dir = build_training_cache(cfg, progress=False, log=log, split=split)
        pixels = training_cache.open_cache(cache_dir, train_files, root)
    if not val_files:
        val_files = train_files[-1:]
    # the validation photos of every folder in turn, not the first val_max of the largest
    val_files = interleave_by_folder(val_files, report.folders, cfg.data.val_max)
    space = cfg.model.space
    train_set = ColorizationDataset(train_files, cfg.data.size, space, augment=True,
                                    seed=cfg.run.seed, crop_scale=tuple(cfg.data.crop_scale),
                                    pixels=pixels, degrade=cfg.data.degrade)
    val_set = ColorizationDataset(val_files, cfg.data.size, space, augment=False)
    # the data root by name only: a saved model's config never records this machine's paths
    info = {"root": Path(cfg.data.root).name if cfg.data.root else f"${DATA_ENV}",
            "folders": cfg.data.folders,
            "train_images": len(train_files), "val_images": len(val_files),
            "skipped_gray": len(report.gray), "skipped_unreadable": len(report.unreadable)}
    return train_set, val_set, info


@dataclass
class TrainResult:
    """Where the run's models are, how far it got, and the trained module (this rank's)."""

    run_dir: Path
    best: Path
    last: Path
    step: int
    model: torch.nn.Module


def train(cfg: TrainConfig, run_dir: Path, resume: bool = False,
          progress: bool = True) -> TrainResult:
    """Trains (or resumes) the run in ``run_dir``: set up, then steps until ``run.steps``,
    validating every ``run.eval_every`` steps and checkpointing every few minutes."""
    run_dir = Path(run_dir)
    # fail before anything is written into the run folder, and before the (long) data scan
    check_folders(folder_specs(cfg.data.folders), resolve_data_root(cfg.data.root))
    if cfg.model.init_from and not resume:
        checkpoint.resolve_model(cfg.model.init_from)
    device = resolve_device(cfg.run.device)
    dist = dist_utils.setup(device.type)
    if dist.enabled and device.type == "cuda":
        device = torch.device("cuda", dist.local_rank)
    amp_dtype = resolve_precision(cfg.run.precision, device)
    run_dir.mkdir(parents=True, exist_ok=True)
    if dist.is_main:
        remove_stale_temp_files(run_dir)  # left by a trainer killed while checkpointing
    logger = RunLogger(run_dir, enabled=dist.is_main, resume=resume)
    if dist.is_main:  # the resolved config, overrides included
        import yaml

        (run_dir / CONFIG_FILE).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    torch.manual_seed(cfg.run.seed)

    train_set, val_set, data_info = prepare_data(cfg, run_dir, logger.note)
    state = build_state(cfg, device, logger.note)
    if resume:
        state.restore(run_dir)
        p = state.progress
        logger.rewind(p.step)
        logger.note(f"resumed at step {p.step} (epoch {p.epoch}, {p.position} samples into it)")
    elif cfg.model.init_from:  # warm start: weights, prior and palette come from the model
        source = init_weights(state.model, cfg.model.init_from, logger.note)
        logger.note(f"initialised from {source}")
    elif dist.is_main:
        state.objective.prepare(train_set, logger.note)  # e.g. colour prior / palette
    if dist.enabled:  # every rank starts from rank 0's weights and buffers
        for tensor in list(state.model.state_dict().values()):
            torch.distributed.broadcast(tensor, 0)
    net = DistributedDataParallel(state.model) if dist.enabled else state.model
    if cfg.run.compile:  # the same parameters; only the step runs compiled
        net = torch.compile(net)

    run = _Run(cfg, run_dir, state, logger, dist, device, amp_dtype, val_set, data_info)
    stop = _StopFlag()
    p = state.progress
    bar = tqdm(total=cfg.run.steps, initial=p.step, disable=not (progress and dist.is_main),
               unit="step", dynamic_ncols=True)
    images_per_step = cfg.run.batch_size * dist.world_size
    while p.step < cfg.run.steps and not stop.requested:
        t0 = time.monotonic()
        for batch in _epoch_batches(train_set, cfg, p, dist, device):
            for group in state.optimizer.param_groups:
                group["lr"] = lr_at(p.step, cfg) * group.get("lr_scale", 1.0)
            L = batch["L"].to(device, non_blocking=True)
            chroma = batch["chroma"].to(device, non_blocking=True)
            clean_L = None
            if state.objective.wants_clean_input and "L_clean" in batch:
                clean_L = batch["L_clean"].to(device, non_blocking=True)
            if cfg.run.channels_last:
                L = L.contiguous(memory_format=torch.channels_last)
                if clean_L is not None:
                    clean_L = clean_L.contiguous(memory_format=torch.channels_last)
            losses = state.objective.step(net, state.optimizer, L, chroma, p.step, amp_dtype,
                                          clean_L=clean_L)
            if state.ema is not None:
                state.ema.update_parameters(state.model)
            p.step += 1
            p.position += images_per_step
            now = time.monotonic()
            p.wall_time_s += now - t0
            speed = images_per_step / max(now - t0, 1e-9)
            t0 = now
            bar.update(1)
            bar.set_postfix(loss=f"{losses['loss']:.4f}", img_s=f"{speed:.1f}")
            finished = p.step >= cfg.run.steps
            if p.step % cfg.run.log_every == 0 or finished:
                logger.log(p.step, p.epoch, "train", {**losses, "lr": lr_at(p.step - 1, cfg),
                                                      "images_per_s": speed})
            if (p.step % cfg.run.eval_every == 0 or finished) and run.validate():
                stop.requested = True  # early stop
            run.checkpoint(force=finished or stop.requested)
            if finished or stop.requested:
                break
        else:
            p.epoch, p.position = p.epoch + 1, 0
    bar.close()
    run.finish("stopped" if stop.requested else "finished")
    stop.restore()
    dist_utils.teardown()
    return TrainResult(run_dir, run_dir / "best", run_dir / "last", p.step, state.eval_model)


def build_state(cfg: TrainConfig, device: torch.device, log=print) -> TrainState:
    """The model of ``cfg.model`` with its objective, optimizer (frozen parameters left out)
    and EMA, at step 0."""
    model = create_model(cfg.model.architecture, **cfg.model.args).to(device)
    if cfg.run.channels_last:
        model = model.to(memory_format=torch.channels_last)
    objective = build_objective(cfg, model, device)
    frozen = freeze_parameters(model, cfg.optim.freeze)
    if frozen:
        log(f"frozen: {frozen} parameter tensors ({', '.join(cfg.optim.freeze)})")
    optimizer = make_optimizer(model, cfg)
    return TrainState(model, optimizer, objective, _make_ema(model, cfg.optim.ema))


def _epoch_batches(train_set: ColorizationDataset, cfg: TrainConfig, p: Progress, dist,
                   device: torch.device):
    """The batches left in epoch ``p.epoch`` for this rank, from ``p.position`` on."""
    images_per_step = cfg.run.batch_size * dist.world_size
    train_set.set_epoch(p.epoch, cfg.data.epoch_fraction)
    if len(train_set) < images_per_step:  # drop_last would make every epoch empty
        raise InputError(f"an epoch has {len(train_set)} samples, fewer than one step's "
                         f"{images_per_step}: raise data.epoch_fraction or lower "
                         f"run.batch_size")
    loader = DataLoader(
        train_set, batch_size=cfg.run.batch_size, drop_last=True,
        sampler=dist_utils.ShardSampler(len(train_set), dist.rank, dist.world_size,
                                        p.position // dist.world_size),
        num_workers=cfg.data.workers, persistent_workers=False,
        pin_memory=device.type == "cuda", worker_init_fn=_ignore_stop_signals,
        generator=torch.Generator().manual_seed(cfg.run.seed + p.epoch))  # global RNG untouched
    with _stop_signals_blocked():  # workers start with them blocked (see the helper)
        return iter(loader)


@dataclass
class _Run:
    """What the loop's periodic work needs: validation, checkpoints and the final models."""

    cfg: TrainConfig
    run_dir: Path
    state: TrainState
    logger: RunLogger
    dist: Any
    device: torch.device
    amp_dtype: torch.dtype | None
    val_set: ColorizationDataset
    data_info: dict
    last_checkpoint: float = field(default_factory=time.monotonic)

    def summary(self, val: dict) -> dict:
        p = self.state.progress
        return _summary(self.cfg, self.data_info, p.step, p.wall_time_s, val, self.dist,
                        self.device, self.run_dir)

    def validate(self) -> bool:
        """Validates the eval model, logs it and its picture grid, saves ``best/`` when the
        loss improved; returns True when early stopping is due."""
        state, p = self.state, self.state.progress
        dist_utils.broadcast_buffers(state.model, self.dist)
        val = evaluate_val(state.eval_model, state.objective, self.val_set, self.cfg,
                           self.device, self.amp_dtype)
        if self.dist.is_main:
            self.logger.log(p.step, p.epoch, "val", val)
            self.logger.grid(p.step, state.eval_model, self.val_set, self.cfg, self.device)
            if val["loss"] < p.best_val:
                p.best_val, p.bad_evals = val["loss"], 0
                _save_model(state.eval_model, self.cfg, self.run_dir / "best", self.summary(val))
            else:
                p.bad_evals += 1
        patience = self.cfg.run.early_stop_patience
        if patience and p.bad_evals >= patience:
            self.logger.note(f"early stop: no improvement in {patience} validations")
            return True
        return False

    def checkpoint(self, force: bool = False) -> None:
        """Writes the resume state every ``run.checkpoint_every`` steps, after
        ``run.checkpoint_minutes`` minutes, or when ``force``."""
        step = self.state.progress.step
        due = (force or step % self.cfg.run.checkpoint_every == 0
               or time.monotonic() - self.last_checkpoint > 60 * self.cfg.run.checkpoint_minutes)
        if not due:
            return
        if self.dist.is_main:
            self.state.save(self.run_dir, self.dist.world_size)
        dist_utils.barrier(self.dist)
        self.last_checkpoint = time.monotonic()

    def finish(self, how: str) -> None:
        """Saves ``last/`` (and ``best/`` if no validation saved one) and closes the logs."""
        dist_utils.broadcast_buffers(self.state.model, self.dist)
        if self.dist.is_main:
            summary = self.summary(self.logger.last_val or {})
            _save_model(self.state.eval_model, self.cfg, self.run_dir / "last", summary)
            if not (self.run_dir / "best").exists():
                _save_model(self.state.eval_model, self.cfg, self.run_dir / "best", summary)
            self.logger.finish()
            self.logger.note(f"{how} at step {self.state.progress.step}; models in "
                             f"{self.run_dir / 'best'} and {self.run_dir / 'last'}")
        dist_utils.barrier(self.dist)


def init_weights(model: torch.nn.Module, name_or_path: str, log=print) -> Path:
    """Copies a saved model's weights (buffers included) into ``model``; returns its folder.

    The saved model must have the same architecture and arguments (``pretrained`` aside);
    otherwise ``checkpoint.ModelLoadError`` names the model and what differs.
    """
    folder = checkpoint.resolve_model(name_or_path)
    source, config = checkpoint.load_pretrained(folder)
    own_spec = getattr(model, "tinct_spec", {})
    if own_spec.get("architecture", config.architecture) != config.architecture:
        raise checkpoint.ModelLoadError(
            f"{folder}: architecture {config.architecture!r} cannot start a "
            f"{own_spec['architecture']!r} run")
    # a hint-taking run may start from an automatic model: its hint weights stay at zero
    new_hint_inputs = getattr(model, "accepts_hints", False) and not source.accepts_hints
    try:
        result = model.load_state_dict(source.state_dict(), strict=not new_hint_inputs)
    except RuntimeError as exc:
        raise checkpoint.ModelLoadError(
            f"{folder}: weights do not fit this run's model ({str(exc).splitlines()[0]})") from None
    if new_hint_inputs:
        unexpected = list(result.unexpected_keys) + [
            k for k in result.missing_keys if not k.startswith("hint_")]
        if unexpected:
            raise checkpoint.ModelLoadError(
                f"{folder}: weights do not fit this run's model (differ in {unexpected[:3]})")
        log(f"{folder}: an automatic model; the hint inputs start at zero, so the run starts "
            "from exactly its colours")
    repaired = _repair_nonfinite_norm_stats(model)
    if repaired:
        log(f"{folder}: non-finite BatchNorm statistics repaired (float16 overflow; "
            f"re-estimated by training): {', '.join(repaired)}")
    return folder


def _repair_nonfinite_norm_stats(model: torch.nn.Module) -> list[str]:
    """Repairs BatchNorm running statistics that are not finite. Float16 files written before
    tinct kept large variances in float32 hold ``inf`` where a variance exceeded 65504;
    training would keep ``inf`` forever (and an EMA of it is NaN). Such variances become 65504,
    the nearest value the file could hold (training then re-estimates them); a non-finite mean
    becomes 0. Returns the names of the repaired layers."""
    repaired = []
    for name, module in model.named_modules():
        if not (isinstance(module, torch.nn.modules.batchnorm._BatchNorm)
                and module.track_running_stats):
            continue
        var, mean = module.running_var, module.running_mean
        if torch.isfinite(var).all() and torch.isfinite(mean).all():
            continue
        with torch.no_grad():
            var.copy_(torch.nan_to_num(var, nan=torch.finfo(torch.float16).max,
                                       posinf=torch.finfo(torch.float16).max, neginf=1.0))
            mean.copy_(torch.nan_to_num(mean, nan=0.0, posinf=0.0, neginf=0.0))
        repaired.append(name)
    return repaired


@torch.no_grad()
def evaluate_val(model, objective, val_set, cfg, device, amp_dtype) -> dict[str, float]:
    """Validation loss and chroma metrics over the validation photos (all ranks agree)."""
    from tinct.runtime import autocast

    was_training = model.training
    model.eval()
    val_set.set_epoch(0)
    loader = DataLoader(val_set, batch_size=cfg.run.batch_size, num_workers=0)
    totals: dict[str, float] = {}
    count = 0
    # hint-taking models are also scored with hints from the true colours (the same hints at
    # every validation: a generator of its own, seeded)
    hinted = getattr(model, "accepts_hints", False)
    generator = torch.Generator().manual_seed(cfg.run.seed)
    for batch in loader:
        L, chroma = batch["L"].to(device), batch["chroma"].to(device)
        with autocast(device, amp_dtype):
            out = model(L)
        metrics = objective.val_metrics(model, out, L, chroma)
        if hinted:
            hints = sample_true_hints(color.normalize_chroma(chroma), 1.0, cfg.data.hints_mean,
                                      cfg.data.hints_patch, generator)
            with autocast(device, amp_dtype):
                out = model(L, hints)
            metrics["ab_rmse_hinted"] = objective.val_metrics(model, out, L, chroma)["ab_rmse"]
        for k, v in metrics.items():
            totals[k] = totals.get(k, 0.0) + v * len(L)
        count += len(L)
    model.train(was_training)
    return {k: v / max(count, 1) for k, v in totals.items()}


def _make_ema(model, decay: float):
    if not decay:
        return None
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def _summary(cfg, data_info, step, wall, val, dist, device, run_dir) -> dict:
    return {
        # the run folder relative to the saved model (RUN_DIR/best, RUN_DIR/last): reports
        # find its loss curves wherever the run is moved, and no machine path is recorded
        "run_dir": "..", "run_name": run_dir.name, "steps": step,
        "images_seen": step * cfg.run.batch_size * dist.world_size,
        "batch_size": cfg.run.batch_size, "world_size": dist.world_size,
        "crop_size": cfg.data.size, "loss": vars(cfg.loss), "optim": vars(cfg.optim),
        "data": data_info, "wall_time_s": round(wall, 1),
        "init_from": cfg.model.init_from or None,
        "precision": {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[
            resolve_precision(cfg.run.precision, device)],
        "hardware": {"device": str(device), "cpu": cpu_description(),
                     "cpu_threads": torch.get_num_threads(),
                     "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
                     "torch": torch.__version__},
        "validation": val,
    }


def _save_model(model, cfg: TrainConfig, folder: Path, summary: dict) -> None:
    checkpoint.save_pretrained(model, folder, space=cfg.model.space,
                               working_size=cfg.model.working_size,
                               name=cfg.run.name or folder.parent.name, training=summary,
                               metrics={"validation": summary.get("validation", {})})


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def _stop_signals_blocked():
    """Blocks SIGINT/SIGTERM in this thread while DataLoader workers are forked: a worker
    inherits the blocked mask, so a signal to the process group that arrives before the
    worker has set them to ignored (``_ignore_stop_signals``) waits there and is then
    dropped, instead of killing the worker. Here, a blocked signal is delivered on exit."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _ignore_stop_signals(worker_id: int) -> None:
    """DataLoader workers leave SIGINT/SIGTERM to the main process, which checkpoints and
    shuts them down; a signal sent to the whole process group (Ctrl-C, ``kill -- -PGID``, a
    cluster scheduler's preemption) then stops the run cleanly instead of killing a worker."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


class _StopFlag:
    """Ctrl-C (SIGINT) and SIGTERM set a flag; the loop checkpoints and exits cleanly."""

    def __init__(self):
        self.requested = False
        self._old = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # ValueError: not in the main thread
                self._old[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame):
        if self.requested:  # second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.requested = True
        tqdm.write("tinct train: stopping after this step (checkpoint will be saved); "
                   "press Ctrl-C again to abort")

    def restore(self):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def run_from_cli(config_path: str | None, overrides: list[str], run_dir: str | None,
                 resume: str | None, progress: bool = True) -> TrainResult:
    """Entry point of ``tinct train``: fresh run from a config, or ``--resume RUN_DIR``."""
    if resume:
        rd = Path(resume)
        if not (rd / CONFIG_FILE).is_file():
            raise FileNotFoundError(f"{rd}: not a tinct run folder (no {CONFIG_FILE})")
        cfg = load_config(rd / CONFIG_FILE, overrides)
        return train(cfg, rd, resume=(rd / "state.pt").is_file(), progress=progress)
    cfg = load_config(config_path, overrides)
    if run_dir is None:
        stem = Path(config_path).stem if config_path else cfg.model.architecture
        run_dir = str(Path("runs") / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}")
    return train(cfg, Path(run_dir), progress=progress)
