tycho.random.seed(231)
local nn = require "tycho.nn"
local rnn = nn.RNNLayer(3, 5)
local x = tycho.randn(2, 4, 3)
local h = rnn:forward(x, tycho.zeros(2, 5))
local next_h = rnn:forward_step(x:select(2, 1), tycho.zeros(2, 5))
print(h:shape(), next_h:sum())
