/*-------------------------------------------------------------------------
 *
 * config.c
 *	  Read and check og_model profiles (og_model.config_file), and
 *	  og_config_check(), which shows what a profile says.
 *
 * A profile is one YAML mapping; config/config_local.yml, config/config.yml
 * and config/config_production.yml are the shipped ones.  Its keys:
 *
 *	tracking_uri: http://127.0.0.1:5000
 *		MLflow tracking server: http:// or https://, then a host; no
 *		credentials (user:password@host is refused), no white space, query or
 *		fragment.  Absent: og_model.tracking_uri.
 *	credentials:
 *		Optional.  Secrets only by reference to environment variables of the
 *		PostgreSQL server (names: letters, digits and "_"):
 *	  token_env: MLFLOW_TRACKING_TOKEN
 *		the variable holding a bearer token; or, for basic authentication,
 *	  username_env: MLFLOW_TRACKING_USERNAME
 *	  password_env: MLFLOW_TRACKING_PASSWORD
 *		the variables holding the user name and the password (the two
 *		together, and not with token_env).  Absent: the caller's defaults.
 *	database: og_demo
 *		Database the worker connects to, where CREATE EXTENSION og_model ran.
 *		Absent: postgres.
 *	refresh_interval: 60s
 *		How often the worker checks the refs of "models"; 0 disables following
 *		(the models are loaded at start only); else 1s to 24h.  Default 60s.
 *	limits:
 *	  http_timeout_ms: 10000
 *		Time limit of one HTTP request of the worker, 100ms to 1h.  Absent:
 *		og_model.http_timeout_ms.
 *	  max_artifact_bytes: 256MB
 *		Largest model file the worker loads, 1kB to 2147483647B.  Absent:
 *		og_model.max_artifact_bytes.
 *	  max_backoff: 10min
 *		Upper bound of the retry delay after MLflow failures, 1s to 24h.
 *		Default 10min.
 *	models:
 *	  - name: churn
 *		ref: "@champion"
 *		Models loaded at server start and kept following their ref.  name
 *		follows og_load_model's rule (1 to 63 letters, digits, "_", "." and
 *		"-") and is unique; ref is one of og_load_model's: '7', '@alias',
 *		'latest' (the default), models:/..., runs:/... or file:///...
 *		(quote refs that start with "@").
 *	retraining:
 *		Read by the Airflow DAG (lifecycle/), not by the server: checked only
 *		to be a mapping.  Its keys are documented in config/config*.yml.
 *
 * Durations take postgresql.conf's units ms, s, min, h and d ("90s",
 * "1.5h"); a bare number is seconds, except for http_timeout_ms
 * (milliseconds).  Sizes take B, kB, MB, GB and TB (powers of 1024); a bare
 * number is bytes.  A key without a value (or ~, null) counts as absent.
 * og_model.config_file, when relative, is taken from the data directory, as
 * PostgreSQL does for its own file settings.  An empty file, or one of
 * comments only, means all defaults.
 *
 * Errors have SQLSTATE F0000 (ERRCODE_CONFIG_FILE_ERROR) and name the path
 * as given and the line:
 *		invalid og_model profile "config/x.yml" line 12: <problem>
 * A secret written in the file is refused without being shown: a key such
 * as token, password, secret, api_key or mlflow_tracking_token anywhere
 * (also under retraining), any key but *_env under credentials, and a
 * tracking_uri with user information.  A repeated key is an error.  An
 * unknown key in the parts this file reads (all but retraining) is reported
 * at the caller's level (WARNING in a backend, LOG in the worker), kept in
 * OgConfig.warnings, and the read goes on.  A missing or unreadable file is
 * an error naming it, with the SQLSTATE of OgFileErrcode(); a profile has at most
 * OG_CONFIG_MAX_BYTES.
 *
 * Memory: the file and its YAML tree live in a child of the caller's memory
 * context, deleted before OgConfigRead returns; the OgConfig is palloc'd in
 * the caller's context.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <fcntl.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/pg_authid.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/memutils.h"

#include "config.h"
#include "errors.h"
#include "http.h"
#include "mlmodel.h"
#include "store.h"

PG_FUNCTION_INFO_V1(og_config_check);

/* unknown keys reported one by one; the rest are counted */
#define OG_CONFIG_MAX_WARNINGS	20
/* longest key or value shown in a message */
#define OG_CONFIG_SHOW_BYTES	64
#define OG_CONFIG_MAX_REF_BYTES 1024
#define OG_CONFIG_MS_PER_DAY	(24 * 3600 * 1000)

typedef struct OgConfigUnknownKey
{
	int			line;
	int			seq;			/* order found, among keys of one line */
	char	   *msg;
	char	   *hint;
} OgConfigUnknownKey;

typedef struct OgConfigParse
{
	const char *path;			/* as given, for messages */
	int			elevel;			/* of unknown keys */
	List	   *unknown;		/* OgConfigUnknownKey *, reported at the end */
	OgConfig   *conf;
} OgConfigParse;

typedef struct OgConfigUnit
{
	const char *name;
	double		factor;
} OgConfigUnit;

static const OgConfigUnit og_time_units[] = {
	{"ms", 1}, {"s", 1000}, {"min", 60 * 1000}, {"h", 3600 * 1000},
	{"d", 24.0 * 3600 * 1000}
};

static const OgConfigUnit og_size_units[] = {
	{"B", 1}, {"kB", 1024.0}, {"MB", 1024.0 * 1024}, {"GB", 1024.0 * 1024 * 1024},
	{"TB", 1024.0 * 1024 * 1024 * 1024}
};

static const char *const og_top_keys[] = {
	"tracking_uri", "credentials", "database", "refresh_interval", "limits",
	"models", "retraining"
};
static const char *const og_credential_keys[] = {
	"token_env", "username_env", "password_env"
};
static const char *const og_limit_keys[] = {
	"http_timeout_ms", "max_artifact_bytes", "max_backoff"
};
static const char *const og_model_keys[] = {"name", "ref"};

static const char *const og_secret_detail =
"Secrets go in environment variables of the PostgreSQL server, never in the profile; the value is not shown.";
static const char *const og_secret_hint =
"Name the variables in the profile: credentials.token_env, or credentials.username_env and credentials.password_env.";

/* ------------------------------------------------------------- messages */

static void OgConfigFail(const OgConfigParse *p, int line, const char *detail,
						 const char *hint, const char *fmt,...)
			pg_attribute_printf(5, 6) pg_attribute_noreturn();

/*
 * A problem with the profile: "invalid og_model profile "<path>" line <n>:
 * <problem>".  Never pass a value that may be a secret.
 */
static void
OgConfigFail(const OgConfigParse *p, int line, const char *detail,
			 const char *hint, const char *fmt,...)
{
	StringInfoData problem;

	initStringInfo(&problem);
	for (;;)
	{
		va_list		args;
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&problem, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&problem, needed);
	}
	ereport(ERROR,
			(errcode(ERRCODE_CONFIG_FILE_ERROR),
			 errmsg("invalid og_model profile \"%s\" line %d: %s",
					p->path, line, problem.data),
			 detail ? errdetail_internal("%s", detail) : 0,
			 hint ? errhint("%s", hint) : 0));
}

/* A key or a value for a message: at most OG_CONFIG_SHOW_BYTES of it. */
static const char *
OgConfigShow(const char *s)
{
	/* libyaml accepts UTF-8 only: cut at a character boundary */
	return OgEchoCut(s, OG_CONFIG_SHOW_BYTES, PG_UTF8);
}

/* "a, b and c" */
static char *
OgConfigKeyList(const char *const *keys, int n)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < n; i++)
		appendStringInfo(&buf, "%s%s", i == 0 ? "" : i == n - 1 ? " and " : ", ",
						 keys[i]);
	return buf.data;
}

/* An unknown key, reported by OgConfigReportUnknown once all is read. */
static void
OgConfigUnknown(OgConfigParse *p, const OgYamlNode *key, const char *section,
				const char *const *known, int n_known)
{
	OgConfigUnknownKey *u = palloc(sizeof(OgConfigUnknownKey));

	u->line = key->line;
	u->seq = list_length(p->unknown);
	if (section)
		u->msg = psprintf("og_model profile \"%s\" line %d: unknown key \"%s\" in %s",
						  p->path, key->line, OgConfigShow(key->scalar), section);
	else
		u->msg = psprintf("og_model profile \"%s\" line %d: unknown key \"%s\"",
						  p->path, key->line, OgConfigShow(key->scalar));
	u->hint = psprintf("Known keys%s%s: %s.", section ? " in " : "",
					   section ? section : "", OgConfigKeyList(known, n_known));
	p->unknown = lappend(p->unknown, u);
}

static int
OgConfigUnknownCmp(const ListCell *a, const ListCell *b)
{
	const OgConfigUnknownKey *ua = lfirst(a);
	const OgConfigUnknownKey *ub = lfirst(b);

	if (ua->line != ub->line)
		return ua->line < ub->line ? -1 : 1;
	return ua->seq < ub->seq ? -1 : ua->seq > ub->seq;
}

/*
 * Report the unknown keys in the order of the file at p->elevel, and keep
 * their messages in conf->warnings: the first OG_CONFIG_MAX_WARNINGS, then
 * how many more there are.
 */
static void
OgConfigReportUnknown(OgConfigParse *p)
{
	ListCell   *lc;
	int			n = 0;

	list_sort(p->unknown, OgConfigUnknownCmp);
	foreach(lc, p->unknown)
	{
		OgConfigUnknownKey *u = lfirst(lc);

		if (++n > OG_CONFIG_MAX_WARNINGS)
			break;
		p->conf->warnings = lappend(p->conf->warnings, u->msg);
		ereport(p->elevel,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg_internal("%s", u->msg),
				 errhint("%s", u->hint)));
	}
	if (list_length(p->unknown) > OG_CONFIG_MAX_WARNINGS)
	{
		char	   *msg = psprintf("og_model profile \"%s\": %d more unknown keys",
								   p->path,
								   list_length(p->unknown) - OG_CONFIG_MAX_WARNINGS);

		p->conf->warnings = lappend(p->conf->warnings, msg);
		ereport(p->elevel,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg_internal("%s", msg)));
	}
}

/* ----------------------------------------------------------------- secrets */

/*
 * Does a key name a secret?  Its words (split at non-alphanumerics and
 * lower-to-upper case changes) include token, password, passwd, secret,
 * apikey, or "api key" / "private key" / "access key"; a last word "env"
 * makes it the name of an environment variable instead.
 */
static bool
OgConfigSecretKey(const char *key)
{
	static const char *const words[] = {
		"token", "password", "passwd", "passphrase", "secret", "apikey"
	};
	char		prev[16] = "";
	bool		secret = false;
	const char *p = key;

	while (*p)
	{
		char		word[16];
		int			n = 0;
		bool		long_word = false;
		int			i;

		while (*p && !isalnum((unsigned char) *p))
			p++;
		if (*p == '\0')
			break;
		do
		{
			if (n < (int) sizeof(word) - 1)
				word[n++] = pg_ascii_tolower((unsigned char) *p);
			else
				long_word = true;
			p++;
		} while (*p && isalnum((unsigned char) *p) &&
				 !(isupper((unsigned char) *p) && islower((unsigned char) p[-1])));
		word[n] = '\0';
		if (long_word)
			word[0] = '\0';
		if (*p == '\0' && strcmp(word, "env") == 0)
			return false;
		for (i = 0; i < lengthof(words); i++)
			if (strcmp(word, words[i]) == 0)
				secret = true;
		if (strcmp(word, "key") == 0 &&
			(strcmp(prev, "api") == 0 || strcmp(prev, "private") == 0 ||
			 strcmp(prev, "access") == 0))
			secret = true;
		strlcpy(prev, word, sizeof(prev));
	}
	return secret;
}

static inline bool
OgConfigEnvKey(const char *key)
{
	size_t		len = strlen(key);

	return len > 4 && strcmp(key + len - 4, "_env") == 0;
}

/*
 * Refuse secrets anywhere in the tree, before anything else is read: keys
 * that name a secret, and under the top-level credentials any key but
 * *_env.  The message names the key, never the value.
 */
static void
OgConfigFindSecrets(OgConfigParse *p, const OgYamlNode *node, int depth,
					bool credentials)
{
	int			i;

	check_stack_depth();
	if (node == NULL || node->kind == OG_YAML_SCALAR)
		return;
	if (node->kind == OG_YAML_SEQUENCE)
	{
		for (i = 0; i < node->n; i++)
			OgConfigFindSecrets(p, node->items[i], depth + 1, false);
		return;
	}
	for (i = 0; i + 1 < node->n; i += 2)
	{
		const OgYamlNode *key = node->items[i];

		if (credentials && !OgConfigEnvKey(key->scalar))
			OgConfigFail(p, key->line, og_secret_detail, og_secret_hint,
						 "key \"credentials.%s\" would hold a secret",
						 OgConfigShow(key->scalar));
		if (OgConfigSecretKey(key->scalar))
			OgConfigFail(p, key->line, og_secret_detail, og_secret_hint,
						 "key \"%s%s\" would hold a secret",
						 credentials ? "credentials." : "",
						 OgConfigShow(key->scalar));
		OgConfigFindSecrets(p, node->items[i + 1], depth + 1,
							depth == 0 && strcmp(key->scalar, "credentials") == 0);
	}
}

/* ------------------------------------------------------------ structure */

/*
 * The values of the known keys of a mapping, into values[] (NULL when
 * absent).  A repeated known key is an error; unknown keys are reported.
 */
static void
OgConfigFields(OgConfigParse *p, const OgYamlNode *map, const char *section,
			   const char *const *known, int n_known, OgYamlNode **values)
{
	int			i,
				k;

	for (k = 0; k < n_known; k++)
		values[k] = NULL;
	for (i = 0; i + 1 < map->n; i += 2)
	{
		const OgYamlNode *key = map->items[i];

		for (k = 0; k < n_known; k++)
			if (strcmp(key->scalar, known[k]) == 0)
				break;
		if (k == n_known)
		{
			OgConfigUnknown(p, key, section, known, n_known);
			continue;
		}
		if (values[k] != NULL)
			OgConfigFail(p, key->line, NULL, NULL,
						 "key \"%s%s%s\" is repeated", section ? section : "",
						 section ? "." : "", known[k]);
		values[k] = map->items[i + 1];
	}
}

static inline bool
OgConfigIsNull(const OgYamlNode *v)
{
	return v == NULL || (v->kind == OG_YAML_SCALAR && OgYamlScalar(v) == NULL);
}

/* A scalar's text, NULL when absent or null; a list or a mapping fails. */
static const char *
OgConfigString(OgConfigParse *p, const OgYamlNode *v, const char *what)
{
	if (v == NULL)
		return NULL;
	if (v->kind != OG_YAML_SCALAR)
		OgConfigFail(p, v->line, NULL, NULL, "%s must be a single value, not a %s",
					 what, v->kind == OG_YAML_MAPPING ? "mapping" : "list");
	return OgYamlScalar(v);
}

/* A mapping, or NULL when absent or null; anything else fails. */
static const OgYamlNode *
OgConfigMapping(OgConfigParse *p, const OgYamlNode *v, const char *what)
{
	if (OgConfigIsNull(v))
		return NULL;
	if (v->kind != OG_YAML_MAPPING)
		OgConfigFail(p, v->line, NULL, NULL, "%s must be a mapping of keys to values",
					 what);
	return v;
}

/* ------------------------------------------------------- durations, sizes */

/*
 * Parse "<number>[ ]<unit>" as postgresql.conf does: digits with an
 * optional fraction, then one of units; bare numbers are in bare_factor.
 */
static bool
OgConfigQuantity(const char *s, const OgConfigUnit *units, int n_units,
				 double bare_factor, double *result)
{
	const char *p = s;
	bool		digits = false;
	char	   *end;
	double		v;
	int			i;

	while (isdigit((unsigned char) *p))
	{
		p++;
		digits = true;
	}
	if (*p == '.')
	{
		p++;
		while (isdigit((unsigned char) *p))
		{
			p++;
			digits = true;
		}
	}
	if (!digits)
		return false;
	/* only digits and a point: strtod sees no sign, hex, inf or nan */
	v = strtod(s, &end);
	if (end != p)
		return false;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
	{
		*result = v * bare_factor;
		return true;
	}
	for (i = 0; i < n_units; i++)
		if (strcmp(p, units[i].name) == 0)
		{
			*result = v * units[i].factor;
			return true;
		}
	return false;
}

/*
 * A duration in milliseconds within [min_ms, max_ms], or zero when
 * zero_ok; -1 when absent.  bare_factor: milliseconds of a bare number.
 */
static int
OgConfigDuration(OgConfigParse *p, const OgYamlNode *v, const char *what,
				 double bare_factor, int min_ms, int max_ms, bool zero_ok,
				 const char *range)
{
	const char *s = OgConfigString(p, v, what);
	double		ms;

	if (s == NULL)
		return -1;
	if (!OgConfigQuantity(s, og_time_units, lengthof(og_time_units),
						  bare_factor, &ms))
		OgConfigFail(p, v->line,
					 bare_factor == 1 ?
					 "Units are ms, s, min, h and d; a number without a unit is in milliseconds." :
					 "Units are ms, s, min, h and d; a number without a unit is in seconds.",
					 NULL,
					 "%s must be a duration such as \"90s\" or \"10min\", not \"%s\"",
					 what, OgConfigShow(s));
	ms = rint(ms);
	if (ms == 0 && zero_ok)
		return 0;
	if (ms < min_ms || ms > max_ms)
		OgConfigFail(p, v->line, NULL, NULL, "%s must be %s, not \"%s\"",
					 what, range, OgConfigShow(s));
	return (int) ms;
}

/* A size in bytes within [min, max]; -1 when absent. */
static int64
OgConfigSize(OgConfigParse *p, const OgYamlNode *v, const char *what,
			 int64 min, int64 max, const char *range)
{
	const char *s = OgConfigString(p, v, what);
	double		bytes;

	if (s == NULL)
		return -1;
	if (!OgConfigQuantity(s, og_size_units, lengthof(og_size_units), 1, &bytes))
		OgConfigFail(p, v->line,
					 "Units are B, kB, MB, GB and TB; a number without a unit is in bytes.",
					 NULL,
					 "%s must be a size such as \"256MB\", not \"%s\"",
					 what, OgConfigShow(s));
	bytes = rint(bytes);
	if (bytes < (double) min || bytes > (double) max)
		OgConfigFail(p, v->line, NULL, NULL, "%s must be %s, not \"%s\"",
					 what, range, OgConfigShow(s));
	return (int64) bytes;
}

/* ----------------------------------------------------------------- keys */

static void
OgConfigTrackingUri(OgConfigParse *p, const OgYamlNode *v)
{
	const char *uri = OgConfigString(p, v, "tracking_uri");
	const char *scheme_end;
	const char *host;
	size_t		authority;

	if (uri == NULL)
		return;
	/* credentials first, whatever the scheme; the URI is never shown */
	scheme_end = strstr(uri, "://");
	host = scheme_end ? scheme_end + 3 : uri;
	authority = strcspn(host, "/?#");
	if (memchr(host, '@', authority) != NULL)
		OgConfigFail(p, v->line, og_secret_detail, og_secret_hint,
					 "tracking_uri must not contain credentials");
	if (strncmp(uri, "http://", 7) != 0 && strncmp(uri, "https://", 8) != 0)
		OgConfigFail(p, v->line, NULL, NULL,
					 "tracking_uri must start with http:// or https://");
	if (authority == 0)
		OgConfigFail(p, v->line, NULL, NULL, "tracking_uri has no host");
	if (strpbrk(uri, " \t\r\n?#") != NULL)
		OgConfigFail(p, v->line, NULL, NULL,
					 "tracking_uri must not contain white space, a query or a fragment");
	p->conf->tracking_uri = pstrdup(uri);
}

/* The name of an environment variable; the value is not shown. */
static char *
OgConfigEnvName(OgConfigParse *p, const OgYamlNode *v, const char *what)
{
	const char *s = OgConfigString(p, v, what);
	const char *c;
	bool		ok;

	if (s == NULL)
		return NULL;
	ok = !isdigit((unsigned char) s[0]) && strlen(s) <= 255;
	for (c = s; ok && *c; c++)
		ok = isalnum((unsigned char) *c) || *c == '_';
	if (!ok)
		OgConfigFail(p, v->line,
					 "A name is letters, digits and \"_\", not starting with a digit; the value is not shown.",
					 "Put the secret itself in that environment variable of the PostgreSQL server.",
					 "%s must be the name of an environment variable", what);
	return pstrdup(s);
}

static void
OgConfigCredentialsSection(OgConfigParse *p, const OgYamlNode *v)
{
	const OgYamlNode *map = OgConfigMapping(p, v, "credentials");
	OgYamlNode *values[lengthof(og_credential_keys)];
	OgConfig   *c = p->conf;

	if (map == NULL)
		return;
	OgConfigFields(p, map, "credentials", og_credential_keys,
				   lengthof(og_credential_keys), values);
	c->token_env = OgConfigEnvName(p, values[0], "credentials.token_env");
	c->username_env = OgConfigEnvName(p, values[1], "credentials.username_env");
	c->password_env = OgConfigEnvName(p, values[2], "credentials.password_env");
	if ((c->username_env == NULL) != (c->password_env == NULL))
		OgConfigFail(p, map->line, NULL, NULL,
					 "credentials.username_env and credentials.password_env go together");
	if (c->token_env != NULL && c->username_env != NULL)
		OgConfigFail(p, map->line, NULL,
					 "Name either the variable of a bearer token or those of a user name and a password.",
					 "credentials.token_env cannot be combined with username_env and password_env");
}

static void
OgConfigDatabase(OgConfigParse *p, const OgYamlNode *v)
{
	const char *s = OgConfigString(p, v, "database");

	if (s == NULL)
		return;
	if (strlen(s) >= NAMEDATALEN)
		OgConfigFail(p, v->line, NULL, NULL,
					 "database must be a name of at most %d bytes", NAMEDATALEN - 1);
	p->conf->database = pstrdup(s);
}

static void
OgConfigLimits(OgConfigParse *p, const OgYamlNode *v)
{
	const OgYamlNode *map = OgConfigMapping(p, v, "limits");
	OgYamlNode *values[lengthof(og_limit_keys)];
	int			backoff;

	if (map == NULL)
		return;
	OgConfigFields(p, map, "limits", og_limit_keys, lengthof(og_limit_keys),
				   values);
	p->conf->http_timeout_ms =
		OgConfigDuration(p, values[0], "limits.http_timeout_ms", 1,
						 100, 3600 * 1000, false, "between 100ms and 1h");
	p->conf->max_artifact_bytes =
		OgConfigSize(p, values[1], "limits.max_artifact_bytes", 1024, INT_MAX,
					 "between 1kB and 2147483647B");
	backoff = OgConfigDuration(p, values[2], "limits.max_backoff", 1000,
							   1000, OG_CONFIG_MS_PER_DAY, false,
							   "between 1s and 24h");
	if (backoff >= 0)
		p->conf->max_backoff_ms = backoff;
}

/* og_load_model's rule (OgCheckModelName), with the file and the line */
static void
OgConfigModelName(OgConfigParse *p, const OgYamlNode *v, const char *name)
{
	size_t		len = strlen(name);
	const char *c;
	bool		ok = len > 0 && len <= OG_MAX_NAME_LEN;

	for (c = name; ok && *c; c++)
		ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			(*c >= '0' && *c <= '9') || *c == '_' || *c == '.' || *c == '-';
	if (!ok)
		OgConfigFail(p, v->line,
					 psprintf("Model names are 1 to %d bytes of letters, digits, \"_\", \".\" and \"-\".",
							  OG_MAX_NAME_LEN),
					 NULL, "invalid model name \"%s\"", OgConfigShow(name));
}

/* A "." or ".." segment in a registered model's name or an alias? */
static bool
OgConfigRefHasDots(const char *s)
{
	char	   *copy = pstrdup(s);
	char	   *at;

	while ((at = strchr(copy, '@')) != NULL)
		*at = '/';
	return OgPathHasDotSegment(copy);
}

/* One of the forms og_load_model takes; it checks the rest when loading. */
static bool
OgConfigRefValid(const char *ref)
{
	const char *c;

	if (strcmp(ref, "latest") == 0)
		return true;
	if (ref[0] == '@')
		return ref[1] != '\0' && !OgConfigRefHasDots(ref + 1);
	if (strncmp(ref, "models:/", 8) == 0)
		return ref[8] != '\0' && !OgConfigRefHasDots(ref + 8);
	if (strncmp(ref, "runs:/", 6) == 0)
		return ref[6] != '\0' && !OgPathHasDotSegment(ref + 6);
	if (strncmp(ref, "file:///", 8) == 0)
		return !OgPathHasDotSegment(ref + 7);
	for (c = ref; *c; c++)
		if (!isdigit((unsigned char) *c))
			return false;
	return c != ref;
}

static void
OgConfigModels(OgConfigParse *p, const OgYamlNode *v)
{
	OgConfig   *c = p->conf;
	int			i;

	if (OgConfigIsNull(v))
		return;
	if (v->kind != OG_YAML_SEQUENCE)
		OgConfigFail(p, v->line, NULL, NULL,
					 "models must be a list of entries with name and ref");
	if (v->n > OG_CONFIG_MAX_MODELS)
		OgConfigFail(p, v->line, NULL, NULL,
					 "models has %d entries; the limit is %d",
					 v->n, OG_CONFIG_MAX_MODELS);
	c->models = palloc0(sizeof(OgConfigModel) * Max(v->n, 1));
	for (i = 0; i < v->n; i++)
	{
		const OgYamlNode *entry = v->items[i];
		OgYamlNode *values[lengthof(og_model_keys)];
		OgConfigModel *m = &c->models[c->n_models];
		const char *name;
		const char *ref;
		int			j;

		if (entry->kind != OG_YAML_MAPPING)
			OgConfigFail(p, entry->line, NULL, NULL,
						 "entry %d of models must be a mapping with name and ref",
						 i + 1);
		OgConfigFields(p, entry, "models", og_model_keys,
					   lengthof(og_model_keys), values);
		name = OgConfigString(p, values[0], "name");
		if (name == NULL)
			OgConfigFail(p, entry->line, NULL, NULL,
						 "entry %d of models has no name", i + 1);
		OgConfigModelName(p, values[0], name);
		for (j = 0; j < c->n_models; j++)
			if (strcmp(c->models[j].name, name) == 0)
				OgConfigFail(p, values[0]->line, NULL, NULL,
							 "model \"%s\" is listed twice (first at line %d)",
							 name, c->models[j].line);
		ref = OgConfigString(p, values[1], "ref");
		if (ref != NULL &&
			(strlen(ref) > OG_CONFIG_MAX_REF_BYTES || !OgConfigRefValid(ref)))
			OgConfigFail(p, values[1]->line,
						 "Use a version (\"7\"), an alias (\"@champion\"), \"latest\", models:/name/7, models:/name@alias, runs:/<run_id>/<path> or file:///path.",
						 NULL, "invalid ref \"%s\" for model \"%s\"",
						 OgConfigShow(ref), name);
		m->name = pstrdup(name);
		m->ref = pstrdup(ref ? ref : "latest");
		m->line = entry->line;
		c->n_models++;
	}
}

static void
OgConfigWalk(OgConfigParse *p, const OgYamlNode *root)
{
	OgYamlNode *values[lengthof(og_top_keys)];
	OgConfig   *c = p->conf;
	int			refresh;

	if (OgConfigIsNull(root))
		return;
	if (root->kind != OG_YAML_MAPPING)
		OgConfigFail(p, root->line, NULL, NULL,
					 "a profile must be a mapping of keys such as tracking_uri and models");
	OgConfigFindSecrets(p, root, 0, false);
	OgConfigFields(p, root, NULL, og_top_keys, lengthof(og_top_keys), values);
	OgConfigTrackingUri(p, values[0]);
	OgConfigCredentialsSection(p, values[1]);
	OgConfigDatabase(p, values[2]);
	refresh = OgConfigDuration(p, values[3], "refresh_interval", 1000,
							   1000, OG_CONFIG_MS_PER_DAY, true,
							   "0 (do not follow) or between 1s and 24h");
	if (refresh >= 0)
		c->refresh_interval_ms = refresh;
	OgConfigLimits(p, values[4]);
	OgConfigModels(p, values[5]);
	c->has_retraining = OgConfigMapping(p, values[6], "retraining") != NULL;
}

/* ----------------------------------------------------------------- file */

char *
OgConfigResolvePath(const char *path)
{
	char	   *abs;

	if (is_absolute_path(path))
		abs = pstrdup(path);
	else
		abs = psprintf("%s/%s", DataDir, path);
	canonicalize_path(abs);
	return abs;
}

/*
 * Read the whole profile, at most OG_CONFIG_MAX_BYTES; NUL-terminated.  The
 * file is closed before any error is raised (the worker may run outside a
 * transaction).
 */
static char *
OgConfigReadFile(const char *path, const char *file, Size *len)
{
	struct stat st;
	int			fd;
	char	   *buf;
	Size		got = 0;
	int			save_errno;
	const char *detail = NULL;

	if (!is_absolute_path(path))
		detail = psprintf("Relative paths are taken from the data directory: \"%s\".",
						  file);

	/* O_NONBLOCK: a FIFO in place of the file must not hang the process */
	fd = OpenTransientFile(file, O_RDONLY | O_NONBLOCK | PG_BINARY);
	if (fd < 0)
	{
		save_errno = errno;
		ereport(ERROR,
				(OgErrcodeForFile(save_errno),
				 errmsg("could not open og_model profile \"%s\": %m", OgEcho(path)),
				 detail ? errdetail_internal("%s", detail) : 0));
	}
	if (fstat(fd, &st) != 0)
	{
		save_errno = errno;
		CloseTransientFile(fd);
		errno = save_errno;
		ereport(ERROR,
				(OgErrcodeForFile(save_errno),
				 errmsg("could not read og_model profile \"%s\": %m", OgEcho(path))));
	}
	if (!S_ISREG(st.st_mode))
	{
		CloseTransientFile(fd);
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("could not read og_model profile \"%s\": not a regular file",
						OgEcho(path)),
				 detail ? errdetail_internal("%s", detail) : 0));
	}
	if (st.st_size > OG_CONFIG_MAX_BYTES)
	{
		CloseTransientFile(fd);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("invalid og_model profile \"%s\": the file has %lld bytes; the limit is %d bytes",
						path, (long long) st.st_size, OG_CONFIG_MAX_BYTES)));
	}

	/* one byte more than the size: a file that grew is refused, not cut */
	buf = palloc(st.st_size + 2);
	for (;;)
	{
		ssize_t		r;

		CHECK_FOR_INTERRUPTS();
		r = read(fd, buf + got, st.st_size + 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
		{
			save_errno = errno;
			CloseTransientFile(fd);
			errno = save_errno;
			ereport(ERROR,
					(OgErrcodeForFile(save_errno),
					 errmsg("could not read og_model profile \"%s\": %m", OgEcho(path))));
		}
		if (r == 0)
			break;
		got += r;
		if (got > (Size) st.st_size)
			break;
	}
	CloseTransientFile(fd);
	if (got != (Size) st.st_size)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("og_model profile \"%s\" changed while it was read", path),
				 errhint("Try again once the file is written.")));
	buf[got] = '\0';
	*len = got;
	return buf;
}

/* A deep copy of a profile, in CurrentMemoryContext. */
static OgConfig *
OgConfigCopy(const OgConfig *src)
{
	OgConfig   *c = palloc(sizeof(OgConfig));
	ListCell   *lc;
	int			i;

	*c = *src;
	c->path = pstrdup(src->path);
	c->file = pstrdup(src->file);
	c->tracking_uri = src->tracking_uri ? pstrdup(src->tracking_uri) : NULL;
	c->token_env = src->token_env ? pstrdup(src->token_env) : NULL;
	c->username_env = src->username_env ? pstrdup(src->username_env) : NULL;
	c->password_env = src->password_env ? pstrdup(src->password_env) : NULL;
	c->database = src->database ? pstrdup(src->database) : NULL;
	c->models = palloc0(sizeof(OgConfigModel) * Max(src->n_models, 1));
	for (i = 0; i < src->n_models; i++)
	{
		c->models[i].name = pstrdup(src->models[i].name);
		c->models[i].ref = pstrdup(src->models[i].ref);
		c->models[i].line = src->models[i].line;
	}
	c->warnings = NIL;
	foreach(lc, src->warnings)
		c->warnings = lappend(c->warnings, pstrdup(lfirst(lc)));
	return c;
}

OgConfig *
OgConfigRead(const char *path, int elevel_unknown)
{
	OgConfig   *c;
	OgConfigParse p;
	MemoryContext cxt;
	MemoryContext old;
	OgYamlNode *root;
	char	   *buf;
	Size		len;

	if (path == NULL || path[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the path of an og_model profile must not be empty")));
	/* every message names the file: it is no longer than a path can be */
	if (strlen(path) >= MAXPGPATH)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("could not open og_model profile \"%s\": the path is too long",
						OgEcho(path)),
				 errdetail("The path has %zu bytes; a path has fewer than %d.",
						   strlen(path), MAXPGPATH)));

	/*
	 * Everything is read in a child context; only the result is copied out.
	 * On an error the child goes with the caller's context.
	 */
	cxt = AllocSetContextCreate(CurrentMemoryContext, "og_model profile",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	c = palloc0(sizeof(OgConfig));
	c->path = pstrdup(path);
	c->file = OgConfigResolvePath(path);
	c->refresh_interval_ms = OG_CONFIG_REFRESH_MS;
	c->http_timeout_ms = -1;
	c->max_artifact_bytes = -1;
	c->max_backoff_ms = OG_CONFIG_BACKOFF_MS;
	memset(&p, 0, sizeof(p));
	p.path = c->path;
	p.elevel = elevel_unknown;
	p.conf = c;

	buf = OgConfigReadFile(c->path, c->file, &len);
	root = OgYamlParseProfile(c->path, buf, len);
	OgConfigWalk(&p, root);
	/* unknown keys are reported only once the whole profile is valid */
	OgConfigReportUnknown(&p);

	MemoryContextSwitchTo(old);
	c = OgConfigCopy(c);
	MemoryContextDelete(cxt);
	return c;
}

/* ---------------------------------------------------------- credentials */

static char *
OgConfigGetenv(const char *name)
{
	const char *v;

	if (name == NULL)
		return NULL;
	v = getenv(name);
	if (v == NULL || v[0] == '\0')
		return NULL;
	return pstrdup(v);
}

void
OgConfigCredentials(const OgConfig *c, char **token, char **username,
					char **password)
{
	*token = OgConfigGetenv(c->token_env);
	*username = OgConfigGetenv(c->username_env);
	*password = OgConfigGetenv(c->password_env);
}

/* ------------------------------------------------------ og_config_check */

/*
 * Roles with the privileges of pg_read_server_files check any file; the
 * others (og_model_admin) only the profile og_model.config_file names.
 */
static void
OgConfigCheckAccess(const char *path)
{
	const char *setting;

	if (has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
		return;
	setting = GetConfigOption("og_model.config_file", true, false);
	if (setting != NULL && setting[0] != '\0' && path[0] != '\0' &&
		strcmp(OgConfigResolvePath(setting), OgConfigResolvePath(path)) == 0)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to check og_model profile \"%s\"", OgEcho(path)),
			 errdetail("Only roles with privileges of the \"pg_read_server_files\" role may check a file other than the one og_model.config_file names.")));
}

/* a JSON string (text of the file: UTF-8), or null */
static void
OgConfigJsonString(StringInfo buf, const char *s)
{
	if (s == NULL)
		appendStringInfoString(buf, "null");
	else
		escape_json(buf, pg_any_to_server(s, strlen(s), PG_UTF8));
}

static void
OgConfigJsonInt(StringInfo buf, int64 v)
{
	if (v < 0)
		appendStringInfoString(buf, "null");
	else
		appendStringInfo(buf, INT64_FORMAT, v);
}

/*
 * og_config_check(path text) RETURNS jsonb: what OgConfigRead understood,
 * with the names of the credential variables (never their values), whether
 * each is set in the server's environment, and the warnings.
 */
Datum
og_config_check(PG_FUNCTION_ARGS)
{
	char	   *path = text_to_cstring(PG_GETARG_TEXT_PP(0));
	const char *env[3];
	StringInfoData buf;
	OgConfig   *c;
	ListCell   *lc;
	int			i;
	bool		first;

	OgConfigCheckAccess(path);
	c = OgConfigRead(path, WARNING);

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"path\": ");
	OgConfigJsonString(&buf, c->path);
	appendStringInfoString(&buf, ", \"file\": ");
	OgConfigJsonString(&buf, c->file);
	appendStringInfoString(&buf, ", \"tracking_uri\": ");
	OgConfigJsonString(&buf, c->tracking_uri);
	appendStringInfoString(&buf, ", \"database\": ");
	OgConfigJsonString(&buf, c->database);
	appendStringInfo(&buf, ", \"refresh_interval_ms\": %d", c->refresh_interval_ms);
	appendStringInfoString(&buf, ", \"limits\": {\"http_timeout_ms\": ");
	OgConfigJsonInt(&buf, c->http_timeout_ms);
	appendStringInfoString(&buf, ", \"max_artifact_bytes\": ");
	OgConfigJsonInt(&buf, c->max_artifact_bytes);
	appendStringInfo(&buf, ", \"max_backoff_ms\": %d}", c->max_backoff_ms);

	appendStringInfoString(&buf, ", \"credentials\": {\"token_env\": ");
	OgConfigJsonString(&buf, c->token_env);
	appendStringInfoString(&buf, ", \"username_env\": ");
	OgConfigJsonString(&buf, c->username_env);
	appendStringInfoString(&buf, ", \"password_env\": ");
	OgConfigJsonString(&buf, c->password_env);
	appendStringInfoString(&buf, "}, \"environment\": {");
	env[0] = c->token_env;
	env[1] = c->username_env;
	env[2] = c->password_env;
	first = true;
	for (i = 0; i < lengthof(env); i++)
	{
		const char *v;

		if (env[i] == NULL)
			continue;
		v = getenv(env[i]);
		appendStringInfoString(&buf, first ? "" : ", ");
		OgConfigJsonString(&buf, env[i]);
		appendStringInfo(&buf, ": %s", v != NULL && v[0] != '\0' ? "true" : "false");
		first = false;
	}

	appendStringInfoString(&buf, "}, \"models\": [");
	for (i = 0; i < c->n_models; i++)
	{
		appendStringInfoString(&buf, i == 0 ? "{\"name\": " : ", {\"name\": ");
		OgConfigJsonString(&buf, c->models[i].name);
		appendStringInfoString(&buf, ", \"ref\": ");
		OgConfigJsonString(&buf, c->models[i].ref);
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfo(&buf, "], \"retraining\": %s, \"warnings\": [",
					 c->has_retraining ? "true" : "false");
	first = true;
	foreach(lc, c->warnings)
	{
		appendStringInfoString(&buf, first ? "" : ", ");
		OgConfigJsonString(&buf, (const char *) lfirst(lc));
		first = false;
	}
	appendStringInfoString(&buf, "]}");

	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}
