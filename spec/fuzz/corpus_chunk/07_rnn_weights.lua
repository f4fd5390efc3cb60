local nn = tycho.nn
local rnn = nn.RNNLayer(3, 3)
rnn.W_ih = tycho.linspace(-0.1, 0.9, 40):reshape(10, 4)
rnn.W_hh = tycho.eye(4) * 0.5
rnn.b = tycho.zeros(4)
local h = rnn:forward(tycho.ones(1, 2, 10), tycho.zeros(1, 4))
local ok, err = pcall(rnn.forward, rnn, tycho.ones(1, 2, 3), tycho.zeros(1, 4))
print(h, ok, err, rnn.W_ih == rnn.W_ih)
