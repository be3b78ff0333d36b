"""The one optimizer: every method moves its embedding here, along its force law.

Per epoch: F = force_law.direction(Y, epoch); step = momentum * step + lr * gains * F;
optionally cap each point's step length; Y += step. UMAP uses a linearly decaying
learning rate without momentum or gains; tSNE uses momentum (0.5 then 0.8) and
delta-bar-delta gains. Callbacks see (epoch, Y) and may stop the run by returning True.

Y may be a numpy array (the numba backend) or a torch tensor on any device (the torch
backend): the loop uses only the operations of ``ardr.engine.arrays``.
"""

from dataclasses import dataclass

from .arrays import namespace


@dataclass
class Schedule:
    """How the optimizer scales the force law's direction over the epochs.

    ``learning_rate`` is a number or a function of the epoch. ``decay="linear"`` scales it
    by (1 - epoch / n_epochs) as UMAP does. Momentum is ``early_momentum`` during the first
    ``early_epochs`` epochs, ``momentum`` after. ``gains`` switches on per-coordinate
    adaptive gains (+0.2 where the direction keeps its sign relative to the step, x0.8
    where it flips, floor ``min_gain``). ``max_step_norm`` caps the length of each point's
    step (openTSNE's guard against points flying off).
    """

    n_epochs: int
    learning_rate: object = 1.0
    decay: str = "constant"
    momentum: float = 0.0
    early_momentum: float = 0.0
    early_epochs: int = 0
    gains: bool = False
    min_gain: float = 0.01
    max_step_norm: float | None = None

    def rate(self, epoch):
        lr = self.learning_rate(epoch) if callable(self.learning_rate) else self.learning_rate
        if self.decay == "linear":
            lr *= 1.0 - epoch / self.n_epochs
        return lr

    def momentum_at(self, epoch):
        return self.early_momentum if epoch < self.early_epochs else self.momentum


def optimize(Y, force_law, schedule, *, callbacks=(), progress=None, first_epoch=0):
    """Move Y (float64, modified in place) along ``force_law`` for ``schedule.n_epochs`` epochs.

    ``progress`` is an object with ``update(n)`` (a tqdm bar) or None. Returns the number
    of epochs run (fewer when a callback stops early).
    """
    xp = namespace(Y)
    step = xp.zeros_like(Y)
    gains = xp.ones_like(Y) if schedule.gains else None
    epoch = first_epoch
    for epoch in range(first_epoch, schedule.n_epochs):
        F = force_law.direction(Y, epoch)
        lr = schedule.rate(epoch)
        mu = schedule.momentum_at(epoch)
        if gains is None and not mu and hasattr(xp, "plain_step"):
            # UMAP's many small steps on numpy: check, scale, cap and move in one compiled
            # pass, over the rows the law says it pushed (most rows have no force in a step)
            moved = xp.plain_step(Y, F, step, lr, schedule.max_step_norm, getattr(force_law, "moving_rows", None))
        elif gains is not None and hasattr(xp, "momentum_step"):
            moved = xp.momentum_step(Y, F, step, gains, lr, mu, schedule.min_gain, schedule.max_step_norm)
        else:
            moved = _momentum_step(xp, Y, F, step, gains, lr, mu, schedule.min_gain, schedule.max_step_norm)
        if not moved:
            raise FloatingPointError(f"the force became non-finite at epoch {epoch}")
        if progress is not None:
            progress.update(1)
        if any(cb(epoch, Y) for cb in callbacks):
            return epoch + 1 - first_epoch
    return schedule.n_epochs - first_epoch


def _momentum_step(xp, Y, F, step, gains, lr, mu, min_gain, max_step_norm):
    """step = mu * step + lr * gains * F (gains updated in place, if any), capped; Y += step.
    False, with nothing moved, when F is not finite."""
    if not xp.all_finite(F):
        return False
    if gains is not None:
        same_sign = xp.sign(F) == xp.sign(step)
        gains[...] = xp.where(same_sign, gains + 0.2, gains * 0.8)
        xp.at_least(gains, min_gain)
        F = gains * F
    if mu:
        step *= mu
        step += lr * F
    else:
        step[...] = F * lr
    if max_step_norm is not None:
        # each too long step scaled to the cap; the others multiplied by exactly 1
        norms = xp.sqrt(xp.einsum("ij,ij->i", step, step))
        step *= xp.at_most(max_step_norm / xp.at_least(norms, 1e-300), 1.0)[:, None]
    Y += step
    return True
