/*
 * sesapi-driver.c - drive sv_client against a server, for test_sesapi_client.sh.
 *	Usage: sesapi-driver ENDPOINT CAFILE TIMEOUT_MS update DOMAIN...
 *	       sesapi-driver ENDPOINT CAFILE TIMEOUT_MS list
 *	Credentials come from the environment (TENCENTCLOUD_*), so the
 *	environment source is exercised end to end.  Prints one line per
 *	result: domain state verified error_code error_class http_status
 *	nattrs request_id(yes/no) rc, tab-separated; library logs go to
 *	stderr at debug level (the test greps them for the secret), then
 *	"stat api.calls N api.connections M" (M < N: connections reused).
 *	SV_DRIVER_RESEND=grant|refuse installs a resend pacer that counts
 *	its grants (or refuses every one); the stat line then also says
 *	"resend.granted G resend.done D api.resends R".
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sesapi.h"
#include "sesverify.h"
#include "stats.h"

static int granted, done, refuse;

/* resend_before - count a grant for libcurl's re-send, or refuse it */
static int resend_before(void *arg)
{
	(void)arg;
	if (refuse)
		return -1;
	granted++;
	return 0;
}

/* resend_after - count the end of a granted re-send */
static void resend_after(void *arg)
{
	(void)arg;
	done++;
}

/* to_stderr - every library log line, debug included */
static void to_stderr(int level, const char *msg, void *arg)
{
	(void)arg;
	fprintf(stderr, "log<%d> %s\n", level, msg);
}

/* print - one result line */
static void print(const sv_identity *id, int rc)
{
	printf("%s\t%s\t%d\t%s\t%s\t%ld\t%zu\t%s\t%d\n", id->domain[0] ? id->domain : "-",
	       sv_state_name(id->state), id->verified, id->error_code[0] ? id->error_code : "-",
	       sv_error_class_name(id->error_class), id->http_status, id->nattrs,
	       id->request_id[0] ? "yes" : "no", rc);
	if (id->error_message)
		fprintf(stderr, "message %s: %s\n", id->domain, id->error_message);
}

int main(int argc, char **argv)
{
	sv_config *cfg;
	sv_client *c;
	char err[512];
	int status = 0;

	if (argc < 5) {
		fprintf(stderr, "usage: %s ENDPOINT CAFILE TIMEOUT_MS update DOMAIN...|list\n",
		        argv[0]);
		return 2;
	}
	sv_library_init();
	sv_log_set_handler(to_stderr, NULL, SV_LOG_DEBUG);
	if ((cfg = sv_config_defaults()) == NULL)
		return 2;
	free(cfg->endpoint);
	cfg->endpoint = strdup(argv[1]);
	free(cfg->ca_file);
	cfg->ca_file = strcmp(argv[2], "-") ? strdup(argv[2]) : NULL;
	cfg->api_timeout = atoll(argv[3]);
	if ((c = sv_client_new(cfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "client: %s\n", err);
		sv_config_free(cfg);
		return 2;
	}
	const char *mode = getenv("SV_DRIVER_RESEND");
	static const sv_pacer pacer = {resend_before, resend_after, NULL};
	if (mode) {
		refuse = strcmp(mode, "refuse") == 0;
		sv_client_set_resend_pacer(c, &pacer);
	}
	if (strcmp(argv[4], "list") == 0) {
		sv_listed *items;
		sv_identity e;
		size_t n;
		int rc = sv_client_list_identities(c, &items, &n, &e);
		if (rc == 0) {
			for (size_t i = 0; i < n; i++)
				printf("%s\t%d\n", items[i].name, items[i].sending_enabled);
			printf("total\t%zu\n", n);
			free(items);
		} else {
			print(&e, rc);
			status = 3;
		}
		sv_identity_clear(&e);
	} else {
		for (int i = 5; i < argc; i++) {
			sv_identity id;
			int rc = sv_client_update_identity(c, argv[i], &id);
			print(&id, rc);
			sv_identity_clear(&id);
		}
	}
	fprintf(stderr, "stat api.calls %llu api.connections %llu",
	        (unsigned long long)sv_stat_get("api.calls"),
	        (unsigned long long)sv_stat_get("api.connections"));
	if (mode)
		fprintf(stderr, " resend.granted %d resend.done %d api.resends %llu", granted, done,
		        (unsigned long long)sv_stat_get("api.resends"));
	fputc('\n', stderr);
	sv_client_free(c);
	sv_config_free(cfg);
	sv_library_cleanup();
	return status;
}
