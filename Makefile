# tycho: build, test and install. `make run` and `make test` are all a fresh Debian machine needs.

CC       ?= gcc
PREFIX   ?= /usr/local
BUILD    ?= build
DEBIAN_PACKAGES = liblua5.4-dev lua5.4 lua-unit libopenblas-dev libreadline-dev pkg-config luarocks \
                  libzip-dev libcjson-dev gnuplot-nox

WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
# pkg-config runs when a recipe expands these, i.e. after `deps` has installed it.
LUA_CFLAGS   = $(shell pkg-config --cflags lua5.4)
LUA_LIBS     = $(shell pkg-config --libs lua5.4)
BLAS_CFLAGS  = $(shell pkg-config --cflags openblas)
BLAS_LIBS    = $(shell pkg-config --libs openblas)
# .npz archives (libzip) and the .safetensors JSON header (cJSON)
FILE_CFLAGS  = $(shell pkg-config --cflags libzip libcjson)
FILE_LIBS    = $(shell pkg-config --libs libzip libcjson)
# Sources include each other as "core/tensor.h" (-Isrc); tests and host programs include the
# public header as "tycho.h" (-Isrc/host). TY_VERSION is tycho.h's version, for the binding.
VERSION      = $(shell sed -n 's/^\#define TYCHO_VERSION *"\(.*\)"/\1/p' src/host/tycho.h)
ALL_CFLAGS   = -std=c99 -D_POSIX_C_SOURCE=200809L $(WARN) -fPIC $(CFLAGS) $(LUA_CFLAGS) $(BLAS_CFLAGS) $(FILE_CFLAGS) \
               -Isrc -Isrc/host -I$(BUILD)/gen -DTY_VERSION='"$(VERSION)"' -MMD -MP \
               -fvisibility=hidden $(MVEC_CFLAGS)
# glibc's vector math library (libmvec, part of libc6 on x86-64): sin, cos, ... 8 at a time
MVEC_LIBS    = $(if $(wildcard /usr/lib/x86_64-linux-gnu/libmvec.so),-lmvec)
MVEC_CFLAGS  = $(if $(MVEC_LIBS),-DTY_HAVE_MVEC)
LIBS         = $(LUA_LIBS) $(BLAS_LIBS) $(FILE_LIBS) $(MVEC_LIBS) -lm -lpthread

# One folder per layer (README, "Where things are"); a lower one never includes a higher one.
CORE_SRC  = $(sort $(wildcard src/core/*.c) $(wildcard src/nn/*.c) $(wildcard src/io/*.c))
LUA_SRC   = $(sort $(wildcard src/lua/*.c))
HOST_SRC  = src/host/engine.c
LUA_FILES = $(sort $(wildcard lua/tycho/*.lua))

CORE_OBJ = $(CORE_SRC:src/%.c=$(BUILD)/obj/%.o)
LUA_OBJ  = $(LUA_SRC:src/%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/lua_modules.o
HOST_OBJ = $(HOST_SRC:src/%.c=$(BUILD)/obj/%.o)
LIB_OBJ  = $(CORE_OBJ) $(LUA_OBJ) $(HOST_OBJ)
# -MMD -MP: each object's header dependencies, so a header change rebuilds what includes it
# (included files define targets: the default stays `all`)
.DEFAULT_GOAL := all
-include $(wildcard $(BUILD)/obj/*/*.d $(BUILD)/obj/*.d)

.PHONY: all deps run test test-valgrind bench bench-detail bench-deps install uninstall rock rock-install check-fresh clean check-asan check-valgrind check-tsan fuzz

all: deps $(BUILD)/tycho $(BUILD)/libtycho.a $(BUILD)/libtycho.so $(BUILD)/tycho.so

# Installs whichever Debian packages are missing; every other target depends on it.
deps:
	@missing=""; for p in $(DEBIAN_PACKAGES) $(EXTRA_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "make deps: missing Debian packages:$$missing"; \
	    echo "run: sudo apt-get update && sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	  echo "make deps: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	fi

# (the Makefile too: a change of flags rebuilds everything)
$(BUILD)/obj/%.o: src/%.c Makefile | deps
	@mkdir -p $(dir $@) $(BUILD)/gen
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# random.c reproduces NumPy's floating-point operations bit for bit: no fused multiply-add.
$(BUILD)/obj/core/random.o: ALL_CFLAGS += -ffp-contract=off
# The optimizers' kernels take square roots of sums that errno never concerns: without the
# errno branch they vectorize (a `#pragma GCC optimize` does not reach the target clones).
$(BUILD)/obj/nn/optim.o: ALL_CFLAGS += -fno-math-errno

# The Lua parts of the library are compiled into every artifact as byte arrays.
$(BUILD)/gen/lua_modules.c: $(LUA_FILES) Makefile | deps
	@mkdir -p $(BUILD)/gen
	@{ echo '/* generated from the files in lua/tycho/ by the Makefile */'; \
	  echo '#include <stddef.h>'; \
	  for f in $(LUA_FILES); do \
	    n=$$(basename $$f .lua); \
	    echo "static const char src_$$n[] = {"; \
	    od -An -v -tx1 $$f | sed -e 's/ \([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	    echo "0x00};"; \
	  done; \
	  echo 'const struct { const char *name; const char *src; size_t len; } tycho_lua_modules[] = {'; \
	  for f in $(LUA_FILES); do n=$$(basename $$f .lua); \
	    echo "  {\"tycho.$$n\", src_$$n, sizeof src_$$n - 1},"; done; \
	  echo '  {NULL, NULL, 0}};'; } > $@

$(BUILD)/obj/lua_modules.o: $(BUILD)/gen/lua_modules.c
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libtycho.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libtycho.so: $(LIB_OBJ) src/host/exports.map
	$(CC) $(LDFLAGS) -shared -Wl,--version-script=src/host/exports.map -o $@ $(LIB_OBJ) $(LIBS)

# The C module for stock lua5.4: no liblua (the interpreter provides it) and no host layer.
$(BUILD)/tycho.so: $(CORE_OBJ) $(LUA_OBJ) src/host/exports.map
	$(CC) $(LDFLAGS) -shared -Wl,--version-script=src/host/exports.map -o $@ $(CORE_OBJ) $(LUA_OBJ) \
	  $(BLAS_LIBS) $(FILE_LIBS) $(MVEC_LIBS) -lm

# The tycho command links Debian's static liblua5.4.a, as Debian's own lua5.4 does: calls
# into Lua skip the shared library's PLT, and the VM is not position-independent code
# (about 10% off a notebook-sized forward_step). -Wl,-E exports Lua's API to the C modules
# a script may `require`. Host programs link libtycho with their own Lua.
LUA_STATIC = $(shell pkg-config --variable=libdir lua5.4)/liblua5.4.a
$(BUILD)/tycho: $(BUILD)/obj/host/main.o $(BUILD)/libtycho.a
	$(CC) $(LDFLAGS) -Wl,-E -o $@ $^ $(LUA_STATIC) $(BLAS_LIBS) $(FILE_LIBS) $(MVEC_LIBS) -lreadline -lm -ldl

run: all
	$(BUILD)/tycho examples/rnn_notebook.lua
	@echo
	$(BUILD)/tycho examples/lstm_notebook.lua

# C tests of the embedding API: each spec/c/*_test.c ends with "N passed, N failed".
# The example host checks itself against plain C and counts as one of them; so does each
# fuzz target replaying its seed corpus (past crashes included) without libFuzzer.
C_TESTS = $(patsubst spec/c/%.c,$(BUILD)/ctest/%,$(wildcard spec/c/*_test.c)) $(BUILD)/examples/host \
          $(BUILD)/replay/npy $(BUILD)/replay/chunk $(BUILD)/replay/ops \
          $(BUILD)/replay/npz $(BUILD)/replay/safetensors

$(BUILD)/ctest/%: spec/c/%.c $(BUILD)/libtycho.a src/host/tycho.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libtycho.a $(LIBS) -lpthread

$(BUILD)/examples/host: examples/embed/host.c $(BUILD)/libtycho.a src/host/tycho.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libtycho.a $(LIBS)

$(BUILD)/replay/%: spec/fuzz/fuzz_%.c spec/fuzz/replay.c spec/fuzz/fuzz_files.h $(BUILD)/libtycho.a src/host/tycho.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -DCORPUS='"spec/fuzz/corpus_$*"' -o $@ $< spec/fuzz/replay.c \
	  $(BUILD)/libtycho.a $(LIBS)

# Runs the C tests, then every LuaUnit spec; one closing line counts both.
test: all $(C_TESTS)
	@passed=0; failed=0; \
	for t in $(C_TESTS); do \
	  echo "== $$t"; $(SPEC_ENV) $$t > $(BUILD)/ctest.out 2>&1; rc=$$?; cat $(BUILD)/ctest.out; \
	  line=$$(grep -E '^[0-9]+ passed, [0-9]+ failed$$' $(BUILD)/ctest.out | tail -1); \
	  p=$${line%% passed*}; f=$${line#*, }; f=$${f%% failed*}; \
	  if [ -z "$$line" ]; then p=0; f=1; elif [ $$rc -ne 0 ] && [ "$$f" = 0 ]; then f=1; fi; \
	  passed=$$((passed + p)); failed=$$((failed + f)); \
	done; \
	TYCHO_BUILD=$(BUILD) TYCHO_LDFLAGS='$(LDFLAGS)' $(SPEC_ENV) $(BUILD)/tycho spec/run.lua --extra=$$passed,$$failed

# The whole suite under AddressSanitizer, UndefinedBehaviorSanitizer and LeakSanitizer.
# The checking builds compile the core's debug assertions in (TY_DEBUG: TY_ASSERT).
ASAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -DTY_DEBUG
check-asan: deps
	$(MAKE) --no-print-directory BUILD=build/asan CFLAGS="$(ASAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" \
	  SPEC_ENV="ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 OPENBLAS_NUM_THREADS=1 \
	  LD_PRELOAD='$$(cc -print-file-name=libasan.so) $$(cc -print-file-name=libubsan.so)'" test

# The C tests that start threads (the RNN's lanes, engines on several threads) under
# ThreadSanitizer, with one BLAS thread (OpenBLAS's own threads are not instrumented).
TSAN_TESTS = recurrent_paths_test threads_test
check-tsan: deps
	$(MAKE) --no-print-directory BUILD=build/tsan CFLAGS="-O1 -g -fsanitize=thread -DTY_DEBUG" \
	  LDFLAGS="-fsanitize=thread" $(TSAN_TESTS:%=build/tsan/ctest/%)
	@for t in $(TSAN_TESTS); do echo "== tsan $$t"; \
	  OPENBLAS_NUM_THREADS=1 TSAN_OPTIONS=halt_on_error=1 setarch -R build/tsan/ctest/$$t || exit 1; done

# The whole suite under valgrind memcheck: no errors, nothing definitely or indirectly lost.
VALGRIND = valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
  --show-leak-kinds=definite,indirect --trace-children=no
check-valgrind: deps
	@command -v valgrind >/dev/null || { apt-get install -y -qq valgrind >/dev/null; }
	$(MAKE) --no-print-directory BUILD=build/valgrind CFLAGS="$(OPT) -g -DTY_DEBUG" \
	  SPEC_ENV="OPENBLAS_NUM_THREADS=1 TYCHO_VALGRIND=1" test-valgrind

test-valgrind: all $(C_TESTS)
	@for t in $(C_TESTS); do echo "== valgrind $$t"; $(SPEC_ENV) $(VALGRIND) $$t || exit 1; done
	TYCHO_BUILD=$(BUILD) TYCHO_LDFLAGS='$(LDFLAGS)' $(SPEC_ENV) $(VALGRIND) $(BUILD)/tycho spec/run.lua

# Benchmarks (not tests): one table with tycho beside NumPy and PyTorch, 1 BLAS thread,
# then the large RNN, LSTM and GRU cases again with 2 threads; its peak memory on 1 and on 2 threads. The
# table states the FMA peak (bench/fma_peak.c) and the core OpenBLAS runs on each side, all
# under the same environment; BLAS_CORE=native unsets OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE
# for every side, so OpenBLAS picks its kernels for this CPU.
BENCH_ENV = $(if $(filter native,$(BLAS_CORE)),env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE) \
            BENCH_FMA_PEAK=$(BUILD)/bench_fma_peak
$(BUILD)/bench_fma_peak: bench/fma_peak.c
	$(CC) -O2 -std=c99 -Wall -Wextra -pthread -o $@ $<
$(BUILD)/bench_recurrent_paths: bench/recurrent_paths.c $(BUILD)/libtycho.a
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libtycho.a $(LIBS)
bench: all $(BUILD)/bench_fma_peak $(BUILD)/bench_recurrent_paths
	$(BENCH_ENV) OPENBLAS_NUM_THREADS=1 $(BUILD)/tycho bench/run.lua
	$(BENCH_ENV) OPENBLAS_NUM_THREADS=1 $(BUILD)/bench_recurrent_paths
	$(BENCH_ENV) OPENBLAS_NUM_THREADS=2 $(BUILD)/tycho bench/run.lua fwd_bwd_N64
	$(BENCH_ENV) OPENBLAS_NUM_THREADS=1 $(BUILD)/tycho bench/memory.lua
	$(BENCH_ENV) OPENBLAS_NUM_THREADS=2 $(BUILD)/tycho bench/memory.lua
	$(BENCH_ENV) OPENBLAS_NUM_THREADS=1 $(BUILD)/tycho bench/programs.lua

# The measurements behind three choices: OpenBLAS's rate for each operand layout at the RNN's
# product shapes, ordinary against streaming stores for elementwise results, and the RNN's
# step product with W_hh packed once against a BLAS call per step.
bench-detail: all
	OPENBLAS_NUM_THREADS=1 $(BUILD)/tycho bench/gemm_layouts.lua
	$(CC) -O3 -mavx2 -std=c99 -Wall -Wextra -o $(BUILD)/bench_stores bench/stores.c
	$(BUILD)/bench_stores
	$(CC) $(ALL_CFLAGS) -o $(BUILD)/bench_packed_step bench/packed_step.c $(BUILD)/libtycho.a $(LIBS)
	OPENBLAS_NUM_THREADS=1 $(BUILD)/bench_packed_step

bench-deps:
	$(MAKE) --no-print-directory deps EXTRA_PACKAGES="python3-numpy python3-torch"

# Fuzzing with clang's libFuzzer (clang and libclang-rt-14-dev, installed for this target
# only): the .npy, .npz and .safetensors readers on arbitrary bytes, arbitrary chunks in a
# sandboxed, limited engine, and generated sequences of tensor/RNN operations in one. FUZZ_SECONDS per target; the
# corpora grow under build/fuzz (seeds: spec/fuzz/), crashing inputs land in build/fuzz/crashes/.
FUZZ_SECONDS ?= 60
FUZZ_BUILD    = build/fuzz
FUZZ_CFLAGS   = -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
                -fno-sanitize-recover=undefined -DTY_DEBUG
FUZZ_ENV      = OPENBLAS_NUM_THREADS=1 UBSAN_OPTIONS=print_stacktrace=1
fuzz:
	$(MAKE) --no-print-directory deps EXTRA_PACKAGES="clang libclang-rt-14-dev"
	$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang CFLAGS="$(FUZZ_CFLAGS)" \
	  $(FUZZ_BUILD)/fuzz_npy $(FUZZ_BUILD)/fuzz_chunk $(FUZZ_BUILD)/fuzz_ops \
	  $(FUZZ_BUILD)/fuzz_npz $(FUZZ_BUILD)/fuzz_safetensors
	@mkdir -p $(FUZZ_BUILD)/corpus_npy $(FUZZ_BUILD)/corpus_chunk $(FUZZ_BUILD)/corpus_ops \
	  $(FUZZ_BUILD)/corpus_npz $(FUZZ_BUILD)/corpus_safetensors $(FUZZ_BUILD)/crashes
	$(FUZZ_ENV) $(FUZZ_BUILD)/fuzz_npy -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	  -artifact_prefix=$(FUZZ_BUILD)/crashes/npy- $(FUZZ_BUILD)/corpus_npy spec/fuzz/corpus_npy
	$(FUZZ_ENV) $(FUZZ_BUILD)/fuzz_chunk -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	  -timeout=10 -max_len=4096 -dict=spec/fuzz/chunk.dict \
	  -artifact_prefix=$(FUZZ_BUILD)/crashes/chunk- $(FUZZ_BUILD)/corpus_chunk spec/fuzz/corpus_chunk
	$(FUZZ_ENV) $(FUZZ_BUILD)/fuzz_ops -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	  -timeout=10 -max_len=512 \
	  -artifact_prefix=$(FUZZ_BUILD)/crashes/ops- $(FUZZ_BUILD)/corpus_ops spec/fuzz/corpus_ops
	$(FUZZ_ENV) $(FUZZ_BUILD)/fuzz_npz -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	  -timeout=10 -rss_limit_mb=2048 \
	  -artifact_prefix=$(FUZZ_BUILD)/crashes/npz- $(FUZZ_BUILD)/corpus_npz spec/fuzz/corpus_npz
	$(FUZZ_ENV) $(FUZZ_BUILD)/fuzz_safetensors -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	  -timeout=10 -rss_limit_mb=2048 \
	  -artifact_prefix=$(FUZZ_BUILD)/crashes/safetensors- $(FUZZ_BUILD)/corpus_safetensors \
	  spec/fuzz/corpus_safetensors

$(FUZZ_BUILD)/fuzz_%: spec/fuzz/fuzz_%.c spec/fuzz/fuzz_files.h $(FUZZ_BUILD)/libtycho.a src/host/tycho.h
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_BUILD)/libtycho.a $(LIBS)

# DESIGN.md section 3's layout under $(DESTDIR)$(PREFIX); tycho.pc names PREFIX (not DESTDIR).
# A static link of libtycho.a needs what its own objects call: Lua, OpenBLAS, libm and
# pthreads, taken as the system's shared libraries (Libs.private). OpenBLAS's own private
# dependencies (libgfortran) matter only to a fully static binary, which links OpenBLAS's
# archive too. For the system's library directories (PREFIX /usr/local or /usr, no DESTDIR)
# install runs ldconfig, so that programs find libtycho.so without LD_LIBRARY_PATH.
INSTALLED = bin/tycho lib/libtycho.a lib/libtycho.so include/tycho.h lib/pkgconfig/tycho.pc \
            lib/lua/5.4/tycho.so $(LUA_FILES:lua/tycho/%=share/lua/5.4/tycho/%)
SYSTEM_PREFIXES = /usr/local /usr
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include \
	  $(DESTDIR)$(PREFIX)/lib/lua/5.4 $(DESTDIR)$(PREFIX)/share/lua/5.4/tycho
	install -m 755 $(BUILD)/tycho $(DESTDIR)$(PREFIX)/bin/tycho
	install -m 644 $(BUILD)/libtycho.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libtycho.so $(DESTDIR)$(PREFIX)/lib/
	install -m 644 src/host/tycho.h $(DESTDIR)$(PREFIX)/include/
	install -m 755 $(BUILD)/tycho.so $(DESTDIR)$(PREFIX)/lib/lua/5.4/tycho.so
	install -m 644 $(LUA_FILES) $(DESTDIR)$(PREFIX)/share/lua/5.4/tycho/
	printf '%s\n' 'prefix=$(PREFIX)' 'exec_prefix=$${prefix}' 'libdir=$${exec_prefix}/lib' \
	  'includedir=$${prefix}/include' '' 'Name: tycho' \
	  'Description: numerics engine in C scripted by Lua 5.4 (embedding API: tycho.h)' \
	  'Version: $(VERSION)' 'Cflags: -I$${includedir}' 'Libs: -L$${libdir} -ltycho' \
	  'Libs.private: $(strip $(LUA_LIBS) $(BLAS_LIBS) $(FILE_LIBS) $(MVEC_LIBS)) -lm -lpthread' \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/tycho.pc
	chmod 644 $(DESTDIR)$(PREFIX)/lib/pkgconfig/tycho.pc
	@if [ -z "$(DESTDIR)" ] && echo " $(SYSTEM_PREFIXES) " | grep -q " $(PREFIX) " && \
	    [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then ldconfig; fi

# Removes exactly the files install put under $(DESTDIR)$(PREFIX), and tycho's own folder of
# Lua files; the shared folders (bin, lib, ...) stay.
uninstall:
	rm -f $(INSTALLED:%=$(DESTDIR)$(PREFIX)/%)
	-rmdir $(DESTDIR)$(PREFIX)/share/lua/5.4/tycho 2>/dev/null
	@if [ -z "$(DESTDIR)" ] && echo " $(SYSTEM_PREFIXES) " | grep -q " $(PREFIX) " && \
	    [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then ldconfig; fi

# A new user's machine: `make test` and `make run` on a clean clone of this checkout's
# commits, in a freshly bootstrapped Debian 12 root (only gcc, make and git; needs root).
FRESH_DEBIAN ?= ../shared/tools/fresh-debian
check-fresh:
	@test -x $(FRESH_DEBIAN) || { echo "check-fresh: $(FRESH_DEBIAN) not found (set FRESH_DEBIAN)"; exit 1; }
	$(FRESH_DEBIAN) . "make test" "make run"

# LuaRocks (tycho-scm-1.rockspec, build type "make"): the C module for stock Lua, built with
# the tree's CFLAGS and Lua headers against the system's OpenBLAS, in a build folder of its
# own for those flags (a sanitized build and a plain one never share objects); then
# installed into the tree's folders for C modules (LIBDIR) and Lua files (LUADIR).
ROCK_BUILD = build/rock-$(shell printf '%s' '$(CFLAGS) $(LDFLAGS)' | cksum | cut -d' ' -f1)
rock:
	$(MAKE) --no-print-directory BUILD=$(ROCK_BUILD) CFLAGS="$(CFLAGS)" \
	  LUA_CFLAGS="$(if $(LUA_INCDIR),-I$(LUA_INCDIR),$$(pkg-config --cflags lua5.4))" $(ROCK_BUILD)/tycho.so
rock-install:
	install -d $(LIBDIR) $(LUADIR)/tycho
	install -m 755 $(ROCK_BUILD)/tycho.so $(LIBDIR)/tycho.so
	install -m 644 $(LUA_FILES) $(LUADIR)/tycho/

clean:
	rm -rf $(BUILD)
