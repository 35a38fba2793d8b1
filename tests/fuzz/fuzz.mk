# fuzz.mk - builds the libFuzzer harnesses (GNU make; run by `make fuzz`
# and `make fuzz-build` from the top Makefile, which passes the variables
# below). The library sources are compiled again with clang and the fuzzing
# sanitizers into $(OUT), apart from the normal build.
#
#   FUZZ_CC    clang
#   SRCDIR     the source tree;  BUILDDIR: the build tree (config.h)
#   LIBSRC     the library's sources (libkmill_a_SOURCES)
#   LIBS       the libraries to link (zstd, liburing, LAPACKE, BLAS, -lm)
#   DEPCFLAGS  their compile flags
#   OUT        where objects and the fuzzers go

TARGETS = fuzz-csv fuzz-kmx fuzz-kmm fuzz-numparse
FUZZ_FLAGS = -g -O1 -fno-omit-frame-pointer -fno-sanitize-recover=all
CFLAGS_ALL = -std=gnu11 $(FUZZ_FLAGS) -pthread -I$(BUILDDIR) -I$(SRCDIR)/include -I$(SRCDIR)/src \
	-I$(SRCDIR)/tests/fuzz $(DEPCFLAGS)
LIB_CFLAGS = $(CFLAGS_ALL) -fsanitize=fuzzer-no-link,address,undefined
LINK_FLAGS = $(FUZZ_FLAGS) -fsanitize=fuzzer,address,undefined -pthread

LIBOBJ = $(patsubst %.c,$(OUT)/%.o,$(filter %.c,$(LIBSRC)))

all: $(addprefix $(OUT)/,$(TARGETS))

$(OUT)/%.o: $(SRCDIR)/%.c
	@mkdir -p $(dir $@)
	@echo "  FUZZCC   $*.c"
	@$(FUZZ_CC) $(LIB_CFLAGS) -MMD -MP -c $< -o $@

$(OUT)/libkmill-fuzz.a: $(LIBOBJ)
	@rm -f $@
	@ar cr $@ $^

$(OUT)/fuzz-%: $(OUT)/tests/fuzz/fuzz_%.o $(OUT)/libkmill-fuzz.a
	@echo "  FUZZLD   $(notdir $@)"
	@$(FUZZ_CC) $(LINK_FLAGS) $^ $(LIBS) -o $@

.SECONDARY:
-include $(LIBOBJ:.o=.d) $(patsubst %,$(OUT)/tests/fuzz/fuzz_%.d,csv kmx kmm numparse)
