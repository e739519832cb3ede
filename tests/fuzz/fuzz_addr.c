/*
 * fuzz_addr.c - libFuzzer harness for milter/addr.c.
 *	The same bytes go to the envelope parser (as a C string, cut at the
 *	first NUL like libmilter's argv) and to the From: parser (as an
 *	exactly-sized buffer, so any read past the end is caught by ASan).
 *	Invariants: every domain handed out is non-empty, already normalised
 *	(sv_domain_normalize leaves it unchanged), and From: domains are
 *	distinct and at most ADDR_MAX_DOMAINS.
 */
#include "config.h"

#include <string.h>

#include "addr.h"
#include "fuzz-parsers.h"

/* normalised - d is a fixed point of sv_domain_normalize */
static int normalised(const char *d)
{
	char again[SV_DOMAIN_MAX + 1];

	return d[0] && sv_domain_normalize(d, again, NULL) == 0 && strcmp(again, d) == 0;
}

/* LLVMFuzzerTestOneInput - one input, both parsers */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char dom[SV_DOMAIN_MAX + 1], *copy;
	addr_list list;
	addr_status st;
	const char *why;
	size_t where;

	if ((copy = malloc(size + 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = 0;
	st = addr_envelope(copy, dom, &why, &where);
	fuzz_check(addr_status_name(st)[0] != '?');
	fuzz_check(st == ADDR_OK ? normalised(dom) && why == NULL : dom[0] == 0 && why != NULL);
	fuzz_check(where <= strlen(copy));
	free(copy);

	/* exact size: no terminator to lean on */
	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	st = addr_from(copy, size, &list, &why, &where);
	fuzz_check(addr_status_name(st)[0] != '?');
	fuzz_check(where <= size);
	if (st == ADDR_OK) {
		fuzz_check(list.n >= 1 && list.n <= ADDR_MAX_DOMAINS && list.mailboxes >= list.n);
		for (size_t i = 0; i < list.n; i++) {
			fuzz_check(normalised(list.domain[i]));
			for (size_t j = 0; j < i; j++)
				fuzz_check(strcmp(list.domain[i], list.domain[j]) != 0);
		}
	} else {
		fuzz_check(why != NULL && list.n == 0);
	}
	free(copy);
	return 0;
}
