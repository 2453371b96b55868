# The two commands of the README:
#   make serve   installs what is missing, builds, and starts the server on the bundled model
#   make test    installs what is missing, builds, and runs every test (what CI runs)
JOBS    ?= $(shell nproc)
BUILD   ?= build/release
ASAN    ?= build/asan
FUZZ    ?= build/fuzz
FUZZ_SECONDS ?= 60
CMAKE_FLAGS ?=
MODEL   ?= models/quarrel-demo-kjv-q8_0.gguf

.PHONY: all setup build test test-release test-asan test-fuzz serve clean

all: build

setup:
	@scripts/setup

build: setup
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)

# Every test: the release build (CUDA compiled when nvcc exists; GPU tests skip without a GPU),
# the unit tests again under ASan+UBSan, then the GGUF fuzzer for a bounded time.
test: build test-release test-asan test-fuzz
	@echo "all tests passed"

test-release: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

test-asan: setup
	cmake -S . -B $(ASAN) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DQUARREL_SANITIZE=ON -DQUARREL_BUILD_BENCH=OFF $(CMAKE_FLAGS)
	cmake --build $(ASAN) -j $(JOBS) --target unit_tests
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --test-dir $(ASAN) -L unit --output-on-failure -j $(JOBS)

test-fuzz: setup
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQUARREL_FUZZ=ON $(CMAKE_FLAGS)
	cmake --build $(FUZZ) -j $(JOBS) --target fuzz_targets
	scripts/run-fuzzers $(FUZZ) $(FUZZ_SECONDS)

serve: build
	$(BUILD)/apps/quarrel/quarrel serve $(MODEL)

clean:
	rm -rf build
