# Compiler and sanitizer flags shared by every target.
CC      ?= gcc
STD     := -std=c17 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wvla -Wwrite-strings -Wformat=2 -Wno-format-nonliteral
DEPFL   := -MMD -MP
PKGS    := libmicrohttpd gnutls libcrypto jansson sqlite3 libsodium
# opened with dlopen where they are used (src/core/lazylib.c): their headers, not their link flags
PKGS_LAZY := libpq libcurl libsystemd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) $(PKGS_LAZY) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
# the release build hardened as Debian builds its packages (dpkg-buildflags): stack protector,
# fortified libc calls, a read-only GOT (relro, bindnow)
OPT_release := -O2 -g -fstack-protector-strong -D_FORTIFY_SOURCE=2
OPT_asan    := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined \
               -DBERTH_ASSERTS=1
# build-fuzz (make fuzz): clang, every object instrumented for libFuzzer's coverage
OPT_fuzz    := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
               -fno-sanitize-recover=undefined -DBERTH_ASSERTS=1
LDOPT_release := -Wl,-z,relro,-z,now
LDOPT_asan    := -fsanitize=address,undefined
LDOPT_fuzz    := -fsanitize=address,undefined
