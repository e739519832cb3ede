/*
 * policy.c - what the milter does with one sender domain or message defect.
 *	Owns the mapping from cache state, Mode, UnknownAction and ErrorAction
 *	to an action, and the text of every SMTP reply the milter sends.  Does
 *	not own lookups, waiting, logging or libmilter calls: it is a pure
 *	function so that it can be tested as a table.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "policy.h"

/* The replies DESIGN.md fixes; checked by policy_check_replies(). */
enum { R_UNVERIFIED, R_NOT_EXIST, R_UNKNOWN, R_ERROR_TEMP, R_ERROR_REJECT, R_FROM, R_COUNT };

static const struct {
	const char *code, *dsn;
} replies[R_COUNT] = {
    [R_UNVERIFIED] = {"550", "5.7.1"},   [R_NOT_EXIST] = {"550", "5.7.1"},
    [R_UNKNOWN] = {"451", "4.7.1"},      [R_ERROR_TEMP] = {"451", "4.3.0"},
    [R_ERROR_REJECT] = {"550", "5.7.1"}, [R_FROM] = {"550", "5.7.1"},
};

static const char *const action_names[] = {
    [POLICY_ACCEPT] = "accept",
    [POLICY_REJECT] = "reject",
    [POLICY_TEMPFAIL] = "tempfail",
    [POLICY_WAIT] = "wait",
};

/* policy_action_name - "accept", "reject", "tempfail", "wait" */
const char *policy_action_name(policy_action action)
{
	if ((unsigned)action < sizeof(action_names) / sizeof(action_names[0]))
		return action_names[action];
	return "invalid";
}

/* policy_reply_valid - a 4xx/5xx code with an enhanced status of the same class */
int policy_reply_valid(const char *code, const char *dsn, char *err, size_t errlen)
{
	const char *p;
	int part, digits;

	if (code == NULL || strlen(code) != 3 || (code[0] != '4' && code[0] != '5') ||
	    !isdigit((unsigned char)code[1]) || !isdigit((unsigned char)code[2])) {
		snprintf(err, errlen, "reply code \"%s\" is not 4xx or 5xx", code ? code : "");
		return -1;
	}
	/* RFC 3463: class.subject.detail, class 4 or 5, 1-3 digits each */
	if (dsn == NULL || (dsn[0] != '4' && dsn[0] != '5') || dsn[1] != '.') {
		snprintf(err, errlen, "enhanced status \"%s\" is not 4.x.x or 5.x.x",
		         dsn ? dsn : "");
		return -1;
	}
	for (p = dsn + 2, part = 0; part < 2; part++) {
		for (digits = 0; isdigit((unsigned char)*p); p++)
			digits++;
		if (digits < 1 || digits > 3 || *p != (part == 0 ? '.' : '\0')) {
			snprintf(err, errlen, "enhanced status \"%s\" is malformed", dsn);
			return -1;
		}
		if (part == 0)
			p++;
	}
	/* Postfix refuses a reply whose code and DSN classes differ. */
	if (code[0] != dsn[0]) {
		snprintf(err, errlen, "reply code %s and enhanced status %s disagree in class",
		         code, dsn);
		return -1;
	}
	return 0;
}

/* policy_check_replies - validate every built-in reply (at config load) */
int policy_check_replies(char *err, size_t errlen)
{
	for (int i = 0; i < R_COUNT; i++)
		if (policy_reply_valid(replies[i].code, replies[i].dsn, err, errlen) < 0)
			return -1;
	return 0;
}

/* policy_escape - printable ASCII only, '%' doubled, "..." when cut */
size_t policy_escape(char *dst, size_t dstlen, const char *src)
{
	const unsigned char *s;
	size_t n = 0, full = 0, limit;

	if (dstlen == 0)
		return 0;
	for (s = (const unsigned char *)src; *s; s++)
		full += *s == '%' ? 2 : 1;
	/* when it does not fit, keep room for "..." and cut between units */
	limit = full <= dstlen - 1 ? dstlen - 1 : (dstlen - 1 >= 3 ? dstlen - 1 - 3 : 0);
	for (s = (const unsigned char *)src; *s; s++) {
		if (n + (*s == '%' ? 2 : 1) > limit)
			break;
		if (*s == '%') {
			dst[n++] = '%';
			dst[n++] = '%';
		} else if (*s < 0x20 || *s >= 0x7f) {
			/* CR, LF, TAB, DEL and non-ASCII octets */
			dst[n++] = '?';
		} else {
			dst[n++] = (char)*s;
		}
	}
	while (*s && n < dstlen - 1 && n < limit + 3)
		dst[n++] = '.';
	dst[n] = 0;
	return n;
}

/* shorten - at most POLICY_SHOW_MAX characters of a value, "..." when cut */
static void shorten(char *dst, size_t dstlen, const char *src)
{
	size_t len = strlen(src);

	if (len > POLICY_SHOW_MAX)
		snprintf(dst, dstlen, "%.*s...", POLICY_SHOW_MAX, src);
	else
		snprintf(dst, dstlen, "%s", src);
}

/* header_clean - a header value: printable ASCII, bounded */
static void header_clean(char *dst, size_t dstlen, const char *src)
{
	size_t n = 0;

	for (; *src && n + 1 < dstlen; src++)
		dst[n++] = (*src < 0x20 || *src >= 0x7f) ? '?' : *src;
	dst[n] = 0;
}

/* set_reply - fill code, DSN and escaped text within POLICY_REPLY_MAX */
static void set_reply(policy_result *out, int which, const char *raw)
{
	size_t room;

	snprintf(out->code, sizeof(out->code), "%s", replies[which].code);
	snprintf(out->dsn, sizeof(out->dsn), "%s", replies[which].dsn);
	/* "CODE DSN TEXT" must fit; the +1 is the NUL policy_escape adds */
	room = POLICY_REPLY_MAX - strlen(out->code) - 1 - strlen(out->dsn) - 1 + 1;
	policy_escape(out->text, room, raw);
}

/* unverified_text - "D: sender domain not verified ...: TYPE NAME missing (...)" */
static void unverified_text(char *raw, size_t len, const char *domain, const sv_entry_view *v)
{
	char exp[POLICY_SHOW_MAX + 4], cur[POLICY_SHOW_MAX + 4];

	if (v == NULL || v->fail_type[0] == 0 || v->fail_name[0] == 0) {
		snprintf(raw, len, "%s: sender domain not verified by Tencent Cloud SES", domain);
		return;
	}
	shorten(exp, sizeof(exp), v->fail_expected);
	if (v->fail_missing || v->fail_current[0] == 0) {
		snprintf(raw, len,
		         "%s: sender domain not verified by Tencent Cloud SES: %s %s missing "
		         "(expected \"%s\")",
		         domain, v->fail_type, v->fail_name, exp);
		return;
	}
	shorten(cur, sizeof(cur), v->fail_current);
	snprintf(raw, len,
	         "%s: sender domain not verified by Tencent Cloud SES: %s %s wrong "
	         "(found \"%s\", expected \"%s\")",
	         domain, v->fail_type, v->fail_name, cur, exp);
}

/* decide_domain - enforce-mode action for a looked-up sender domain */
static void decide_domain(const sv_config *cfg, sv_state state, const sv_entry_view *v,
                          const policy_facts *f, policy_result *out, char *raw, size_t len)
{
	const char *d = f->domain ? f->domain : "(none)";

	switch (state) {
	case SV_STATE_VERIFIED:
		out->verdict = "verified";
		out->why = v && v->stale ? "verified (stale answer)" : "verified";
		out->enforce = POLICY_ACCEPT;
		return;
	case SV_STATE_UNVERIFIED:
		out->verdict = "unverified";
		out->why = "sender domain not verified";
		out->enforce = POLICY_REJECT;
		unverified_text(raw, len, d, v);
		set_reply(out, R_UNVERIFIED, raw);
		return;
	case SV_STATE_NOT_EXIST:
		out->verdict = "not_exist";
		out->enforce = POLICY_REJECT;
		if (v && strcmp(v->error_code, SV_ECODE_NXDOMAIN) == 0) {
			/* the NXDOMAIN short-cut: SES was not asked, DNS says why */
			out->why = "sender domain does not exist in DNS";
			snprintf(raw, len, "%s: sender domain does not exist in DNS (NXDOMAIN)", d);
		} else {
			out->why = "sender domain not set up in SES";
			snprintf(raw, len, "%s: sender domain not set up in Tencent Cloud SES", d);
		}
		set_reply(out, R_NOT_EXIST, raw);
		return;
	case SV_STATE_UNKNOWN:
		out->verdict = "unknown";
		if (cfg->unknown_action == SV_UNKNOWN_ACCEPT) {
			out->why = "unknown, UnknownAction accept";
			out->enforce = POLICY_ACCEPT;
			return;
		}
		if (cfg->unknown_action == SV_UNKNOWN_WAIT && !f->waited) {
			out->why = "unknown, waiting";
			out->enforce = POLICY_WAIT;
			return;
		}
		out->why = cfg->unknown_action == SV_UNKNOWN_WAIT
		               ? "unknown after UnknownWait"
		               : "unknown, UnknownAction tempfail";
		out->enforce = POLICY_TEMPFAIL;
		snprintf(
		    raw, len,
		    "%s: sender domain not yet checked with Tencent Cloud SES, try again later", d);
		set_reply(out, R_UNKNOWN, raw);
		return;
	case SV_STATE_ERROR:
	default:
		out->verdict = "error";
		if (cfg->error_action == SV_ERROR_ACCEPT) {
			out->why = "no answer, ErrorAction accept";
			out->enforce = POLICY_ACCEPT;
			return;
		}
		if (cfg->error_action == SV_ERROR_REJECT) {
			out->why = "no answer, ErrorAction reject";
			out->enforce = POLICY_REJECT;
			snprintf(raw, len,
			         "%s: sender domain cannot be checked with Tencent Cloud SES", d);
			set_reply(out, R_ERROR_REJECT, raw);
			return;
		}
		out->why = "no answer, ErrorAction tempfail";
		out->enforce = POLICY_TEMPFAIL;
		if (v && v->error_code[0])
			snprintf(raw, len,
			         "%s: sender domain cannot be checked with Tencent Cloud SES now "
			         "(%s), try again later",
			         d, v->error_code);
		else
			snprintf(raw, len,
			         "%s: sender domain cannot be checked with Tencent Cloud SES now, "
			         "try again later",
			         d);
		set_reply(out, R_ERROR_TEMP, raw);
		return;
	}
}

/* decide_defect - missing, duplicate or unusable From: header, or a
 * sender domain SES cannot verify as the MTA relays it */
static void decide_defect(const policy_facts *f, policy_result *out, char *raw, size_t len)
{
	out->enforce = POLICY_REJECT;
	switch (f->subject) {
	case POLICY_MISSING_FROM:
		out->verdict = "missing_from";
		out->why = "message has no From: header";
		snprintf(raw, len, "message has no From: header; cannot check its sender domain");
		break;
	case POLICY_MULTIPLE_FROM:
		out->verdict = "multiple_from";
		out->why = "message has more than one From: header";
		snprintf(raw, len, "message has more than one From: header");
		break;
	case POLICY_NOT_IDNA:
		/* the raw name is in the log line; as '?'s it would help nobody here */
		out->verdict = "not_idna";
		out->why = "sender domain not an exact IDNA2008 name";
		snprintf(raw, len,
		         "%s sender domain is not in a form Tencent Cloud SES can verify (not an "
		         "exact IDNA2008 name)",
		         f->source && strcmp(f->source, "envelope") == 0 ? "envelope"
		                                                         : "From: header");
		break;
	default:
		out->verdict = "bad_sender";
		if (f->source && strcmp(f->source, "envelope") == 0) {
			out->why = "envelope sender has no usable domain";
			snprintf(raw, len, "envelope sender address has no usable domain");
		} else {
			out->why = "From: header has no usable address";
			snprintf(raw, len, "From: header has no usable sender address");
		}
		break;
	}
	set_reply(out, R_FROM, raw);
}

/* policy_decide - the decision; see policy.h */
void policy_decide(const sv_config *cfg, sv_state state, const sv_entry_view *view,
                   const policy_facts *facts, policy_result *out)
{
	char raw[2048], hdr[POLICY_HEADER_MAX + 1];

	memset(out, 0, sizeof(*out));
	raw[0] = 0;
	if (facts->subject == POLICY_DOMAIN)
		decide_domain(cfg, state, view, facts, out, raw, sizeof(raw));
	else
		decide_defect(facts, out, raw, sizeof(raw));
	out->action = out->enforce;
	if (out->enforce == POLICY_ACCEPT || out->enforce == POLICY_WAIT) {
		out->code[0] = out->dsn[0] = out->text[0] = 0;
	}
	if (cfg->mode != SV_MODE_MONITOR || out->enforce == POLICY_WAIT)
		return;
	/* Monitor: never reject; say what enforce would have done. */
	out->monitor = true;
	out->action = POLICY_ACCEPT;
	snprintf(hdr, sizeof(hdr), "%s; source=%s%s%s; would=%s", out->verdict,
	         facts->source ? facts->source : "envelope",
	         facts->subject == POLICY_DOMAIN ? "; domain=" : "",
	         facts->subject == POLICY_DOMAIN && facts->domain ? facts->domain : "",
	         policy_action_name(out->enforce));
	header_clean(out->header, sizeof(out->header), hdr);
}
