# opendims_privacy: PGXS build, plus the project's own test, demo and
# benchmark entry points (see README.md).

EXTENSION = opendims_privacy
MODULE_big = opendims_privacy

# "make" builds everything (the install script's rule below would otherwise
# be the first target).
.DEFAULT_GOAL := all

# src/ is organised by area (see "Layout" in README.md): each area's C files
# are part of the module, and src/pure/ (no backend needed) is also compiled
# on its own by the unit tests and fuzzers in test/.
AREAS = base types policy audit subject consent protection retention rights recipients guard masking
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/pure/*.c $(foreach a,$(AREAS),src/$(a)/*.c))))

# One install script per release, built from the areas' SQL in the order of
# AREAS (an area's objects may use those of the areas before it), plus the
# hand-written upgrade script from the previous release.
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" $(EXTENSION).control)
AREA_SQL = $(foreach a,$(AREAS),src/$(a)/$(a).sql)
DATA_built = $(EXTENSION)--$(EXTVERSION).sql
DATA = $(wildcard $(EXTENSION)--*--*.sql)

$(EXTENSION)--$(EXTVERSION).sql: src/script_header.sql $(AREA_SQL) $(EXTENSION).control Makefile
	cat src/script_header.sql $(AREA_SQL) > $@

# pg_regress: one file per feature in sql/ with its output in expected/.
REGRESS = $(sort $(basename $(notdir $(wildcard sql/*.sql))))
REGRESS_OPTS = --inputdir=.

# Isolation specs live in test/isolation with their output in expected/,
# beside pg_regress's. pg_isolation_regress reads specs from specs/ under
# its output or input directory, so they are copied to the output directory
# (isolation-specs below).
ISOLATION = $(sort $(basename $(notdir $(wildcard test/isolation/*.spec))))
ISOLATION_OPTS = --inputdir=. --outputdir=test/output_iso


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
# saves (see docs/performance.md, "JIT and LLVM bitcode").
override with_llvm = no

EXTRA_CLEAN = test/unit/build test/fuzz/build test/output_iso test/bench/out $(OBJS:.o=.d)

# The compiler writes each object's header dependencies beside it, so that
# a changed header rebuilds every file that includes it (a struct laid out
# differently in two objects of the module would crash the server).
PG_CPPFLAGS += -MMD -MP
-include $(OBJS:.o=.d)

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

.PHONY: test demo bench unit fuzz-replay isolation-specs package-test

# pg_isolation_regress reads specs from specs/ under its output directory.
installcheck: isolation-specs
isolation-specs:
	@mkdir -p test/output_iso/specs
	@cp test/isolation/*.spec test/output_iso/specs/

# Every suite on a throw-away cluster; prints "N passed, N failed".
test:
	@bash test/scripts/run-tests.sh

# The product at work on the sample OpenDIMS schema and policy.
demo:
	@bash test/scripts/demo.sh

# Benchmarks, each as a ratio against a baseline measured in the same run.
bench:
	@bash test/scripts/bench.sh $(SCALE)

# META.json, and the Debian package (debian/) built and run on a throw-away
# cluster; part of make test.
package-test:
	@bash test/scripts/package-test.sh

# Standalone C unit tests of the pure code (no server needed).
unit:
	@$(MAKE) -s -C test/unit run

# Replays the fuzzers' seed corpora (clang with libFuzzer).
fuzz-replay:
	@$(MAKE) -s -C test/fuzz replay

# The previous release, which the upgrade test (test/scripts/upgrade-test.sh)
# builds from its commit and updates to this one.
PREVIOUS_VERSION = 1.8
PREVIOUS_COMMIT = 4c8e51c82fa33a73a3723f21c67c0b822f862e84

print-%:
	@echo '$($*)'
