"""Loss balancers: how the per-task losses of one step become gradients.

A balancer's ``backward(step)`` leaves gradients in ``.grad`` of every parameter and returns the per-task
weights it used (0.0 for tasks without labels in the batch), so training logs them without knowing which
balancer runs. Tasks absent from a batch are simply not in ``step.losses``: every balancer must cope,
leaving its state for those tasks untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from ppg_models.registry_by_name import NamedRegistry


@dataclass
class Step:
    """Everything a balancer may need for one optimisation step."""

    losses: dict[str, torch.Tensor]  # present tasks only, each a scalar with a graph
    shared: list[nn.Parameter]  # parameters several tasks pull on (backbones)
    task_params: dict[str, list[nn.Parameter]] = field(default_factory=dict)  # heads
    representations: dict[str, torch.Tensor] = field(default_factory=dict)  # task -> backbone features


class Balancer:
    name: ClassVar[str] = ""
    paper: ClassVar[str] = ""
    #: backward passes per step, "1" or in terms of T (tasks present in the batch); every balancer declares it
    backward_passes: ClassVar[str]
    #: whether the trainer must call ``after_step`` with the same batch's losses after the model's update
    wants_losses_after_step: ClassVar[bool] = False

    def __init__(self, tasks: Sequence[str]) -> None:
        self.tasks = tuple(tasks)

    def backward(self, step: Step) -> dict[str, float]:
        raise NotImplementedError

    def after_step(self, losses_after: dict[str, float]) -> None:
        """The present tasks' losses on the step's batch after the optimiser's update (only called when
        ``wants_losses_after_step``)."""

    def parameters(self) -> list[nn.Parameter]:
        """Learnable balancer parameters the trainer's optimiser must update (e.g. log variances)."""
        return []

    def end_epoch(self) -> None:
        """Called by the trainer after every epoch."""

    def observe_validation(self, losses: dict[str, float]) -> None:
        """Called by the trainer with the validation loss of every task after every epoch."""

    def accepts_checkpoint(self, losses: dict[str, float]) -> bool:
        """Whether an epoch with these validation losses may become the kept model (after observe)."""
        return True

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned (checkpoint resume)."""

    def all_weights(self, used: dict[str, float]) -> dict[str, float]:
        """Weights for every task of the balancer, 0.0 for the tasks absent from the step."""
        return {t: float(used.get(t, 0.0)) for t in self.tasks}


BALANCERS: NamedRegistry[Balancer] = NamedRegistry("balancer", fixed_args=1)  # (tasks, ...)


# ---- helpers shared by balancers -------------------------------------------------------------------


def weighted_backward(
    losses: dict[str, torch.Tensor],
    weights: dict[str, float | torch.Tensor],
    inputs: list[nn.Parameter] | None = None,
) -> None:
    """Gradients of the weighted sum of the losses: on every parameter, or only on ``inputs``."""
    total = sum(weights[t] * losses[t] for t in losses)
    if inputs is None:
        total.backward()  # type: ignore[union-attr]
    else:
        torch.autograd.backward(total, inputs=[p for p in inputs if p.requires_grad])


def task_gradients(losses: dict[str, torch.Tensor], params: list[nn.Parameter]) -> torch.Tensor:
    """(tasks, parameters) matrix of each present task's flattened gradient on ``params``."""
    rows = []
    for loss in losses.values():
        grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        rows.append(
            torch.cat(
                [
                    (g if g is not None else torch.zeros_like(p)).reshape(-1)
                    for g, p in zip(grads, params, strict=True)
                ]
            )
        )
    return torch.stack(rows)


def backward_heads_then_set_shared(step: Step, weights: dict[str, float], shared_grad: torch.Tensor) -> None:
    """Gradients for the heads from the weighted losses, and ``shared_grad`` (flat) for the backbones."""
    total = sum(weights[t] * step.losses[t] for t in step.losses)
    head_params = [p for t in step.losses for p in step.task_params.get(t, [])]
    if head_params:
        torch.autograd.backward(total, inputs=head_params)
    set_flat_grad(step.shared, shared_grad)


def set_flat_grad(params: list[nn.Parameter], flat: torch.Tensor) -> None:
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = flat[offset : offset + n].view_as(p).clone()
        offset += n


def create_balancer(name: str, tasks: Sequence[str], **params: Any) -> Balancer:
    """Build a registered balancer by name; ``protected=TASK`` wraps it to protect that task.

    An unknown name raises an error listing the known ones.
    """
    from ppg_models.balancers.protected import ProtectedTask  # the wrapper is itself a balancer

    protected = params.pop("protected", None)
    protected_params = {
        k.removeprefix("protected_"): params.pop(k) for k in list(params) if k.startswith("protected_")
    }
    cls = BALANCERS.get(name)
    params = BALANCERS.validate_params(name, params)
    if protected is None:
        return cls(tasks, **params)
    if protected not in tasks:
        raise ValueError(f"protected task {protected!r} is not among the tasks {list(tasks)}")
    inner = cls([t for t in tasks if t != protected], **params)
    return ProtectedTask(tasks, inner=inner, protected=protected, **protected_params)


def gramian_backward(step: Step, weighting: Callable[[torch.Tensor], torch.Tensor]) -> dict[str, float]:
    """Jacobian descent on the shared parameters: ``weighting`` maps the (tasks x tasks) Gramian of the
    present tasks' shared gradients to one weight per task, the shared update is the weighted sum of
    the gradients times the number of tasks (the scale of a plain sum of losses), and every head
    follows its own unweighted loss. Returns the weights used, mean 1."""
    tasks = list(step.losses)
    grads = task_gradients(step.losses, step.shared)  # (tasks, shared parameters)
    weights = weighting((grads @ grads.T).double()).to(grads) * len(tasks)
    backward_heads_then_set_shared(step, dict.fromkeys(tasks, 1.0), weights @ grads)
    return dict(zip(tasks, weights.tolist(), strict=True))
