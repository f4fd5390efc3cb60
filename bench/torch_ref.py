# bench/torch_ref.py: the cases of bench/run.lua in PyTorch (float64): the RNN as the same
# step loop as bench/numpy_ref.py without autograd; the LSTM and GRU as torch.nn.LSTM,
# nn.GRU (forward, then backward by autograd) and nn.LSTMCell, nn.GRUCell (a step, no
# autograd), which is how PyTorch users run them. Prints "case median lo hi".
import os
import sys

import torch

from numpy_ref import blas_core, function_domains, timeit

torch.set_num_threads(int(os.environ.get("OPENBLAS_NUM_THREADS", "1")))
torch.set_default_dtype(torch.float64)


def rnn_case(N, T, D, H):
    torch.manual_seed(0)
    W_ih, W_hh, b = torch.randn(D, H) * 0.01, torch.randn(H, H) * 0.01, torch.rand(H)
    x, h0, dout = torch.randn(N, T, D), torch.randn(N, H), torch.randn(N, T, H)

    def run():
        h = torch.empty(N, T, H)
        prev = h0
        for t in range(T):
            prev = torch.tanh(x[:, t, :] @ W_ih + prev @ W_hh + b)
            h[:, t, :] = prev
        dx = torch.empty_like(x)
        dW_ih, dW_hh, db = torch.zeros_like(W_ih), torch.zeros_like(W_hh), torch.zeros_like(b)
        dnext = torch.zeros(N, H)
        for t in reversed(range(T)):
            p = h0 if t == 0 else h[:, t - 1, :]
            da = (dout[:, t, :] + dnext) * (1 - h[:, t, :] ** 2)
            dx[:, t, :] = da @ W_ih.T
            dW_ih += x[:, t, :].T @ da
            dW_hh += p.T @ da
            db += da.sum(0)
            dnext = da @ W_hh.T
    return run


def gated_case(Module, N, T, D, H, layers=1):
    torch.manual_seed(0)
    m = Module(D, H, num_layers=layers, batch_first=True)
    x, dout = torch.randn(N, T, D, requires_grad=True), torch.randn(N, T, H)
    h0 = torch.randn(layers, N, H)
    state = (h0, torch.zeros(layers, N, H)) if Module is torch.nn.LSTM else h0

    def run():
        for p in m.parameters():
            p.grad = None
        x.grad = None
        out, _ = m(x, state)
        out.backward(dout)
    return run


def cell_case(Cell):
    m = Cell(10, 4)
    x, h, c = torch.rand(3, 10), torch.rand(3, 4), torch.rand(3, 4)
    state = (h, c) if Cell is torch.nn.LSTMCell else h

    def run():
        with torch.no_grad():
            return m(x, state)
    return run


def step_case():
    W_ih, W_hh, b = torch.rand(10, 4), torch.rand(4, 4), torch.rand(4)
    x, h = torch.rand(3, 10), torch.rand(3, 4)
    return lambda: torch.tanh(x @ W_ih + h @ W_hh + b)


def optim_case(Optimizer, **options):
    """one opt.step() on a parameter of 1e6 elements (its gradient fixed), as bench/run.lua's"""
    torch.manual_seed(0)
    p = torch.randn(10**6, requires_grad=True)
    p.grad = torch.randn(10**6)
    opt = Optimizer([p], **options)
    return opt.step


def add_case(e):
    """a + b on 10**e elements, as bench/run.lua's add_case"""
    return ("add_1e%d" % e, lambda: (lambda a, b: (lambda: a + b))(torch.randn(10**e), torch.randn(10**e)))


CASES = [
    ("rnn_step_N3_D10_H4", step_case),
    ("rnn_fwd_bwd_N2_T5_D10_H5", lambda: rnn_case(2, 5, 10, 5)),
    ("rnn_fwd_bwd_N64_T50_D256_H512", lambda: rnn_case(64, 50, 256, 512)),
    ("lstm_step_N3_D10_H4", lambda: cell_case(torch.nn.LSTMCell)),
    ("gru_step_N3_D10_H4", lambda: cell_case(torch.nn.GRUCell)),
    ("lstm_fwd_bwd_N64_T50_D256_H512", lambda: gated_case(torch.nn.LSTM, 64, 50, 256, 512)),
    ("gru_fwd_bwd_N64_T50_D256_H512", lambda: gated_case(torch.nn.GRU, 64, 50, 256, 512)),
    ("charrnn_lstm2_N50_T50_D64_H128", lambda: gated_case(torch.nn.LSTM, 50, 50, 64, 128, 2)),
    ("dgemm_3200x512x512", lambda: (lambda a, b: (lambda: a @ b))(torch.randn(3200, 512), torch.randn(512, 512))),
    ("matmul_512", lambda: (lambda a, b: (lambda: a @ b))(torch.randn(512, 512), torch.randn(512, 512))),
    *[add_case(e) for e in (3, 4, 5, 6)],
    ("mul_scalar_1e6", lambda: (lambda a: (lambda: a * 2.5))(torch.randn(10**6))),
    ("tanh_1e6", lambda: (lambda a: (lambda: torch.tanh(a)))(torch.randn(10**6))),
    ("sum_1e6", lambda: (lambda a: (lambda: a.sum()))(torch.randn(10**6))),
    ("prod_1e6", lambda: (lambda a: (lambda: a.prod()))(torch.rand(10**6) * 0.002 + 0.999)),
    ("var_1e6", lambda: (lambda a: (lambda: a.var(unbiased=False)))(torch.randn(10**6))),
    ("std_1000x1000_d2", lambda: (lambda a: (lambda: a.std(dim=1, unbiased=False)))(torch.randn(1000, 1000))),
    ("cumsum_1e6", lambda: (lambda a: (lambda: a.cumsum(0)))(torch.randn(10**6))),
    ("cumprod_1e6", lambda: (lambda a: (lambda: a.cumprod(0)))(torch.rand(10**6) * 0.002 + 0.999)),
    ("sort_1e6", lambda: (lambda a: (lambda: torch.sort(a, stable=True)))(torch.randn(10**6))),
    ("softmax_1000x1000", lambda: (lambda a: (lambda: torch.softmax(a, 1)))(torch.randn(1000, 1000))),
    ("slice_1000x1000", lambda: (lambda a: (lambda: a[1:500, 0:1000:2]))(torch.randn(1000, 1000))),
    ("mask_1000x1000", lambda: (lambda a: (lambda m: (lambda: a[m]))(a > 0))(torch.randn(1000, 1000))),
    ("cat_100x100x100", lambda: (lambda parts: (lambda: torch.cat(parts, 0)))([torch.randn(100, 100) for _ in range(100)])),
    ("add_broadcast_1000x1000", lambda: (lambda a, b: (lambda: a + b))(torch.randn(1000, 1000), torch.randn(1000))),
    ("optim_sgd_momentum_1e6", lambda: optim_case(torch.optim.SGD, lr=1e-3, momentum=0.9)),
    ("optim_adam_1e6", lambda: optim_case(torch.optim.Adam, lr=1e-3)),
]

# Elementwise functions on 1e6 elements drawn uniformly from each one's domain, as bench/run.lua.
FUNCTIONS = function_domains()


def function_case(name, lo, hi):
    def make():
        a = torch.rand(10**6) * (hi - lo) + lo
        return lambda: getattr(torch, name)(a)
    return (name + "_1e6", make)


at = [n for n, _ in CASES].index("tanh_1e6") + 1
CASES[at:at] = [function_case(*f) for f in FUNCTIONS]

if __name__ == "__main__":
    if sys.argv[1:] == ["--core"]:
        torch.randn(64, 64) @ torch.randn(64, 64)  # loads the BLAS
        print("core", blas_core())
        sys.exit(0)
    only = sys.argv[1] if len(sys.argv) > 1 else None
    for name, make in CASES:
        if only and only not in name:
            continue
        med, lo, hi = timeit(make())
        print(name, med, lo, hi, flush=True)
