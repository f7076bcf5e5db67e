# og_model: PGXS build.  Objects, scripts and tests come from wildcards, as in pgvector.

EXTENSION = og_model
EXTVERSION = $(shell grep default_version $(EXTENSION).control | sed -e "s/default_version[[:space:]]*=[[:space:]]*'\([^']*\)'/\1/")

MODULE_big = og_model
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c src/formats/*.c)))
HEADERS = $(wildcard src/*.h src/formats/*.h)
DATA = $(wildcard sql/$(EXTENSION)--*.sql)

PG_CONFIG ?= $(shell test -x /usr/lib/postgresql/15/bin/pg_config && echo /usr/lib/postgresql/15/bin/pg_config || echo pg_config)

PG_CPPFLAGS = -Isrc
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-sign-compare -Wno-missing-field-initializers -Wno-clobbered
SHLIB_LINK = -lcurl -lcjson -lyaml

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(OBJS): $(HEADERS)

.PHONY: bench
bench:
	./setup.sh bench
