# bench/numpy_ref.py: the cases of bench/run.lua in NumPy, written the way the notebook's
# reference RNNLayer is (a loop over time steps with np.dot). Prints "case median lo hi".
import os
import shutil
import sys
import tempfile
import time

import numpy as np


def blas_core():
    """The core of the OpenBLAS this process loaded (openblas_get_corename), or "?"."""
    import ctypes
    paths = sorted({line.split()[-1] for line in open("/proc/self/maps")
                    if "blas" in line and line.split()[-1].startswith("/")})
    for path in paths:
        try:
            fn = ctypes.CDLL(path).openblas_get_corename
        except (OSError, AttributeError):
            continue
        fn.restype = ctypes.c_char_p
        return fn().decode()
    return "?"


def timeit(fn, budget=0.5):
    t0 = time.perf_counter()
    fn()
    one = time.perf_counter() - t0
    for _ in range(3):
        fn()
    n = max(1, int(0.005 / max(one, 1e-9)))
    samples = []
    start = time.perf_counter()
    while True:
        s = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - s) / n)
        if (time.perf_counter() - start > budget and len(samples) >= 5) or len(samples) >= 1000:
            break
    samples.sort()
    return float(np.median(samples)), samples[0], samples[-1]


class RNNLayer:
    def __init__(self, D, H):
        self.W_ih = np.random.rand(D, H)
        self.W_hh = np.random.rand(H, H)
        self.b = np.random.rand(H)

    def forward_step(self, x, prev_h):
        return np.tanh(x.dot(self.W_ih) + prev_h.dot(self.W_hh) + self.b)

    def forward(self, x, h0):
        N, T, D = x.shape
        H = self.b.shape[0]
        h = np.zeros((N, T, H))
        prev = h0
        for t in range(T):
            prev = self.forward_step(x[:, t, :], prev)
            h[:, t, :] = prev
        self.x, self.h0, self.h = x, h0, h
        return h

    def backward(self, dout):
        x, h0, h = self.x, self.h0, self.h
        N, T, D = x.shape
        H = h.shape[2]
        dx = np.zeros_like(x)
        dW_ih = np.zeros_like(self.W_ih)
        dW_hh = np.zeros_like(self.W_hh)
        db = np.zeros_like(self.b)
        dnext = np.zeros((N, H))
        for t in reversed(range(T)):
            prev = h0 if t == 0 else h[:, t - 1, :]
            da = (dout[:, t, :] + dnext) * (1 - h[:, t, :] ** 2)
            dx[:, t, :] = da.dot(self.W_ih.T)
            dW_ih += x[:, t, :].T.dot(da)
            dW_hh += prev.T.dot(da)
            db += da.sum(axis=0)
            dnext = da.dot(self.W_hh.T)
        return dx, dnext, dW_ih, dW_hh, db


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


class LSTMLayer:
    """The notebook's layer style, PyTorch's gates i, f, g, o (as tycho's LSTMLayer)."""

    def __init__(self, D, H):
        self.W_ih = np.random.rand(D, 4 * H)
        self.W_hh = np.random.rand(H, 4 * H)
        self.b = np.random.rand(4 * H)

    def forward_step(self, x, prev_h, prev_c):
        H = prev_h.shape[1]
        a = x.dot(self.W_ih) + prev_h.dot(self.W_hh) + self.b
        i, f = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H])
        g, o = np.tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])
        c = f * prev_c + i * g
        return o * np.tanh(c), c, (i, f, g, o)

    def forward(self, x, h0):
        N, T, D = x.shape
        H = h0.shape[1]
        h, c = np.zeros((N, T, H)), np.zeros((N, T, H))
        prev_h, prev_c, self.gates = h0, np.zeros((N, H)), []
        for t in range(T):
            prev_h, prev_c, gates = self.forward_step(x[:, t, :], prev_h, prev_c)
            h[:, t, :], c[:, t, :] = prev_h, prev_c
            self.gates.append(gates)
        self.x, self.h0, self.h, self.c = x, h0, h, c
        return h

    def backward(self, dout):
        x, h0, h, c = self.x, self.h0, self.h, self.c
        N, T, D = x.shape
        H = h.shape[2]
        dx = np.zeros_like(x)
        dW_ih, dW_hh, db = np.zeros_like(self.W_ih), np.zeros_like(self.W_hh), np.zeros_like(self.b)
        dh, dc = np.zeros((N, H)), np.zeros((N, H))
        for t in reversed(range(T)):
            i, f, g, o = self.gates[t]
            tc = np.tanh(c[:, t, :])
            prev_h = h0 if t == 0 else h[:, t - 1, :]
            prev_c = np.zeros((N, H)) if t == 0 else c[:, t - 1, :]
            d = dout[:, t, :] + dh
            dct = dc + d * o * (1 - tc ** 2)
            da = np.concatenate([dct * g * i * (1 - i), dct * prev_c * f * (1 - f),
                                 dct * i * (1 - g ** 2), d * tc * o * (1 - o)], axis=1)
            dx[:, t, :] = da.dot(self.W_ih.T)
            dW_ih += x[:, t, :].T.dot(da)
            dW_hh += prev_h.T.dot(da)
            db += da.sum(axis=0)
            dh, dc = da.dot(self.W_hh.T), dct * f
        return dx, dh, dW_ih, dW_hh, db


class GRULayer:
    """The notebook's layer style, PyTorch's gates r, z, n (as tycho's GRULayer)."""

    def __init__(self, D, H):
        self.W_ih = np.random.rand(D, 3 * H)
        self.W_hh = np.random.rand(H, 3 * H)
        self.b_ih = np.random.rand(3 * H)
        self.b_hh = np.random.rand(3 * H)

    def forward_step(self, x, prev_h):
        H = prev_h.shape[1]
        gx = x.dot(self.W_ih) + self.b_ih
        gh = prev_h.dot(self.W_hh) + self.b_hh
        r = sigmoid(gx[:, :H] + gh[:, :H])
        z = sigmoid(gx[:, H:2 * H] + gh[:, H:2 * H])
        n = np.tanh(gx[:, 2 * H:] + r * gh[:, 2 * H:])
        return (1 - z) * n + z * prev_h, (r, z, n, gh[:, 2 * H:])

    def forward(self, x, h0):
        N, T, D = x.shape
        H = h0.shape[1]
        h = np.zeros((N, T, H))
        prev, self.saved = h0, []
        for t in range(T):
            prev, saved = self.forward_step(x[:, t, :], prev)
            h[:, t, :] = prev
            self.saved.append(saved)
        self.x, self.h0, self.h = x, h0, h
        return h

    def backward(self, dout):
        x, h0, h = self.x, self.h0, self.h
        N, T, D = x.shape
        H = h.shape[2]
        dx = np.zeros_like(x)
        dW_ih, dW_hh = np.zeros_like(self.W_ih), np.zeros_like(self.W_hh)
        db_ih, db_hh = np.zeros_like(self.b_ih), np.zeros_like(self.b_hh)
        dh = np.zeros((N, H))
        for t in reversed(range(T)):
            r, z, n, hn = self.saved[t]
            prev = h0 if t == 0 else h[:, t - 1, :]
            d = dout[:, t, :] + dh
            dan = d * (1 - z) * (1 - n ** 2)
            dar, daz = dan * hn * r * (1 - r), d * (prev - n) * z * (1 - z)
            dgx = np.concatenate([dar, daz, dan], axis=1)
            dgh = np.concatenate([dar, daz, dan * r], axis=1)
            dx[:, t, :] = dgx.dot(self.W_ih.T)
            dW_ih += x[:, t, :].T.dot(dgx)
            dW_hh += prev.T.dot(dgh)
            db_ih += dgx.sum(axis=0)
            db_hh += dgh.sum(axis=0)
            dh = d * z + dgh.dot(self.W_hh.T)
        return dx, dh, dW_ih, dW_hh, db_ih, db_hh


def gated_case(Layer, N, T, D, H, layers=1):
    """forward + backward of a stack of layers (the first D to H, the others H to H)"""
    np.random.seed(0)
    stack = [Layer(D if k == 0 else H, H) for k in range(layers)]
    for l in stack:
        l.W_ih *= 0.01
        l.W_hh *= 0.01
    x, dout = np.random.randn(N, T, D), np.random.randn(N, T, H)
    h0s = [np.random.randn(N, H) for _ in stack]

    def run():
        y = x
        for l, h0 in zip(stack, h0s):
            y = l.forward(y, h0)
        d = dout
        for l in reversed(stack):
            d = l.backward(d)[0]
    return run


def lstm_step_case():
    l = LSTMLayer(10, 4)
    x, h, c = np.random.rand(3, 10), np.random.rand(3, 4), np.random.rand(3, 4)
    return lambda: l.forward_step(x, h, c)


def gru_step_case():
    l = GRULayer(10, 4)
    x, h = np.random.rand(3, 10), np.random.rand(3, 4)
    return lambda: l.forward_step(x, h)


def rnn_case(N, T, D, H):
    np.random.seed(0)
    rnn = RNNLayer(D, H)
    rnn.W_ih = np.random.randn(D, H) * 0.01
    rnn.W_hh = np.random.randn(H, H) * 0.01
    x, h0, dout = np.random.randn(N, T, D), np.random.randn(N, H), np.random.randn(N, T, H)

    def run():
        rnn.forward(x, h0)
        rnn.backward(dout)
    return run


def step_case():
    rnn = RNNLayer(10, 4)
    x, h = np.random.rand(3, 10), np.random.rand(3, 4)
    return lambda: rnn.forward_step(x, h)


TEMP = []  # the temporary folder, made by the first file case


def temp_path(name):
    if not TEMP:
        TEMP.append(tempfile.mkdtemp())
    return os.path.join(TEMP[0], name)


def save_case():
    a = np.random.randn(1000, 1000)
    path = temp_path("save.npy")
    return lambda: np.save(path, a)


def optim_sgd_case(lr, momentum):
    """PyTorch's SGD step with momentum as in-place NumPy operations on 1e6 elements"""
    rng = np.random.RandomState(0)
    p, g = rng.randn(10**6), rng.randn(10**6)
    buf = g.copy()

    def run():
        np.multiply(buf, momentum, out=buf)
        np.add(buf, g, out=buf)
        np.subtract(p, lr * buf, out=p)
    return run


def optim_adam_case(lr, beta1, beta2, eps):
    """PyTorch's Adam step as in-place NumPy operations on 1e6 elements"""
    rng = np.random.RandomState(0)
    p, g = rng.randn(10**6), rng.randn(10**6)
    m, v = np.zeros(10**6), np.zeros(10**6)
    step = [0]

    def run():
        step[0] += 1
        np.multiply(m, beta1, out=m)
        np.add(m, (1 - beta1) * g, out=m)
        np.multiply(v, beta2, out=v)
        np.add(v, (1 - beta2) * g * g, out=v)
        denom = np.sqrt(v) / np.sqrt(1 - beta2 ** step[0])
        denom += eps
        np.subtract(p, (lr / (1 - beta1 ** step[0])) * m / denom, out=p)
    return run


def load_case():
    path = temp_path("load.npy")
    np.save(path, np.random.randn(1000, 1000))
    return lambda: np.load(path)


def add_case(e):
    """a + b on 10**e elements, as bench/run.lua's add_case"""
    return ("add_1e%d" % e, lambda: (lambda a, b: (lambda: a + b))(np.random.randn(10**e), np.random.randn(10**e)))


CASES = [
    ("rnn_step_N3_D10_H4", step_case),
    ("rnn_fwd_bwd_N2_T5_D10_H5", lambda: rnn_case(2, 5, 10, 5)),
    ("rnn_fwd_bwd_N64_T50_D256_H512", lambda: rnn_case(64, 50, 256, 512)),
    ("lstm_step_N3_D10_H4", lstm_step_case),
    ("gru_step_N3_D10_H4", gru_step_case),
    ("lstm_fwd_bwd_N64_T50_D256_H512", lambda: gated_case(LSTMLayer, 64, 50, 256, 512)),
    ("gru_fwd_bwd_N64_T50_D256_H512", lambda: gated_case(GRULayer, 64, 50, 256, 512)),
    ("charrnn_lstm2_N50_T50_D64_H128", lambda: gated_case(LSTMLayer, 50, 50, 64, 128, 2)),
    ("dgemm_3200x512x512", lambda: (lambda a, b: (lambda: a @ b))(np.random.randn(3200, 512), np.random.randn(512, 512))),
    ("matmul_512", lambda: (lambda a, b: (lambda: a @ b))(np.random.randn(512, 512), np.random.randn(512, 512))),
    *[add_case(e) for e in (3, 4, 5, 6)],
    ("mul_scalar_1e6", lambda: (lambda a: (lambda: a * 2.5))(np.random.randn(10**6))),
    ("tanh_1e6", lambda: (lambda a: (lambda: np.tanh(a)))(np.random.randn(10**6))),
    ("sum_1e6", lambda: (lambda a: (lambda: a.sum()))(np.random.randn(10**6))),
    ("prod_1e6", lambda: (lambda a: (lambda: a.prod()))(np.random.rand(10**6) * 0.002 + 0.999)),
    ("var_1e6", lambda: (lambda a: (lambda: a.var()))(np.random.randn(10**6))),
    ("std_1000x1000_d2", lambda: (lambda a: (lambda: a.std(axis=1)))(np.random.randn(1000, 1000))),
    ("cumsum_1e6", lambda: (lambda a: (lambda: a.cumsum()))(np.random.randn(10**6))),
    ("cumprod_1e6", lambda: (lambda a: (lambda: a.cumprod()))(np.random.rand(10**6) * 0.002 + 0.999)),
    ("sort_1e6", lambda: (lambda a: (lambda: (np.sort(a, kind="stable"), np.argsort(a, kind="stable"))))(np.random.randn(10**6))),
    ("softmax_1000x1000", lambda: (lambda a: (lambda: (lambda e: e / e.sum(axis=1, keepdims=True))(np.exp(a - a.max(axis=1, keepdims=True)))))(np.random.randn(1000, 1000))),
    ("slice_1000x1000", lambda: (lambda a: (lambda: a[1:500, 0:1000:2]))(np.random.randn(1000, 1000))),
    ("mask_1000x1000", lambda: (lambda a: (lambda m: (lambda: a[m]))(a > 0))(np.random.randn(1000, 1000))),
    ("cat_100x100x100", lambda: (lambda parts: (lambda: np.concatenate(parts, axis=0)))([np.random.randn(100, 100) for _ in range(100)])),
    ("add_broadcast_1000x1000", lambda: (lambda a, b: (lambda: a + b))(np.random.randn(1000, 1000), np.random.randn(1000))),
    ("npy_save_1e6", save_case),
    ("npy_load_1e6", load_case),
    ("optim_sgd_momentum_1e6", lambda: optim_sgd_case(1e-3, 0.9)),
    ("optim_adam_1e6", lambda: optim_adam_case(1e-3, 0.9, 0.999, 1e-8)),
]

# Elementwise functions on 1e6 elements drawn uniformly from each one's domain, the
# intervals bench/run.lua draws from (bench/function_domains.txt: "name lo hi" lines).
def function_domains():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "function_domains.txt")
    with open(path) as f:
        rows = [line.split() for line in f if line.strip() and not line.startswith("#")]
    return [(name, float(lo), float(hi)) for name, lo, hi in rows]


FUNCTIONS = function_domains()


def function_case(name, lo, hi):
    def make():
        a = np.random.rand(10**6) * (hi - lo) + lo
        return lambda: np.maximum(a, 0) if name == "relu" else getattr(np, {"asin": "arcsin", "acos": "arccos", "atan": "arctan"}.get(name, name))(a)
    return (name + "_1e6", make)


at = [n for n, _ in CASES].index("tanh_1e6") + 1
CASES[at:at] = [function_case(*f) for f in FUNCTIONS]

if __name__ == "__main__":
    if sys.argv[1:] == ["--core"]:
        print("core", blas_core())
        sys.exit(0)
    only = sys.argv[1] if len(sys.argv) > 1 else None
    for name, make in CASES:
        if only and only not in name:
            continue
        med, lo, hi = timeit(make())
        print(name, med, lo, hi, flush=True)
    for folder in TEMP:
        shutil.rmtree(folder, ignore_errors=True)
