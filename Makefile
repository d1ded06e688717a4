# opendims_privacy: PGXS build, plus the project's own test, demo and
# benchmark entry points (see README.md).

EXTENSION = opendims_privacy
MODULE_big = opendims_privacy

# Every C file in src/ is part of the module; pure files (no backend needed)
# are also compiled on their own by the unit tests and fuzzers in test/.
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c src/subject/*.c src/rights/*.c)))

# Install and upgrade scripts live at the top of the tree.
DATA = $(sort $(wildcard opendims_privacy--*.sql))

# pg_regress: one file per feature in sql/ with its output in expected/.
REGRESS = $(sort $(basename $(notdir $(wildcard sql/*.sql))))
REGRESS_OPTS = --inputdir=.

# Isolation specs live in test/specs with their output in test/expected.
ISOLATION = $(sort $(basename $(notdir $(wildcard test/specs/*.spec))))
ISOLATION_OPTS = --inputdir=test --outputdir=test/output_iso

PKG_CONFIG ?= pkg-config
PG_CPPFLAGS = -I$(srcdir)/src $(shell $(PKG_CONFIG) --cflags json-c libcrypto 2>/dev/null)
SHLIB_LINK = $(shell $(PKG_CONFIG) --libs json-c libcrypto 2>/dev/null)

# The test build treats every warning as an error.
ifdef WERROR
PG_CFLAGS += -Werror
endif

# No LLVM bitcode is installed: JIT-compiled queries call the extension's
# functions instead of inlining them. Inlining the row check into every
# JIT-compiled scan of a protected table costs more compile time than it
# saves (see "Performance" in the README).
override with_llvm = no

EXTRA_CLEAN = test/unit/build test/fuzz/build test/output_iso test/bench/out

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(wildcard $(PGXS)),)
include $(PGXS)
else
# Without the server development files only the entry points below work;
# they install what is missing and come back here.
all install installcheck:
	@echo "PostgreSQL server development files not found: run 'make test' or see README.md" >&2
	@exit 1
endif

.PHONY: test demo bench unit fuzz-replay

# Every suite on a throw-away cluster; prints "N passed, N failed".
test:
	@bash test/scripts/run-tests.sh

# The product at work on the sample OpenDIMS schema and policy.
demo:
	@bash test/scripts/demo.sh

# Benchmarks, each as a ratio against a baseline measured in the same run.
bench:
	@bash test/scripts/bench.sh $(SCALE)

# Standalone C unit tests of the pure code (no server needed).
unit:
	@$(MAKE) -s -C test/unit run

# Replays the fuzzers' seed corpora (clang with libFuzzer).
fuzz-replay:
	@$(MAKE) -s -C test/fuzz replay
