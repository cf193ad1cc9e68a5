# berth: one non-recursive GNU make.
#   make            build/berth (release)
#   make asan       build-asan/berth (ASan + UBSan)
#   make test       unit tests, fuzz-corpus replay and e2e tests, both builds
#   make fuzz T=x   fuzz/fuzz_x.c under libFuzzer (clang) on its corpus
#   make run        start berth serve on ./var/berth
#   make bench      side-by-side benchmark against docker-registry
#   make bench-s3   the same over S3 (Ceph RADOS Gateway) and PostgreSQL, one and two servers
#   make install    (PREFIX, DESTDIR); make deb: a Debian package; make image: an OCI image layout
.DEFAULT_GOAL := all
include mk/flags.mk
# V=1 shows every command.
Q := $(if $(V),,@)

# The layers, bottom up. A module may use itself and the modules its DEPS_
# line names (and nothing else): its sources are compiled with only those
# include paths, and scripts/check-layers.sh fails the build on any call
# outside them (a static archive alone would let one through).
MODULES := core oci store meta auth service http client cli
DEPS_core    :=
DEPS_oci     := core
DEPS_store   := core oci
DEPS_meta    := core oci
DEPS_auth    := core oci
DEPS_service := core oci store meta auth
DEPS_http    := core oci store meta auth service
DEPS_client  := core oci auth
DEPS_cli     := core oci store meta auth service http client
# Link order: each archive before the ones it uses.
LINK_ORDER := cli http client service meta auth store oci core
INC_ALL := $(foreach m,$(MODULES),-Isrc/$(m))

SRC_core  := $(wildcard src/core/*.c)
SRC_oci   := $(wildcard src/oci/*.c)
SRC_store := $(wildcard src/store/*.c)
SRC_meta  := $(wildcard src/meta/*.c)
SRC_auth  := $(wildcard src/auth/*.c)
SRC_service := $(wildcard src/service/*.c)
SRC_http  := $(wildcard src/http/*.c)
SRC_client := $(wildcard src/client/*.c)
SRC_cli   := $(filter-out src/cli/main.c,$(wildcard src/cli/*.c))
MIGRATIONS := $(sort $(wildcard src/meta/migrations/*.sql))
MIGRATIONS_PG := $(sort $(wildcard src/meta/migrations-pg/*.sql))

UNIT_SRC := $(wildcard tests/unit/test_*.c)
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
FUZZ_TARGETS := $(patsubst fuzz/fuzz_%.c,%,$(FUZZ_SRC))
# The archives a fuzz target links, in link order: FUZZ_LIBS_<target>, else all.
FUZZ_LIBS_cli := cli client auth oci core
FUZZ_LIBS_form := core
FUZZ_LIBS_time := core
FUZZ_LIBS_basic := core
fuzz_libs = $(or $(FUZZ_LIBS_$(1)),$(LINK_ORDER))

# $(call variant_rules,VARIANT,DIR)
define variant_rules
$(2)/obj/%.o: INC = $(INC_ALL)
$(foreach m,$(MODULES),$(2)/obj/src/$(m)/%.o: INC = $(foreach d,$(DEPS_$(m)) $(m),-Isrc/$(d))
)
$(2)/obj/%.o: %.c
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(STD) $$(WARN) $$(DEPFL) $$(OPT_$(1)) $$(INC) -I$(2)/gen $$(PKG_CFLAGS) -c $$< -o $$@

$(2)/gen/migrations.h: $(MIGRATIONS) scripts/embed-sql.sh
	@mkdir -p $$(@D)
	sh scripts/embed-sql.sh $(MIGRATIONS) > $$@.tmp && mv $$@.tmp $$@

$(2)/obj/src/meta/meta_sqlite.o: $(2)/gen/migrations.h

$(2)/gen/migrations_pg.h: $(MIGRATIONS_PG) scripts/embed-sql.sh
	@mkdir -p $$(@D)
	sh scripts/embed-sql.sh $(MIGRATIONS_PG) > $$@.tmp && mv $$@.tmp $$@

$(2)/obj/src/meta/meta_pg.o: $(2)/gen/migrations_pg.h

$(foreach m,$(MODULES),
$(2)/libberth_$(m).a: $$(patsubst %.c,$(2)/obj/%.o,$$(SRC_$(m)))
	@rm -f $$@
	$$(Q)ar rcs $$@ $$^
)

$(2)/berth: $(2)/obj/src/cli/main.o $(foreach m,$(LINK_ORDER),$(2)/libberth_$(m).a)
	$$(Q)$$(CC) $$(LDOPT_$(1)) -o $$@ $$^ $$(PKG_LIBS)

$(2)/unit: $$(patsubst %.c,$(2)/obj/%.o,$$(UNIT_SRC)) $(2)/obj/tests/unit/runner.o $(foreach m,$(LINK_ORDER),$(2)/libberth_$(m).a)
	$$(Q)$$(CC) $$(LDOPT_$(1)) -o $$@ $$^ $$(PKG_LIBS)

$(foreach t,$(FUZZ_TARGETS),
$(2)/fuzz-$(t): $(2)/obj/fuzz/fuzz_$(t).o $(2)/obj/fuzz/replay.o $(foreach m,$(call fuzz_libs,$(t)),$(2)/libberth_$(m).a)
	$$(Q)$$(CC) $$(LDOPT_$(1)) -o $$@ $$^ $$(PKG_LIBS)
)
endef

$(eval $(call variant_rules,release,build))
$(eval $(call variant_rules,asan,build-asan))

# make fuzz T=<target>: fuzz/fuzz_<target>.c under libFuzzer (clang, ASan +
# UBSan, coverage over every module) as build-fuzz/fuzzer-<target>, run on
# fuzz/corpus/<target>; new inputs land in build-fuzz/corpus/<target>.
# FUZZ_ARGS adds libFuzzer flags (default: 60 s); FUZZ_ARGS_<target> holds
# what one target always needs.
FUZZ_CC   := clang
FUZZ_ARGS ?= -max_total_time=60
FUZZ_ARGS_jwt  := -max_len=9000
FUZZ_ARGS_cli  := -close_fd_mask=3
FUZZ_ARGS_http := -max_len=65536 -timeout=10
$(eval $(call variant_rules,fuzz,build-fuzz))
build-fuzz/%: CC := $(FUZZ_CC)
build-fuzz/fuzzer-%: build-fuzz/obj/fuzz/fuzz_%.o $(foreach m,$(LINK_ORDER),build-fuzz/libberth_$(m).a)
	$(Q)$(FUZZ_CC) $(LDOPT_fuzz) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS)

.PHONY: all asan deps test-deps unit fuzz-bins fuzz test run bench bench-s3 docs clean install install-bin uninstall deb image
all: deps build/berth
asan: deps build-asan/berth

deps:
	@sh scripts/deps.sh build
test-deps:
	@sh scripts/deps.sh test

unit: build/unit build-asan/unit
fuzz-bins: $(foreach t,$(FUZZ_TARGETS),build/fuzz-$(t) build-asan/fuzz-$(t))

fuzz:
	@if [ -z "$(T)" ] || [ ! -f fuzz/fuzz_$(T).c ]; then \
		echo "usage: make fuzz T=<target> [FUZZ_ARGS=...]; targets: $(FUZZ_TARGETS)" >&2; exit 2; fi
	@sh scripts/deps.sh fuzz
	@$(MAKE) --no-print-directory build-fuzz/fuzzer-$(T)
	@mkdir -p build-fuzz/corpus/$(T)
	build-fuzz/fuzzer-$(T) $(FUZZ_ARGS) $(FUZZ_ARGS_$(T)) build-fuzz/corpus/$(T) fuzz/corpus/$(T)

test: test-deps
	@$(MAKE) --no-print-directory build/berth build-asan/berth build/unit build-asan/unit fuzz-bins
	@sh scripts/test.sh

run: all
	@sh scripts/run.sh

# the local figures, then those over S3 and PostgreSQL (BENCH_S3=0 leaves them out)
bench: deps build/berth
	@sh scripts/deps.sh bench
	bash bench/run.sh
	@if [ "$${BENCH_S3:-1}" != 0 ]; then bash bench/s3.sh; fi

bench-s3: deps build/berth
	@sh scripts/deps.sh bench
	bash bench/s3.sh

docs: build/berth
	build/berth doc errors > docs/errors.md
	build/berth doc config > docs/config.md
	build/berth doc metrics > docs/metrics.md

# make install [PREFIX=/usr/local] [DESTDIR=...]: the binary, the credential helper's link, man pages
# and shell completion generated from the binary's own help (scripts/gen-docs.sh), the systemd unit
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
MANDIR      ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions
UNITDIR     ?= $(PREFIX)/lib/systemd/system
DISTDIR     ?= build/dist

install: install-bin
	@rm -rf $(DISTDIR) && mkdir -p $(DISTDIR)/man
	sh scripts/gen-docs.sh man build/berth $(DISTDIR)/man
	sh scripts/gen-docs.sh bash build/berth > $(DISTDIR)/berth.bash
	sh scripts/gen-docs.sh zsh build/berth > $(DISTDIR)/_berth
	sed 's|@BINDIR@|$(BINDIR)|g' dist/berth.service.in > $(DISTDIR)/berth.service
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) \
		$(DESTDIR)$(UNITDIR)
	install -m 0644 $(DISTDIR)/man/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(DISTDIR)/man/*.5 $(DESTDIR)$(MANDIR)/man5/
	ln -sf berth.1 $(DESTDIR)$(MANDIR)/man1/docker-credential-berth.1
	install -m 0644 $(DISTDIR)/berth.bash $(DESTDIR)$(BASHCOMPDIR)/berth
	install -m 0644 $(DISTDIR)/_berth $(DESTDIR)$(ZSHCOMPDIR)/_berth
	install -m 0644 $(DISTDIR)/berth.service $(DESTDIR)$(UNITDIR)/berth.service

# the binary and the credential helper's link alone (what the container image takes)
install-bin: all
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 build/berth $(DESTDIR)$(BINDIR)/berth
	ln -sf berth $(DESTDIR)$(BINDIR)/docker-credential-berth

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/berth $(DESTDIR)$(BINDIR)/docker-credential-berth \
		$(DESTDIR)$(MANDIR)/man1/berth.1 $(DESTDIR)$(MANDIR)/man1/berth-*.1 $(DESTDIR)$(MANDIR)/man5/berth.conf.5 \
		$(DESTDIR)$(MANDIR)/man1/docker-credential-berth.1 \
		$(DESTDIR)$(BASHCOMPDIR)/berth $(DESTDIR)$(ZSHCOMPDIR)/_berth $(DESTDIR)$(UNITDIR)/berth.service

# make deb: dist/berth_<version>-<revision>_<arch>.deb (scripts/deb.sh); make image: an OCI image layout
# dist/image tagged <version> (scripts/image.sh, umoci, as root). DEB_OUT, IMAGE_OUT: elsewhere.
DEB_OUT   ?= dist
IMAGE_OUT ?= dist/image

deb: all
	@sh scripts/deps.sh dist
	@sh scripts/deb.sh $(DEB_OUT)

image: all
	@sh scripts/deps.sh dist
	@sh scripts/image.sh $(IMAGE_OUT)

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find build build-asan build-fuzz -name '*.d' 2>/dev/null)
