/*
 * fuzz_domain.c - libFuzzer harness for sv_domain_normalize (lib/domain.c).
 *	Invariants: an accepted name is at most 253 octets of lower-case
 *	ASCII letters, digits, '-', '_' and '.', has no empty label, and is
 *	a fixed point (normalising it again changes nothing).
 */
#include "config.h"

#include <string.h>

#include "sesverify.h"
#include "fuzz-parsers.h"

/* LLVMFuzzerTestOneInput - one candidate name (cut at the first NUL) */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[SV_DOMAIN_MAX + 1], again[SV_DOMAIN_MAX + 1], *in;
	const char *why = NULL;
	size_t n;

	if ((in = strndup((const char *)data, size)) == NULL)
		return 0;
	if (sv_domain_normalize(in, out, &why) == 0) {
		n = strlen(out);
		fuzz_check(n > 0 && n <= SV_DOMAIN_MAX);
		fuzz_check(strspn(out, "abcdefghijklmnopqrstuvwxyz0123456789-_.") == n);
		fuzz_check(out[0] != '.' && out[n - 1] != '.' && strstr(out, "..") == NULL);
		fuzz_check(sv_domain_normalize(out, again, NULL) == 0 && strcmp(out, again) == 0);
	} else {
		fuzz_check(why != NULL && why[0] != 0);
	}
	free(in);
	return 0;
}
