# Builds and runs the socket-half smoke test on ksim, plain and with ASan + UBSan.
#   make -f driver/test/socket.mk          (from the package root)
CC ?= cc
CFLAGS_COMMON = -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-multichar -Wno-missing-field-initializers \
	-Inative/ksim/include -Inative/ksim -Idriver
SOURCES = driver/test/socket_smoke_test.c $(shell node scripts/gyp-sources.js driver) $(shell node scripts/gyp-sources.js ksim)

all: run

build/socket_smoke_test: $(SOURCES)
	@mkdir -p build
	$(CC) $(CFLAGS_COMMON) -O2 -g $(SOURCES) -lpthread -o $@

build/socket_smoke_test_asan: $(SOURCES)
	@mkdir -p build
	$(CC) $(CFLAGS_COMMON) -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined \
		$(SOURCES) -lpthread -o $@

run: build/socket_smoke_test build/socket_smoke_test_asan
	build/socket_smoke_test
	build/socket_smoke_test_asan

.PHONY: all run
