/* dtype.h: the one conversion between the element types of files (NumPy's and
   safetensors' dtypes, either byte order) and tycho's float64. Core: no Lua here. */
#ifndef TYCHO_DTYPE_H
#define TYCHO_DTYPE_H

#include "io/bytes.h"

typedef enum { TY_DT_FLOAT, TY_DT_INT, TY_DT_UINT, TY_DT_BOOL, TY_DT_BFLOAT } ty_dtype_kind;

/* float: size 2 (IEEE half), 4 or 8; bfloat: size 2; int and uint: 1, 2, 4, 8; bool: 1. */
typedef struct ty_dtype {
    ty_dtype_kind kind;
    int           size;   /* bytes per element */
    int           big;    /* big-endian */
} ty_dtype;

int  ty_host_is_little(void);
/* n elements of dt at src to float64 (bools 0 or 1, integers rounded to nearest beyond 2^53). */
void ty_dtype_to_f64(double *dst, const unsigned char *src, size_t n, ty_dtype dt);
/* n float64 to dt, for the dtypes files are written in: float 8 and 4 (rounded to nearest). */
void ty_dtype_from_f64(unsigned char *dst, const double *src, size_t n, ty_dtype dt);

/* Reads n elements of dt from s into the contiguous dst. */
int ty_read_elements(ty_source *s, double *dst, int64_t n, ty_dtype dt, ty_error *e);
/* Writes t's elements (any view, row-major order) as float 8 or 4 of dt to s. */
int ty_write_elements(ty_sink *s, const ty_tensor *t, ty_dtype dt, ty_error *e);

#endif
