# bench/programs_torch.py: the two programs' steps in PyTorch 1.13, as their users write them,
# for bench/programs.lua: a char-rnn training step (Embedding 96x64, LSTM 64->128->128,
# Linear 128->96, cross_entropy, clip_grad_norm_ 5, Adam; batch 50, seq 50) and the first LBFGS
# step of PyTorch's time_sequence_prediction example (97 waves of 999 steps, two LSTMCells of
# 51, one bias per cell as tycho's, from the weights of spec/fixtures/sine/sine_init.safetensors
# when given). `programs_torch.py charrnn|sine float64|float32` prints "case median lo hi".
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from numpy_ref import timeit

torch.set_num_threads(int(os.environ.get("OPENBLAS_NUM_THREADS", "1")))
case, dtype = sys.argv[1], getattr(torch, sys.argv[2])
torch.set_default_dtype(dtype)


def charrnn():
    torch.manual_seed(0)
    V, E, H, N, T = 96, 64, 128, 50, 50
    emb, lstm, head = nn.Embedding(V, E), nn.LSTM(E, H, num_layers=2, batch_first=True), nn.Linear(H, V)
    params = list(emb.parameters()) + list(lstm.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=2e-3)
    x, y = torch.randint(0, V, (N, T)), torch.randint(0, V, (N, T))
    state = [torch.zeros(2, N, H), torch.zeros(2, N, H)]

    def step():
        opt.zero_grad()
        out, (h, c) = lstm(emb(x), tuple(state))
        state[0], state[1] = h.detach(), c.detach()
        loss = F.cross_entropy(head(out).reshape(N * T, V), y.reshape(N * T))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5)
        opt.step()
    return step


class Sequence(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm1 = nn.LSTMCell(1, 51)
        self.lstm2 = nn.LSTMCell(51, 51)
        self.linear = nn.Linear(51, 1)

    def forward(self, input):
        outputs = []
        h_t = torch.zeros(input.size(0), 51)
        c_t = torch.zeros(input.size(0), 51)
        h_t2 = torch.zeros(input.size(0), 51)
        c_t2 = torch.zeros(input.size(0), 51)
        for input_t in input.split(1, dim=1):
            h_t, c_t = self.lstm1(input_t, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            outputs += [self.linear(h_t2)]
        return torch.cat(outputs, dim=1)


def sine():
    np.random.seed(2)
    x = np.empty((100, 1000), "int64")
    x[:] = np.array(range(1000)) + np.random.randint(-80, 80, 100).reshape(100, 1)
    data = torch.from_numpy(np.sin(x / 1.0 / 20).astype("float64")).to(dtype)
    input, target = data[3:, :-1], data[3:, 1:]
    torch.manual_seed(0)
    seq = Sequence().to(dtype)
    with torch.no_grad():
        for cell in (seq.lstm1, seq.lstm2):
            cell.bias_ih += cell.bias_hh
            cell.bias_hh.zero_()
            cell.bias_hh.requires_grad_(False)
    opt = torch.optim.LBFGS([p for p in seq.parameters() if p.requires_grad], lr=0.8)

    def closure():
        opt.zero_grad()
        loss = F.mse_loss(seq(input), target)
        loss.backward()
        return loss
    t0 = time.perf_counter()
    opt.step(closure)
    return time.perf_counter() - t0


if case == "charrnn":
    med, lo, hi = timeit(charrnn(), 1.0)
    print("charrnn_train_step", med, lo, hi)
else:
    t = sine()
    print("sine_lbfgs_step", t, t, t)
