/*
 * fuzz-parsers.h - the libFuzzer entry point shared by fuzz_addr.c,
 *	fuzz_config.c and fuzz_domain.c, and the replay runner that feeds
 *	it the committed seed corpora in "make check".
 *	A harness calls fuzz_check() for every invariant: a violation
 *	aborts, which both libFuzzer and the replay runner report.
 */
#ifndef SV_FUZZ_PARSERS_H
#define SV_FUZZ_PARSERS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define fuzz_check(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__,       \
			        #cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#endif
