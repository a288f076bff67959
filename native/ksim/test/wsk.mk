# ksim WSK provider tests: make -f native/ksim/test/wsk.mk check   (from the repository root)
# Builds the ksim core and the provider with the simulated kernel headers, plus a host-side
# peer compiled with the host's own headers, into one test program.

# The tests run with ksim's pool poisoning and checks on every byte of every freed block
# (native/ksim/src/pool.c); the default samples large blocks.
export KSIM_POOL_CHECK ?= full
CC ?= cc
BUILD ?= build/ksim-wsk-test
CFLAGS_COMMON = -std=gnu11 -g -O1 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
  -Wno-multichar -Werror=implicit-function-declaration -Werror=incompatible-pointer-types -Werror=int-conversion \
  $(EXTRA_CFLAGS)
KSIM_INC = -Inative/ksim/include -Inative/ksim -Inative/ksim/src
KSIM_SRC = $(wildcard native/ksim/src/*.c) $(filter-out %_win.c,$(wildcard native/ksim/host/*.c))
KSIM_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(KSIM_SRC))

$(BUILD)/%.o: %.c $(wildcard native/ksim/include/*.h native/ksim/src/*.h native/ksim/host/*.h)
	@mkdir -p $(dir $@)
	@$(CC) $(CFLAGS_COMMON) $(KSIM_INC) -c $< -o $@

$(BUILD)/native/ksim/test/wsk_test_peer.o: native/ksim/test/wsk_test_peer.c native/ksim/test/wsk_test_peer.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -c $< -o $@

$(BUILD)/wsk_test: $(KSIM_OBJ) $(BUILD)/native/ksim/test/wsk_test.o $(BUILD)/native/ksim/test/wsk_test_peer.o
	$(CC) $(CFLAGS_COMMON) -o $@ $^ -lpthread

check: $(BUILD)/wsk_test
	$(BUILD)/wsk_test

.PHONY: check

# The same under AddressSanitizer and UndefinedBehaviorSanitizer.
asan:
	$(MAKE) -f native/ksim/test/wsk.mk BUILD=$(BUILD)-asan \
	  EXTRA_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" check

.PHONY: asan
