/* fuzz_safetensors.c: libFuzzer target for the .safetensors reader (the header length, the
   JSON header through cJSON, every entry's checks, then the data). Any bytes must load or
   fail with a code and a message, never crash or leak; every entry that loads has the
   shape its header gave. Built and run by `make fuzz`; build/replay/safetensors replays the
   corpus in `make test`. */
#define _GNU_SOURCE   /* memfd_create */
#include "fuzz_files.h"
#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_input_path(data, size);
    ty_error e;
    memset(&e, 0, sizeof e);
    ty_st *st = NULL;
    int rc = ty_st_open(&st, path, &e);
    if (rc != TY_OK) {
        if (st) abort();
        fuzz_check_failure(rc, NULL, &e);
        return 0;
    }
    for (int64_t i = 0; i < ty_st_meta_count(st); i++)
        if (!ty_st_meta_key(st, i) || !ty_st_meta_value(st, i)) abort();
    int64_t total = 0;
    for (int64_t i = 0; i < ty_st_count(st); i++) {
        if (!ty_st_name(st, i)) abort();
        ty_tensor t;
        memset(&t, 0, sizeof t);
        rc = ty_st_read(st, i, &t, &ty_system_allocator, &e);
        if (rc != TY_OK) {
            /* the header was checked against the file: only memory can fail now */
            if (rc != TY_EMEM) abort();
            fuzz_check_failure(rc, &t, &e);
            continue;
        }
        total += ty_numel(&t);
        ty_tensor_free(&t);
    }
    /* entries do not overlap, and each is at least one byte an element */
    if (total > (int64_t)size) abort();
    ty_st_close(st);
    return 0;
}
