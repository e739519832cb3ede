/*
 * ctlproto.c - the ControlSocket protocol's tables and parsers (see
 *	ctlproto.h), compiled into both sesverify-milter and sesverify.
 *	libc only: the CLI links nothing of the daemon.
 */
#include "config.h"

#include <string.h>

#include "ctlproto.h"

const ctl_verb ctl_verbs[] = {
    {"list", false, false, true},   {"show", true, false, true},   {"refresh", true, true, true},
    {"forget", true, true, true},   {"stats", false, false, true}, {"metrics", false, false, false},
    {"grant", false, false, false},
};
const size_t ctl_nverbs = sizeof(ctl_verbs) / sizeof(ctl_verbs[0]);

/* ctl_verb_find - the verb called name, or NULL */
const ctl_verb *ctl_verb_find(const char *name)
{
	size_t i;

	for (i = 0; i < ctl_nverbs; i++)
		if (strcmp(name, ctl_verbs[i].name) == 0)
			return &ctl_verbs[i];
	return NULL;
}

/* prefixed - line is word, or word, a space and *arg */
static bool prefixed(const char *line, const char *word, const char **arg)
{
	size_t n = strlen(word);

	if (strncmp(line, word, n) != 0 || (line[n] != 0 && line[n] != ' '))
		return false;
	*arg = line[n] ? line + n + 1 : "";
	return true;
}

/* ctl_reply_kind - OK, NOTFOUND, ERR or malformed */
ctl_reply ctl_reply_kind(const char *line, const char **arg)
{
	*arg = "";
	if (strcmp(line, CTL_OK) == 0)
		return CTL_REPLY_OK;
	if (prefixed(line, CTL_NOTFOUND, arg))
		return CTL_REPLY_NOTFOUND;
	if (prefixed(line, CTL_ERR, arg))
		return CTL_REPLY_ERR;
	return CTL_REPLY_MALFORMED;
}
