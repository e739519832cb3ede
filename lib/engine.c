/* engine.c - STUB: replaced by the cache/refresher module */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "sesverify.h"

sv_engine *sv_engine_new(const sv_config *cfg, char *err, size_t errlen)
{
	(void)cfg;
	snprintf(err, errlen, "engine not implemented");
	return NULL;
}
int sv_engine_start(sv_engine *e)
{
	(void)e;
	return -1;
}
sv_state sv_engine_lookup(sv_engine *e, const char *domain, sv_entry_view *out)
{
	(void)e;
	(void)domain;
	memset(out, 0, sizeof(*out));
	return SV_STATE_UNKNOWN;
}
sv_state sv_engine_wait(sv_engine *e, const char *domain, int64_t timeout_ms, sv_entry_view *out)
{
	(void)timeout_ms;
	return sv_engine_lookup(e, domain, out);
}
int sv_engine_refresh(sv_engine *e, const char *domain)
{
	(void)e;
	(void)domain;
	return -1;
}
int sv_engine_forget(sv_engine *e, const char *domain)
{
	(void)e;
	(void)domain;
	return -1;
}
void sv_engine_walk(sv_engine *e, void (*fn)(const char *, const sv_entry_view *, void *), void *arg)
{
	(void)e;
	(void)fn;
	(void)arg;
}
void sv_engine_stats(sv_engine *e, void (*fn)(const char *, uint64_t, void *), void *arg)
{
	(void)e;
	(void)fn;
	(void)arg;
}
int sv_engine_save(sv_engine *e)
{
	(void)e;
	return -1;
}
int sv_engine_reconfigure(sv_engine *e, const sv_config *cfg)
{
	(void)e;
	(void)cfg;
	return -1;
}
void sv_engine_free(sv_engine *e)
{
	(void)e;
}
