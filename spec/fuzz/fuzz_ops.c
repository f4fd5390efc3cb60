/* fuzz_ops.c: libFuzzer target that turns bytes into a valid tycho script: a sequence of
   tensor and RNN, LSTM and GRU operations on a few shared variables with awkward arguments
   (0-sized, huge, negative, NaN; views aliasing each other; closed tensors), each statement
   in a pcall, run in the same sandboxed, limited engine as fuzz_chunk. Random source mostly
   fails to parse; this reaches the core's shape, stride and aliasing code at every execution.
   The input's length picks how the layers' products run over long sequences (their path
   field: as configured, the steps packed only, BLAS calls, or everything packed on 1, 2 or
   3 lanes), so short sequences with odd shapes and strides reach the lanes too.
   FUZZ_OPS_VERBOSE=1 prints each generated script (to turn a crash into a Lua spec). */
#include <lua.h>
#include <lauxlib.h>

#include "tycho.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const tycho_config CFG = { 32u << 20, 1000000u, 1 };

static const char PRELUDE[] =
    "local nn = tycho.nn\n"
    "tycho.random.seed(7)\n"
    "local t = { tycho.arange(24):reshape(2, 3, 4), tycho.ones(3, 1), tycho.zeros(0, 3),\n"
    "            tycho.randn(4), tycho.tensor(2.5), tycho.eye(3) }\n"
    "t[7] = t[1]:select(2, 2)   -- views that alias t[1]\n"
    "t[8] = t[1].T\n"
    "local function mk(new, a, b) local l = new(a, b) l.path = PATH return l end\n"
    "local r = mk(nn.RNNLayer, 4, 3)\n"
    "local l = mk(nn.LSTMLayer, 4, 3)\n"
    "local g = mk(nn.GRULayer, 4, 3)\n"
    "local tanh = nn.Tanh()\n"
    "local a, sm, d, e = nn.AffineLayer(4, 3), nn.Softmax(), nn.Dropout(0.5), nn.Embedding(5, 2)\n"
    "local q, o = nn.Sequential { a, nn.ReLU() }, nil\n"
    "local function S(f) local ok, v = pcall(f) return v end\n";

/* %t: a variable t[k]; %i: an integer; %f: a number; %s: a shape as arguments. */
static const char *const OPS[] = {
    "%t = %t + %t", "%t = %t - %t", "%t = %t * %t", "%t = %t / %t", "%t = -%t",
    "%t = %t ^ %f", "%t = %f - %t", "%t = %t + %f",
    "%t = %t:view(%s)", "%t = %t:reshape(%s)", "%t = %t:transpose(%i, %i)", "%t = %t.T",
    "%t = %t:transpose()", "%t = %t:select(%i, %i)", "%t = %t:narrow(%i, %i, %i)",
    "%t = %t[%i]", "%t[%i] = %t", "%t[%i] = %f", "%t = %t:contiguous()", "%t = %t:clone()",
    "%t:copy_(%t)", "%t:add_(%t)", "%t:sub_(%f)", "%t:mul_(%t)", "%t:div_(%t)",
    "%t:fill_(%f)", "%t:zero_()", "%t = tycho.matmul(%t, %t)", "%t = %t:dot(%t)",
    "%t = tycho.outer(%t, %t)", "%t = tycho.where(%t, %t, %t)", "%t = tycho.maximum(%t, %t)",
    "%t = tycho.minimum(%t, %f)", "%t = %t:clip(%f, %f)", "%t = %t:sum(%i)", "%t = %t:mean(%i)",
    "%t = %t:max(%i)", "%t = %t:min(%i)", "%t = %t:argmax(%i)", "%t = %t:argmin(%i)",
    "%t = tycho.tensor(%t:sum())", "%t = tycho.tensor(%t:norm())", "%t = tycho.zeros(%s)",
    "%t = tycho.ones(%s)", "%t = tycho.full({%s}, %f)", "%t = tycho.empty(%s)",
    "%t = tycho.eye(%i)", "%t = tycho.linspace(%f, %f, %i)", "%t = tycho.arange(%i, %i, %i)",
    "%t = tycho.rand(%s)", "%t = tycho.randn(%s)", "%t = tycho.zeros_like(%t)",
    "%t = %t:tanh()", "%t = %t:sigmoid()", "%t = %t:exp()", "%t = %t:log()", "%t = %t:sqrt()",
    "%t = %t:abs()", "%t = %t:pow(%f)", "%t = %t:eq(%t)", "%t = %t:lt(%f)",
    "%t = tycho.tensor(%t:get(%i, %i))", "%t:set(%i, %f)", "%t = tycho.tensor(%t:item())",
    "%t = tycho.tensor(%t:totable())", "local _ = tostring(%t)", "local _ = %t:equal(%t)",
    "local _ = tycho.allclose(%t, %t)", "local _ = %t:shape(), %t:size(%i), #%t",
    "do local c <close> = %t end", "%t = nil", "collectgarbage()",
    "r = mk(nn.RNNLayer, %i, %i)", "%t = r:forward(%t, %t)", "%t = r:forward_step(%t, %t)",
    "%t = r:backward(%t)", "%t = r:backward_step(%t, %t)", "r.W_ih = %t", "r.W_hh = %t",
    "r.b = %t", "%t = r.W_ih", "%t = r.dW_hh", "%t = tanh:forward(%t)", "%t = tanh:backward(%t)",
    "l = mk(nn.LSTMLayer, %i, %i)", "%t = l:forward(%t, %t, %t)", "%t = l:forward(%t)",
    "%t, %t = l:forward_step(%t, %t, %t)", "%t = l:backward(%t)", "%t = l:backward_step(%t, %t)",
    "l.W_ih = %t", "l.W_hh = %t", "l.b = %t", "%t = l.c_n", "%t = l.dc0", "l:reset(%f)",
    "g = mk(nn.GRULayer, %i, %i)", "%t = g:forward(%t, %t)", "%t = g:forward_step(%t, %t)",
    "%t = g:backward(%t)", "%t = g:backward_step(%t)", "g.W_hh = %t", "g.b_ih = %t",
    "g.b_hh = %t", "%t = g.h_n", "%t = g:forward(%t, g.h_n)", "g:reset()",
    "%t = %t[{%i, {%i, %i}}]", "%t = %t[{{}, {%i, %i, %i}}]", "%t[{%i}] = %t",
    "%t[{{%i, %i}}] = %f", "%t = %t[%t:gt(%f)]", "%t[%t:lt(%f)] = %f", "%t[%t:ge(%f)] = %t",
    "%t[%t] = %t", "%t = %t[{%i, %i, %i}]", "%t = %t:squeeze()", "%t = %t:squeeze(%i)",
    "%t = %t:unsqueeze(%i)", "%t = %t:permute(%i, %i, %i)", "%t = %t:permute(%i, %i)",
    "%t = %t:expand(%s)", "%t = %t:flatten(%i, %i)", "%t = %t:flatten()",
    "%t = tycho.cat({%t, %t}, %i)", "%t = tycho.stack({%t, %t}, %i)", "%t = %t:split(%i, %i)[1]",
    "%t = %t:index(%i, {%i, %i})", "%t = %t:index(%i, %t)", "%t = %t:sin()", "%t = %t:cos()",
    "%t = %t:atan()", "%t = %t:log1p()", "%t = %t:expm1()", "%t = %t:round()", "%t = %t:floor()",
    "%t = %t:sign()", "%t = %t:relu()", "%t = tycho.atan2(%t, %t)", "%t = %t:prod(%i)",
    "%t = %t:var(%i, true)", "%t = tycho.tensor(%t:std())", "%t = %t:cumsum(%i)",
    "%t = %t:cumprod()", "%t = %t:sort(%i, true)", "%t = %t:argsort(%i)", "%t = %t:softmax(%i)",
    "%t = %t:log_softmax()", "%t = %t:sum(%i, true)", "local _ = tostring(%t:shape())",
    "local _ = %t == %t", "%t = tycho.full(%i, %i, %f)",
    "%t = tycho.random.randint(%i, %i, {%s})", "tycho.random.shuffle(%t)",
    "%t = tycho.random.choice(%i, %i, {p = %t, replace = false})",
    "%t = tycho.random.choice(%i, {%s})", "%t = tycho.random.permutation(%i)",
    "%t = tycho.random.normal(%f, %f, {%s})", "%t = tycho.random.uniform(%f, %f, {%s})",
    "a = nn.AffineLayer(%i, %i)", "%t = a:forward(%t)", "%t = a:backward(%t)", "a.W = %t",
    "a.b = %t", "%t = a.dW", "a:reset(%f)", "%t = sm:forward(%t)", "%t = sm:backward(%t)",
    "%t = d:forward(%t)", "%t = d:backward(%t)", "d:evaluate()", "d:train()", "d.p = %f",
    "e = nn.Embedding(%i, %i)", "%t = e:forward(%t)", "e:backward(%t)", "e.W = %t",
    "%t = select(2, nn.softmax_loss(%t, %t))", "%t = select(2, nn.mse_loss(%t, %t))",
    "o = tycho.optim.Adam(q, {lr = %f, amsgrad = true})", "o:step()",
    "o = tycho.optim.SGD(a, {lr = 0.1, momentum = %f})", "o:load_state(o:state())",
    "o = tycho.optim.LBFGS(a, {max_iter = %i})",
    "o:step(function() local v, g = nn.mse_loss(a:forward(t[1]), t[2]) a:backward(g) return v end)",
    "local _ = nn.clip_grad_norm(q, %f)", "q = nn.Sequential { a, nn.ReLU(), d }",
    "%t = q:forward(%t)", "%t = q:backward(%t)", "q[%i] = sm", "o.lr = %f",
};
enum { NOPS = sizeof OPS / sizeof OPS[0], NVARS = 8 };

static const char *const INTS[] = { "1", "2", "3", "-1", "0", "4", "-2", "5", "24",
                                    "1 << 40", "math.mininteger", "math.maxinteger", "-3" };
static const char *const NUMS[] = { "0", "1", "-1.5", "2", "0/0", "1/0", "-0.0", "1e308",
                                    "0.5", "-2", "3" };
static const char *const SHAPES[] = { "2, 3", "3", "0", "1, 1, 1", "-1", "4, -1", "0, 5",
                                      "2, 3, 4", "", "24", "1 << 40, 0", "6, 4", "3, 1",
                                      "1, 3", "2, 2, 2, 3", "-1, 0" };
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

typedef struct out {
    char  *buf;
    size_t len, cap;
} out;

static void put(out *o, const char *s, size_t n)
{
    if (o->len + n + 1 > o->cap) {
        size_t cap = (o->len + n + 1) * 2;
        char *b = realloc(o->buf, cap);
        if (!b) abort();
        o->buf = b;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void puts_(out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* The next input byte; 0 once the input is used up. */
static unsigned next(const uint8_t **p, const uint8_t *end)
{
    return *p < end ? *(*p)++ : 0;
}

static char *generate(const uint8_t *data, size_t size)
{
    static const char *const paths[] = { "'auto'", "'steps'", "'blas'", "1", "2", "3" };
    out o = { NULL, 0, 0 };
    puts_(&o, "local PATH = ");
    puts_(&o, paths[size % COUNT(paths)]);
    puts_(&o, "\n");
    puts_(&o, PRELUDE);
    const uint8_t *p = data, *end = data + size;
    while (p < end) {
        const char *op = OPS[next(&p, end) % NOPS];
        puts_(&o, "S(function() ");
        for (const char *c = op; *c; c++) {
            if (*c != '%') {
                put(&o, c, 1);
                continue;
            }
            char tmp[32];
            switch (*++c) {
            case 't':
                snprintf(tmp, sizeof tmp, "t[%u]", next(&p, end) % NVARS + 1);
                puts_(&o, tmp);
                break;
            case 'i': puts_(&o, INTS[next(&p, end) % COUNT(INTS)]); break;
            case 'f': puts_(&o, NUMS[next(&p, end) % COUNT(NUMS)]); break;
            case 's': puts_(&o, SHAPES[next(&p, end) % COUNT(SHAPES)]); break;
            default: abort();
            }
        }
        puts_(&o, " end)\n");
    }
    /* read every variable through, so a bad view or stride shows up as a bad access */
    puts_(&o, "for k = 1, 8 do S(function() local _ = t[k]:sum(), tostring(t[k]), "
              "t[k]:clone() end) end\n");
    return o.buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *code = generate(data, size);
    if (getenv("FUZZ_OPS_VERBOSE")) fprintf(stderr, "%s", code);
    tycho *T = tycho_open(&CFG);
    if (!T) abort();
    int rc = tycho_run_string(T, code, "=ops");
    if (getenv("FUZZ_OPS_VERBOSE")) fprintf(stderr, "-- code %d %s\n", rc, tycho_error(T));
    /* every statement is protected: only the limits may end the script */
    if (rc != TYCHO_OK && rc != TYCHO_ERR_MEMORY && rc != TYCHO_ERR_LIMIT) {
        fprintf(stderr, "fuzz_ops: code %d: %s\n", rc, tycho_error(T));
        abort();
    }
    tycho_close(T);
    free(code);
    return 0;
}
