# Builds and runs the socket-half smoke test on ksim, plain and with ASan + UBSan.
#   make -f driver/test/socket.mk [BUILD=.cache/socket-test]     (from the package root)
CC ?= cc
CFLAGS_COMMON = -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-multichar -Wno-missing-field-initializers \
	-Inative/ksim/include -Inative/ksim -Idriver
BUILD ?= .cache/socket-test
SOURCES = driver/test/socket_smoke_test.c $(shell node scripts/gyp-sources.js driver) $(shell node scripts/gyp-sources.js ksim)
HEADERS = $(wildcard driver/*.h native/ksim/*.h native/ksim/include/*.h native/ksim/src/*.h native/ksim/host/*.h)

all: run

$(BUILD)/socket_smoke_test: $(SOURCES) $(HEADERS)
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS_COMMON) -O2 -g $(SOURCES) -lpthread -o $@

$(BUILD)/socket_smoke_test_asan: $(SOURCES) $(HEADERS)
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS_COMMON) -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined \
		$(SOURCES) -lpthread -o $@

run: $(BUILD)/socket_smoke_test $(BUILD)/socket_smoke_test_asan
	$(BUILD)/socket_smoke_test
	$(BUILD)/socket_smoke_test_asan

.PHONY: all run
