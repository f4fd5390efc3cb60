/* dtype.c: element conversion for every reader and writer, in chunks through a stack buffer
   (straight into or out of the tensor when the bytes already are native float64). */
#include "io/dtype.h"

#include "core/iter.h"

#include <math.h>
#include <string.h>

/* Elements converted per read or write when bytes cannot go straight to or from the tensor. */
#define CHUNK 4096

int ty_host_is_little(void)
{
    const uint16_t one = 1;
    unsigned char c;
    memcpy(&c, &one, 1);
    return c == 1;
}

static double half_to_double(unsigned h)
{
    int ex = (int)((h >> 10) & 0x1f);
    unsigned m = h & 0x3ff;
    double v;
    if (ex == 0) v = ldexp((double)m, -24);
    else if (ex == 31) v = m ? NAN : INFINITY;
    else v = ldexp((double)(m | 0x400), ex - 25);
    return (h & 0x8000) ? -v : v;
}

static double float_bits(uint32_t w)
{
    float f;
    memcpy(&f, &w, 4);
    return f;
}

void ty_dtype_to_f64(double *dst, const unsigned char *src, size_t n, ty_dtype dt)
{
    int size = dt.size;
    for (size_t k = 0; k < n; k++, src += size) {
        uint64_t v = 0;
        if (dt.big)
            for (int i = 0; i < size; i++) v = v << 8 | src[i];
        else
            for (int i = size - 1; i >= 0; i--) v = v << 8 | src[i];
        double d;
        switch (dt.kind) {
        case TY_DT_FLOAT:
            if (size == 8) memcpy(&d, &v, 8);
            else if (size == 4) d = float_bits((uint32_t)v);
            else d = half_to_double((unsigned)v);
            break;
        case TY_DT_BFLOAT: d = float_bits((uint32_t)v << 16); break;
        case TY_DT_INT:
            if (size == 8) {
                int64_t s;
                memcpy(&s, &v, 8);
                d = (double)s;
            } else {
                uint64_t sign = (uint64_t)1 << (8 * size - 1);
                d = (double)((int64_t)(v ^ sign) - (int64_t)sign);
            }
            break;
        case TY_DT_UINT: d = (double)v; break;
        default: d = v != 0; break;
        }
        dst[k] = d;
    }
}

void ty_dtype_from_f64(unsigned char *dst, const double *src, size_t n, ty_dtype dt)
{
    for (size_t k = 0; k < n; k++, dst += dt.size) {
        uint64_t v;
        if (dt.size == 4) {
            float f = (float)src[k];
            uint32_t w;
            memcpy(&w, &f, 4);
            v = w;
        } else {
            memcpy(&v, &src[k], 8);
        }
        for (int i = 0; i < dt.size; i++, v >>= 8) dst[dt.big ? dt.size - 1 - i : i] = (unsigned char)v;
    }
}

static int native_f64(ty_dtype dt)
{
    return dt.kind == TY_DT_FLOAT && dt.size == 8 && dt.big == !ty_host_is_little();
}

int ty_read_elements(ty_source *s, double *dst, int64_t n, ty_dtype dt, ty_error *e)
{
    if (native_f64(dt)) return n > 0 ? ty_source_read_exact(s, dst, (size_t)n * 8, e) : TY_OK;
    unsigned char buf[CHUNK * 8];
    for (int64_t done = 0; done < n;) {
        size_t m = n - done < CHUNK ? (size_t)(n - done) : CHUNK;
        int rc = ty_source_read_exact(s, buf, m * (size_t)dt.size, e);
        if (rc) return rc;
        ty_dtype_to_f64(dst + done, buf, m, dt);
        done += (int64_t)m;
    }
    return TY_OK;
}

int ty_write_elements(ty_sink *s, const ty_tensor *t, ty_dtype dt, ty_error *e)
{
    int64_t n = ty_numel(t);
    if (n == 0) return TY_OK;
    if (ty_is_contiguous(t) && native_f64(dt))
        return s->write(s, t->data, (size_t)n * 8, e);
    unsigned char buf[CHUNK * 8];
    double vals[256];
    size_t used = 0, nv = 0;
    int rc = TY_OK;
    const ty_tensor *ops[1] = { t };
    ty_iter it;
    ty_iter_init(&it, t->ndim, t->shape, 1, ops);
    TY_ITER_RUNS(it, {
        int64_t st = it.stride[0][last_];
        for (int64_t i = 0; i < n_ && rc == TY_OK; i++) {
            vals[nv++] = it.ptr[0][i * st];
            if (nv == 256) {
                ty_dtype_from_f64(buf + used * (size_t)dt.size, vals, nv, dt);
                used += nv;
                nv = 0;
                if (used == CHUNK) {
                    rc = s->write(s, buf, used * (size_t)dt.size, e);
                    used = 0;
                }
            }
        }
    });
    if (rc) return rc;
    ty_dtype_from_f64(buf + used * (size_t)dt.size, vals, nv, dt);
    used += nv;
    return used ? s->write(s, buf, used * (size_t)dt.size, e) : TY_OK;
}
