/*
 * dnsnorm.c - comparison rules between live DNS values and SES expectations
 *
 *	Owns: SPF term matching, DKIM tag-list parsing and matching, host/MX
 *	comparison, TXT record selection (see dnsnorm.h for the rules).
 *	Does not own: DNS I/O, CNAME chasing, verdicts (precheck.c).
 *
 *	Everything here works on borrowed NUL-terminated strings without
 *	allocating, so that the fuzzer (tests/fuzz/fuzz_dnsnorm.c) can throw
 *	arbitrary bytes at it.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "dnsnorm.h"

#define DKIM_MAX_TAGS 32

/* One SPF term: qualifier and text without qualifier or trailing dot. */
struct spf_term {
	char qual;
	const char *s;
	size_t len;
};

/* One tag=value of a DKIM tag-list, trimmed. */
struct dkim_tag {
	const char *name;
	size_t nlen;
	const char *val;
	size_t vlen;
};

/* is_ws - white space as it appears between SPF terms and DKIM tags */
static bool is_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* lower - ASCII tolower that never depends on the locale */
static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* ieq_n - ASCII case-insensitive comparison of two counted strings */
static bool ieq_n(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return false;
	return true;
}

/* next_token - the next run of non-space characters, or false at the end */
static bool next_token(const char **p, const char **tok, size_t *len)
{
	const char *s = *p;

	while (*s && is_ws((unsigned char)*s))
		s++;
	if (!*s)
		return false;
	*tok = s;
	while (*s && !is_ws((unsigned char)*s))
		s++;
	*len = (size_t)(s - *tok);
	*p = s;
	return true;
}

/* spf_term_parse - split a token into qualifier and comparable text */
static void spf_term_parse(const char *tok, size_t len, struct spf_term *t)
{
	t->qual = '+';
	if (len > 0 && strchr("+-~?", tok[0]) != NULL) {
		t->qual = tok[0];
		tok++;
		len--;
	}
	/* "include:qcloudmail.com." names the same zone as without the dot */
	if (len > 1 && tok[len - 1] == '.')
		len--;
	t->s = tok;
	t->len = len;
}

/* spf_is_all - whether a term is the "all" mechanism */
static bool spf_is_all(const struct spf_term *t)
{
	return ieq_n(t->s, t->len, "all", 3);
}

/* spf_version_ok - consume and check the leading "v=spf1" token */
static bool spf_version_ok(const char **p)
{
	const char *tok;
	size_t len;

	return next_token(p, &tok, &len) && ieq_n(tok, len, "v=spf1", 6);
}

/* dnsnorm_is_spf - an SPF record: "v=spf1" then white space or the end */
bool dnsnorm_is_spf(const char *txt)
{
	if (!txt || strncasecmp(txt, "v=spf1", 6) != 0)
		return false;
	return txt[6] == '\0' || is_ws((unsigned char)txt[6]);
}

/* spf_term_effective - whether a live SPF record holds term where it counts */
static bool spf_term_effective(const char *live_terms, const struct spf_term *want)
{
	const char *p = live_terms, *tok;
	size_t len;
	struct spf_term t;

	while (next_token(&p, &tok, &len)) {
		spf_term_parse(tok, len, &t);
		if (spf_is_all(&t))
			/* evaluation stops at the first "all": only it counts */
			return spf_is_all(want) && t.qual == want->qual;
		if (t.qual == want->qual && ieq_n(t.s, t.len, want->s, want->len))
			return true;
	}
	return false;
}

/* dnsnorm_spf_match - every expected term effective in the live record */
bool dnsnorm_spf_match(const char *expected, const char *live)
{
	const char *ep = expected, *lp = live, *tok;
	size_t len;
	struct spf_term t;

	if (!dnsnorm_is_spf(expected) || !dnsnorm_is_spf(live))
		return false;
	if (!spf_version_ok(&ep) || !spf_version_ok(&lp))
		return false;
	while (next_token(&ep, &tok, &len)) {
		spf_term_parse(tok, len, &t);
		if (!spf_term_effective(lp, &t))
			return false;
	}
	return true;
}

/* dnsnorm_spf_has_term - the live SPF record carries one term effectively */
bool dnsnorm_spf_has_term(const char *live, const char *term)
{
	const char *lp = live, *tp = term, *tok;
	size_t len;
	struct spf_term t;

	if (!term || !dnsnorm_is_spf(live) || !spf_version_ok(&lp))
		return false;
	if (!next_token(&tp, &tok, &len))
		return false;
	spf_term_parse(tok, len, &t);
	return spf_term_effective(lp, &t);
}

/* trim - drop white space at both ends of a counted string */
static void trim(const char **s, size_t *len)
{
	while (*len > 0 && is_ws((unsigned char)**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && is_ws((unsigned char)(*s)[*len - 1]))
		(*len)--;
}

/* dkim_tag_name_ok - RFC 6376 3.2: ALPHA *ALNUMPUNC */
static bool dkim_tag_name_ok(const char *s, size_t len)
{
	if (len == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (size_t i = 1; i < len; i++) {
		int c = (unsigned char)s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return false;
	}
	return true;
}

/* dkim_tag_value_ok - RFC 6376 3.2 tval characters with inner white space */
static bool dkim_tag_value_ok(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)s[i];
		if (is_ws(c))
			continue;
		if (c < 0x21 || c > 0x7e || c == ';')
			return false;
	}
	return true;
}

/* dkim_parse_one - parse one "name = value" segment into a tag */
static bool dkim_parse_one(const char *s, size_t len, struct dkim_tag *tag)
{
	const char *eq = memchr(s, '=', len);

	if (!eq)
		return false;
	tag->name = s;
	tag->nlen = (size_t)(eq - s);
	trim(&tag->name, &tag->nlen);
	tag->val = eq + 1;
	tag->vlen = len - (size_t)(eq + 1 - s);
	trim(&tag->val, &tag->vlen);
	return dkim_tag_name_ok(tag->name, tag->nlen) && dkim_tag_value_ok(tag->val, tag->vlen);
}

/* dkim_parse - a tag-list into at most DKIM_MAX_TAGS tags; false if invalid */
static bool dkim_parse(const char *txt, struct dkim_tag *tags, size_t *ntags)
{
	const char *p = txt;

	*ntags = 0;
	if (!txt)
		return false;
	for (;;) {
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *seg = p;

		trim(&seg, &len);
		/* empty segments (a trailing ";" or "; ;") carry nothing */
		if (len > 0) {
			if (*ntags == DKIM_MAX_TAGS || !dkim_parse_one(seg, len, &tags[*ntags]))
				return false;
			for (size_t i = 0; i < *ntags; i++)
				if (tags[i].nlen == tags[*ntags].nlen &&
				    memcmp(tags[i].name, tags[*ntags].name, tags[i].nlen) == 0)
					return false; /* duplicate tag: invalid record */
			(*ntags)++;
		}
		if (!end)
			break;
		p = end + 1;
	}
	return *ntags > 0;
}

/* dkim_find - the tag called name, or NULL */
static const struct dkim_tag *dkim_find(const struct dkim_tag *tags, size_t n, const char *name)
{
	size_t nlen = strlen(name);

	for (size_t i = 0; i < n; i++)
		if (tags[i].nlen == nlen && memcmp(tags[i].name, name, nlen) == 0)
			return &tags[i];
	return NULL;
}

/* dkim_version_ok - v=, if present, is first and is "DKIM1" */
static bool dkim_version_ok(const struct dkim_tag *tags, size_t n)
{
	const struct dkim_tag *v = dkim_find(tags, n, "v");

	if (!v)
		return true;
	return v == &tags[0] && v->vlen == 5 && memcmp(v->val, "DKIM1", 5) == 0;
}

/* dkim_key_ok - a parsed tag-list that is a usable DKIM key record */
static bool dkim_key_ok(const struct dkim_tag *tags, size_t n)
{
	const struct dkim_tag *p = dkim_find(tags, n, "p");

	return p && p->vlen > 0 && dkim_version_ok(tags, n);
}

/* eq_nows - compare two counted strings ignoring all white space */
static bool eq_nows(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i = 0, j = 0;

	for (;;) {
		while (i < alen && is_ws((unsigned char)a[i]))
			i++;
		while (j < blen && is_ws((unsigned char)b[j]))
			j++;
		if (i == alen || j == blen)
			return i == alen && j == blen;
		if (a[i++] != b[j++])
			return false;
	}
}

/* dnsnorm_is_dkim - a valid tag-list with a non-empty p= */
bool dnsnorm_is_dkim(const char *txt)
{
	struct dkim_tag tags[DKIM_MAX_TAGS];
	size_t n;

	return dkim_parse(txt, tags, &n) && dkim_key_ok(tags, n);
}

/* dnsnorm_dkim_match - same public key (p=) and key type (k=) */
bool dnsnorm_dkim_match(const char *expected, const char *live)
{
	struct dkim_tag et[DKIM_MAX_TAGS], lt[DKIM_MAX_TAGS];
	size_t en, ln;
	const struct dkim_tag *ep, *lp, *ek, *lk;

	if (!dkim_parse(expected, et, &en) || !dkim_key_ok(et, en))
		return false;
	if (!dkim_parse(live, lt, &ln) || !dkim_key_ok(lt, ln))
		return false;
	ep = dkim_find(et, en, "p");
	lp = dkim_find(lt, ln, "p");
	if (!eq_nows(ep->val, ep->vlen, lp->val, lp->vlen))
		return false;
	ek = dkim_find(et, en, "k");
	lk = dkim_find(lt, ln, "k");
	return ieq_n(ek ? ek->val : "rsa", ek ? ek->vlen : 3, lk ? lk->val : "rsa",
	             lk ? lk->vlen : 3);
}

/* dnsnorm_txt_kind_of - what kind of record an expected TXT value is */
dnsnorm_txt_kind dnsnorm_txt_kind_of(const char *expected)
{
	if (dnsnorm_is_spf(expected))
		return DNSNORM_TXT_SPF;
	if (dnsnorm_is_dkim(expected))
		return DNSNORM_TXT_DKIM;
	return DNSNORM_TXT_OTHER;
}

/* dnsnorm_txt_equal - equal once white space runs are collapsed and trimmed */
bool dnsnorm_txt_equal(const char *a, const char *b)
{
	const char *ap = a, *bp = b, *at, *bt;
	size_t al, bl;
	bool ha, hb;

	if (!a || !b)
		return false;
	for (;;) {
		ha = next_token(&ap, &at, &al);
		hb = next_token(&bp, &bt, &bl);
		if (!ha || !hb)
			return ha == hb;
		if (al != bl || memcmp(at, bt, al) != 0)
			return false;
	}
}

/* host_equal_n - counted host names, case-insensitive, one trailing dot optional */
static bool host_equal_n(const char *a, size_t alen, const char *b, size_t blen)
{
	bool aroot = alen == 1 && a[0] == '.', broot = blen == 1 && b[0] == '.';

	if (aroot || broot)
		return aroot && broot;
	if (alen > 0 && a[alen - 1] == '.')
		alen--;
	if (blen > 0 && b[blen - 1] == '.')
		blen--;
	return alen > 0 && ieq_n(a, alen, b, blen);
}

/* dnsnorm_host_equal - host names equal as DNS names */
bool dnsnorm_host_equal(const char *a, const char *b)
{
	if (!a || !b)
		return false;
	return host_equal_n(a, strlen(a), b, strlen(b));
}

/* dnsnorm_mx_match - "[PREF] EXCHANGE" against one live MX */
bool dnsnorm_mx_match(const char *expected, int pref, const char *exchange)
{
	const char *p = expected, *host;
	size_t hlen;
	long want = -1;

	if (!expected || !exchange)
		return false;
	while (is_ws((unsigned char)*p))
		p++;
	if (*p >= '0' && *p <= '9') {
		want = 0;
		while (*p >= '0' && *p <= '9') {
			want = want * 10 + (*p++ - '0');
			if (want > 65535)
				return false;
		}
		if (!is_ws((unsigned char)*p))
			return false;
	}
	if (!next_token(&p, &host, &hlen))
		return false;
	while (is_ws((unsigned char)*p))
		p++;
	if (*p)
		return false; /* more than "[PREF] EXCHANGE" */
	if (want >= 0 && want != pref)
		return false;
	return host_equal_n(host, hlen, exchange, strlen(exchange));
}

/* txt_compare_spf - the single SPF record among several TXT records */
static dnsnorm_result txt_compare_spf(const char *expected, const char *const *records, size_t n,
                                      size_t *pick, const char **why)
{
	size_t nspf = 0;

	for (size_t i = 0; i < n; i++) {
		if (!dnsnorm_is_spf(records[i]))
			continue;
		if (nspf++ == 0)
			*pick = i;
	}
	if (nspf == 0) {
		*why = "no v=spf1 record among the TXT records";
		return DNSNORM_MISSING;
	}
	if (nspf > 1) {
		*why = "more than one v=spf1 record (RFC 7208 permerror)";
		return DNSNORM_MISMATCH;
	}
	if (dnsnorm_spf_match(expected, records[*pick]))
		return DNSNORM_MATCH;
	*why = "SPF record lacks an expected term (or has another qualifier or it follows \"all\")";
	return DNSNORM_MISMATCH;
}

/* txt_compare_dkim - any DKIM key record matching the expected key */
static dnsnorm_result txt_compare_dkim(const char *expected, const char *const *records, size_t n,
                                       size_t *pick, const char **why)
{
	bool any = false;

	for (size_t i = 0; i < n; i++) {
		if (!dnsnorm_is_dkim(records[i]))
			continue;
		if (!any)
			*pick = i;
		any = true;
		if (dnsnorm_dkim_match(expected, records[i])) {
			*pick = i;
			return DNSNORM_MATCH;
		}
	}
	*why = any ? "DKIM key (p=) or key type (k=) differs"
	           : "no valid DKIM key record (tag-list with p=) among the TXT records";
	return DNSNORM_MISMATCH;
}

/* dnsnorm_txt_compare - compare an expected TXT value with a name's TXT RRset */
dnsnorm_result dnsnorm_txt_compare(const char *expected, const char *const *records, size_t n,
                                   size_t *pick, const char **why)
{
	*pick = 0;
	*why = NULL;
	if (n == 0) {
		*why = "no TXT record";
		return DNSNORM_MISSING;
	}
	switch (dnsnorm_txt_kind_of(expected)) {
	case DNSNORM_TXT_SPF:
		return txt_compare_spf(expected, records, n, pick, why);
	case DNSNORM_TXT_DKIM:
		return txt_compare_dkim(expected, records, n, pick, why);
	case DNSNORM_TXT_OTHER:
		break;
	}
	for (size_t i = 0; i < n; i++) {
		if (dnsnorm_txt_equal(expected, records[i])) {
			*pick = i;
			return DNSNORM_MATCH;
		}
	}
	*why = "no TXT record equals the expected value";
	return DNSNORM_MISMATCH;
}
