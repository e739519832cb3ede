/*
 * fuzz_dnsnorm.c - libFuzzer target for lib/dnsnorm.c (TXT/SPF/DKIM/MX rules).
 *
 *	Input: lines separated by '\n'.  Line 1 is an expected value, line 2
 *	a live value, the further lines (up to 16) more live TXT records.
 *	Every comparison function runs on them; besides "no crash, no
 *	out-of-bounds read" (ASan) these invariants must hold, else abort():
 *	  - dkim_match(a, a) == is_dkim(a)           (a key equals itself)
 *	  - host_equal and txt_equal are symmetric
 *	  - a record is never an SPF match unless both sides are SPF
 *	  - txt_compare picks an index inside the record set, and MATCH means
 *	    the picked record really compares equal by the kind's own rule.
 *	Built as the real fuzzer with clang (tests/fuzz/README-dns.md) and run
 *	over the seed corpus by replay_dnsnorm in every "make check".
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dnsnorm.h"

#define MAX_LINES 18

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check - abort when an invariant does not hold */
static void check(int cond)
{
	if (!cond)
		abort();
}

/* one_match - the per-kind rule that txt_compare must agree with */
static int one_match(const char *expected, const char *rec)
{
	switch (dnsnorm_txt_kind_of(expected)) {
	case DNSNORM_TXT_SPF:
		return dnsnorm_spf_match(expected, rec);
	case DNSNORM_TXT_DKIM:
		return dnsnorm_dkim_match(expected, rec);
	default:
		return dnsnorm_txt_equal(expected, rec);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *lines[MAX_LINES], *p;
	const char *why;
	size_t n = 0, pick = 0;
	dnsnorm_result r;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0'; /* an embedded NUL just ends that line early */
	for (p = copy; n < MAX_LINES && p; n++) {
		lines[n] = p;
		if ((p = strchr(p, '\n')) != NULL)
			*p++ = '\0';
	}
	const char *a = lines[0], *b = n > 1 ? lines[1] : "";

	check(dnsnorm_dkim_match(a, a) == dnsnorm_is_dkim(a));
	check(dnsnorm_host_equal(a, b) == dnsnorm_host_equal(b, a));
	check(dnsnorm_txt_equal(a, b) == dnsnorm_txt_equal(b, a));
	if (dnsnorm_spf_match(a, b))
		check(dnsnorm_is_spf(a) && dnsnorm_is_spf(b));
	(void)dnsnorm_spf_has_term(b, a);
	(void)dnsnorm_mx_match(a, (int)(size % 65536), b);
	r = dnsnorm_txt_compare(a, (const char *const *)(lines + 1), n - 1, &pick, &why);
	if (r != DNSNORM_MISSING)
		check(pick < n - 1);
	if (r == DNSNORM_MATCH)
		check(one_match(a, lines[1 + pick]));
	else
		check(why != NULL);
	free(copy);
	return 0;
}
