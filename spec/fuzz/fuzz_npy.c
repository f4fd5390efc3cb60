/* fuzz_npy.c: libFuzzer target for the .npy reader. Any bytes must load or fail with a
   code and a message, never crash or leak; what loads must survive a save and reload bit
   for bit. Built and run by `make fuzz`; build/replay/npy replays the corpus in `make test`. */
#define _GNU_SOURCE   /* memfd_create */
#include "fuzz_files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_input_path(data, size);
    ty_tensor t;
    memset(&t, 0, sizeof t);
    ty_error e;
    memset(&e, 0, sizeof e);
    int rc = ty_npy_load(&t, path, &ty_system_allocator, &e);
    if (rc != TY_OK) {
        fuzz_check_failure(rc, &t, &e);
        return 0;
    }
    fuzz_round_trip(&t);
    ty_tensor_free(&t);
    return 0;
}
