# tern - front for CMake. `make`, `make run`, `make check`, `make install`.
PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps build run check unit e2e asan fuzz-smoke install clean bench

all: build

deps:
	@./scripts/install-deps

$(BUILD)/Makefile: CMakeLists.txt
	@cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null

build: $(BUILD)/Makefile
	@cmake --build $(BUILD) -j $(JOBS)

run: deps build
	@./scripts/run-dev

check: deps
	@./scripts/check

unit: build
	@cd $(BUILD) && ctest --output-on-failure -L unit

e2e: build
	@cd $(BUILD) && ctest --output-on-failure -L e2e

install: build
	@DESTDIR=$(DESTDIR) cmake --install $(BUILD) --prefix $(PREFIX)

bench: deps build
	@./bench/run-smtp-bench

clean:
	rm -rf build build-asan build-fuzz
