/* sesapi.c - STUB: replaced by the API client module */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "sesverify.h"

sv_error_class sv_error_classify(const char *code)
{
	return code && *code ? SV_ECLASS_PERMANENT : SV_ECLASS_NONE;
}
const char *sv_error_class_name(sv_error_class cls)
{
	(void)cls;
	return "none";
}
sv_client *sv_client_new(const sv_config *cfg, char *err, size_t errlen)
{
	(void)cfg;
	snprintf(err, errlen, "API client not implemented");
	return NULL;
}
void sv_client_free(sv_client *client)
{
	(void)client;
}
int sv_client_update_identity(sv_client *client, const char *domain, sv_identity *out)
{
	(void)client;
	memset(out, 0, sizeof(*out));
	snprintf(out->domain, sizeof(out->domain), "%s", domain);
	out->state = SV_STATE_ERROR;
	return -1;
}
int sv_client_list_identities(sv_client *client, sv_listed **items, size_t *n, sv_identity *err)
{
	(void)client;
	*items = NULL;
	*n = 0;
	memset(err, 0, sizeof(*err));
	err->state = SV_STATE_ERROR;
	return -1;
}
