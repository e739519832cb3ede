/* test_policy.c - table test of the milter's decision function and reply text */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "policy.h"
#include "sesverify.h"
#include "tap.h"

#define ANY (-1)

/*
 * Expected enforce-mode outcome.  The first row matching (state,
 * UnknownAction, ErrorAction, waited) wins; ANY matches everything.
 */
static const struct row {
	int state, ua, ea, waited;
	policy_action action;
	const char *code, *dsn, *verdict;
	const char *would; /* the monitor header's "would=" word (DESIGN.md), a literal */
} rows[] = {
    {SV_STATE_VERIFIED, ANY, ANY, ANY, POLICY_ACCEPT, "", "", "verified", "accept"},
    {SV_STATE_UNVERIFIED, ANY, ANY, ANY, POLICY_REJECT, "550", "5.7.1", "unverified", "reject"},
    {SV_STATE_NOT_EXIST, ANY, ANY, ANY, POLICY_REJECT, "550", "5.7.1", "not_exist", "reject"},
    {SV_STATE_UNKNOWN, SV_UNKNOWN_ACCEPT, ANY, ANY, POLICY_ACCEPT, "", "", "unknown", "accept"},
    {SV_STATE_UNKNOWN, SV_UNKNOWN_TEMPFAIL, ANY, ANY, POLICY_TEMPFAIL, "451", "4.7.1", "unknown",
     "tempfail"},
    {SV_STATE_UNKNOWN, SV_UNKNOWN_WAIT, ANY, 0, POLICY_WAIT, "", "", "unknown", "wait"},
    {SV_STATE_UNKNOWN, SV_UNKNOWN_WAIT, ANY, 1, POLICY_TEMPFAIL, "451", "4.7.1", "unknown",
     "tempfail"},
    {SV_STATE_ERROR, ANY, SV_ERROR_TEMPFAIL, ANY, POLICY_TEMPFAIL, "451", "4.3.0", "error",
     "tempfail"},
    {SV_STATE_ERROR, ANY, SV_ERROR_ACCEPT, ANY, POLICY_ACCEPT, "", "", "error", "accept"},
    {SV_STATE_ERROR, ANY, SV_ERROR_REJECT, ANY, POLICY_REJECT, "550", "5.7.1", "error", "reject"},
};

static const struct row *expect(int state, int ua, int ea, int waited)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		if (r->state == state && (r->ua == ANY || r->ua == ua) &&
		    (r->ea == ANY || r->ea == ea) && (r->waited == ANY || r->waited == waited))
			return r;
	}
	return NULL;
}

/* well_formed - the reply rules of milter.md 2.5 */
static int well_formed(const policy_result *r)
{
	char err[200];
	size_t run = 0;

	if (r->action == POLICY_ACCEPT || r->action == POLICY_WAIT)
		return r->code[0] == 0 && r->text[0] == 0;
	if (policy_reply_valid(r->code, r->dsn, err, sizeof(err)) < 0)
		return 0;
	if (strlen(r->code) + 1 + strlen(r->dsn) + 1 + strlen(r->text) > POLICY_REPLY_MAX)
		return 0;
	for (const unsigned char *p = (const unsigned char *)r->text;; p++) {
		if (*p == '%') {
			run++;
			continue;
		}
		if (run % 2)
			return 0; /* a lone '%' makes libmilter drop the text */
		run = 0;
		if (*p == 0)
			break;
		if (*p < 0x20 || *p >= 0x7f)
			return 0;
	}
	return r->text[0] != 0;
}

static void table(void)
{
	static const char *const sn[] = {"unknown", "verified", "unverified", "not_exist", "error"};
	static const char *const uan[] = {"wait", "tempfail", "accept"};
	static const char *const ean[] = {"tempfail", "accept", "reject"};
	sv_config cfg;
	sv_entry_view v;
	policy_result r;
	policy_facts f = {.subject = POLICY_DOMAIN, .domain = "example.com", .source = "envelope"};
	int n_enforce[4] = {0, 0, 0, 0}, n_monitor_accept = 0;

	memset(&v, 0, sizeof(v));
	for (int state = 0; state <= SV_STATE_ERROR; state++)
		for (int mode = 0; mode <= SV_MODE_MONITOR; mode++)
			for (int ua = 0; ua <= SV_UNKNOWN_ACCEPT; ua++)
				for (int ea = 0; ea <= SV_ERROR_REJECT; ea++)
					for (int w = 0; w <= 1; w++) {
						const struct row *e = expect(state, ua, ea, w);
						char why[300];
						int good;

						memset(&cfg, 0, sizeof(cfg));
						cfg.mode = (sv_mode)mode;
						cfg.unknown_action = (sv_unknown_action)ua;
						cfg.error_action = (sv_error_action)ea;
						v.state = (sv_state)state;
						f.waited = w;
						policy_decide(&cfg, (sv_state)state, &v, &f, &r);
						if (mode == SV_MODE_ENFORCE &&
						    (unsigned)r.action < 4)
							n_enforce[r.action]++;
						if (mode == SV_MODE_MONITOR &&
						    r.action == POLICY_ACCEPT)
							n_monitor_accept++;
						good = e != NULL && r.enforce == e->action &&
						       strcmp(r.verdict, e->verdict) == 0;
						if (mode == SV_MODE_ENFORCE ||
						    e->action == POLICY_WAIT) {
							good = good && r.action == e->action &&
							       !r.monitor &&
							       strcmp(r.code, e->code) == 0 &&
							       strcmp(r.dsn, e->dsn) == 0 &&
							       well_formed(&r);
						} else {
							char want[200];
							snprintf(want, sizeof(want),
							         "%s; source=envelope; "
							         "domain=example.com; would=%s",
							         e->verdict, e->would);
							good = good && r.action == POLICY_ACCEPT &&
							       r.monitor &&
							       strcmp(r.header, want) == 0;
						}
						snprintf(why, sizeof(why),
						         "%s Mode=%s UnknownAction=%s "
						         "ErrorAction=%s waited=%d -> %s %s %s",
						         sn[state], mode ? "monitor" : "enforce",
						         uan[ua], ean[ea], w,
						         policy_action_name(r.action), r.code,
						         r.dsn);
						ok(good, "%s", why);
					}
	/*
	 * Enforce mode, counted by hand over the 5 states x 3 UnknownAction x
	 * 3 ErrorAction x 2 waited = 90 combinations (18 per state):
	 * accept = verified 18 + unknown/accept 6 + error/accept 6 = 30;
	 * reject = unverified 18 + not_exist 18 + error/reject 6 = 42;
	 * tempfail = unknown/tempfail 6 + unknown/wait/waited 3 + error/tempfail 6 = 15;
	 * wait = unknown/wait/not waited 3.
	 */
	is_int(n_enforce[POLICY_ACCEPT], 30, "enforce: 30 of 90 combinations accept");
	is_int(n_enforce[POLICY_REJECT], 42, "enforce: 42 of 90 combinations reject");
	is_int(n_enforce[POLICY_TEMPFAIL], 15, "enforce: 15 of 90 combinations tempfail");
	is_int(n_enforce[POLICY_WAIT], 3, "enforce: 3 of 90 combinations wait for the API");
	/* monitor mode accepts everything except the 3 that first wait for the answer */
	is_int(n_monitor_accept, 87, "monitor: 87 of 90 combinations accept (3 wait)");
	is_str(policy_action_name(POLICY_ACCEPT), "accept", "action name accept");
	is_str(policy_action_name(POLICY_REJECT), "reject", "action name reject");
	is_str(policy_action_name(POLICY_TEMPFAIL), "tempfail", "action name tempfail");
	is_str(policy_action_name(POLICY_WAIT), "wait", "action name wait");
}

static void texts(void)
{
	sv_config cfg;
	sv_entry_view v;
	policy_result r;
	policy_facts f = {.subject = POLICY_DOMAIN, .domain = "example.com", .source = "envelope"};

	memset(&cfg, 0, sizeof(cfg));
	memset(&v, 0, sizeof(v));
	strcpy(v.fail_type, "TXT");
	strcpy(v.fail_name, "qcloud._domainkey.example.com");
	strcpy(v.fail_expected, "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC0");
	v.fail_missing = true;
	policy_decide(&cfg, SV_STATE_UNVERIFIED, &v, &f, &r);
	is_str(r.text,
	       "example.com: sender domain not verified by Tencent Cloud SES: TXT "
	       "qcloud._domainkey.example.com missing (expected \"v=DKIM1; k=rsa; "
	       "p=MIGfMA0GCSqGSIb3DQEBAQ...\")",
	       "unverified, record missing: type, name, shortened expected value");

	v.fail_missing = false;
	strcpy(v.fail_type, "MX");
	strcpy(v.fail_name, "example.com");
	strcpy(v.fail_expected, "mxbiz1.qq.com.");
	strcpy(v.fail_current, "mx.example.net.");
	policy_decide(&cfg, SV_STATE_UNVERIFIED, &v, &f, &r);
	is_str(r.text,
	       "example.com: sender domain not verified by Tencent Cloud SES: MX example.com "
	       "wrong (found \"mx.example.net.\", expected \"mxbiz1.qq.com.\")",
	       "unverified, record wrong: found and expected");

	memset(&v, 0, sizeof(v));
	policy_decide(&cfg, SV_STATE_UNVERIFIED, &v, &f, &r);
	is_str(r.text, "example.com: sender domain not verified by Tencent Cloud SES",
	       "unverified without attributes");
	policy_decide(&cfg, SV_STATE_NOT_EXIST, &v, &f, &r);
	is_str(r.text, "example.com: sender domain not set up in Tencent Cloud SES",
	       "not set up text");
	strcpy(v.error_code, SV_ECODE_NXDOMAIN);
	policy_decide(&cfg, SV_STATE_NOT_EXIST, &v, &f, &r);
	is_str(r.text, "example.com: sender domain does not exist in DNS (NXDOMAIN)",
	       "NXDOMAIN short-cut text names the real reason");
	is_str(r.code, "550", "NXDOMAIN: 550");
	is_str(r.dsn, "5.7.1", "NXDOMAIN: 5.7.1");
	is_str(r.why, "sender domain does not exist in DNS", "NXDOMAIN: log reason");
	strcpy(v.error_code, "FailedOperation.ServiceNotAvailable");
	policy_decide(&cfg, SV_STATE_ERROR, &v, &f, &r);
	is_str(r.text,
	       "example.com: sender domain cannot be checked with Tencent Cloud SES now "
	       "(FailedOperation.ServiceNotAvailable), try again later",
	       "error text names the API error");
	ok(well_formed(&r), "error reply well formed");

	f.subject = POLICY_MISSING_FROM;
	f.source = "header";
	policy_decide(&cfg, SV_STATE_UNKNOWN, NULL, &f, &r);
	ok(r.action == POLICY_REJECT && strcmp(r.code, "550") == 0 && well_formed(&r),
	   "missing From: rejected 550 5.7.1");
	f.subject = POLICY_NOT_IDNA;
	f.source = "envelope";
	policy_decide(&cfg, SV_STATE_UNKNOWN, NULL, &f, &r);
	ok(r.action == POLICY_REJECT && strcmp(r.code, "550") == 0 && strcmp(r.dsn, "5.7.1") == 0 &&
	       well_formed(&r),
	   "look-alike envelope domain rejected 550 5.7.1");
	is_str(r.text,
	       "envelope sender domain is not in a form Tencent Cloud SES can verify (not an "
	       "exact IDNA2008 name)",
	       "look-alike envelope domain: reply text");
	f.source = "header";
	policy_decide(&cfg, SV_STATE_UNKNOWN, NULL, &f, &r);
	is_str(r.text,
	       "From: header sender domain is not in a form Tencent Cloud SES can verify (not "
	       "an exact IDNA2008 name)",
	       "look-alike From: domain: reply text");
	f.subject = POLICY_MULTIPLE_FROM;
	cfg.mode = SV_MODE_MONITOR;
	policy_decide(&cfg, SV_STATE_UNKNOWN, NULL, &f, &r);
	is_str(r.header, "multiple_from; source=header; would=reject",
	       "duplicate From: in monitor");
	ok(r.action == POLICY_ACCEPT, "monitor never rejects a defect");
}

static void sanitising(void)
{
	sv_config cfg;
	sv_entry_view v;
	policy_result r;
	char domain[300], buf[64];
	policy_facts f = {.subject = POLICY_DOMAIN, .source = "header"};

	memset(&cfg, 0, sizeof(cfg));
	memset(&v, 0, sizeof(v));
	strcpy(v.fail_type, "TXT");
	strcpy(v.fail_name, "evil\r\n250 ok.example.com");
	strcpy(v.fail_expected, "100%% sure\x01\x7f\xff");
	strcpy(v.fail_current, "%s%n%");
	f.domain = "ex%ample.com";
	policy_decide(&cfg, SV_STATE_UNVERIFIED, &v, &f, &r);
	ok(well_formed(&r), "CR/LF/control/non-ASCII/%% from outside: well formed");
	ok(strstr(r.text, "ex%%ample.com") != NULL, "'%%' doubled: %s", r.text);
	ok(strchr(r.text, '\r') == NULL && strchr(r.text, '\n') == NULL, "no CR/LF");
	ok(strstr(r.text, "evil??250 ok.example.com") != NULL, "CR LF replaced by '?'");

	/* longest names everywhere, and a value full of '%' */
	memset(domain, 'a', 253);
	domain[253] = 0;
	for (int i = 63; i < 253; i += 64)
		domain[i] = '.';
	f.domain = domain;
	memcpy(v.fail_name, domain, 254);
	memset(v.fail_expected, '%', sizeof(v.fail_expected) - 1);
	v.fail_expected[sizeof(v.fail_expected) - 1] = 0;
	memset(v.fail_current, '%', sizeof(v.fail_current) - 1);
	v.fail_current[sizeof(v.fail_current) - 1] = 0;
	policy_decide(&cfg, SV_STATE_UNVERIFIED, &v, &f, &r);
	ok(well_formed(&r), "253-octet names and %%-filled values: well formed");
	ok(strlen(r.code) + strlen(r.dsn) + strlen(r.text) + 2 <= 980, "total %zu <= 980",
	   strlen(r.code) + strlen(r.dsn) + strlen(r.text) + 2);

	/* the escaper alone: cutting never leaves a lone '%' */
	char big[3000];
	memset(big, '%', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	size_t n = policy_escape(r.text, 970, big);
	ok(n <= 969 && strlen(r.text) == n, "escape bounded (%zu)", n);
	ok(strcmp(r.text + n - 3, "...") == 0, "cut text ends with ...");
	size_t pct = strspn(r.text, "%");
	ok(pct % 2 == 0, "no lone '%%' at the cut (%zu)", pct);
	policy_escape(buf, 4, "abcdef");
	is_str(buf, "...", "tiny buffer");
	policy_escape(buf, sizeof(buf), "fits%");
	is_str(buf, "fits%%", "fits exactly");
	policy_escape(buf, 7, "fits%");
	is_str(buf, "fits%%", "fits exactly at the limit");
	policy_escape(buf, 6, "fits%");
	is_str(buf, "fi...", "one short: cut");
}

static void replies(void)
{
	char err[200];

	ok(policy_check_replies(err, sizeof(err)) == 0, "built-in replies valid");
	ok(policy_reply_valid("550", "5.7.1", err, sizeof(err)) == 0, "550 5.7.1 ok");
	ok(policy_reply_valid("451", "4.3.0", err, sizeof(err)) == 0, "451 4.3.0 ok");
	ok(policy_reply_valid("550", "4.7.1", err, sizeof(err)) < 0, "class mismatch refused: %s",
	   err);
	ok(policy_reply_valid("250", "2.0.0", err, sizeof(err)) < 0, "2xx refused");
	ok(policy_reply_valid("55", "5.7.1", err, sizeof(err)) < 0, "short code refused");
	ok(policy_reply_valid("550", "5.7", err, sizeof(err)) < 0, "short DSN refused");
	ok(policy_reply_valid("550", "5.7.1234", err, sizeof(err)) < 0, "long DSN refused");
	ok(policy_reply_valid("550", "5.7.1 ", err, sizeof(err)) < 0, "trailing junk refused");
}

int main(void)
{
	table();
	texts();
	sanitising();
	replies();
	return tap_done();
}
