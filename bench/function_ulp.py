# bench/function_ulp.py DIR NAMES: for each name, NumPy's function of DIR/name_x.npy against
# tycho's DIR/name_y.npy: the worst distance in ulp and the input where it is.
import sys
import numpy as np

fns = {"asin": np.arcsin, "acos": np.arccos, "atan": np.arctan, "round": np.round,
       "sigmoid": lambda x: 1 / (1 + np.exp(-x))}
d = sys.argv[1]
print("worst distance from NumPy %s over 1e6 inputs per function, in ulp:" % np.__version__)
row = []
for name in sys.argv[2].split(","):
    x = np.load("%s/%s_x.npy" % (d, name))
    y = np.load("%s/%s_y.npy" % (d, name))
    with np.errstate(all="ignore"):
        want = fns.get(name, getattr(np, name, None))(x)
    a = y.view(np.int64)
    b = want.view(np.int64)
    a = np.where(a < 0, np.int64(-2**63) - a, a)
    b = np.where(b < 0, np.int64(-2**63) - b, b)
    u = np.abs(a - b)
    u[(y == want) | (np.isnan(y) & np.isnan(want))] = 0
    i = int(np.argmax(u))
    row.append("%s %d" % (name, u[i]))
print(", ".join(row))
