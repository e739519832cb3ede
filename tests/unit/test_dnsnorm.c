/*
 * test_dnsnorm.c - table tests of every comparison rule of lib/dnsnorm.c,
 *	and of the Nameserver / resolv.conf parsers of lib/precheck.c.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "dnsnorm.h"
#include "precheck.h"
#include "tap.h"

#define SPF_OK "v=spf1 include:qcloudmail.com ~all"
#define KEY    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC+ab/Cd=="

struct pair {
	const char *expected, *live;
	bool want;
};

/* spf_table - SPF term comparison */
static void spf_table(void)
{
	static const struct pair t[] = {
	    {SPF_OK, SPF_OK, true},
	    {SPF_OK, "v=spf1  include:qcloudmail.com\t~all ", true},
	    {SPF_OK, "V=SPF1 INCLUDE:QCLOUDMAIL.COM ~ALL", true},
	    {SPF_OK, "v=spf1 include:qcloudmail.com. ~all", true},
	    {SPF_OK, "v=spf1 +include:qcloudmail.com ~all", true},
	    {SPF_OK, "v=spf1 a mx include:other.example include:qcloudmail.com ~all", true},
	    {SPF_OK, "v=spf1 include:qcloudmail.com ~all exp=x.example", true},
	    {SPF_OK, "v=spf1 include:qcloudmail.com -all", false},
	    {SPF_OK, "v=spf1 include:qcloudmail.com", false},
	    {SPF_OK, "v=spf1 ~all include:qcloudmail.com", false},
	    {SPF_OK, "v=spf1 -include:qcloudmail.com ~all", false},
	    {SPF_OK, "v=spf1 ?include:qcloudmail.com ~all", false},
	    {SPF_OK, "v=spf1 include:qcloudmail.com.cn ~all", false},
	    {SPF_OK, "v=spf1 include:spf.elsewhere.test ~all", false},
	    {SPF_OK, "v=spf10 include:qcloudmail.com ~all", false},
	    {SPF_OK, "spf1 include:qcloudmail.com ~all", false},
	    {SPF_OK, "", false},
	    {"v=spf1 include:qcloudmail.com", "v=spf1 include:qcloudmail.com -all", true},
	    {"v=spf1", "v=spf1 -all", true},
	    {"not spf", SPF_OK, false},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ok(dnsnorm_spf_match(t[i].expected, t[i].live) == t[i].want,
		   "spf: \"%s\" %s \"%s\"", t[i].live, t[i].want ? "matches" : "does not match",
		   t[i].expected);

	ok(dnsnorm_is_spf("v=spf1"), "is_spf: bare version");
	ok(dnsnorm_is_spf("V=Spf1 -all"), "is_spf: case-insensitive");
	ok(!dnsnorm_is_spf("v=spf1-all"), "is_spf: version must end at white space");
	ok(!dnsnorm_is_spf(" v=spf1 -all"), "is_spf: leading space is not SPF (RFC 7208 4.5)");
	ok(dnsnorm_spf_has_term(SPF_OK, "include:qcloudmail.com"), "has_term: include present");
	ok(dnsnorm_spf_has_term("v=spf1 mx INCLUDE:QcloudMail.com -all", "include:qcloudmail.com"),
	   "has_term: case-insensitive");
	ok(!dnsnorm_spf_has_term("v=spf1 -all include:qcloudmail.com", "include:qcloudmail.com"),
	   "has_term: after all does not count");
	ok(!dnsnorm_spf_has_term("v=spf1 include:spf.other ~all", "include:qcloudmail.com"),
	   "has_term: absent");
	ok(!dnsnorm_spf_has_term("google-site-verification=x", "include:qcloudmail.com"),
	   "has_term: not an SPF record");
	ok(!dnsnorm_spf_has_term(SPF_OK, ""), "has_term: empty term");
}

/* dkim_table - DKIM tag-list comparison */
static void dkim_table(void)
{
	static const struct pair t[] = {
	    {"v=DKIM1; k=rsa; p=" KEY, "v=DKIM1; k=rsa; p=" KEY, true},
	    {"v=DKIM1; k=rsa; p=" KEY, "v=DKIM1;k=rsa;p=" KEY, true},
	    {"v=DKIM1; k=rsa; p=" KEY, "v=DKIM1; k=rsa; p=" KEY ";", true},
	    {"v=DKIM1; k=rsa; p=" KEY, "p=" KEY, true},
	    {"v=DKIM1; k=rsa; p=" KEY, "v=DKIM1; p=" KEY, true},
	    {"v=DKIM1; k=rsa; p=" KEY, "v=DKIM1; k=RSA; p=" KEY, true},
	    {"v=DKIM1; k=rsa; p=" KEY,
	     "v=DKIM1;  k = rsa ;\tp = MIGfMA0GCSqGSIb3 DQEBAQUAA4GNADCBiQKBgQC+ab/Cd==", true},
	    {"v=DKIM1; k=rsa; p=" KEY, "v=DKIM1; k=rsa; t=y; h=sha256; s=email; p=" KEY, true},
	    {"v=DKIM1; k=rsa; p=" KEY, "k=rsa; p=" KEY "; v=DKIM1", false},
	    {"v=DKIM1; k=rsa; p=" KEY, "v=DKIM2; k=rsa; p=" KEY, false},
	    {"v=DKIM1; k=rsa; p=" KEY, "v=DKIM1; k=ed25519; p=" KEY, false},
	    {"v=DKIM1; k=rsa; p=" KEY, "v=DKIM1; k=rsa; p=" KEY "A", false},
	    {"v=DKIM1; k=rsa; p=" KEY,
	     "v=DKIM1; k=rsa; p=migfma0gcsqgsib3dqebaquaa4gnadcbiqkbgqc+ab/cd==", false},
	    {"v=DKIM1; k=rsa; p=" KEY, "v=DKIM1; k=rsa; p=", false},
	    {"v=DKIM1; k=rsa; p=" KEY, "v=DKIM1; k=rsa; p=" KEY "; p=" KEY, false},
	    {"v=DKIM1; k=rsa; p=" KEY, "v=DKIM1; k=rsa; P=" KEY, false},
	    {"v=DKIM1; k=rsa; p=" KEY, "v=DKIM1; k=rsa; 1x=2; p=" KEY, false},
	    {"v=DKIM1; k=rsa; p=" KEY, "v=DKIM1; k=rsa; p" KEY, false},
	    {"v=DKIM1; k=rsa; p=" KEY, "", false},
	    {"p=" KEY, "v=DKIM1; k=rsa; p=" KEY, true},
	    {"k=rsa", "k=rsa", false},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ok(dnsnorm_dkim_match(t[i].expected, t[i].live) == t[i].want,
		   "dkim %zu: \"%.60s\" %s", i, t[i].live,
		   t[i].want ? "matches" : "does not match");
	ok(dnsnorm_is_dkim("v=DKIM1; p=abc"), "is_dkim: minimal record");
	ok(!dnsnorm_is_dkim("v=DKIM1; p="), "is_dkim: revoked key is not a usable record");
	ok(!dnsnorm_is_dkim("hello world"), "is_dkim: free text");
	ok(!dnsnorm_is_dkim("v=DKIM1; p=a\x01"
	                    "b"),
	   "is_dkim: control character in a value");
}

/* host_table - host names and MX */
static void host_table(void)
{
	ok(dnsnorm_host_equal("mxbiz1.qq.com.", "mxbiz1.qq.com."), "host: identical");
	ok(dnsnorm_host_equal("mxbiz1.qq.com.", "MXBIZ1.QQ.COM"), "host: case and trailing dot");
	ok(dnsnorm_host_equal("mxbiz1.qq.com", "mxbiz1.qq.com."), "host: dot on the live side");
	ok(!dnsnorm_host_equal("mxbiz1.qq.com.", "mxbiz2.qq.com."), "host: other name");
	ok(!dnsnorm_host_equal("mxbiz1.qq.com.", "mxbiz1.qq.com.."), "host: two dots are not one");
	ok(!dnsnorm_host_equal("", ""), "host: empty never equal");
	ok(dnsnorm_host_equal(".", "."), "host: root equals root");
	ok(!dnsnorm_host_equal(".", ""), "host: root is not empty");
	ok(dnsnorm_mx_match("mxbiz1.qq.com.", 10, "mxbiz1.qq.com."), "mx: exchange only");
	ok(dnsnorm_mx_match("mxbiz1.qq.com.", 50, "MXBIZ1.QQ.COM."), "mx: preference ignored");
	ok(dnsnorm_mx_match("10 mxbiz1.qq.com.", 10, "mxbiz1.qq.com"), "mx: preference compared");
	ok(!dnsnorm_mx_match("10 mxbiz1.qq.com.", 20, "mxbiz1.qq.com."), "mx: preference differs");
	ok(!dnsnorm_mx_match("mxbiz1.qq.com.", 10, "mx.elsewhere.test."), "mx: other exchange");
	ok(!dnsnorm_mx_match("10mxbiz1.qq.com.", 10, "mxbiz1.qq.com."),
	   "mx: malformed expectation");
	ok(!dnsnorm_mx_match("99999 mxbiz1.qq.com.", 10, "mxbiz1.qq.com."),
	   "mx: preference > 65535");
	ok(!dnsnorm_mx_match("mxbiz1.qq.com. extra", 10, "mxbiz1.qq.com."), "mx: trailing junk");
	ok(!dnsnorm_mx_match("", 10, "mxbiz1.qq.com."), "mx: empty expectation");
}

/* select_table - choosing among several TXT records */
static void select_table(void)
{
	const char *apex[] = {"google-site-verification=abc", SPF_OK, "ms=123"};
	const char *two_spf[] = {SPF_OK, "v=spf1 -all"};
	const char *no_spf[] = {"google-site-verification=abc"};
	const char *keys[] = {"not a key", "v=DKIM1; k=rsa; p=OTHER", ("v=DKIM1; k=rsa; p=" KEY)};
	const char *bad_keys[] = {"v=DKIM1; k=rsa; p=OTHER"};
	const char *junk[] = {"hello"};
	const char *tokens[] = {"a  b c", "token-1"};
	const char *why;
	size_t pick;

	is_int(dnsnorm_txt_compare(SPF_OK, apex, 3, &pick, &why), DNSNORM_MATCH,
	       "select: SPF among 3 TXT");
	is_int(pick, 1, "select: the SPF record picked");
	is_int(dnsnorm_txt_compare(SPF_OK, two_spf, 2, &pick, &why), DNSNORM_MISMATCH,
	       "select: two SPF records are a permerror");
	ok(why && strstr(why, "permerror"), "select: explained (%s)", why ? why : "");
	is_int(dnsnorm_txt_compare(SPF_OK, no_spf, 1, &pick, &why), DNSNORM_MISSING,
	       "select: no SPF among other TXT is missing");
	is_int(dnsnorm_txt_compare(SPF_OK, NULL, 0, &pick, &why), DNSNORM_MISSING,
	       "select: no TXT at all");
	is_int(dnsnorm_txt_compare("v=DKIM1; k=rsa; p=" KEY, keys, 3, &pick, &why), DNSNORM_MATCH,
	       "select: matching key among several");
	is_int(pick, 2, "select: the matching key picked");
	is_int(dnsnorm_txt_compare("v=DKIM1; k=rsa; p=" KEY, bad_keys, 1, &pick, &why),
	       DNSNORM_MISMATCH, "select: other key is a mismatch");
	is_int(dnsnorm_txt_compare("v=DKIM1; k=rsa; p=" KEY, junk, 1, &pick, &why),
	       DNSNORM_MISMATCH, "select: non-DKIM TXT at the key name is a mismatch");
	is_int(pick, 0, "select: it is reported as current");
	is_int(dnsnorm_txt_compare("a b  c", tokens, 2, &pick, &why), DNSNORM_MATCH,
	       "select: other TXT compared with white space collapsed");
	is_int(dnsnorm_txt_compare("token-2", tokens, 2, &pick, &why), DNSNORM_MISMATCH,
	       "select: other TXT differs");
	is_int(dnsnorm_txt_kind_of(SPF_OK), DNSNORM_TXT_SPF, "kind: SPF");
	is_int(dnsnorm_txt_kind_of("v=DKIM1; p=x"), DNSNORM_TXT_DKIM, "kind: DKIM");
	is_int(dnsnorm_txt_kind_of("token"), DNSNORM_TXT_OTHER, "kind: other");
	ok(dnsnorm_txt_equal(" a\tb ", "a b"), "txt_equal: white space collapsed");
	ok(!dnsnorm_txt_equal("A b", "a b"), "txt_equal: case-sensitive");
}

/* ns_table - Nameserver and resolv.conf parsing */
static void ns_table(void)
{
	pc_ns ns[PC_NS_MAX];
	char err[256], fmt[80];
	size_t n;
	const char *rc;

	is_int(pc_parse_nameservers("127.0.0.1@5353, ::1 ,[2001:db8::1]@53", ns, PC_NS_MAX, &n, err,
	                            sizeof(err)),
	       0, "ns: list parses");
	is_int(n, 3, "ns: three servers");
	pc_ns_format(&ns[0], fmt, sizeof(fmt));
	is_str(fmt, "127.0.0.1@5353", "ns: IPv4 with port");
	pc_ns_format(&ns[1], fmt, sizeof(fmt));
	is_str(fmt, "::1@53", "ns: IPv6 default port");
	ok(ns[2].family == AF_INET6 && ns[2].port == 53, "ns: bracketed IPv6");
	is_int(pc_parse_nameservers("127.0.0.1@0", ns, PC_NS_MAX, &n, err, sizeof(err)), -1,
	       "ns: port 0");
	is_int(pc_parse_nameservers("127.0.0.1@65536", ns, PC_NS_MAX, &n, err, sizeof(err)), -1,
	       "ns: port too big");
	is_int(pc_parse_nameservers("dns.example", ns, PC_NS_MAX, &n, err, sizeof(err)), -1,
	       "ns: host names refused");
	ok(strstr(err, "dns.example") != NULL, "ns: error names the item (%s)", err);
	is_int(pc_parse_nameservers("127.0.0.1,,::1", ns, PC_NS_MAX, &n, err, sizeof(err)), -1,
	       "ns: empty item");
	is_int(pc_parse_nameservers(
	           "1.1.1.1,1.1.1.2,1.1.1.3,1.1.1.4,1.1.1.5,1.1.1.6,1.1.1.7,1.1.1.8,1.1.1.9", ns,
	           PC_NS_MAX, &n, err, sizeof(err)),
	       -1, "ns: more than 8 servers");
	is_int(pc_parse_nameservers("", ns, PC_NS_MAX, &n, err, sizeof(err)), -1, "ns: empty list");

	rc = "# generated\n\n# nameserver 8.8.8.8\nnameserver 127.0.0.53\n"
	     "options edns0 trust-ad\nsearch example\n  nameserver\t::1 # local\n"
	     "nameserver 10.0.0.1;comment\nnameserver fe80::1%eth0\nnameserver 1.2.3.4:53\n"
	     "nameservers 9.9.9.9\n;nameserver 7.7.7.7\nnameserver 192.0.2.1";
	n = pc_parse_resolv_conf(rc, ns, PC_NS_MAX);
	is_int(n, 4, "resolv.conf: four usable nameservers");
	pc_ns_format(&ns[0], fmt, sizeof(fmt));
	is_str(fmt, "127.0.0.53@53",
	       "resolv.conf: commented-out line after a blank line ignored (ldns bug #237)");
	pc_ns_format(&ns[1], fmt, sizeof(fmt));
	is_str(fmt, "::1@53", "resolv.conf: leading blanks, tab and trailing comment");
	pc_ns_format(&ns[2], fmt, sizeof(fmt));
	is_str(fmt, "10.0.0.1@53", "resolv.conf: ';' comment");
	pc_ns_format(&ns[3], fmt, sizeof(fmt));
	is_str(fmt, "192.0.2.1@53", "resolv.conf: last line without newline");
	is_int(pc_parse_resolv_conf("", ns, PC_NS_MAX), 0, "resolv.conf: empty");
	is_int(pc_parse_resolv_conf("nameserver 1.1.1.1\nnameserver 1.1.1.2\n", ns, 1), 1,
	       "resolv.conf: capped at max");
}

int main(void)
{
	spf_table();
	dkim_table();
	host_table();
	select_table();
	ns_table();
	return tap_done();
}
