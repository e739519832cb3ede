/*
 * NAME
 *	credentials 3 - where the API key comes from
 * SYNOPSIS
 *	#include "credentials.h"
 *
 *	int sv_credentials_resolve(const sv_config *cfg, sv_credentials *out,
 *				   char *err, size_t errlen);
 *	int sv_credentials_read_file(const char *path, sv_credentials *out,
 *				     char *err, size_t errlen);
 *	void sv_credentials_clear(sv_credentials *c);
 *	 *	 *	 *	 *
 *	The daemon's half (capture_env, load_text, text_free, preload, and
 *	sv_credentials_check) is public, declared in sesverify.h.
 * DESCRIPTION
 *	Precedence (DESIGN.md): SecretId/SecretKey (and Token) in the config;
 *	else CredentialsFile, an INI file whose [default] section holds
 *	secret_id, secret_key and optionally token, as the official SDKs read
 *	~/.tencentcloud/credentials; else the environment,
 *	TENCENTCLOUD_SECRET_ID, TENCENTCLOUD_SECRET_KEY and a session token
 *	from TENCENTCLOUD_SESSION_TOKEN (Node SDK) or TENCENTCLOUD_TOKEN
 *	(tccli).  A source that is configured but broken is an error; the
 *	next source is not tried, so a typo never silently switches keys.
 *
 *	A credentials file readable or writable by group or other is
 *	refused.  Every value must be printable ASCII (it goes into HTTP
 *	headers).  sv_credentials_clear() wipes the secret and the token.
 *	The secret and the token live in pages excluded from core dumps.
 *
 *	sv_credentials_capture_env(), for daemons, copies the TENCENTCLOUD_*
 *	variables into such pages, wipes them from the environment (also the
 *	bytes /proc/PID/environ shows) and makes every later resolution use
 *	the copies, so that no child and no reader of environ sees the key.
 *	Call it once, early, before threads; -1 only when out of memory.
 *
 *	For a daemon whose readers run unprivileged: the privileged process
 *	reads the file with sv_credentials_load_text() (the same checks as
 *	sv_credentials_read_file, and the text must parse) and hands the text
 *	to sv_credentials_preload(); from then on, in that process and its
 *	children, reading that path uses the text instead of the file.
 *	A NULL path forgets the text.  sv_credentials_text_free() wipes.
 * DIAGNOSTICS
 *	-1 with a reason naming the file, line or variable; never the secret.
 */
#ifndef SV_CREDENTIALS_H
#define SV_CREDENTIALS_H

#include <stddef.h>
#include "sesverify.h"

typedef enum { SV_CRED_NONE = 0, SV_CRED_CONFIG, SV_CRED_FILE, SV_CRED_ENV } sv_cred_source;

typedef struct sv_credentials {
	char *secret_id;
	char *secret_key;
	char *token; /* NULL for a long-term key */
	sv_cred_source source;
} sv_credentials;

int sv_credentials_resolve(const sv_config *cfg, sv_credentials *out, char *err, size_t errlen);
int sv_credentials_read_file(const char *path, sv_credentials *out, char *err, size_t errlen);
void sv_credentials_clear(sv_credentials *c);
/* sv_cred_source_name - "config", "credentials file", "environment" */
const char *sv_cred_source_name(sv_cred_source src);

#endif
