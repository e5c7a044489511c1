# torsion's front door. `make run` builds and runs torsiond (a web server on docs/), `make test` builds and
# runs the test suite. Everything is CMake + Ninja underneath; build directories are build*/.
#
#   make deps            install the Debian packages (scripts/install-deps; fast when present)
#   make build           configure build/ (RelWithDebInfo) once, then build
#   make test            build, then ctest (its summary is the last thing printed)
#   make test-sanitize   ASan+UBSan Debug build with clang++ in build-asan/, then ctest
#   make acceptance      build, then the black-box suite acceptance/ against build/apps/torsiond
#                        (pytest with real clients: curl, nc, socat) [PYTEST_ARGS=-m 'not slow']
#   make acceptance-reference
#                        the shared reference suite ../shared/acceptance (outside the repo, so
#                        not in CI) against build/apps/torsiond: web, portforward, socks
#   make test-tsan       TSan Debug build in build-tsan/, then ctest [TSAN_LABELS='thread|reactor']
#   make run             build, then build/apps/torsiond -n web --path docs [RUN_ARGS='-n PLUGIN ...']
#   make bench           build, then build/bench/micro/torsion_micro_bench [BENCH_ARGS=...]
#   make bench-twisted   the same micro benchmarks in Twisted (../shared/bench/twisted/micro.py)
#   make format          clang-format the tree in place;  make format-check  only checks
#   make install-check   install to a scratch prefix, build a downstream project against it
#   make fuzz            build the libFuzzer targets with clang in build-fuzz/
#   make fuzz-smoke      build them and run each for FUZZ_SECONDS (20) from its seed corpus
#   make clean           remove every build directory
#
# CI=true (as in .ci/run) adds -DTORSION_WERROR=ON to every configure.

SHELL := /bin/bash
.DEFAULT_GOAL := build

JOBS ?= 2
TSAN_LABELS ?=
BENCH_ARGS ?=
RUN_ARGS ?= -n --pidfile '' web --listen tcp:8080:interface=127.0.0.1 --path docs
TWISTED_MICRO ?= $(CURDIR)/../shared/bench/twisted/micro.py
# Debian's interpreter: python3-pytest and python3-pytest-timeout are installed for it.
PYTHON ?= /usr/bin/python3
PYTEST_ARGS ?=
REFERENCE_ACCEPTANCE ?= $(CURDIR)/../shared/acceptance

# CI is "set" unless empty, 0 or false.
ifneq ($(filter-out 0 false FALSE False no,$(strip $(CI))),)
  WERROR := -DTORSION_WERROR=ON
else
  WERROR :=
endif

# Sanitizer lists hold commas, so they live in variables (commas would split $(call) arguments).
ASAN_SANITIZERS := address,undefined
TSAN_SANITIZERS := thread
ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
TSAN_ENV := TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

CTEST := ctest -j$(JOBS) --output-on-failure

# $(call configure,DIR,CMAKE-ARGS): configure DIR with Ninja unless it already is.
define configure
	@if [ ! -f $(1)/build.ninja ]; then \
	  echo "cmake -S . -B $(1) -G Ninja $(strip $(2) $(WERROR))"; \
	  cmake -S . -B $(1) -G Ninja $(2) $(WERROR); \
	fi
endef

.PHONY: deps build test test-sanitize test-tsan acceptance acceptance-reference run bench \
        bench-twisted format format-check install-check fuzz fuzz-smoke clean

deps:
	@scripts/install-deps

build: deps
	$(call configure,build,-DCMAKE_BUILD_TYPE=RelWithDebInfo)
	cmake --build build -j$(JOBS)

test: build
	$(CTEST) --test-dir build

acceptance: build
	TORSIOND=build/apps/torsiond $(PYTHON) -m pytest acceptance -q $(PYTEST_ARGS)

acceptance-reference: build
	@if [ ! -d "$(REFERENCE_ACCEPTANCE)" ]; then \
	  echo "make acceptance-reference: $(REFERENCE_ACCEPTANCE) not found (it lives in the shared/ folder beside the repo)" >&2; \
	  exit 1; \
	fi
	cd "$(REFERENCE_ACCEPTANCE)" && PYTHONDONTWRITEBYTECODE=1 $(PYTHON) -m pytest -q --impl torsion \
	  --server-bin=$(CURDIR)/build/apps/torsiond $(PYTEST_ARGS)

test-sanitize: deps
	$(call configure,build-asan,-DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug -DTORSION_SANITIZE=$(ASAN_SANITIZERS) -DTORSION_BUILD_BENCH=OFF)
	cmake --build build-asan -j$(JOBS)
	$(ASAN_ENV) $(CTEST) --test-dir build-asan

test-tsan: deps
	$(call configure,build-tsan,-DCMAKE_BUILD_TYPE=Debug -DTORSION_SANITIZE=$(TSAN_SANITIZERS) -DTORSION_BUILD_BENCH=OFF -DTORSION_BUILD_EXAMPLES=OFF)
	cmake --build build-tsan -j$(JOBS)
	$(TSAN_ENV) $(CTEST) --test-dir build-tsan $(if $(strip $(TSAN_LABELS)),-L '$(TSAN_LABELS)')

run: build
	build/apps/torsiond $(RUN_ARGS)

bench: build
	@if [ ! -x build/bench/micro/torsion_micro_bench ]; then \
	  echo "make bench: build/bench/micro/torsion_micro_bench was not built (no bench/micro/*.cpp yet?)" >&2; \
	  exit 1; \
	fi
	build/bench/micro/torsion_micro_bench $(BENCH_ARGS)

bench-twisted: deps
	@if [ -f "$(TWISTED_MICRO)" ]; then \
	  echo "/usr/bin/python3 $(TWISTED_MICRO)"; \
	  /usr/bin/python3 "$(TWISTED_MICRO)"; \
	else \
	  echo "make bench-twisted: $(TWISTED_MICRO) not found (it lives in the shared/ folder beside the repo)"; \
	fi

format: deps
	$(call configure,build,-DCMAKE_BUILD_TYPE=RelWithDebInfo)
	cmake --build build --target format

format-check: deps
	$(call configure,build,-DCMAKE_BUILD_TYPE=RelWithDebInfo)
	cmake --build build --target format-check

install-check: deps
	scripts/install-check

fuzz: deps
	@if [ ! -f build-fuzz/build.ninja ]; then \
	  echo "cmake -S . -B build-fuzz -G Ninja (clang++, TORSION_BUILD_FUZZ=ON)"; \
	  CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DTORSION_BUILD_FUZZ=ON -DTORSION_BUILD_TESTS=OFF -DTORSION_BUILD_BENCH=OFF \
	    -DTORSION_BUILD_EXAMPLES=OFF $(WERROR); \
	fi
	cmake --build build-fuzz -j$(JOBS)

# Each target starts from fuzz/corpus/<name>/ (if any) copied to a scratch directory, so a
# run never writes into the tree, with the dictionary fuzz/<first word of name>.dict if there
# is one (http.dict for http_*). A crash fails the run and leaves its input in build-fuzz/.
FUZZ_SECONDS ?= 20
fuzz-smoke: fuzz
	@set -e; shopt -s nullglob; targets=(); \
	for f in build-fuzz/fuzz/*; do if [ -f "$$f" ] && [ -x "$$f" ]; then targets+=("$$f"); fi; done; \
	if [ $${#targets[@]} -eq 0 ]; then echo "fuzz-smoke: no fuzz targets"; exit 0; fi; \
	for t in "$${targets[@]}"; do \
	  name=$$(basename "$$t"); work=build-fuzz/corpus-run/$$name; \
	  rm -rf "$$work"; mkdir -p "$$work"; \
	  if [ -d fuzz/corpus/$$name ]; then cp -r fuzz/corpus/$$name/. "$$work"/; fi; \
	  dict=(); if [ -f "fuzz/$${name%%_*}.dict" ]; then dict=(-dict="fuzz/$${name%%_*}.dict"); fi; \
	  echo "fuzz-smoke: $$name for $(FUZZ_SECONDS)s $${dict[*]}"; \
	  "$$t" -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -artifact_prefix=build-fuzz/ \
	    "$${dict[@]}" "$$work" 2>&1 | tail -n 12; \
	  test $${PIPESTATUS[0]} -eq 0; \
	done

clean:
	rm -rf build build-asan build-tsan build-install build-fuzz build-ci
