/*
 * NAME
 *	micro - micro-benchmarks of the per-message and per-API-call code
 * SYNOPSIS
 *	micro [-s SECONDS_PER_CASE] [-f FILTER]
 * DESCRIPTION
 *	Times, single-threaded, the pure functions a message or an API call
 *	goes through, and prints one line per case:
 *
 *	    MICRO name=NAME ns_per_op=N ops=N
 *
 *	policy.*	policy_decide() for a verified and an unverified entry
 *			(milter/policy.c compiled in: it is a pure function)
 *	domain.*	sv_domain_normalize() on an ASCII and an IDN name
 *	tc3.sign	sv_tc3_sign() of a typical UpdateEmailIdentity body
 *	json.parse	sv_json_parse() of a typical UpdateEmailIdentity answer
 *	sesapi.parse	sv_sesapi_parse_update() of the same answer (tokens,
 *			walk, unescape, sv_identity fill and clear)
 *
 *	Each case runs batches until SECONDS_PER_CASE (default 0.5) have
 *	passed and reports the mean; results are kept live through a sink so
 *	the compiler cannot drop the work.  -f runs only the cases whose name
 *	contains FILTER.
 *
 *	This file owns only this tool; it measures the library and policy as
 *	they are and changes nothing in them.
 * DIAGNOSTICS
 *	Exit 1 when a function under test fails (a broken benchmark must not
 *	print a figure), 2 on a usage error.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "policy.h"
#include "sesapi.h"
#include "sesverify.h"
#include "tc3sign.h"

/* A typical UpdateEmailIdentity answer: an unverified domain, 3 records. */
static const char update_answer[] =
    "{\"Response\":{\"IdentityType\":\"DOMAIN\",\"VerifiedForSendingStatus\":false,"
    "\"Attributes\":["
    "{\"Type\":\"TXT\",\"SendDomain\":\"example.com\","
    "\"ExpectedValue\":\"v=spf1 include:qcloudmail.com ~all\","
    "\"CurrentValue\":\"v=spf1 include:qcloudmail.com ~all\",\"Status\":true},"
    "{\"Type\":\"TXT\",\"SendDomain\":\"qcloud._domainkey.example.com\","
    "\"ExpectedValue\":\"v=DKIM1; k=rsa; "
    "p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC2y3XpZ0eVJ9sYwq8mEx1n0wR8L7m1p4Bf5k3Y\\/"
    "2ZlQm8yJcQ2v0m4vYH1JX0n5gk6oO3k9eWm4rCq3sGZB4b7wq1tIY0Vx8ZT0aP9rJx2N1YJg5xkz8q7w"
    "Q3f9k0bH1m2YyE4Zp0aQ1nq3vXbYz7ZC5xXmZg3JcUjW0Hq4xXwIDAQAB\","
    "\"CurrentValue\":\"\",\"Status\":false},"
    "{\"Type\":\"MX\",\"SendDomain\":\"example.com\",\"ExpectedValue\":\"mxbiz1.qq.com\","
    "\"CurrentValue\":\"mxbiz1.qq.com\",\"Status\":true}],"
    "\"DKIMOption\":0,\"RequestId\":\"6c2f8a3e-0b1d-4c7a-9e55-3f1a2b4c5d6e\"}}";

static volatile uint64_t sink;
static double per_case = 0.5;
static const char *filter;
static int failures;

/* now_s - monotonic seconds */
static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef int (*bench_fn)(void *arg);

/*
 * run - time fn in growing batches; print ns/op
 *	fn returns 0, or -1 when the code under test failed (reported once,
 *	and the case prints no figure).
 */
static void run(const char *name, bench_fn fn, void *arg)
{
	uint64_t ops = 0, batch = 1, i;
	double t0, t;

	if (filter != NULL && strstr(name, filter) == NULL)
		return;
	if (fn(arg) < 0) {
		fprintf(stderr, "micro: %s: the function under test failed\n", name);
		failures++;
		return;
	}
	t0 = now_s();
	do {
		for (i = 0; i < batch; i++)
			if (fn(arg) < 0) {
				fprintf(stderr, "micro: %s: failed after %llu calls\n", name,
				        (unsigned long long)(ops + i));
				failures++;
				return;
			}
		ops += batch;
		if (batch < (1u << 20))
			batch *= 2;
		t = now_s() - t0;
	} while (t < per_case);
	printf("MICRO name=%s ns_per_op=%.1f ops=%llu\n", name, t * 1e9 / (double)ops,
	       (unsigned long long)ops);
	fflush(stdout);
}

typedef struct policy_case {
	sv_config *cfg;
	sv_state state;
	sv_entry_view view;
	policy_facts facts;
} policy_case;

/* b_policy - one decision */
static int b_policy(void *arg)
{
	policy_case *pc = arg;
	policy_result res;

	policy_decide(pc->cfg, pc->state, &pc->view, &pc->facts, &res);
	sink += (uint64_t)res.action + (unsigned char)res.text[0];
	return 0;
}

/* b_domain - normalise one name */
static int b_domain(void *arg)
{
	char out[SV_DOMAIN_MAX + 1];
	const char *why;

	if (sv_domain_normalize(arg, out, &why) < 0)
		return -1;
	sink += (unsigned char)out[0];
	return 0;
}

/* b_tc3 - sign one request */
static int b_tc3(void *arg)
{
	static const char body[] = "{\"EmailIdentity\":\"example.com\"}";
	sv_tc3_input in = {
	    .secret_id = "AKIDsesverifytest0000000000000000000",
	    .secret_key = "sesverify-test-secret-DO-NOT-LOG-0123456789",
	    .service = "ses",
	    .host = "ses.tencentcloudapi.com",
	    .content_type = "application/json; charset=utf-8",
	    .action = "UpdateEmailIdentity",
	    .sign_action = true,
	    .payload = body,
	    .payload_len = sizeof(body) - 1,
	    .timestamp = 1795000000,
	};
	sv_tc3_result res;
	char err[128];

	(void)arg;
	memset(&res, 0, sizeof(res));
	if (sv_tc3_sign(&in, &res, err, sizeof(err)) < 0)
		return -1;
	sink += (unsigned char)res.signature[0];
	sv_tc3_result_clear(&res);
	return 0;
}

/* b_json - tokenize and validate one answer */
static int b_json(void *arg)
{
	sv_json *doc = NULL;
	char err[128];

	(void)arg;
	if (sv_json_parse(update_answer, sizeof(update_answer) - 1, SV_JSON_MAX_DEFAULT, &doc, err,
	                  sizeof(err)) < 0)
		return -1;
	sink += (uint64_t)sv_json_count(doc);
	sv_json_free(doc);
	return 0;
}

/* b_sesapi - parse one answer into an sv_identity */
static int b_sesapi(void *arg)
{
	sv_identity id;

	(void)arg;
	memset(&id, 0, sizeof(id));
	if (sv_sesapi_parse_update(update_answer, sizeof(update_answer) - 1, 200, &id) < 0 ||
	    id.state != SV_STATE_UNVERIFIED || id.nattrs != 3) {
		sv_identity_clear(&id);
		return -1;
	}
	sink += id.nattrs;
	sv_identity_clear(&id);
	return 0;
}

/* quiet - the library logs nothing while we time it */
static void quiet(int level, const char *message, void *arg)
{
	(void)level;
	(void)message;
	(void)arg;
}

int main(int argc, char **argv)
{
	policy_case verified, unverified;
	int ch;

	while ((ch = getopt(argc, argv, "s:f:")) != -1) {
		switch (ch) {
		case 's':
			per_case = atof(optarg);
			if (per_case <= 0 || per_case > 60) {
				fprintf(stderr, "micro: -s wants seconds in (0, 60]\n");
				return 2;
			}
			break;
		case 'f':
			filter = optarg;
			break;
		default:
			fprintf(stderr, "usage: micro [-s SECONDS] [-f FILTER]\n");
			return 2;
		}
	}
	if (sv_library_init() < 0) {
		fprintf(stderr, "micro: sv_library_init failed\n");
		return 1;
	}
	sv_log_set_handler(quiet, NULL, SV_LOG_ERR);

	memset(&verified, 0, sizeof(verified));
	verified.cfg = sv_config_defaults();
	if (verified.cfg == NULL)
		return 1;
	verified.state = SV_STATE_VERIFIED;
	verified.view.state = SV_STATE_VERIFIED;
	verified.facts.subject = POLICY_DOMAIN;
	verified.facts.domain = "verified.test";
	verified.facts.source = "envelope";
	unverified = verified;
	unverified.state = SV_STATE_UNVERIFIED;
	unverified.view.state = SV_STATE_UNVERIFIED;
	unverified.facts.domain = "unverified.test";
	snprintf(unverified.view.fail_type, sizeof(unverified.view.fail_type), "TXT");
	snprintf(unverified.view.fail_name, sizeof(unverified.view.fail_name),
	         "qcloud._domainkey.unverified.test");
	snprintf(unverified.view.fail_expected, sizeof(unverified.view.fail_expected),
	         "v=DKIM1; k=rsa; p=QBkNwJk6V/wwX+1s2cQ6RaxQlD3Wub5FCoB...");
	unverified.view.fail_missing = true;

	run("policy.verified", b_policy, &verified);
	run("policy.unverified", b_policy, &unverified);
	run("domain.ascii", b_domain, "Mail.Verified.TEST.");
	run("domain.idn", b_domain, "bücher.example");
	run("tc3.sign", b_tc3, NULL);
	run("json.parse", b_json, NULL);
	run("sesapi.parse", b_sesapi, NULL);

	sv_config_free(verified.cfg);
	sv_library_cleanup();
	return failures == 0 ? 0 : 1;
}
