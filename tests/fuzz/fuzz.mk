# tests/fuzz/fuzz.mk - builds the libFuzzer harnesses with clang, apart
# from the ordinary (gcc, automake) build: every library source is
# compiled again into $(B) with coverage and ASan+UBSan, then each
# tests/fuzz/fuzz_<name>.c is linked into $(B)/fuzz_<name>.
#
#	make -f tests/fuzz/fuzz.mk [-j2] [FUZZ_CC=clang-14] [B=build-fuzz]
#
# Run from the top of the source tree (tests/fuzz/run.sh does).  Client
# secrets are hashed with 1,000 PBKDF2 rounds instead of 120,000 (the
# lowest count secret_verify() accepts), or every loaded Client would
# cost the loader harness a second.  The
# library sources are found by wildcard, so files added or moved under
# src/lib/<concern>/ need no change here.
FUZZ_CC ?= clang-14
B ?= build-fuzz
TOP := $(abspath .)

PKGS := json-c sqlite3 libjwt libcrypto libcurl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS := $(shell pkg-config --libs $(PKGS)) -lfcgi -lpthread -lm

SAN := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
CFLAGS := -std=c11 -g -O1 $(SAN) -Wall -Wextra -Wno-unused-parameter \
	-D_DEFAULT_SOURCE -D_GNU_SOURCE -DP2P_SHAREDIR='"$(TOP)/share"' \
	-DSECRET_ITERATIONS=1000 -DFUZZ_SRCDIR='"$(TOP)"' -I$(TOP)/src/lib -I$(TOP)/tests/unit \
	$(PKG_CFLAGS)

# (an in-tree automake build leaves its generated schema_sql.c there)
LIB_SRC := $(filter-out src/lib/store/schema_sql.c,\
	$(sort $(wildcard src/lib/*/*.c)))
LIB_OBJ := $(patsubst src/lib/%.c,$(B)/lib/%.o,$(LIB_SRC)) \
	$(B)/lib/store/schema_sql.o
MIGRATIONS := $(sort $(wildcard db/migrations/*.sql))
HARNESS_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
HARNESSES := $(patsubst tests/fuzz/%.c,$(B)/%,$(HARNESS_SRC))

all: $(HARNESSES)

$(B)/lib/%.o: src/lib/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(B)/lib/store/schema_sql.c: $(MIGRATIONS) scripts/embed-sql.sh
	@mkdir -p $(@D)
	sh scripts/embed-sql.sh $(MIGRATIONS) > $@.tmp && mv $@.tmp $@

$(B)/lib/store/schema_sql.o: $(B)/lib/store/schema_sql.c
	$(FUZZ_CC) $(CFLAGS) -c $< -o $@

$(B)/libp2p-fuzz.a: $(LIB_OBJ)
	rm -f $@
	ar cr $@ $(LIB_OBJ)

$(B)/fuzz_%: tests/fuzz/fuzz_%.c $(B)/libp2p-fuzz.a
	$(FUZZ_CC) $(CFLAGS) -fsanitize=fuzzer -MMD -MP -MF $@.d $< \
	    $(B)/libp2p-fuzz.a $(PKG_LIBS) -o $@

-include $(LIB_OBJ:.o=.d) $(HARNESSES:=.d)

.PHONY: all
.DELETE_ON_ERROR:
