# pcvm build. Sources are found by wildcard: add a .c file under src/ and it is built.
#   make            build ./pcvm and ./pcvm-img
#   make run        build, fetch the default guest, boot it (leave with Ctrl-A x)
#   make check      build and run every test (unit tests also under ASan/UBSan)
#   make bench      benchmarks side by side with qemu-system-i386
#   make fuzz       run the libFuzzer targets for a bounded time
CC      ?= gcc
BUILD   ?= build
PKGS    := zlib libzstd jansson slirp libvncserver sdl2 libpng xkbcommon
# Display libraries: their headers only; pcvm dlopens them when first needed (src/ui/dynlib.h).
LAZY_PKGS := libvncserver sdl2 libpng xkbcommon
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --exists $(PKGS) 2>/dev/null && pkg-config --libs $(filter-out $(LAZY_PKGS),$(PKGS)) 2>/dev/null || echo PKG_CONFIG_FAILED)
ifeq ($(PKG_LIBS),PKG_CONFIG_FAILED)
ifeq ($(filter deps clean,$(MAKECMDGOALS)),)
$(error pkg-config cannot find $(PKGS): run 'make deps' (scripts/install-deps.sh))
endif
endif
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Isrc $(PKG_CFLAGS) -MMD -MP
ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
ifeq ($(SAN),thread)
# TSan does not model standalone fences (the seqlock and memory.h use them): gcc warns (-Wtsan).
CFLAGS  += -fsanitize=thread -fno-omit-frame-pointer -Wno-tsan
LDFLAGS += -fsanitize=thread
endif
LDLIBS  += $(PKG_LIBS) -ldl -lpthread -lm -lutil

LIB_SRCS  := $(filter-out src/main.c,$(shell find src -name '*.c' | sort))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:%.c=$(BUILD)/%)

.PHONY: all deps run check check-unit check-asan check-tsan check-cli check-cpu check-block check-fuzz check-gdb check-guests bench fuzz conformance clean
all: pcvm pcvm-img pcvm-profile

deps:
	@bash scripts/install-deps.sh

$(BUILD)/libpcvm.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/pcvm: $(BUILD)/src/main.o $(BUILD)/libpcvm.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/pcvm-img: $(BUILD)/tools/pcvm-img.o $(BUILD)/libpcvm.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Copy then rename, so a running ./pcvm does not stop the build ("text file busy").
pcvm: $(BUILD)/pcvm
	cp $< $@.tmp && mv -f $@.tmp $@
pcvm-img: $(BUILD)/pcvm-img
	cp $< $@.tmp && mv -f $@.tmp $@
# Boot-time profiler (Python 3, standard library only; README "Profiling boots").
pcvm-profile: tools/pcvm-profile.py
	cp $< $@.tmp && chmod +x $@.tmp && mv -f $@.tmp $@

$(BUILD)/tests/unit/%: tests/unit/%.c $(BUILD)/libpcvm.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -Itests/unit -o $@ $< $(BUILD)/libpcvm.a $(LDLIBS) -lcmocka

unit-bins: $(UNIT_BINS)

# Each unit test is a cmocka program; the runner prints one closing line for all of them.
check-unit: unit-bins
	@bash tests/run-unit.sh $(BUILD) $(UNIT_BINS)

# Unit tests, then the quick guest tests, with pcvm itself built with ASan/UBSan.
check-asan:
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 OPT=-O1 check-unit
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 OPT=-O1 build-asan/pcvm
	@PCVM=$(CURDIR)/build-asan/pcvm PCVM_GUEST_TESTS="kernels badkernels" PCVM_GUEST_LOGS=$(CURDIR)/build-asan/guest-logs bash tests/guests/run.sh

# Linux at -smp 4 with one thread per vCPU, pcvm built with ThreadSanitizer: no race may be
# reported inside pcvm (tests/tsan.supp names the guest's own).  Too slow for make check.
check-tsan:
	@$(MAKE) --no-print-directory BUILD=build-tsan SAN=thread OPT=-O1 build-tsan/pcvm
	@PCVM=$(CURDIR)/build-tsan/pcvm PCVM_GUEST_TESTS=linux_tsan PCVM_GUEST_TIME_SCALE=$${PCVM_GUEST_TIME_SCALE:-4} PCVM_GUEST_LOGS=$(CURDIR)/build-tsan/guest-logs bash tests/guests/run.sh

check-cli: all
	@bash tests/cli/run.sh
	@python3 tests/signals/run.py ./pcvm

check-cpu: all
	@bash tests/cpu/sys/run.sh
	@bash tests/cpu/fpu/run.sh
	@if [ -x tests/cpu/run.sh ]; then bash tests/cpu/run.sh; fi
	@bash tests/cpu/models/run.sh
	@bash tests/cpu/models/topo.sh
	@bash tests/cpu/smp/run.sh
	@bash tests/cpu/jit.sh

check-block: all
	@bash tests/block/interop.sh ./pcvm-img
	@bash tests/block/crash.sh ./pcvm-img
	@python3 tests/block/check_compare.py ./pcvm-img
	@python3 tests/block/savevm_crash.py ./pcvm

# A few seconds of every libFuzzer target (make fuzz runs them longer).
check-fuzz:
	@bash tests/fuzz/smoke.sh

# gdb in batch mode against the stub (tests/gdb).
check-gdb: all
	@bash tests/gdb/run.sh

check-guests: all
	@bash tests/guests/run.sh
	@python3 tests/profile/test_profile.py
	@bash tests/block/guest_ide.sh ./pcvm ./pcvm-img
	@bash tests/cpu/fpu/guest-float.sh

check: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory check-unit
	@$(MAKE) --no-print-directory check-asan
	@$(MAKE) --no-print-directory check-cli
	@$(MAKE) --no-print-directory check-cpu
	@$(MAKE) --no-print-directory check-block
	@$(MAKE) --no-print-directory check-fuzz
	@$(MAKE) --no-print-directory check-gdb
	@$(MAKE) --no-print-directory check-guests

# The full CPU conformance run against the host CPU (a few minutes).
conformance: all
	@bash tests/cpu/conformance.sh

run: deps all
	@bash scripts/run-default-guest.sh

bench: deps all
	@bash bench/run.sh

fuzz: deps
	@bash tests/fuzz/run.sh

clean:
	rm -rf build build-asan build-tsan pcvm pcvm-img pcvm-profile

-include $(shell find $(BUILD) build-asan build-tsan -name '*.d' 2>/dev/null)
