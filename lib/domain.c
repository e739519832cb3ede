/*
 * domain.c - the one strict parser for sender domain names.
 *	Every domain that reaches the cache, the API or DNS passes here first:
 *	lower case, no trailing dot, A-labels (exact IDNA2008 conversions
 *	only, never UTS#46 mapping), RFC 1035 lengths, LDH labels
 *	(underscore tolerated inside labels, as some real sender domains use
 *	it).  IP literals and bare addresses are refused: SES verifies names.
 */
#include "config.h"

#include <arpa/inet.h>
#include <string.h>
#include <idn2.h>
#include <stdlib.h>

#include "sesverify.h"

/* is_ldh - letter, digit, hyphen or underscore */
static int is_ldh(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* check_labels - lengths and characters of an ASCII lower-case name */
static int check_labels(const char *s, const char **why)
{
	size_t len = strlen(s), lab = 0;
	int nlabels = 1, all_numeric_tld = 1;
	const char *last = s;

	if (len == 0) {
		*why = "empty domain";
		return -1;
	}
	if (len > SV_DOMAIN_MAX) {
		*why = "domain longer than 253 octets";
		return -1;
	}
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '.') {
			if (lab == 0) {
				*why = "empty label in domain";
				return -1;
			}
			if (p[-1] == '-') {
				*why = "label ends with a hyphen";
				return -1;
			}
			lab = 0;
			nlabels++;
			last = p + 1;
			continue;
		}
		if (!is_ldh(c)) {
			*why = "invalid character in domain";
			return -1;
		}
		if (lab == 0 && c == '-') {
			*why = "label starts with a hyphen";
			return -1;
		}
		if (++lab > 63) {
			*why = "label longer than 63 octets";
			return -1;
		}
	}
	if (lab == 0) {
		*why = "empty label in domain";
		return -1;
	}
	if (s[len - 1] == '-') {
		*why = "label ends with a hyphen";
		return -1;
	}
	for (const char *p = last; *p; p++)
		if (!(*p >= '0' && *p <= '9'))
			all_numeric_tld = 0;
	if (all_numeric_tld) {
		*why = nlabels == 4 ? "IP address, not a domain" : "all-numeric top-level label";
		return -1;
	}
	if (nlabels < 2) {
		*why = "domain has a single label";
		return -1;
	}
	return 0;
}

/*
 * to_alabel - the A-label form of a non-ASCII name, only where it is exact
 *	The name checked must be the name the MTA relays.  UTS#46 mapping
 *	(what IDN2_NFC_INPUT and the TR46 modes do) folds fullwidth letters,
 *	the ideographic full stop, upper-case U-labels, soft hyphens and the
 *	like into another name, so a look-alike would be checked as the
 *	verified domain.  Here only ASCII letters are folded (DNS compares
 *	them case-insensitively, RFC 4343); the rest must already be IDNA2008
 *	U-labels (NFC, PVALID or CONTEXT code points), and the A-label must
 *	decode back to exactly that input.
 */
static int to_alabel(const char *in, size_t len, char out[SV_DOMAIN_MAX + 2], const char **why)
{
	static const char *const not_exact = "non-ASCII domain that is not an exact IDNA2008 name";
	char *folded, *alabel = NULL, *back = NULL;
	size_t n;
	int rc = -1;

	folded = malloc(len + 1);
	if (folded == NULL) {
		*why = "out of memory";
		return -1;
	}
	for (size_t i = 0; i < len; i++)
		folded[i] = (in[i] >= 'A' && in[i] <= 'Z') ? (char)(in[i] - 'A' + 'a') : in[i];
	if (len > 0 && folded[len - 1] == '.')
		len--;
	folded[len] = 0;
	if (idn2_lookup_u8((const uint8_t *)folded, (uint8_t **)&alabel, IDN2_NO_TR46) != IDN2_OK ||
	    idn2_to_unicode_8z8z(alabel, &back, 0) != IDN2_OK || strcmp(back, folded) != 0) {
		*why = not_exact; /* only on failure: callers keep *why NULL on success */
		goto out;
	}
	n = strlen(alabel);
	if (n > SV_DOMAIN_MAX) {
		*why = "domain longer than 253 octets";
		goto out;
	}
	memcpy(out, alabel, n + 1);
	rc = 0;
out:
	idn2_free(alabel);
	idn2_free(back);
	free(folded);
	return rc;
}

/* sv_domain_normalize - see sesverify.h */
int sv_domain_normalize(const char *in, char out[SV_DOMAIN_MAX + 1], const char **why)
{
	char tmp[SV_DOMAIN_MAX + 2];
	unsigned char addr[16];
	size_t len;
	int ascii = 1;
	const char *dummy;

	if (why == NULL)
		why = &dummy;
	if (in == NULL || *in == 0) {
		*why = "empty domain";
		return -1;
	}
	if (in[0] == '[') {
		*why = "address literal, not a domain";
		return -1;
	}
	len = strlen(in);
	if (len > SV_DOMAIN_MAX + 1 + 512) { /* U-labels may shrink; bound the work */
		*why = "domain longer than 253 octets";
		return -1;
	}
	if (inet_pton(AF_INET6, in, addr) == 1 || inet_pton(AF_INET, in, addr) == 1) {
		*why = "IP address, not a domain";
		return -1;
	}
	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		if (*p >= 0x80)
			ascii = 0;
		else if (*p <= 0x20 || *p == 0x7f) {
			*why = "invalid character in domain";
			return -1;
		}
	}
	if (ascii) {
		if (len > 0 && in[len - 1] == '.')
			len--;
		if (len > SV_DOMAIN_MAX) {
			*why = "domain longer than 253 octets";
			return -1;
		}
		for (size_t i = 0; i < len; i++) {
			char c = in[i];
			tmp[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
		}
		tmp[len] = 0;
	} else if (to_alabel(in, len, tmp, why) < 0) {
		return -1;
	}
	if (check_labels(tmp, why) < 0)
		return -1;
	memcpy(out, tmp, strlen(tmp) + 1);
	return 0;
}
