/*
 * test_credentials.c - credential precedence, the INI file reader, its
 *	permission check, the text a privileged process hands over
 *	(sv_credentials_preload), environment token names, and that no error text
 *	ever contains the secret.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "credentials.h"
#include "tap.h"

#define SECRET    "sesverify-test-secret-DO-NOT-LOG-0123456789"
#define SECRET_ID "AKIDsesverifytest0000000000000000000"

static char dir[] = "/tmp/sv-cred-test.XXXXXX";
static int leaks; /* error texts that contained a secret */

/* set - replace a config string field */
static void set(char **field, const char *value)
{
	free(*field);
	*field = value ? strdup(value) : NULL;
}

/* write_file - a credentials file with the given mode */
static char *write_file(const char *name, const char *text, mode_t mode)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
	return path;
}

/* clean_env - no TENCENTCLOUD_* from the outside world */
static void clean_env(void)
{
	unsetenv("TENCENTCLOUD_SECRET_ID");
	unsetenv("TENCENTCLOUD_SECRET_KEY");
	unsetenv("TENCENTCLOUD_SESSION_TOKEN");
	unsetenv("TENCENTCLOUD_TOKEN");
}

/* resolve - run the chain; check the error never leaks a secret */
static int resolve(const sv_config *cfg, sv_credentials *c, char *err, size_t errlen)
{
	int rc;

	err[0] = 0;
	rc = sv_credentials_resolve(cfg, c, err, errlen);
	if (strstr(err, SECRET) || strstr(err, "envsecret") || strstr(err, "filesecret") ||
	    strstr(err, "tok-"))
		leaks++;
	return rc;
}

static void precedence(sv_config *cfg)
{
	sv_credentials c;
	char err[512], *path;

	path = write_file("good", "[default]\nsecret_id = FILEID\nsecret_key = filesecret\n", 0600);
	setenv("TENCENTCLOUD_SECRET_ID", "ENVID", 1);
	setenv("TENCENTCLOUD_SECRET_KEY", "envsecret", 1);

	set(&cfg->secret_id, SECRET_ID);
	set(&cfg->secret_key, SECRET);
	set(&cfg->token, "tok-config");
	set(&cfg->credentials_file, path);
	ok(resolve(cfg, &c, err, sizeof(err)) == 0, "config credentials resolve");
	is_str(c.secret_id, SECRET_ID, "config wins over file and env");
	is_str(c.secret_key, SECRET, "config key");
	is_str(c.token, "tok-config", "config token");
	is_int(c.source, SV_CRED_CONFIG, "source config");
	sv_credentials_clear(&c);
	ok(c.secret_key == NULL && c.secret_id == NULL, "clear drops everything");

	set(&cfg->secret_key, NULL);
	ok(resolve(cfg, &c, err, sizeof(err)) < 0 && strstr(err, "SecretKey"),
	   "SecretId without SecretKey refused: %s", err);

	set(&cfg->secret_id, NULL);
	set(&cfg->token, NULL);
	ok(resolve(cfg, &c, err, sizeof(err)) == 0, "file credentials resolve");
	is_str(c.secret_id, "FILEID", "file wins over env");
	is_str(c.secret_key, "filesecret", "file key");
	ok(c.token == NULL, "no token in file -> none");
	is_str(sv_cred_source_name(c.source), "credentials file", "source file");
	sv_credentials_clear(&c);

	set(&cfg->credentials_file, NULL);
	ok(resolve(cfg, &c, err, sizeof(err)) == 0, "env credentials resolve");
	is_str(c.secret_id, "ENVID", "env id");
	is_str(c.secret_key, "envsecret", "env key");
	ok(c.token == NULL, "no env token -> none");
	sv_credentials_clear(&c);

	setenv("TENCENTCLOUD_TOKEN", "tok-tccli", 1);
	ok(resolve(cfg, &c, err, sizeof(err)) == 0 && c.token && strcmp(c.token, "tok-tccli") == 0,
	   "TENCENTCLOUD_TOKEN (tccli) read");
	sv_credentials_clear(&c);
	setenv("TENCENTCLOUD_SESSION_TOKEN", "tok-node", 1);
	ok(resolve(cfg, &c, err, sizeof(err)) == 0 && c.token && strcmp(c.token, "tok-node") == 0,
	   "TENCENTCLOUD_SESSION_TOKEN preferred");
	is_int(c.source, SV_CRED_ENV, "source env");
	sv_credentials_clear(&c);

	unsetenv("TENCENTCLOUD_SECRET_KEY");
	ok(resolve(cfg, &c, err, sizeof(err)) < 0 && strstr(err, "TENCENTCLOUD_SECRET_KEY"),
	   "env id without key refused: %s", err);
	clean_env();
	ok(resolve(cfg, &c, err, sizeof(err)) < 0 && strstr(err, "TENCENTCLOUD_SECRET_ID") &&
	       strstr(err, "CredentialsFile"),
	   "nothing configured: clear message: %s", err);
	setenv("TENCENTCLOUD_SECRET_ID", "ENVID", 1);
	setenv("TENCENTCLOUD_SECRET_KEY", "env secret with spaces", 1);
	ok(resolve(cfg, &c, err, sizeof(err)) < 0 && !strstr(err, "env secret"),
	   "key with spaces refused without echo: %s", err);
	clean_env();

	/* a configured but broken file does not fall back to the environment */
	setenv("TENCENTCLOUD_SECRET_ID", "ENVID", 1);
	setenv("TENCENTCLOUD_SECRET_KEY", "envsecret", 1);
	set(&cfg->credentials_file, "/nonexistent/sv-credentials");
	ok(resolve(cfg, &c, err, sizeof(err)) < 0 && strstr(err, "/nonexistent/sv-credentials"),
	   "missing file is an error naming it: %s", err);
	set(&cfg->credentials_file, NULL);
	clean_env();
}

static void files(void)
{
	static const struct {
		const char *text;
		const char *id, *key, *token; /* NULL id: must fail */
		const char *err_has;
	} rows[] = {
	    {"# comment\n; other\n[other]\nsecret_id = NO\nsecret_key = NO\n\n[default]\n"
	     "  secret_id=ID1  \n\tsecret_key =\t" SECRET "\r\ntoken = tok-file\nrole_arn = x\n",
	     "ID1", SECRET, "tok-file", NULL},
	    {"[default]\nsecret_id = ID2\nsecret_key = filesecret\n[next]\nsecret_id = NO\n", "ID2",
	     "filesecret", NULL, NULL},
	    {"[ default ]\nsecret_id = ID3\nsecret_key = filesecret", "ID3", "filesecret", NULL,
	     NULL},
	    {"[default]\nsecret_id = ID\n", NULL, NULL, NULL, "lacks secret_key"},
	    {"[default]\nsecret_key = filesecret\n", NULL, NULL, NULL, "lacks secret_id"},
	    {"[other]\nsecret_id = ID\nsecret_key = filesecret\n", NULL, NULL, NULL, "lacks"},
	    {"[default]\nsecret_id = ID\nsecret_id = ID\nsecret_key = filesecret\n", NULL, NULL,
	     NULL, ":3: secret_id given twice"},
	    {"[default]\nsecret_id ID\nsecret_key = filesecret\n", NULL, NULL, NULL,
	     ":2: expected 'name = value'"},
	    {"[default\nsecret_id = ID\n", NULL, NULL, NULL, ":1: malformed section"},
	    {"[default]\nsecret_id = ID\nsecret_key = file secret\n", NULL, NULL, NULL,
	     "secret key is empty or contains"},
	    {"[default]\nsecret_id = ID\nsecret_key =\n", NULL, NULL, NULL, "secret key"},
	    {"", NULL, NULL, NULL, "lacks secret_id"},
	};
	sv_credentials c;
	char err[512], name[32];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int rc;
		snprintf(name, sizeof(name), "row%zu", i);
		err[0] = 0; /* a successful read leaves err untouched */
		rc = sv_credentials_read_file(write_file(name, rows[i].text, 0600), &c, err,
		                              sizeof(err));
		if (strstr(err, "filesecret") || strstr(err, SECRET) || strstr(err, "file secret"))
			leaks++;
		if (rows[i].id) {
			ok(rc == 0, "file row %zu parses", i);
			is_str(c.secret_id, rows[i].id, "row %zu secret_id", i);
			is_str(c.secret_key, rows[i].key, "row %zu secret_key", i);
			is_str(c.token, rows[i].token, "row %zu token", i);
		} else {
			ok(rc < 0 && strstr(err, rows[i].err_has) && strstr(err, name),
			   "file row %zu refused: %s", i, err);
		}
		sv_credentials_clear(&c);
	}
}

static void modes(void)
{
	static const mode_t bad[] = {0644, 0640, 0604, 0660, 0602, 0620, 0610, 0601};
	const char *text = "[default]\nsecret_id = ID\nsecret_key = " SECRET "\n";
	sv_credentials c;
	char err[512], want[16];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *path = write_file("perm", text, bad[i]);
		snprintf(want, sizeof(want), "mode %04o", (unsigned)bad[i]);
		ok(sv_credentials_read_file(path, &c, err, sizeof(err)) < 0 && strstr(err, path) &&
		       strstr(err, want) && !strstr(err, SECRET),
		   "mode %04o refused: %s", (unsigned)bad[i], err);
	}
	ok(sv_credentials_read_file(write_file("perm", text, 0400), &c, err, sizeof(err)) == 0,
	   "mode 0400 accepted");
	sv_credentials_clear(&c);
	ok(sv_credentials_read_file(dir, &c, err, sizeof(err)) < 0 && strstr(err, "regular"),
	   "a directory is refused: %s", err);
}

/* preload - the text a privileged process read stands in for the file */
static void preload(void)
{
	const char *text = "[default]\nsecret_id = PRE\nsecret_key = " SECRET "\n";
	char err[512], path[512], *t;
	sv_credentials c;

	ok(sv_credentials_load_text(write_file("pre", text, 0644), err, sizeof(err)) == NULL &&
	       strstr(err, "mode 0644") && !strstr(err, SECRET),
	   "load_text: a group-readable file is refused: %s", err);
	ok(sv_credentials_load_text(write_file("pre", "[default]\nsecret_id = X\n", 0600), err,
	                            sizeof(err)) == NULL &&
	       strstr(err, "lacks secret_key"),
	   "load_text: a file that does not parse is refused: %s", err);
	snprintf(path, sizeof(path), "%s", write_file("pre", text, 0600));
	t = sv_credentials_load_text(path, err, sizeof(err));
	ok(t && strcmp(t, text) == 0, "load_text: the text of a good file");
	ok(sv_credentials_preload(path, t) == 0, "preload");
	sv_credentials_text_free(t);
	unlink(path); /* as if the reader could not open it */
	ok(sv_credentials_read_file(path, &c, err, sizeof(err)) == 0 && c.secret_id &&
	       strcmp(c.secret_id, "PRE") == 0 && strcmp(c.secret_key, SECRET) == 0,
	   "read_file of the preloaded path uses the text, not the file");
	sv_credentials_clear(&c);
	ok(sv_credentials_read_file(write_file("other", text, 0644), &c, err, sizeof(err)) < 0,
	   "another path is still read (and checked) from disk");
	ok(sv_credentials_preload(NULL, NULL) == 0 &&
	       sv_credentials_read_file(path, &c, err, sizeof(err)) < 0,
	   "preload(NULL) forgets the text: %s", err);
}

static void client(sv_config *cfg)
{
	char err[512];
	sv_client *cl;

	set(&cfg->secret_id, SECRET_ID);
	set(&cfg->secret_key, SECRET);
	set(&cfg->endpoint, "https://127.0.0.1:1");
	cl = sv_client_new(cfg, err, sizeof(err));
	ok(cl != NULL, "client with config credentials: %s", cl ? "ok" : err);
	sv_client_free(cl);

	set(&cfg->endpoint, "http://127.0.0.1:1");
	ok(sv_client_new(cfg, err, sizeof(err)) == NULL && strstr(err, "https://"),
	   "plain http endpoint refused: %s", err);
	set(&cfg->endpoint, "https://127.0.0.1:1");
	set(&cfg->secret_key, "bad\nkey" SECRET);
	ok(sv_client_new(cfg, err, sizeof(err)) == NULL && !strstr(err, SECRET),
	   "bad key refused by client without echo: %s", err);
	set(&cfg->secret_id, NULL);
	set(&cfg->secret_key, NULL);
	clean_env();
	ok(sv_client_new(cfg, err, sizeof(err)) == NULL && strstr(err, "no API credentials"),
	   "client without credentials refused: %s", err);
}

int main(void)
{
	sv_config *cfg;
	char cmd[600];

	if (mkdtemp(dir) == NULL)
		return 99;
	sv_library_init();
	clean_env();
	if ((cfg = sv_config_defaults()) == NULL)
		return 99;
	precedence(cfg);
	files();
	modes();
	preload();
	client(cfg);
	is_int(leaks, 0, "no error message contained a secret");
	sv_config_free(cfg);
	sv_library_cleanup();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return tap_done();
}
