"""The multi-task model: one backbone per task group, heads per task, predictions in physical units.

Backbones and heads read the inputs the spec lists (the first ``len(spec.input_channels)`` prepared
channels). The ``beat_interval`` tachogram goes into the shared features too: given to the AF and RR
heads alone, AF AUROC stayed at 0.63 +- 0.09 over 3 seeds, against 0.81 with it in the backbone
(``benchmarks/results/robustness-tachogram-heads-only.md`` and ``robustness.md``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ppg_models.models.backbones import create_backbone
from ppg_models.models.heads import head_class
from ppg_models.models.inputs import ModelInputs
from ppg_models.models.spec import ModelSpec
from ppg_models.tasks import get_task


class MultiTaskModel(nn.Module):
    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.spec = spec
        self.n_inputs = len(spec.input_channels)  # the first of INPUT_CHANNELS (older bundles: fewer)
        self.backbones = nn.ModuleList()
        self.heads = nn.ModuleDict()  # key: head name + group index
        self._head_of: dict[str, tuple[str, int]] = {}  # task -> (head key, output column)
        self._group_of: dict[str, int] = {}
        for g, group in enumerate(spec.groups):
            backbone = create_backbone(spec.backbone, self.n_inputs, group, **spec.backbone_params)
            self.backbones.append(backbone)
            by_head: dict[str, list[str]] = {}
            for task in (t for t in spec.tasks if t in group):
                by_head.setdefault(get_task(task).head_name, []).append(task)
                self._group_of[task] = g
            for head_name, tasks in by_head.items():
                key = f"{head_name}_g{g}"
                head = head_class(head_name, tasks[0])
                options = {"scaling": spec.scaling(tasks[0])} if head.in_label_units else {}
                if head.reads_counted_rate:
                    options["counted_rate"] = spec.hr_counted_rate
                if head.reads_inputs:
                    options["inputs"] = tuple(spec.input_channels)
                self.heads[key] = head(backbone.out_channels, tasks, **options)
                for column, task in enumerate(tasks):
                    self._head_of[task] = (key, column)

    @property
    def tasks(self) -> list[str]:
        return self.spec.tasks

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(batch, INPUT_CHANNELS, samples) -> {task: (batch,)}: standardised values for regression,
        logits for AF."""
        return self.forward_with_features(x)[0]

    def forward_with_features(
        self, x: torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """The outputs and each task's backbone features (the shared representation MGDA-UB uses)."""
        x = x[:, : self.n_inputs]  # prepared inputs hold every channel; the model reads its own
        features: dict[str, torch.Tensor] = {}
        for backbone in self.backbones:
            features.update(backbone(x))
        out: dict[str, torch.Tensor] = {}
        cache: dict[str, torch.Tensor] = {}
        for task in self.tasks:
            key, column = self._head_of[task]
            if key not in cache:
                cache[key] = self.heads[key](features[task], x)
            out[task] = cache[key][:, column]
        return out, features

    def shared_parameters(self) -> list[nn.Parameter]:
        """Backbone parameters: what several tasks' losses pull on."""
        return [p for b in self.backbones for p in b.parameters() if p.requires_grad]

    def group_of(self, task: str) -> int:
        return self._group_of[task]

    def group_modules(self, g: int) -> dict[str, nn.Module]:
        """Group ``g``'s backbone and heads, by state-dict prefix: everything its tasks are made of."""
        modules: dict[str, nn.Module] = {f"backbones.{g}": self.backbones[g]}
        for task in self.spec.groups[g]:
            key = self._head_of[task][0]
            modules[f"heads.{key}"] = self.heads[key]
        return modules

    def group_parameters(self, g: int) -> list[nn.Parameter]:
        return [p for m in self.group_modules(g).values() for p in m.parameters() if p.requires_grad]

    def group_state(self, g: int) -> dict[str, torch.Tensor]:
        """Group ``g``'s weights and buffers (detached CPU copies, state-dict names)."""
        return {
            f"{prefix}.{name}": value.detach().cpu().clone()
            for prefix, module in self.group_modules(g).items()
            for name, value in module.state_dict().items()
        }

    def load_group_state(self, g: int, state: dict[str, torch.Tensor]) -> None:
        for prefix, module in self.group_modules(g).items():
            module.load_state_dict(
                {k.removeprefix(f"{prefix}."): v for k, v in state.items() if k.startswith(f"{prefix}.")}
            )

    def head_tasks(self) -> dict[str, list[str]]:
        """Each head's key and the tasks it predicts (SBP and DBP share one head, for instance)."""
        heads: dict[str, list[str]] = {}
        for task in self.tasks:
            heads.setdefault(self._head_of[task][0], []).append(task)
        return heads

    def task_parameters(self, task: str) -> list[nn.Parameter]:
        return [p for p in self.heads[self._head_of[task][0]].parameters() if p.requires_grad]

    def to_units(self, task: str, raw: torch.Tensor) -> torch.Tensor:
        """Standardised output -> label units; logit -> probability."""
        if get_task(task).kind == "binary":
            return torch.sigmoid(raw)
        mean, std = self.spec.scaling(task)
        return raw * std + mean

    @torch.no_grad()
    def predict(self, inputs: ModelInputs, batch_size: int = 256) -> dict[str, np.ndarray]:
        """Estimates in label units per task; NaN for windows lacking the channels (or, for SpO2, the
        physical levels) a task needs."""
        self.eval()
        device = next(self.parameters()).device
        outs: dict[str, list[np.ndarray]] = {t: [] for t in self.tasks}
        for start in range(0, len(inputs.x), batch_size):
            x = torch.from_numpy(inputs.x[start : start + batch_size]).to(device)
            raw = self(x)
            for task in self.tasks:
                outs[task].append(self.to_units(task, raw[task]).float().cpu().numpy())
        result = {}
        for task in self.tasks:
            values = np.concatenate(outs[task]) if outs[task] else np.empty(0, np.float32)
            ok = get_task(task).estimable(inputs.present, inputs.level)
            result[task] = np.where(ok, values, np.nan) if len(values) else values
        return result


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
