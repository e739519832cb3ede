/*
 * NAME
 *	dnsnorm 3h - compare live DNS values with what Tencent SES expects
 * SUMMARY
 *	Pure functions (no I/O, no allocation) that decide whether a value
 *	served by DNS is "the same" as an ExpectedValue of SES.  Owned here:
 *	SPF term comparison, DKIM tag-list comparison, host-name and MX
 *	comparison, and the choice of one TXT record among several at a name.
 *	Not owned here: fetching records (precheck.c) and the overall verdict.
 * SYNOPSIS
 *	#include "dnsnorm.h"
 *
 *	dnsnorm_txt_kind dnsnorm_txt_kind_of(const char *expected);
 *	bool dnsnorm_is_spf(const char *txt);
 *	bool dnsnorm_spf_match(const char *expected, const char *live);
 *	bool dnsnorm_spf_has_term(const char *live, const char *term);
 *	bool dnsnorm_is_dkim(const char *txt);
 *	bool dnsnorm_dkim_match(const char *expected, const char *live);
 *	bool dnsnorm_txt_equal(const char *a, const char *b);
 *	bool dnsnorm_host_equal(const char *a, const char *b);
 *	bool dnsnorm_mx_match(const char *expected, int pref, const char *exchange);
 *	dnsnorm_result dnsnorm_txt_compare(const char *expected,
 *		const char *const *records, size_t n, size_t *pick, const char **why);
 * DESCRIPTION
 *	All inputs are NUL-terminated strings of any length and content; a
 *	malformed value never matches.  TXT values are the character-strings
 *	of one RR concatenated with no separator (RFC 7208 3.3, RFC 6376
 *	3.6.2.2); the caller does that.
 *
 *	SPF rule (dnsnorm_spf_match): both values must start with the version
 *	term "v=spf1".  Terms are separated by any run of white space and
 *	compared case-insensitively, a trailing dot of a domain-spec ignored.
 *	A term without qualifier has qualifier "+".  Every term of the
 *	expected value must occur in the live record with the SAME qualifier
 *	(so "~all" is not satisfied by "-all"), and every mechanism other than
 *	"all" must occur BEFORE the live record's first "all" mechanism,
 *	because an SPF evaluator never reaches what follows "all".  Extra
 *	terms in the live record are allowed: a domain that sends through
 *	SES and elsewhere has "v=spf1 include:qcloudmail.com include:other ~all",
 *	and SES only needs its include to be effective.
 *
 *	DKIM rule (dnsnorm_dkim_match): both values must be valid RFC 6376
 *	3.2 tag-lists (tag names case-sensitive, no duplicate tags) holding
 *	p=.  The p= values are compared with all white space removed (base64
 *	is case-sensitive); k= defaults to "rsa" and is compared
 *	case-insensitively; v=, when present, must be "DKIM1".  Other tags
 *	(t=, h=, s=, n=) are ignored.
 *
 *	Host names (MX exchange, CNAME target) compare ASCII
 *	case-insensitively with or without one trailing dot.  An MX
 *	expectation is "EXCHANGE" or "PREFERENCE EXCHANGE"; the preference is
 *	compared only when the expectation carries one.
 *
 *	TXT selection (dnsnorm_txt_compare): an SPF expectation looks only at
 *	the records that are SPF records (none: missing; more than one:
 *	mismatch, RFC 7208 4.5 permerror).  A DKIM expectation looks at the
 *	records that parse as DKIM key records; any of them matching is a
 *	match; none parsing while other TXT records exist is a mismatch.  Any
 *	other expectation matches a record equal to it with white space runs
 *	collapsed.  *pick is the index of the record to report as the current
 *	value (meaningful unless the result is DNSNORM_MISSING); *why is a
 *	static English explanation or NULL.
 */
#ifndef SV_DNSNORM_H
#define SV_DNSNORM_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { DNSNORM_TXT_SPF, DNSNORM_TXT_DKIM, DNSNORM_TXT_OTHER } dnsnorm_txt_kind;
typedef enum { DNSNORM_MATCH, DNSNORM_MISMATCH, DNSNORM_MISSING } dnsnorm_result;

dnsnorm_txt_kind dnsnorm_txt_kind_of(const char *expected);
bool dnsnorm_is_spf(const char *txt);
bool dnsnorm_spf_match(const char *expected, const char *live);
bool dnsnorm_spf_has_term(const char *live, const char *term);
bool dnsnorm_is_dkim(const char *txt);
bool dnsnorm_dkim_match(const char *expected, const char *live);
bool dnsnorm_txt_equal(const char *a, const char *b);
bool dnsnorm_host_equal(const char *a, const char *b);
bool dnsnorm_mx_match(const char *expected, int pref, const char *exchange);
dnsnorm_result dnsnorm_txt_compare(const char *expected, const char *const *records, size_t n,
                                   size_t *pick, const char **why);

#endif
