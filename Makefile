# The two commands of the README:
#   make run    install what is missing, build a release binary, start tokend on SQLite
#   make test   install what is missing, build (release and asan), run every test with CTest
# and the others: make build, make bench, make fuzz, make format, make lint, make clean.

DATA_DIR ?= $(CURDIR)/data
LISTEN ?= 127.0.0.1:8080
JOBS ?= $(shell nproc)

.PHONY: run build test bench fuzz format lint clean deps deps-test

deps:
	@scripts/install-deps.sh

deps-test:
	@scripts/install-deps.sh --test

build: deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS) --target tokend

run: build
	@mkdir -p $(DATA_DIR)
	exec build/release/tokend serve --listen $(LISTEN) --data-dir $(DATA_DIR)

test: deps-test
	scripts/test.sh

bench:
	scripts/install-deps.sh --bench
	bench/load.sh

fuzz: deps-test
	scripts/fuzz.sh

format:
	find src tests bench -name '*.h' -o -name '*.cc' | xargs clang-format -i

lint:
	cmake --preset debug >/dev/null
	run-clang-tidy -p build/debug -quiet src 2>/dev/null || clang-tidy -p build/debug $$(find src -name '*.cc')

clean:
	rm -rf build console/node_modules
