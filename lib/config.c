/* config.c - STUB: replaced by the configuration module */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include "sesverify.h"

sv_config *sv_config_defaults(void)
{
	return calloc(1, sizeof(sv_config));
}
int sv_config_load(const char *path, sv_config **out, sv_config_report_fn report, void *arg)
{
	(void)path;
	(void)report;
	(void)arg;
	*out = sv_config_defaults();
	return *out ? 0 : 1;
}
void sv_config_free(sv_config *cfg)
{
	free(cfg);
}
int sv_duration_parse(const char *text, int64_t *ms)
{
	(void)text;
	*ms = 0;
	return -1;
}
