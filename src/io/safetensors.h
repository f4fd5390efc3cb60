/* safetensors.h: .safetensors files (Hugging Face's format: an 8-byte header length, a JSON
   header, then the raw little-endian data), the header read and written by cJSON. */
#ifndef TYCHO_SAFETENSORS_H
#define TYCHO_SAFETENSORS_H

#include "core/tensor.h"
#include "io/npz.h"   /* ty_named */

typedef struct ty_st ty_st;

/* Opens path and validates its header: the length within the file and at most 100 MB, a
   JSON object of entries {dtype, shape, data_offsets} (no other field) and an optional
   __metadata__ object of strings; dtypes F64 F32 F16 BF16 I64 I32 I16 I8 U64 U32 U16 U8
   BOOL; each entry's bytes prod(shape) * dtype size, within the data, entries not
   overlapping. TY_EFORMAT naming the file and the entry otherwise. *out NULL on error. */
int         ty_st_open(ty_st **out, const char *path, ty_error *e);
int64_t     ty_st_count(const ty_st *st);
const char *ty_st_name(const ty_st *st, int64_t i);
/* Entry i as a new float64 tensor in the empty slot out. */
int         ty_st_read(ty_st *st, int64_t i, ty_tensor *out, const ty_allocator *a,
                       ty_error *e);
/* The __metadata__ pairs, in the file's order. */
int64_t     ty_st_meta_count(const ty_st *st);
const char *ty_st_meta_key(const ty_st *st, int64_t i);
const char *ty_st_meta_value(const ty_st *st, int64_t i);
void        ty_st_close(ty_st *st);   /* NULL is fine */

/* Writes items (sorted here by name) to path atomically as F64, or F32 (rounded to nearest)
   when f32 is set, with the strings keys[i] = values[i] as __metadata__ when nmeta > 0;
   entries' data in name order. The header is padded with spaces to a multiple of 8 bytes. */
int ty_st_save(const char *path, ty_named *items, int64_t n, int f32,
               const char *const *keys, const char *const *values, int64_t nmeta,
               ty_error *e);

#endif
