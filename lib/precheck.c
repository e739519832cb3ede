/* precheck.c - STUB: replaced by the DNS pre-check module */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "sesverify.h"

const char *sv_precheck_verdict_name(sv_precheck_verdict v)
{
	(void)v;
	return "dns_unavailable";
}
const char *sv_pc_verdict_name(sv_pc_verdict v)
{
	(void)v;
	return "dns_error";
}
sv_resolver *sv_resolver_new(const sv_config *cfg, char *err, size_t errlen)
{
	(void)cfg;
	snprintf(err, errlen, "pre-check not implemented");
	return NULL;
}
void sv_resolver_free(sv_resolver *res)
{
	(void)res;
}
int sv_precheck(sv_resolver *res, const char *domain, const sv_attr *expected, size_t nexpected,
		sv_precheck_result *out)
{
	(void)res;
	(void)expected;
	(void)nexpected;
	memset(out, 0, sizeof(*out));
	snprintf(out->domain, sizeof(out->domain), "%s", domain);
	out->verdict = SV_PRECHECK_UNAVAILABLE;
	return -1;
}
void sv_precheck_result_clear(sv_precheck_result *r)
{
	memset(r, 0, sizeof(*r));
}
