"""The Adam update of W2GN's step without ``torch.optim``'s per-call overhead (fast path)."""
from __future__ import annotations

import torch
import torch.optim.optimizer as _optim_module

__all__ = ["step", "zero_grad"]


def step(opt) -> None:
    """``opt.step()``; for a fused :class:`torch.optim.Adam` in the plain configuration whose state
    exists (every step after the first), the fused kernel is called directly: the same update
    (``torch._fused_adam_`` with the same arguments ``Adam.step`` passes) without ``torch.optim``'s
    per-call Python bookkeeping (a few per cent of a small step). Anything
    else — another optimiser, hooks, a patched ``step`` (LR schedulers), AMSGrad, tensor lr,
    missing state — goes through ``opt.step()``."""
    groups = opt.param_groups
    g = groups[0]
    if (type(opt) is torch.optim.Adam and len(groups) == 1 and g.get("fused")
            and not (g["amsgrad"] or g["maximize"] or g["capturable"] or g["differentiable"]
                     or g.get("decoupled_weight_decay") or isinstance(g["lr"], torch.Tensor))
            and "step" not in opt.__dict__ and not opt._optimizer_step_pre_hooks
            and not opt._optimizer_step_post_hooks and getattr(opt, "grad_scale", None) is None
            and getattr(opt, "found_inf", None) is None and _fused_adam_kernel is not None
            and not _optim_module._global_optimizer_pre_hooks
            and not _optim_module._global_optimizer_post_hooks):
        params = [p for p in g["params"] if p.grad is not None]
        states = [opt.state.get(p) for p in params]
        if params and all(states) and len({p.device for p in params}) == 1 \
                and len({p.dtype for p in params}) == 1:
            steps = [s["step"] for s in states]
            torch._foreach_add_(steps, 1)
            beta1, beta2 = g["betas"]
            _fused_adam_kernel(params, [p.grad for p in params], [s["exp_avg"] for s in states],
                               [s["exp_avg_sq"] for s in states], [], steps, amsgrad=False, lr=g["lr"],
                               beta1=beta1, beta2=beta2, weight_decay=g["weight_decay"], eps=g["eps"],
                               maximize=False, grad_scale=None, found_inf=None)
            return
    opt.step()


_fused_adam_kernel = getattr(torch, "_fused_adam_", None)


def zero_grad(opt) -> None:
    """``opt.zero_grad(set_to_none=True)`` without its profiling wrapper."""
    for group in opt.param_groups:
        for p in group["params"]:
            p.grad = None
