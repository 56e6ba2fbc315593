"""Balancers checked against reference implementations: torchjd's aggregators (PCGrad, MGDA, CAGrad, and
the UPGrad and Aligned-MTL we register through it) on fixed random Jacobians, and the update rules of the
papers' code where torchjd has no counterpart (FAMO's Adam step on the logits, MGDA-UB's heads)."""

import math

import pytest
import torch
from torchjd.aggregation import MGDA, CAGrad, PCGrad

from ppg_models.balancers import Step, create_balancer
from ppg_models.balancers.base import task_gradients
from ppg_models.balancers.cagrad import cagrad_direction
from ppg_models.balancers.mgda import min_norm_weights
from ppg_models.balancers.pcgrad import project_conflicts
from ppg_models.models.inputs import INPUT_CHANNELS
from ppg_models.training.losses import task_losses

SEEDS = range(6)


def jacobian(seed: int, tasks: int = 4, params: int = 40) -> torch.Tensor:
    """Random task gradients with built-in conflicts (one pair opposed, one nearly so)."""
    g = torch.Generator().manual_seed(seed)
    J = torch.randn(tasks, params, generator=g, dtype=torch.float64)
    J[1] -= 1.5 * J[0]
    if seed % 3 == 2:
        J[3] = -J[2]  # exactly opposed: the min-norm point is 0
    return J


@pytest.mark.parametrize("seed", SEEDS)
def test_pcgrad_matches_torchjd(seed):
    torch.manual_seed(seed)  # torchjd draws its task orders from the global generator
    reference = PCGrad()(jacobian(seed))
    ours = project_conflicts(jacobian(seed), torch.Generator().manual_seed(seed))
    torch.testing.assert_close(ours, reference, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
def test_mgda_min_norm_point_matches_torchjd(seed):
    J = jacobian(seed)
    scale = float(J.norm(dim=1).max())
    reference = MGDA(epsilon=1e-12, max_iters=20_000)(J)
    if float(reference.norm()) > 0.1 * scale:
        reference = MGDA(epsilon=1e-12, max_iters=200_000)(J)  # Frank-Wolfe run to convergence
    ours = min_norm_weights(J) @ J
    assert float(ours.norm()) <= float(reference.norm()) + 1e-9 * scale  # never a longer vector
    if float(reference.norm()) > 0.1 * scale:  # where Frank-Wolfe converges, the same point
        assert float((ours - reference).norm()) <= 1e-4 * scale
    else:  # opposed gradients: the min-norm point is 0, which Frank-Wolfe only approaches
        assert float(ours.norm()) <= 1e-9 * scale


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("c", [0.2, 0.5])
def test_cagrad_direction_matches_torchjd(seed, c):
    J = jacobian(seed)
    J[3] += 0.3 * J[0]  # no exactly opposed pair: there the update is undefined (torchjd returns 0)
    reference = CAGrad(c)(J)
    direction, _ = cagrad_direction(J, c)
    # the paper's code rescales by 1 / (1 + c^2) (its default), torchjd does not: same direction
    torch.testing.assert_close(direction * (1 + c**2), reference, rtol=2e-3, atol=2e-3 * float(J.norm()))


def _model_step(small_model, tasks=("hr", "rr", "af"), seed=0):
    model = small_model()
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(8, len(INPUT_CHANNELS), 1250, generator=g)
    targets = {t: torch.full((8,), float("nan")) for t in model.tasks}
    for t in tasks:
        targets[t] = (torch.rand(8, generator=g) > 0.5).float() if t == "af" else torch.randn(8, generator=g)
    outputs, features = model.forward_with_features(x)
    losses = task_losses(outputs, targets)
    return model, Step(
        losses, model.shared_parameters(), {t: model.task_parameters(t) for t in losses}, features
    )


def _flat_grad(params):
    return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params])


@pytest.mark.parametrize(("name", "aggregator"), [("upgrad", "UPGrad"), ("aligned_mtl", "AlignedMTL")])
def test_torchjd_balancers_apply_the_library_aggregation_to_the_shared_parameters(
    name, aggregator, small_model
):
    import torchjd.aggregation as agg

    model, step = _model_step(small_model)
    J = task_gradients(step.losses, step.shared).double()
    expected = getattr(agg, aggregator)()(J) * len(step.losses)
    heads = {
        t: torch.autograd.grad(step.losses[t], step.task_params[t], retain_graph=True) for t in step.losses
    }
    weights = create_balancer(name, model.tasks).backward(step)
    torch.testing.assert_close(_flat_grad(step.shared).double(), expected, rtol=1e-4, atol=1e-7)
    for t, grads in heads.items():  # heads follow their own loss, unweighted
        for p, g in zip(step.task_params[t], grads, strict=True):
            torch.testing.assert_close(p.grad, g)
    assert weights["spo2"] == 0.0
    assert all(math.isfinite(w) for w in weights.values())


def test_mgda_ub_scales_only_the_shared_parameters(small_model):
    """Sener & Koltun, Algorithm 2: min-norm weights on the shared parameters, each head its own gradient."""
    model, step = _model_step(small_model)
    heads = {
        t: torch.autograd.grad(step.losses[t], step.task_params[t], retain_graph=True) for t in step.losses
    }
    weights = create_balancer("mgda", model.tasks).backward(step)
    for t, grads in heads.items():
        for p, g in zip(step.task_params[t], grads, strict=True):
            torch.testing.assert_close(p.grad, g)
    _, step2 = _model_step(small_model)  # the same model and batch (same seeds), a fresh graph
    expected = torch.autograd.grad(
        sum(weights[t] * step2.losses[t] for t in step2.losses), step2.shared, allow_unused=True
    )
    got = [p.grad if p.grad is not None else torch.zeros_like(p) for p in step.shared]
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e if e is not None else torch.zeros_like(g), rtol=1e-4, atol=1e-7)
    assert sum(weights.values()) == pytest.approx(len(step.losses))


def _famo_step(famo, before: dict[str, float], after: dict[str, float]) -> None:
    losses = {t: torch.tensor(v, requires_grad=True) for t, v in before.items()}
    famo.backward(Step(losses, []))
    famo.after_step(after)


def test_famo_logits_follow_the_papers_adam_update():
    """The paper's code: w.grad = J_softmax(w)^T delta, then Adam(lr, weight_decay=gamma) steps w."""
    tasks = ["hr", "rr", "af"]
    famo = create_balancer("famo", tasks, lr=0.025, decay=1e-3)
    w = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    adam = torch.optim.Adam([w], lr=0.025, weight_decay=1e-3)
    g = torch.Generator().manual_seed(3)
    for _ in range(40):
        before = torch.rand(3, generator=g, dtype=torch.float64) + 0.1
        after = before * (0.8 + 0.4 * torch.rand(3, generator=g, dtype=torch.float64))
        _famo_step(
            famo,
            dict(zip(tasks, before.tolist(), strict=True)),
            dict(zip(tasks, after.tolist(), strict=True)),
        )
        delta = torch.log(before + 1e-8) - torch.log(after + 1e-8)
        (grad,) = torch.autograd.grad(torch.softmax(w, 0), w, grad_outputs=delta)
        adam.zero_grad()
        w.grad = grad
        adam.step()
    torch.testing.assert_close(famo.logits, w.detach(), rtol=1e-5, atol=1e-7)


def test_famo_raises_the_weight_of_a_task_that_stops_improving():
    famo = create_balancer("famo", ["hr", "af"])
    for _ in range(100):
        _famo_step(famo, {"hr": 1.0, "af": 1.0}, {"hr": 0.9, "af": 1.0})  # only HR improves
    z = famo.weights_of(["hr", "af"])
    assert float(z[1]) > 0.75, f"AF's share should grow well past 0.5, got {float(z[1]):.3f}"


def test_famo_leaves_an_absent_task_untouched():
    famo = create_balancer("famo", ["hr", "rr", "af"])
    _famo_step(famo, {"hr": 1.0, "rr": 1.0, "af": 1.0}, {"hr": 0.9, "rr": 1.0, "af": 0.95})
    saved = famo.state_dict()
    for _ in range(5):  # AF unlabeled in these batches
        _famo_step(famo, {"hr": 1.0, "rr": 1.0}, {"hr": 0.9, "rr": 1.0})
    state = famo.state_dict()
    for key in ("logits", "steps"):
        assert state[key][2] == saved[key][2]
    assert torch.equal(state["moments"][:, 2], saved["moments"][:, 2])


def test_gradnorm_trains_a_model_with_several_groups(small_model):
    model = small_model(groups=[["hr", "spo2", "rr"], ["sbp", "dbp", "af"]])
    bal = create_balancer("gradnorm", model.tasks)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, len(INPUT_CHANNELS), 1250, generator=g)
    targets = {t: torch.randn(8, generator=g) for t in model.tasks}
    targets["af"] = (targets["af"] > 0).float()
    outputs, features = model.forward_with_features(x)
    losses = task_losses(outputs, targets)
    step = Step(losses, model.shared_parameters(), {t: model.task_parameters(t) for t in losses}, features)
    layers = bal._norm_layers(step)
    group_params = [{id(p) for p in b.parameters()} for b in model.backbones]
    for t, layer in layers.items():  # each task's norm is taken in its own group's backbone
        assert id(layer) in group_params[model.group_of(t)]
    weights = bal.backward(step)
    assert all(math.isfinite(w) and w > 0 for w in weights.values())
    assert all(p.grad is not None for b in model.backbones for p in b.parameters())
