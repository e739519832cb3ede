/*
 * library.c - process-wide set-up, version, and the small shared enums.
 *	Owns curl's global initialisation (counted, so it pairs with the
 *	application's own use of libcurl).  Does not own any cache state.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "compat.h"
#include "sesverify.h"

static const char *const state_names[] = {
    [SV_STATE_UNKNOWN] = "unknown",       [SV_STATE_VERIFIED] = "verified",
    [SV_STATE_UNVERIFIED] = "unverified", [SV_STATE_NOT_EXIST] = "not_exist",
    [SV_STATE_ERROR] = "error",
};

/* sv_library_init - global init of libcurl (which initialises OpenSSL) */
int sv_library_init(void)
{
	return curl_global_init(CURL_GLOBAL_ALL) == CURLE_OK ? 0 : -1;
}

/* sv_library_cleanup - pairs with sv_library_init */
void sv_library_cleanup(void)
{
	curl_global_cleanup();
}

/* sv_version - package version */
const char *sv_version(void)
{
	return PACKAGE_VERSION;
}

/* sv_state_name - stable lower-case name used in JSON, logs and snapshots */
const char *sv_state_name(sv_state state)
{
	if ((unsigned)state < SV_ARRAY_LEN(state_names))
		return state_names[state];
	return "invalid";
}

/* sv_state_parse - name back to state */
int sv_state_parse(const char *name, sv_state *state)
{
	for (size_t i = 0; i < SV_ARRAY_LEN(state_names); i++) {
		if (strcmp(name, state_names[i]) == 0) {
			*state = (sv_state)i;
			return 0;
		}
	}
	return -1;
}

/* sv_attr_clear - free the three strings, zero the struct */
void sv_attr_clear(sv_attr *attr)
{
	free(attr->send_domain);
	free(attr->expected);
	free(attr->current);
	memset(attr, 0, sizeof(*attr));
}

/* sv_attrs_free - the one way to release an attribute array */
void sv_attrs_free(sv_attr *attrs, size_t n)
{
	if (attrs == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		sv_attr_clear(&attrs[i]);
	free(attrs);
}

/* sv_identity_clear - free attributes and message, zero the struct */
void sv_identity_clear(sv_identity *id)
{
	if (id == NULL)
		return;
	sv_attrs_free(id->attrs, id->nattrs);
	free(id->error_message);
	memset(id, 0, sizeof(*id));
}
