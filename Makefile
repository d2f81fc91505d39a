# The README's two commands: `make run` and `make test`. Both install dependencies (Debian 12,
# as root or with sudo), configure CMake and build; see README.md.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEPS := cmake ninja-build g++ pkg-config libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev \
        libpcre2-dev libutf8proc-dev nlohmann-json3-dev libcpp-httplib-dev libcurl4-openssl-dev \
        libssl-dev libedit-dev python3 tmux

.PHONY: deps e2e-deps configure build run test test-asan test-tsan fuzz bench clean format

deps:
	@missing=""; for p in $(DEPS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; fi

# The Node end-to-end suite (official openai + ollama clients) needs its npm packages; without
# node/npm the suite is skipped (ctest registers it only when node_modules exists).
e2e-deps:
	@if command -v npm >/dev/null 2>&1; then \
	  [ -d tests/e2e/node_modules/openai ] || npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: skipping the Node end-to-end tests"; fi

configure: deps e2e-deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD) -j $(JOBS)

run: build
	./scripts/run-main.sh $(BUILD)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

# Unit tests under AddressSanitizer + UndefinedBehaviorSanitizer (separate build folder; -O1 -g1
# keeps the 2-core CI build short while still giving file:line in reports).
test-asan: deps
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O1 -g1" \
	  -DCMAKE_C_FLAGS="-O1 -g1" -DHEARTH_SANITIZE=ON -DHEARTH_BUILD_BENCH=OFF
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure -j $(JOBS) --timeout 900 -L unit

# Engine tests (engine thread, request handles, shared KV chunks of the prefix cache) under
# ThreadSanitizer, in their own build folder. Only the engine test binaries are built.
test-tsan: deps
	cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O1 -g1 -fsanitize=thread" \
	  -DCMAKE_C_FLAGS="-O1 -g1 -fsanitize=thread" -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread \
	  -DHEARTH_BUILD_BENCH=OFF
	cmake --build build-tsan -j $(JOBS) --target test_engine test_kv_sharing
	cd build-tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ctest --output-on-failure \
	  -j $(JOBS) --timeout 1800 -R '^(Engine|KvSharing)\.'

# libFuzzer target for the GGUF reader (clang). Runs 60 s from the checked-in bad-file corpus.
fuzz: deps
	@dpkg -s clang libclang-rt-14-dev >/dev/null 2>&1 || $(SUDO) apt-get install -y -qq clang libclang-rt-14-dev
	cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
	  -DCMAKE_CXX_COMPILER=clang++ -DHEARTH_FUZZ=ON -DHEARTH_BUILD_BENCH=OFF -DHEARTH_BUILD_TESTS=ON
	cmake --build build-fuzz -j $(JOBS) --target gguf_fuzz
	mkdir -p build-fuzz/corpus && cp tests/data/gguf_bad/*.gguf build-fuzz/corpus/
	./build-fuzz/bin/gguf_fuzz build-fuzz/corpus -max_len=8192 -rss_limit_mb=2048 -max_total_time=60

bench: build
	./$(BUILD)/bin/hearth bench-kernels

clean:
	rm -rf $(BUILD) build-asan build-fuzz

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h')
