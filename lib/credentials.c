/*
 * credentials.c - resolve SecretId/SecretKey/token for the API client.
 *	Owns the precedence rules, the INI credentials file reader, the
 *	wiping of secrets, keeping them out of core dumps (each secret
 *	lives in its own anonymous mapping marked MADV_DONTDUMP) and, for
 *	daemons, taking the TENCENTCLOUD_* secrets out of the environment
 *	(sv_credentials_capture_env).  Does not own the config file
 *	(config.c; its own permission check covers inline SecretKey) nor
 *	any network use.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pthread.h>
#include <sys/mman.h>

#include <openssl/crypto.h>

#include "credentials.h"

#define CRED_FILE_MAX (64 * 1024)

/*
 * The environment captured by sv_credentials_capture_env(): once taken,
 * from_env() reads these copies instead of getenv(), so that reloads and
 * forked workers still find the key after it left the environment.
 */
static pthread_mutex_t env_lock = PTHREAD_MUTEX_INITIALIZER;
static int env_captured;
static char *env_id, *env_key, *env_token;

/* map_size - the mapping that holds a string of len bytes plus NUL */
static size_t map_size(size_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t p = page > 0 ? (size_t)page : 4096;

	return (len + 1 + p - 1) / p * p;
}

/*
 * secret_dup - s in a private anonymous mapping left out of core dumps
 *	A page per secret is cheap: credentials are resolved a handful of
 *	times per process (start-up, reload, one per API client).
 */
static char *secret_dup(const char *s)
{
	size_t len = strlen(s), size = map_size(len);
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
#ifdef MADV_DONTDUMP
	(void)madvise(p, size, MADV_DONTDUMP); /* best effort: still wiped on free */
#endif
	memcpy(p, s, len + 1);
	return p;
}

/* wipe_free - zero then release a secret_dup() string */
static void wipe_free(char *s)
{
	size_t size;

	if (s == NULL)
		return;
	size = map_size(strlen(s));
	OPENSSL_cleanse(s, size);
	munmap(s, size);
}

/* sv_credentials_clear - wipe and release */
void sv_credentials_clear(sv_credentials *c)
{
	if (c == NULL)
		return;
	free(c->secret_id);
	wipe_free(c->secret_key);
	wipe_free(c->token);
	memset(c, 0, sizeof(*c));
}

/* sv_cred_source_name - for log lines */
const char *sv_cred_source_name(sv_cred_source src)
{
	switch (src) {
	case SV_CRED_CONFIG:
		return "config";
	case SV_CRED_FILE:
		return "credentials file";
	case SV_CRED_ENV:
		return "environment";
	default:
		return "none";
	}
}

/* printable - printable ASCII, non-empty: values go into HTTP headers */
static int printable(const char *s)
{
	if (s == NULL || *s == 0)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

/* set3 - copy id/key/token into out after checking them */
static int set3(sv_credentials *out, sv_cred_source src, const char *id, const char *key,
                const char *token, const char *where, char *err, size_t errlen)
{
	const char *bad = NULL;

	if (!printable(id))
		bad = "secret id";
	else if (!printable(key))
		bad = "secret key";
	else if (token && *token && !printable(token))
		bad = "token";
	if (bad) {
		snprintf(err, errlen, "%s: %s is empty or contains spaces or non-ASCII characters",
		         where, bad);
		return -1;
	}
	out->secret_id = strdup(id);
	out->secret_key = secret_dup(key);
	out->token = token && *token ? secret_dup(token) : NULL;
	out->source = src;
	if (!out->secret_id || !out->secret_key || (token && *token && !out->token)) {
		sv_credentials_clear(out);
		snprintf(err, errlen, "%s: out of memory", where);
		return -1;
	}
	return 0;
}

/* trim - strip spaces and tabs at both ends, in place */
static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = 0;
	return s;
}

typedef struct ini_keys {
	char *id, *key, *token; /* pointers into the file buffer */
} ini_keys;

/* ini_line - one line of the file; only [default] matters */
static int ini_line(char *line, int *in_default, ini_keys *k, const char *path, int lineno,
                    char *err, size_t errlen)
{
	char *eq, *name, *value, **slot;

	line = trim(line);
	if (*line == 0 || *line == '#' || *line == ';')
		return 0;
	if (*line == '[') {
		char *close = strchr(line, ']');
		if (close == NULL || *trim(close + 1) != 0) {
			snprintf(err, errlen, "%s:%d: malformed section header", path, lineno);
			return -1;
		}
		*close = 0;
		*in_default = strcmp(trim(line + 1), "default") == 0;
		return 0;
	}
	if (!*in_default)
		return 0;
	if ((eq = strchr(line, '=')) == NULL) {
		snprintf(err, errlen, "%s:%d: expected 'name = value'", path, lineno);
		return -1;
	}
	*eq = 0;
	name = trim(line);
	value = trim(eq + 1);
	if (strcmp(name, "secret_id") == 0)
		slot = &k->id;
	else if (strcmp(name, "secret_key") == 0)
		slot = &k->key;
	else if (strcmp(name, "token") == 0)
		slot = &k->token;
	else
		return 0; /* role_arn, region...: other SDKs' keys */
	if (*slot) {
		snprintf(err, errlen, "%s:%d: %s given twice in [default]", path, lineno, name);
		return -1;
	}
	*slot = value;
	return 0;
}

/* read_all - the whole file, after the ownership and mode checks */
static char *read_all(const char *path, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	size_t got = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		snprintf(err, errlen, "credentials file %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "credentials file %s: not a regular file", path);
		goto fail;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen,
		         "credentials file %s: mode %04o gives access to group/other; "
		         "refusing it (chmod 600 %s)",
		         path, (unsigned)(st.st_mode & 07777), path);
		goto fail;
	}
	if (st.st_size > CRED_FILE_MAX) {
		snprintf(err, errlen, "credentials file %s: larger than %d bytes", path,
		         CRED_FILE_MAX);
		goto fail;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		snprintf(err, errlen, "credentials file %s: out of memory", path);
		goto fail;
	}
	while (got < (size_t)st.st_size && (n = read(fd, buf + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	buf[got] = 0;
	if (memchr(buf, 0, got)) {
		snprintf(err, errlen, "credentials file %s: contains a NUL byte", path);
		goto fail;
	}
	close(fd);
	return buf;
fail:
	if (buf) {
		OPENSSL_cleanse(buf, (size_t)st.st_size);
		free(buf);
	}
	close(fd);
	return NULL;
}

/* parse_text - the INI text of path (modified in place) into out */
static int parse_text(const char *path, char *buf, sv_credentials *out, char *err, size_t errlen)
{
	ini_keys k = {0};
	char *line, *next, where[512];
	int in_default = 0, lineno = 0;

	memset(out, 0, sizeof(*out));
	for (line = buf; line; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = 0;
		if (ini_line(line, &in_default, &k, path, ++lineno, err, errlen) < 0)
			return -1;
	}
	if (k.id == NULL || k.key == NULL) {
		snprintf(err, errlen, "credentials file %s: [default] lacks %s", path,
		         k.id == NULL ? "secret_id" : "secret_key");
		return -1;
	}
	snprintf(where, sizeof(where), "credentials file %s", path);
	return set3(out, SV_CRED_FILE, k.id, k.key, k.token, where, err, errlen);
}

/*
 * The credentials file handed over by a privileged process (see
 * sv_credentials_preload): read_file uses this text instead of opening
 * the file, which the unprivileged worker may not be allowed to read.
 */
static pthread_mutex_t pre_lock = PTHREAD_MUTEX_INITIALIZER;
static char *pre_path, *pre_text; /* pre_text: a secret_dup() copy */

/* preloaded - a copy of the handed-over text of path, or NULL */
static char *preloaded(const char *path)
{
	char *copy = NULL;

	pthread_mutex_lock(&pre_lock);
	if (pre_path && pre_text && strcmp(pre_path, path) == 0)
		copy = strdup(pre_text);
	pthread_mutex_unlock(&pre_lock);
	return copy;
}

/* sv_credentials_read_file - INI [default] secret_id / secret_key / token */
int sv_credentials_read_file(const char *path, sv_credentials *out, char *err, size_t errlen)
{
	char *buf;
	size_t size;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((buf = preloaded(path)) == NULL && (buf = read_all(path, err, errlen)) == NULL)
		return -1;
	size = strlen(buf);
	rc = parse_text(path, buf, out, err, errlen);
	OPENSSL_cleanse(buf, size);
	free(buf);
	return rc;
}

/* sv_credentials_load_text - the checked file's text, validated; free with _text_free */
char *sv_credentials_load_text(const char *path, char *err, size_t errlen)
{
	sv_credentials cred;
	char *buf = read_all(path, err, errlen), *copy;
	int rc;

	if (buf == NULL)
		return NULL;
	if ((copy = strdup(buf)) == NULL) {
		snprintf(err, errlen, "credentials file %s: out of memory", path);
		sv_credentials_text_free(buf);
		return NULL;
	}
	rc = parse_text(path, copy, &cred, err, errlen);
	sv_credentials_text_free(copy);
	sv_credentials_clear(&cred);
	if (rc < 0) {
		sv_credentials_text_free(buf);
		return NULL;
	}
	return buf;
}

/* sv_credentials_text_free - wipe and free a text of sv_credentials_load_text */
void sv_credentials_text_free(char *text)
{
	if (text == NULL)
		return;
	OPENSSL_cleanse(text, strlen(text));
	free(text);
}

/* sv_credentials_preload - read path from text from now on; NULL path: forget it */
int sv_credentials_preload(const char *path, const char *text)
{
	char *p = NULL, *t = NULL, *old_text;

	if (path && text && ((p = strdup(path)) == NULL || (t = secret_dup(text)) == NULL)) {
		free(p);
		return -1;
	}
	pthread_mutex_lock(&pre_lock);
	free(pre_path);
	old_text = pre_text;
	pre_path = p;
	pre_text = t;
	pthread_mutex_unlock(&pre_lock);
	wipe_free(old_text);
	return 0;
}

/*
 * scrub_env - remove NAME from the environment and wipe "NAME=value"
 *	unsetenv() only drops the pointer from environ; the bytes stay in
 *	the process image that /proc/PID/environ shows (also for forked
 *	children, which get a copy of it), so the whole entry is overwritten
 *	once environ no longer points to it.  glibc never frees environment
 *	strings, so the memory is still ours to write.
 */
static void scrub_env(const char *name)
{
	char *v = getenv(name), *entry;
	size_t nl = strlen(name), vl;
	int whole;

	if (v == NULL)
		return;
	vl = strlen(v);
	entry = v - nl - 1; /* getenv() points just past "NAME=" */
	whole = memcmp(entry, name, nl) == 0 && entry[nl] == '=';
	unsetenv(name);
	if (whole)
		OPENSSL_cleanse(entry, nl + 1 + vl);
	else
		OPENSSL_cleanse(v, vl);
}

/* env_dup - NULL or a secret copy of a non-empty value */
static int env_dup(const char *v, char **out)
{
	*out = NULL;
	if (v == NULL || *v == 0)
		return 0;
	*out = secret_dup(v);
	return *out ? 0 : -1;
}

/* sv_credentials_capture_env - keep TENCENTCLOUD_* in memory, out of environ */
int sv_credentials_capture_env(void)
{
	const char *token = getenv("TENCENTCLOUD_SESSION_TOKEN");
	int rc = 0;

	if (token == NULL || *token == 0)
		token = getenv("TENCENTCLOUD_TOKEN");
	pthread_mutex_lock(&env_lock);
	if (!env_captured) {
		if (env_dup(getenv("TENCENTCLOUD_SECRET_ID"), &env_id) < 0 ||
		    env_dup(getenv("TENCENTCLOUD_SECRET_KEY"), &env_key) < 0 ||
		    env_dup(token, &env_token) < 0)
			rc = -1;
		env_captured = 1;
	}
	pthread_mutex_unlock(&env_lock);
	/* the id is not a secret; it goes too, so that the environment of
	 * children never holds half a key pair */
	scrub_env("TENCENTCLOUD_SECRET_ID");
	scrub_env("TENCENTCLOUD_SECRET_KEY");
	scrub_env("TENCENTCLOUD_SESSION_TOKEN");
	scrub_env("TENCENTCLOUD_TOKEN");
	return rc;
}

/* from_values - the environment's rules applied to id/key/token */
static int from_values(sv_credentials *out, const char *id, const char *key, const char *token,
                       char *err, size_t errlen)
{
	if ((id == NULL || *id == 0) && (key == NULL || *key == 0)) {
		snprintf(err, errlen,
		         "no API credentials: set SecretId and SecretKey, or CredentialsFile, "
		         "or TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY");
		return -1;
	}
	if (id == NULL || *id == 0 || key == NULL || *key == 0) {
		snprintf(err, errlen, "environment: %s is set but %s is not",
		         id && *id ? "TENCENTCLOUD_SECRET_ID" : "TENCENTCLOUD_SECRET_KEY",
		         id && *id ? "TENCENTCLOUD_SECRET_KEY" : "TENCENTCLOUD_SECRET_ID");
		return -1;
	}
	return set3(out, SV_CRED_ENV, id, key, token, "environment", err, errlen);
}

/* from_env - TENCENTCLOUD_* as the official SDKs and tccli name them */
static int from_env(sv_credentials *out, char *err, size_t errlen)
{
	const char *id = getenv("TENCENTCLOUD_SECRET_ID");
	const char *key = getenv("TENCENTCLOUD_SECRET_KEY");
	const char *token = getenv("TENCENTCLOUD_SESSION_TOKEN");
	int rc;

	if (token == NULL || *token == 0)
		token = getenv("TENCENTCLOUD_TOKEN");
	pthread_mutex_lock(&env_lock);
	if (env_captured) {
		id = env_id;
		key = env_key;
		token = env_token;
	}
	rc = from_values(out, id, key, token, err, errlen);
	pthread_mutex_unlock(&env_lock);
	return rc;
}

/* sv_credentials_resolve - the first configured source wins */
int sv_credentials_resolve(const sv_config *cfg, sv_credentials *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (cfg && (cfg->secret_id || cfg->secret_key)) {
		if (cfg->secret_id == NULL || cfg->secret_key == NULL) {
			snprintf(err, errlen, "config: %s is set but %s is not",
			         cfg->secret_id ? "SecretId" : "SecretKey",
			         cfg->secret_id ? "SecretKey" : "SecretId");
			return -1;
		}
		return set3(out, SV_CRED_CONFIG, cfg->secret_id, cfg->secret_key, cfg->token,
		            "config", err, errlen);
	}
	if (cfg && cfg->credentials_file)
		return sv_credentials_read_file(cfg->credentials_file, out, err, errlen);
	return from_env(out, err, errlen);
}

/* sv_credentials_check - public: resolve, then wipe what was found */
int sv_credentials_check(const sv_config *cfg, char *err, size_t errlen)
{
	sv_credentials cred;

	if (sv_credentials_resolve(cfg, &cred, err, errlen) < 0)
		return -1;
	sv_credentials_clear(&cred);
	return 0;
}
