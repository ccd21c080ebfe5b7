"""Forward hooks that are always removed: the one way cnnviz looks inside a forward pass.

Hooks live only inside a `with` block and go away on exit, also when the forward
raises, so a model is never left with a stale hook (captum does the same).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn


@contextmanager
def eval_with_hooks(model: nn.Module, hooks: dict[nn.Module, Callable[..., None]]) -> Iterator[None]:
    """Eval mode, no gradients and the given forward hooks, all undone on exit (also on error).

    Each module's own training flag is restored, not just the root's: a model in training
    mode may hold frozen parts (batch norm in eval mode) that `model.train()` would unfreeze.
    """
    modes = [(module, module.training) for module in model.modules()]
    handles = []
    try:
        for module, hook in hooks.items():
            handles.append(module.register_forward_hook(hook))
        model.eval()
        with torch.no_grad():
            yield
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes:
            module.training = training
