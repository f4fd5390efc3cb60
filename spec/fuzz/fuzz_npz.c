/* fuzz_npz.c: libFuzzer target for the .npz reader (libzip's archive, then each member
   through the .npy reader). Any bytes must load or fail with a code and a message, never
   crash or leak; what loads is written again into memory as .npy and read back bit for bit.
   Built and run by `make fuzz`; build/replay/npz replays the corpus in `make test`. */
#define _GNU_SOURCE   /* memfd_create */
#include "fuzz_files.h"
#include "io/npz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_input_path(data, size);
    ty_error e;
    memset(&e, 0, sizeof e);
    ty_npz *z = NULL;
    int rc = ty_npz_open(&z, path, &e);
    if (rc != TY_OK) {
        if (z) abort();
        fuzz_check_failure(rc, NULL, &e);
        return 0;
    }
    for (int64_t i = 0; i < ty_npz_count(z); i++) {
        size_t len;
        const char *key = ty_npz_key(z, i, &len);
        if (!key || len == 0) abort();
        ty_tensor t;
        memset(&t, 0, sizeof t);
        rc = ty_npz_read(z, i, &t, &ty_system_allocator, &e);
        if (rc != TY_OK) {
            fuzz_check_failure(rc, &t, &e);
            continue;
        }
        fuzz_round_trip(&t);
        ty_tensor_free(&t);
    }
    ty_npz_close(z);
    return 0;
}
