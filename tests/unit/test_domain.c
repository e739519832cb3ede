/* test_domain.c - table test of sv_domain_normalize */
#include "config.h"

#include "sesverify.h"
#include "tap.h"

static const struct {
	const char *in, *out; /* out NULL: must be refused */
} cases[] = {
    {"Example.COM", "example.com"},
    {"example.com.", "example.com"},
    {"mail.example.co.uk", "mail.example.co.uk"},
    {"xn--bcher-kva.example", "xn--bcher-kva.example"},
    {"bücher.example", "xn--bcher-kva.example"},
    {"例え.テスト", "xn--r8jz45g.xn--zckzah"},
    {"_dmarc.example.com", "_dmarc.example.com"},
    /* Only an exact IDNA2008 conversion (no UTS#46 mapping): the name
     * checked must be the name the MTA relays.  ASCII letters fold (DNS
     * compares them case-insensitively, RFC 4343); nothing else does. */
    {"bücher.test", "xn--bcher-kva.test"},
    {"bücher.test.", "xn--bcher-kva.test"},
    {"Bücher.TEST", "xn--bcher-kva.test"},
    {"faß.test", "xn--fa-hia.test"},
    {"ｖerified.test", NULL},        /* U+FF56 fullwidth v */
    {"ＶＥＲＩＦＩＥＤ.test", NULL}, /* fullwidth capitals */
    {"verified。test", NULL},        /* U+3002 ideographic full stop */
    {"verified．test", NULL},        /* U+FF0E fullwidth full stop */
    {"verified｡test", NULL},         /* U+FF61 halfwidth ideographic full stop */
    {"BÜCHER.test", NULL},           /* upper-case U-label: a mapping */
    {"bÜcher.test", NULL},           /* one upper-case non-ASCII letter */
    {"bu\xcc\x88"
     "cher.test",
     NULL}, /* NFD: u + combining diaeresis */
    {"ver\xc2\xad"
     "ified.test",
     NULL}, /* soft hyphen, mapped away by UTS#46 */
    {"\xe2\x84\xaa"
     "elvin.test",
     NULL}, /* U+212A Kelvin sign */
    {"", NULL},
    {".", NULL},
    {"example..com", NULL},
    {".example.com", NULL},
    {"example", NULL},
    {"-bad.example.com", NULL},
    {"bad-.example.com", NULL},
    {"exa mple.com", NULL},
    {"exa%mple.com", NULL},
    {"exam\rple.com", NULL},
    {"[192.0.2.1]", NULL},
    {"[IPv6:2001:db8::1]", NULL},
    {"192.0.2.1", NULL},
    {"2001:db8::1", NULL},
    {"example.123", NULL},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com", NULL}, /* 64 */
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com"}, /* 63 */
};

int main(void)
{
	char out[SV_DOMAIN_MAX + 1], longname[400];
	const char *why;
	int rc;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = sv_domain_normalize(cases[i].in, out, &why);
		if (cases[i].out) {
			if (ok(rc == 0, "accepts '%s'", cases[i].in))
				is_str(out, cases[i].out, "normalises '%s'", cases[i].in);
			else
				diag("refused: %s", why);
		} else {
			ok(rc == -1, "refuses '%s' (%s)", cases[i].in, rc ? why : out);
		}
	}
	why = NULL;
	rc = sv_domain_normalize("bücher.test", out, &why);
	ok(rc == 0 && why == NULL, "a U-label converted: *why left alone (%s)", why ? why : "NULL");
	/* 254 octets: 4 labels of 62 + ".com" style */
	memset(longname, 'a', sizeof(longname));
	for (int i = 63; i < 254; i += 64)
		longname[i] = '.';
	longname[254] = 0;
	ok(sv_domain_normalize(longname, out, &why) == -1, "refuses a 254-octet name");
	longname[253] = 0;
	longname[250] = '.';
	ok(sv_domain_normalize(longname, out, &why) == 0, "accepts a 253-octet name");
	return tap_done();
}
