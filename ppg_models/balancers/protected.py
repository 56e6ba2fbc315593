"""A protected task, usable with any balancer (``create_balancer(name, tasks, protected="af")``).

AF detection is safety-critical, so its training signal is never traded away:

- the inner balancer combines the other tasks; the protected task's own gradient on the shared
  parameters is added unaltered, and the others' combined gradient loses any component that conflicts
  with it (a PCGrad-style projection applied one way only), so no surgery or weighting can push the
  shared parameters against the protected task;
- its validation loss is kept under a ceiling by dual ascent: when the loss is above the ceiling its
  weight grows by ``penalty`` times the relative excess each epoch, and relaxes back towards 1 when under.
  The ceiling comes from a reference measured elsewhere, ``reference`` (the protected task's validation
  loss of the single-task model or of the champion on the same validation set) times ``1 + slack``;
  never from the run's own best, which a run that degrades the task from its first epoch would set
  low enough to excuse. Without a reference there is no ceiling, only the gradient protection;
- optionally (``constrain_selection``), as a constraint on model selection: an epoch whose protected
  validation loss is above the ceiling is never kept as the best model, whatever the other tasks gained.
  Off by default: on small validation sets the protected loss is noisy, and the constraint then pins
  selection to early, undertrained epochs (measured: docs/modelling.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import torch
from pydantic import Field

from ppg_models.balancers.base import Balancer, Step, set_flat_grad, task_gradients


class ProtectedTask(Balancer):
    """Wraps any balancer: the protected task's gradient is kept unaltered and its loss under a ceiling."""

    name = "protected"
    paper = (
        "Protected task: one-way gradient projection (cf. Yu et al. 2020) and a loss ceiling by dual ascent"
    )
    backward_passes = "inner + 2"

    def __init__(
        self,
        tasks: Sequence[str],
        inner: Balancer,
        protected: str,
        reference: Annotated[float, Field(gt=0)] | None = None,
        slack: Annotated[float, Field(ge=0)] = 0.05,
        penalty: float = 2.0,
        max_weight: float = 10.0,
        constrain_selection: bool = False,
    ) -> None:
        super().__init__(tasks)
        self.inner, self.protected = inner, protected
        self.reference, self.slack, self.penalty, self.max_weight = reference, slack, penalty, max_weight
        self.constrain_selection = constrain_selection
        self.weight = 1.0
        self.name = f"{inner.name}+protected"
        self.backward_passes = f"{inner.backward_passes} + 2"
        self.wants_losses_after_step = inner.wants_losses_after_step

    def after_step(self, losses_after: dict[str, float]) -> None:
        self.inner.after_step({t: v for t, v in losses_after.items() if t != self.protected})

    def parameters(self) -> list[torch.nn.Parameter]:
        return self.inner.parameters()

    def end_epoch(self) -> None:
        self.inner.end_epoch()

    def current_ceiling(self) -> float | None:
        return None if self.reference is None else self.reference * (1 + self.slack)

    def observe_validation(self, losses: dict[str, float]) -> None:
        self.inner.observe_validation({t: v for t, v in losses.items() if t != self.protected})
        value = losses.get(self.protected)
        if value is None:
            return
        ceiling = self.current_ceiling()
        if ceiling is not None and ceiling > 0:
            excess = (value - ceiling) / ceiling
            self.weight = min(self.max_weight, max(1.0, self.weight + self.penalty * excess))

    def accepts_checkpoint(self, losses: dict[str, float]) -> bool:
        """Model selection under the ceiling: an epoch that lets the protected loss exceed it is not kept."""
        value = losses.get(self.protected)
        ceiling = self.current_ceiling()
        if not self.constrain_selection or value is None or ceiling is None:
            return True
        return value <= ceiling + 1e-12

    def backward(self, step: Step) -> dict[str, float]:
        loss_p = step.losses.get(self.protected)
        if loss_p is None:  # no protected labels in this batch: the inner balancer alone
            return self.all_weights(self.inner.backward(step))
        head = step.task_params.get(self.protected, [])
        if head:
            torch.autograd.backward(self.weight * loss_p, inputs=head, retain_graph=True)
        g_p = task_gradients({self.protected: loss_p}, step.shared)[0]
        others = {t: v for t, v in step.losses.items() if t != self.protected}
        used: dict[str, float] = {}
        if others:
            used = dict(
                self.inner.backward(Step(others, step.shared, step.task_params, step.representations))
            )
            g_rest = torch.cat(
                [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in step.shared]
            )
            dot = g_rest @ g_p
            if dot < 0:
                g_rest = g_rest - dot / (g_p @ g_p).clamp_min(1e-20) * g_p
        else:
            g_rest = torch.zeros_like(g_p)
        set_flat_grad(step.shared, g_rest + self.weight * g_p)
        used = {t: w for t, w in used.items() if t in others}
        used[self.protected] = self.weight
        return self.all_weights(used)

    def state_dict(self) -> dict[str, Any]:
        return {"inner": self.inner.state_dict(), "weight": self.weight}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.inner.load_state_dict(state["inner"])
        self.weight = state["weight"]
