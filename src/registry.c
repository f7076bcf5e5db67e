/*-------------------------------------------------------------------------
 *
 * registry.c
 *	  Resolve references against an MLflow tracking server's REST API and
 *	  download a model version's files.
 *
 * References (og_load_model's ref):
 *	  '7', '@champion', 'latest'	   version, alias or highest READY version of
 *									   the registered model named like the model
 *	  'models:/name/7', 'models:/name@alias', 'models:/name/latest'
 *	  'runs:/<run_id>/<path>'		   a model directory among a run's artifacts
 *
 * Files of a model version come from GET /model-versions/get-artifact, which
 * serves MLflow 2.x (mlflow-artifacts:/...) and 3.x (models:/m-...) sources;
 * when that route is missing, from the location given by
 * /api/2.0/mlflow/model-versions/get-download-uri through the proxied
 * artifact API (/api/2.0/mlflow-artifacts/artifacts/...).
 *
 * Credentials come from the file named by og_model.credentials_file (owned
 * by the server's user, mode 0600; the ~/.mlflow/credentials format) or the
 * server's environment (MLFLOW_TRACKING_TOKEN, MLFLOW_TRACKING_USERNAME and
 * MLFLOW_TRACKING_PASSWORD), never from a setting's value.  They are never
 * written into an error, a log line or a view, and URLs are shown redacted.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands/dbcommands.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "config.h"
#include "errors.h"
#include "http.h"
#include "json.h"
#include "load.h"
#include "source.h"
#include "worker.h"

#define OG_MAX_API_BYTES		(64 * 1024 * 1024)
#define OG_MAX_CREDENTIALS_BYTES (64 * 1024)

static char *og_tracking_uri = NULL;
static char *og_credentials_file = NULL;

typedef struct OgRemote
{
	OgSource   *src;
	char	   *base;			/* tracking URI without trailing "/" */
	char	   *server;			/* redacted, for messages */
	OgCredentials cred;
	char	   *registry_name;	/* registered model, or NULL for runs:/ */
	char	   *version;
	char	   *artifact_root;	/* proxied path or URL, once known */
	bool		use_download_uri;
	const char *action;			/* start of error messages */
	const char *method;			/* of the request under way; NULL: GET */
	bool		writing;		/* registering, not reading */
} OgRemote;

static bool
OgCheckTrackingUri(char **newval, void **extra, GucSource source)
{
	const char *v = *newval;
	const char *host;
	size_t		authority;

	if (v == NULL || v[0] == '\0')
		return true;
	if (strncmp(v, "http://", 7) == 0)
		host = v + 7;
	else if (strncmp(v, "https://", 8) == 0)
		host = v + 8;
	else
	{
		GUC_check_errdetail("The tracking URI must start with http:// or https://.");
		return false;
	}
	authority = strcspn(host, "/?#");
	if (authority == 0)
	{
		GUC_check_errdetail("The tracking URI has no host.");
		return false;
	}
	if (memchr(host, '@', authority) != NULL)
	{
		GUC_check_errdetail("Credentials do not belong in the tracking URI.");
		GUC_check_errhint("Put them in the file named by og_model.credentials_file, or in the server's environment.");
		return false;
	}
	if (strpbrk(v, " \t\r\n?#") != NULL)
	{
		GUC_check_errdetail("The tracking URI must not contain white space, a query or a fragment.");
		return false;
	}
	return true;
}

void
OgRegistryInit(void)
{
	DefineCustomStringVariable("og_model.tracking_uri",
							   "MLflow tracking server that og_load_model() loads registered models from.",
							   "An http:// or https:// URL, without credentials.",
							   &og_tracking_uri,
							   "",
							   PGC_SUSET, 0,
							   OgCheckTrackingUri, NULL, NULL);
	DefineCustomStringVariable("og_model.credentials_file",
							   "File with the MLflow credentials (owned by the server's user, mode 0600).",
							   "Format of ~/.mlflow/credentials: mlflow_tracking_token, or "
							   "mlflow_tracking_username and mlflow_tracking_password.  Empty: "
							   "MLFLOW_TRACKING_* environment variables of the server.",
							   &og_credentials_file,
							   "",
							   PGC_SUSET, GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
}

/* ---------------------------------------------------------------- errors */

static void
OgRemoteFail(OgRemote *r, int sqlerrcode, const char *problem,
			 const char *detail, const char *hint)
{
	ereport(ERROR,
			(errcode(sqlerrcode),
			 errmsg("%s: %s", r->action, problem),
			 detail ? errdetail_internal("%s", detail) : 0,
			 hint ? errhint("%s", hint) : 0));
}

/* Printable first line of a plain-text body, for details. */
static char *
OgBodyExcerpt(const OgHttpResponse *resp)
{
	StringInfoData s;
	Size		i;

	initStringInfo(&s);
	for (i = 0; i < resp->len && i < 200; i++)
	{
		unsigned char c = (unsigned char) resp->body[i];

		if (c == '\n' || c == '\r')
			break;
		appendStringInfoChar(&s, (c >= 0x20 && c < 0x7f) ? (char) c : '?');
	}
	return s.data;
}

/* What a message shows of a URL: the path under the server, or all of it, redacted. */
static char *
OgRemoteWhere(OgRemote *r, const char *url)
{
	size_t		n = strlen(r->base);

	if (strncmp(url, r->base, n) == 0 && url[n] == '/')
		return OgRedactUrl(url + n);
	return OgRedactUrl(url);
}

/* Transport failures: the server could not be asked, or did not answer. */
static void
OgRemoteCheckTransport(OgRemote *r, const OgHttpResponse *resp,
					   const char *url, Size max, const char *limit_name)
{
	char	   *where = psprintf("%s %s", r->method ? r->method : "GET",
								 OgRemoteWhere(r, url));

	switch (resp->outcome)
	{
		case OG_HTTP_OK:
			return;
		case OG_HTTP_CONNECT_FAILED:
			OgRemoteFail(r, ERRCODE_CONNECTION_FAILURE,
						 psprintf("could not connect to MLflow server %s", r->server),
						 psprintf("%s: %s", where, resp->error),
						 "Check og_model.tracking_uri and that the MLflow server is running.");
			break;
		case OG_HTTP_TIMEOUT:
			OgRemoteFail(r, ERRCODE_CONNECTION_FAILURE,
						 psprintf("MLflow server %s did not answer within %d ms",
								  r->server, og_http_timeout_ms),
						 psprintf("%s: %s", where, resp->error),
						 "Raise og_model.http_timeout_ms for slow servers or large models.");
			break;
		case OG_HTTP_TLS_FAILED:
			OgRemoteFail(r, ERRCODE_CONNECTION_FAILURE,
						 psprintf("TLS connection to MLflow server %s failed", r->server),
						 psprintf("%s: %s", where, resp->error),
						 "Set og_model.tls_ca_file to the CA certificate that signed the server's certificate.");
			break;
		case OG_HTTP_TRUNCATED:
			OgRemoteFail(r, ERRCODE_CONNECTION_FAILURE,
						 psprintf("MLflow server %s sent an incomplete response", r->server),
						 psprintf("%s: %s", where, resp->error), NULL);
			break;
		case OG_HTTP_TOO_LARGE:
			OgRemoteFail(r, ERRCODE_PROGRAM_LIMIT_EXCEEDED,
						 psprintf("response of MLflow server %s is larger than %zu bytes",
								  r->server, max),
						 where,
						 limit_name ? psprintf("Raise %s to load larger models.", limit_name) : NULL);
			break;
		case OG_HTTP_FAILED:
			OgRemoteFail(r, ERRCODE_CONNECTION_FAILURE,
						 psprintf("request to MLflow server %s failed", r->server),
						 psprintf("%s: %s", where, resp->error), NULL);
			break;
	}
}

/*
 * An HTTP error status.  not_found is the problem to report, with SQLSTATE
 * not_found_code, for "does not exist" answers (404, or 400 for an unknown
 * alias when alias_lookup).
 */
static void
OgRemoteHttpError(OgRemote *r, const OgHttpResponse *resp, const char *url,
				  const char *not_found, int not_found_code, bool alias_lookup)
{
	char	   *where = OgRemoteWhere(r, url);
	char	   *error_code = NULL;
	char	   *message = NULL;
	char	   *detail;
	cJSON	   *json;

	json = cJSON_ParseWithLength(resp->body, resp->len);
	if (json != NULL)
	{
		const cJSON *ec = cJSON_GetObjectItemCaseSensitive(json, "error_code");
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(json, "message");

		if (cJSON_IsString(ec))
			error_code = pstrdup(ec->valuestring);
		if (cJSON_IsString(msg))
			message = pstrdup(msg->valuestring);
		cJSON_Delete(json);
	}
	if (message == NULL)
		message = OgBodyExcerpt(resp);
	else
		message = (char *) OgEcho(message);
	detail = psprintf("MLflow server %s answered %s %s with HTTP %ld%s%s: %s",
					  r->server, r->method ? r->method : "GET", where, resp->status,
					  error_code ? " " : "", error_code ? error_code : "", message);

	if (resp->status == 401)
		OgRemoteFail(r, ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
					 psprintf("MLflow server %s requires valid credentials", r->server),
					 detail,
					 "Set og_model.credentials_file, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN) in the server's environment.");
	if (resp->status == 403)
		OgRemoteFail(r, ERRCODE_INSUFFICIENT_PRIVILEGE,
					 psprintf("MLflow server %s denied access", r->server),
					 detail,
					 r->writing ?
					 "Grant the MLflow user that og_model authenticates as permission to create runs in the experiment and to edit the registered model." :
					 "Grant the MLflow user that og_model authenticates as READ permission on the registered model.");
	if (not_found &&
		(resp->status == 404 ||
		 (error_code && strcmp(error_code, "RESOURCE_DOES_NOT_EXIST") == 0) ||
		 (alias_lookup && resp->status == 400 && error_code &&
		  strcmp(error_code, "INVALID_PARAMETER_VALUE") == 0)))
		OgRemoteFail(r, not_found_code, not_found, detail, NULL);
	if (resp->status >= 400 && resp->status < 500)
		OgRemoteFail(r, ERRCODE_INVALID_PARAMETER_VALUE,
					 psprintf("MLflow server %s refused the request", r->server),
					 detail, NULL);
	OgRemoteFail(r, ERRCODE_CONNECTION_FAILURE,
				 psprintf("MLflow server %s failed", r->server), detail, NULL);
}

/* ----------------------------------------------------------- credentials */

static char *
OgTrim(char *s)
{
	char	   *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static void
OgCredentialsFromFile(OgRemote *r, const char *path)
{
	struct stat st;
	int			fd;
	char	   *buf;
	ssize_t		n;
	char	   *line;
	char	   *save = NULL;

	/* O_NONBLOCK: a FIFO in place of the file must not hang the backend */
	fd = OpenTransientFile(path, O_RDONLY | O_NONBLOCK | PG_BINARY);
	if (fd < 0)
	{
		int			err = errno;

		ereport(ERROR,
				(OgErrcodeForFile(err),
				 errmsg("could not open credentials file \"%s\" for model \"%s\": %m",
						OgEcho(path), r->src->model)));
	}
	if (fstat(fd, &st) != 0)
	{
		int			err = errno;

		CloseTransientFile(fd);
		errno = err;
		ereport(ERROR,
				(OgErrcodeForFile(err),
				 errmsg("could not stat credentials file \"%s\": %m", OgEcho(path))));
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
		(st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
	{
		CloseTransientFile(fd);
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("credentials file \"%s\" is not private to the database server's user",
						OgEcho(path)),
				 errdetail("The file must be a regular file owned by the server's user with mode 0600 (it has mode %04o).",
						   (unsigned) (st.st_mode & 07777)),
				 errhint("chown the file to the server's user and chmod 0600 it.")));
	}
	if (st.st_size > OG_MAX_CREDENTIALS_BYTES)
	{
		CloseTransientFile(fd);
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("credentials file \"%s\" is too large", OgEcho(path))));
	}
	buf = palloc0(st.st_size + 1);
	n = read(fd, buf, st.st_size);
	if (n < 0)
	{
		int			err = errno;

		CloseTransientFile(fd);
		errno = err;
		ereport(ERROR,
				(OgErrcodeForFile(err),
				 errmsg("could not read credentials file \"%s\": %m", OgEcho(path))));
	}
	CloseTransientFile(fd);
	buf[n] = '\0';

	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
	{
		char	   *eq;
		char	   *key;
		char	   *value;

		line = OgTrim(line);
		if (line[0] == '\0' || line[0] == '#' || line[0] == ';' || line[0] == '[')
			continue;
		eq = strchr(line, '=');
		if (eq == NULL)
			continue;
		*eq = '\0';
		key = OgTrim(line);
		value = OgTrim(eq + 1);
		if (pg_strcasecmp(key, "mlflow_tracking_token") == 0)
			r->cred.token = pstrdup(value);
		else if (pg_strcasecmp(key, "mlflow_tracking_username") == 0)
			r->cred.username = pstrdup(value);
		else if (pg_strcasecmp(key, "mlflow_tracking_password") == 0)
			r->cred.password = pstrdup(value);
	}
	explicit_bzero(buf, st.st_size + 1);
	pfree(buf);

	if (r->cred.token == NULL && r->cred.username == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("credentials file \"%s\" has no credentials", OgEcho(path)),
				 errdetail("Expected mlflow_tracking_token, or mlflow_tracking_username and mlflow_tracking_password.")));
}

/*
 * The profile named by og_model.config_file, or NULL when none is; in the
 * worker, the one it works with (a broken file it was reloaded with does
 * not stop it).  A profile that cannot be read is an error, or with
 * only_warn a WARNING and NULL.
 */
static OgConfig *
OgProfile(bool only_warn)
{
	MemoryContext cxt = CurrentMemoryContext;
	OgConfig   *volatile profile = NULL;

	if (OgWorkerProfile() != NULL)
		return OgWorkerProfile();
	if (og_config_file == NULL || og_config_file[0] == '\0')
		return NULL;
	/* unknown keys are reported by the worker and og_config_check() */
	if (!only_warn)
		return OgConfigRead(og_config_file, DEBUG1);
	PG_TRY();
	{
		profile = OgConfigRead(og_config_file, DEBUG1);
	}
	PG_CATCH();
	{
		OgWarnError(OgTakeError(cxt), "", "The credentials of the profile are not used.",
					"Check the profile with og_config_check().");
		profile = NULL;
	}
	PG_END_TRY();
	return profile;
}

/*
 * Credentials, in order: og_model.credentials_file; the environment
 * variables the profile names, when the server is the profile's; the
 * MLFLOW_TRACKING_* variables of the server.
 */
static void
OgCredentialsLoad(OgRemote *r, OgConfig *profile)
{
	const char *v;

	if (og_credentials_file && og_credentials_file[0])
	{
		OgCredentialsFromFile(r, og_credentials_file);
		return;
	}
	if (profile)
	{
		OgConfigCredentials(profile, &r->cred.token, &r->cred.username, &r->cred.password);
		if (r->cred.username && r->cred.password == NULL)
			r->cred.password = pstrdup("");
		if (r->cred.token || r->cred.username)
			return;
	}
	if ((v = getenv("MLFLOW_TRACKING_TOKEN")) != NULL && v[0])
		r->cred.token = pstrdup(v);
	if ((v = getenv("MLFLOW_TRACKING_USERNAME")) != NULL && v[0])
	{
		r->cred.username = pstrdup(v);
		v = getenv("MLFLOW_TRACKING_PASSWORD");
		r->cred.password = pstrdup(v ? v : "");
	}
}

/* Two tracking URIs name the same server (trailing slashes aside)? */
static bool
OgSameServer(const char *a, const char *b)
{
	size_t		na = strlen(a),
				nb = strlen(b);

	while (na > 0 && a[na - 1] == '/')
		na--;
	while (nb > 0 && b[nb - 1] == '/')
		nb--;
	return na == nb && strncmp(a, b, na) == 0;
}

/*
 * Point r at the tracking server (og_model.tracking_uri, else the
 * profile's), with its credentials; r->action says what for, in errors.
 * The profile is read only when it is needed: for the URI, or for the
 * credentials of its own server.
 */
static void
OgRemoteConnect(OgRemote *r)
{
	OgConfig   *profile = NULL;
	const char *uri = og_tracking_uri;
	size_t		n;

	if (uri == NULL || uri[0] == '\0')
		profile = OgProfile(false);
	else if (og_credentials_file == NULL || og_credentials_file[0] == '\0')
		profile = OgProfile(true);	/* for its credentials only */
	if ((uri == NULL || uri[0] == '\0') && profile)
		uri = profile->tracking_uri;
	if (uri == NULL || uri[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s: og_model.tracking_uri is not set", r->action),
				 errhint("Set og_model.tracking_uri to the MLflow tracking server, e.g. in postgresql.conf: og_model.tracking_uri = 'http://mlflow:5000', or tracking_uri in the profile named by og_model.config_file.")));
	/* the profile's credentials go to the profile's server only */
	if (profile && profile->tracking_uri && !OgSameServer(uri, profile->tracking_uri))
		profile = NULL;
	r->base = pstrdup(uri);
	n = strlen(r->base);
	while (n > 0 && r->base[n - 1] == '/')
		r->base[--n] = '\0';
	r->server = OgRedactUrl(r->base);
	OgCredentialsLoad(r, profile);
}

/* ------------------------------------------------------------------ REST */

/*
 * Credentials go only to the tracking server itself: a download location
 * elsewhere (a presigned object-store URL) gets none.
 */
static const OgCredentials *
OgRemoteCredentialsFor(OgRemote *r, const char *url)
{
	const char *host = strstr(r->base, "://");
	size_t		origin;

	if (host == NULL)
		return NULL;
	host += 3;
	origin = (host - r->base) + strcspn(host, "/");
	if (strncmp(url, r->base, origin) == 0 &&
		(url[origin] == '/' || url[origin] == '\0'))
		return &r->cred;
	return NULL;
}

/* GET url; any HTTP answer, or an error when none came. */
static OgHttpResponse *
OgRemoteFetch(OgRemote *r, const char *url, Size max, const char *limit_name)
{
	OgHttpResponse *resp = palloc0(sizeof(OgHttpResponse));

	OgHttpGet(url, OgRemoteCredentialsFor(r, url), max, resp);
	OgRemoteCheckTransport(r, resp, url, max, limit_name);
	return resp;
}

/* GET url; the body of a 200 answer, else an error. */
static OgHttpResponse *
OgRemoteGet(OgRemote *r, const char *url, Size max, const char *limit_name,
			const char *not_found, int not_found_code, bool alias_lookup)
{
	OgHttpResponse *resp = OgRemoteFetch(r, url, max, limit_name);

	if (resp->status != 200)
		OgRemoteHttpError(r, resp, url, not_found, not_found_code, alias_lookup);
	return resp;
}

/* A JSON answer of the REST API; the caller deletes it (PG_FINALLY). */
static cJSON *
OgRemoteJson(OgRemote *r, const char *path, const char *not_found,
			 bool alias_lookup)
{
	char	   *url = psprintf("%s%s", r->base, path);
	OgHttpResponse *resp = OgRemoteGet(r, url, OG_MAX_API_BYTES, NULL,
									   not_found, ERRCODE_UNDEFINED_OBJECT,
									   alias_lookup);
	cJSON	   *json = cJSON_ParseWithLength(resp->body, resp->len);

	if (json == NULL || !cJSON_IsObject(json))
	{
		if (json)
			cJSON_Delete(json);
		OgRemoteFail(r, ERRCODE_PROTOCOL_VIOLATION,
					 psprintf("MLflow server %s sent an invalid JSON answer", r->server),
					 psprintf("%s %s answered HTTP 200 with %zu bytes that are not a JSON object.",
							  r->method ? r->method : "GET", OgRemoteWhere(r, url), resp->len),
					 "Check that og_model.tracking_uri points at an MLflow tracking server.");
	}
	return json;
}

static const char *
OgJsonField(OgRemote *r, const cJSON *obj, const char *key, bool required)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (cJSON_IsString(item))
		return item->valuestring;
	if (required)
		OgRemoteFail(r, ERRCODE_PROTOCOL_VIOLATION,
					 psprintf("MLflow server %s sent an answer without \"%s\"", r->server, key),
					 NULL, NULL);
	return NULL;
}

/* Take version, source, run_id from a model_version object; check READY. */
static void
OgRemoteUseVersion(OgRemote *r, const cJSON *mv)
{
	const char *status;

	if (!cJSON_IsObject(mv))
		OgRemoteFail(r, ERRCODE_PROTOCOL_VIOLATION,
					 psprintf("MLflow server %s sent an answer without \"model_version\"", r->server),
					 NULL, NULL);
	r->version = pstrdup(OgJsonField(r, mv, "version", true));
	status = OgJsonField(r, mv, "status", false);
	if (status && strcmp(status, "READY") != 0)
		OgRemoteFail(r, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
					 psprintf("version %s of registered model \"%s\" is %s, not READY",
							  OgEcho(r->version), OgEcho(r->registry_name), OgEcho(status)),
					 psprintf("MLflow server %s.", r->server),
					 "Load it when MLflow has finished registering it.");
	if (OgJsonField(r, mv, "source", false))
		r->src->uri = pstrdup(OgJsonField(r, mv, "source", false));
	if (OgJsonField(r, mv, "run_id", false) && OgJsonField(r, mv, "run_id", false)[0])
		r->src->run_id = pstrdup(OgJsonField(r, mv, "run_id", false));
	r->src->version = r->version;
}

/* Ask for one model_version object and take it. */
static void
OgRemoteResolveOne(OgRemote *r, const char *path, const char *not_found,
				   bool alias_lookup)
{
	cJSON	   *volatile json = NULL;

	PG_TRY();
	{
		json = OgRemoteJson(r, path, not_found, alias_lookup);
		OgRemoteUseVersion(r, cJSON_GetObjectItemCaseSensitive(json, "model_version"));
	}
	PG_FINALLY();
	{
		if (json)
			cJSON_Delete(json);
	}
	PG_END_TRY();
}

static void
OgRemoteResolveVersion(OgRemote *r, const char *version)
{
	r->version = pstrdup(version);
	OgRemoteResolveOne(r,
					   psprintf("/api/2.0/mlflow/model-versions/get?name=%s&version=%s",
								OgUrlEscape(r->registry_name), OgUrlEscape(version)),
					   psprintf("version %s of registered model \"%s\" does not exist",
								OgEcho(version), OgEcho(r->registry_name)),
					   false);
}

static void
OgRemoteResolveAlias(OgRemote *r, const char *alias)
{
	OgRemoteResolveOne(r,
					   psprintf("/api/2.0/mlflow/registered-models/alias?name=%s&alias=%s",
								OgUrlEscape(r->registry_name), OgUrlEscape(alias)),
					   psprintf("alias \"%s\" of registered model \"%s\" does not exist",
								OgEcho(alias), OgEcho(r->registry_name)),
					   true);
}

/* The highest version whose status is READY. */
static void
OgRemoteResolveLatest(OgRemote *r)
{
	cJSON	   *volatile json = NULL;
	char	   *page_token = NULL;
	int64		best = -1;
	int			seen = 0;
	int			pages = 0;
	char	   *name_q;

	if (strchr(r->registry_name, '\'') != NULL)
		OgRemoteFail(r, ERRCODE_FEATURE_NOT_SUPPORTED,
					 "\"latest\" cannot be resolved for a registered model name containing a quote",
					 NULL, "Load a version number or an alias instead.");

	/* a clear error when the registered model itself does not exist */
	PG_TRY();
	{
		json = OgRemoteJson(r,
							psprintf("/api/2.0/mlflow/registered-models/get?name=%s",
									 OgUrlEscape(r->registry_name)),
							psprintf("registered model \"%s\" does not exist", OgEcho(r->registry_name)),
							false);
	}
	PG_FINALLY();
	{
		if (json)
			cJSON_Delete(json);
		json = NULL;
	}
	PG_END_TRY();

	name_q = OgUrlEscape(psprintf("name='%s'", r->registry_name));
	do
	{
		PG_TRY();
		{
			const cJSON *versions;
			const cJSON *mv;
			const char *next;

			json = OgRemoteJson(r,
								psprintf("/api/2.0/mlflow/model-versions/search?filter=%s&max_results=200%s%s",
										 name_q, page_token ? "&page_token=" : "",
										 page_token ? OgUrlEscape(page_token) : ""),
								psprintf("registered model \"%s\" does not exist", OgEcho(r->registry_name)),
								false);
			versions = cJSON_GetObjectItemCaseSensitive(json, "model_versions");
			cJSON_ArrayForEach(mv, versions)
			{
				const char *v = OgJsonField(r, mv, "version", true);
				const char *status = OgJsonField(r, mv, "status", false);
				char	   *end;
				long long	num = strtoll(v, &end, 10);

				seen++;
				if (*end == '\0' && status && strcmp(status, "READY") == 0 && num > best)
					best = num;
			}
			next = OgJsonField(r, json, "next_page_token", false);
			page_token = (next && next[0]) ? pstrdup(next) : NULL;
		}
		PG_FINALLY();
		{
			if (json)
				cJSON_Delete(json);
			json = NULL;
		}
		PG_END_TRY();
		CHECK_FOR_INTERRUPTS();
	} while (page_token != NULL && ++pages < 1000);

	if (best < 0)
		OgRemoteFail(r, seen ? ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE : ERRCODE_UNDEFINED_OBJECT,
					 psprintf("registered model \"%s\" has no READY version", OgEcho(r->registry_name)),
					 psprintf("MLflow server %s lists %d versions.", r->server, seen), NULL);
	OgRemoteResolveVersion(r, psprintf(INT64_FORMAT, best));
}

/* mlflow-artifacts:[//authority]/path -> path, else NULL */
static const char *
OgProxiedPath(const char *uri)
{
	const char *p;

	if (strncmp(uri, "mlflow-artifacts:", 17) != 0)
		return NULL;
	p = uri + 17;
	if (strncmp(p, "//", 2) == 0)
	{
		p = strchr(p + 2, '/');
		if (p == NULL)
			return "";
	}
	while (*p == '/')
		p++;
	return p;
}

/* Escape each component of a path, keeping the slashes. */
static char *
OgPathEscape(const char *path)
{
	StringInfoData s;
	char	   *copy = pstrdup(path);
	char	   *part;
	char	   *save = NULL;
	bool		first = true;

	initStringInfo(&s);
	for (part = strtok_r(copy, "/", &save); part; part = strtok_r(NULL, "/", &save))
	{
		appendStringInfo(&s, "%s%s", first ? "" : "/", OgUrlEscape(part));
		first = false;
	}
	return s.data;
}

/* Where the files are when /model-versions/get-artifact is unavailable. */
static void
OgRemoteFindArtifactRoot(OgRemote *r, const char *location)
{
	const char *proxied = OgProxiedPath(location);
	const char *path = proxied;

	/* the path of an http(s) location, without its query */
	if (path == NULL && strstr(location, "://") != NULL)
	{
		const char *host = strstr(location, "://") + 3;

		path = pnstrdup(host + strcspn(host, "/?#"),
						strcspn(host + strcspn(host, "/?#"), "?#"));
	}
	if (path && OgPathHasDotSegment(path))
		OgRemoteFail(r, ERRCODE_PROTOCOL_VIOLATION,
					 psprintf("MLflow server %s named the artifact location %s, which has a \".\" or \"..\" path segment",
							  r->server, OgRedactUrl(location)),
					 NULL,
					 "Check the model version's source or the run's artifact location in MLflow.");

	if (proxied != NULL)
		r->artifact_root = psprintf("%s/api/2.0/mlflow-artifacts/artifacts/%s",
									r->base, OgPathEscape(proxied));
	else if (strncmp(location, "http://", 7) == 0 || strncmp(location, "https://", 8) == 0)
		r->artifact_root = pstrdup(location);
	else
		OgRemoteFail(r, ERRCODE_FEATURE_NOT_SUPPORTED,
					 psprintf("the artifacts at %s cannot be downloaded over HTTP",
							  OgRedactUrl(location)),
					 psprintf("MLflow server %s.", r->server),
					 "Run the MLflow server with proxied artifact access (mlflow server --serve-artifacts, the default).");
}

static void
OgRemoteUseDownloadUri(OgRemote *r)
{
	cJSON	   *volatile json = NULL;

	PG_TRY();
	{
		json = OgRemoteJson(r,
							psprintf("/api/2.0/mlflow/model-versions/get-download-uri?name=%s&version=%s",
									 OgUrlEscape(r->registry_name), OgUrlEscape(r->version)),
							psprintf("version %s of registered model \"%s\" does not exist",
									 OgEcho(r->version), OgEcho(r->registry_name)),
							false);
		OgRemoteFindArtifactRoot(r, OgJsonField(r, json, "artifact_uri", true));
	}
	PG_FINALLY();
	{
		if (json)
			cJSON_Delete(json);
	}
	PG_END_TRY();
	r->use_download_uri = true;
}

/* Is this answer MLflow's "no such artifact"? */
static bool
OgIsMissingArtifact(const OgHttpResponse *resp)
{
	cJSON	   *json;
	bool		missing = false;

	if (resp->status != 404)
		return false;
	json = cJSON_ParseWithLength(resp->body, resp->len);
	if (json)
	{
		const cJSON *ec = cJSON_GetObjectItemCaseSensitive(json, "error_code");

		missing = cJSON_IsString(ec) && strcmp(ec->valuestring, "RESOURCE_DOES_NOT_EXIST") == 0;
		cJSON_Delete(json);
	}
	return missing;
}

static char *
OgRemoteMissing(OgRemote *r, const char *relpath)
{
	if (r->registry_name)
		return psprintf("file \"%s\" of version %s of registered model \"%s\" does not exist",
						OgEcho(relpath), OgEcho(r->version), OgEcho(r->registry_name));
	return psprintf("file \"%s\" of the run's model does not exist", OgEcho(relpath));
}

/* OgSourceRead for MLflow sources. */
static char *
OgRemoteRead(OgSource *src, const char *relpath, Size max,
			 const char *limit_name, Size *len)
{
	OgRemote   *r = (OgRemote *) src->priv;
	OgHttpResponse *resp;
	char	   *url;

	if (r->registry_name && !r->use_download_uri)
	{
		url = psprintf("%s/model-versions/get-artifact?name=%s&version=%s&path=%s",
					   r->base, OgUrlEscape(r->registry_name), OgUrlEscape(r->version),
					   OgUrlEscape(relpath));
		resp = OgRemoteFetch(r, url, max, limit_name);
		if (resp->status == 200)
		{
			*len = resp->len;
			return resp->body;
		}
		if (resp->status == 401 || resp->status == 403)
			OgRemoteHttpError(r, resp, url, NULL, 0, false);
		if (OgIsMissingArtifact(resp))
			OgRemoteHttpError(r, resp, url, OgRemoteMissing(r, relpath),
							  ERRCODE_UNDEFINED_FILE, false);
		/* an MLflow without the route: find the files another way */
		OgRemoteUseDownloadUri(r);
	}

	url = psprintf("%s/%s", r->artifact_root, OgPathEscape(relpath));
	resp = OgRemoteGet(r, url, max, limit_name, OgRemoteMissing(r, relpath),
					   ERRCODE_UNDEFINED_FILE, false);
	*len = resp->len;
	return resp->body;
}

static void
OgRemoteResolveRun(OgRemote *r, const char *run_id, const char *path)
{
	cJSON	   *volatile json = NULL;

	PG_TRY();
	{
		const cJSON *run;
		const cJSON *info;
		const char *root;

		json = OgRemoteJson(r,
							psprintf("/api/2.0/mlflow/runs/get?run_id=%s", OgUrlEscape(run_id)),
							psprintf("run \"%s\" does not exist", OgEcho(run_id)),
							false);
		run = cJSON_GetObjectItemCaseSensitive(json, "run");
		info = cJSON_GetObjectItemCaseSensitive(run, "info");
		root = OgJsonField(r, info, "artifact_uri", true);
		r->src->uri = psprintf("%s/%s", root, path);
		OgRemoteFindArtifactRoot(r, r->src->uri);
	}
	PG_FINALLY();
	{
		if (json)
			cJSON_Delete(json);
	}
	PG_END_TRY();
	r->src->run_id = pstrdup(run_id);
}

static void
OgBadRef(OgRemote *r, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid reference \"%s\" for model \"%s\"", OgEcho(r->src->ref), r->src->model),
			 errdetail("%s", why),
			 errhint("Use a version ('7'), an alias ('@champion'), 'latest', 'models:/name/7', 'models:/name@alias', 'runs:/<run_id>/<path>' or 'file:///path'.")));
}

bool
OgIsVersionNumber(const char *s)
{
	size_t		n = strlen(s);

	return n > 0 && n <= 18 && strspn(s, "0123456789") == n;
}

/*
 * The MLflow registered model that a model loaded under name by ref
 * belongs to, or NULL (a run's or a directory's files).
 */
char *
OgRegistryModelOf(const char *name, const char *ref)
{
	char	   *rest;
	char	   *at;
	char	   *slash;

	if (ref == NULL || strncmp(ref, "file:", 5) == 0 || strncmp(ref, "runs:/", 6) == 0)
		return NULL;
	if (strncmp(ref, "models:/", 8) != 0)
		return pstrdup(name);
	rest = pstrdup(ref + 8);
	at = strrchr(rest, '@');
	slash = strrchr(rest, '/');
	if (at)
		*at = '\0';
	else if (slash)
		*slash = '\0';
	return rest;
}

/*
 * Resolve a non-file reference: fill src (version, run, source URI) and
 * set src->read to download the model's files.
 */
void
OgRegistryResolve(OgSource *src)
{
	OgRemote   *r = palloc0(sizeof(OgRemote));
	const char *ref = src->ref;
	char	   *version = NULL;
	char	   *alias = NULL;
	bool		latest = false;

	r->src = src;
	r->action = psprintf("cannot load model \"%s\" from \"%s\"", src->model, OgEcho(ref));
	src->priv = r;
	src->read = OgRemoteRead;

	if (strncmp(ref, "models:/", 8) == 0)
	{
		char	   *rest = pstrdup(ref + 8);
		char	   *at = strrchr(rest, '@');
		char	   *slash = strrchr(rest, '/');

		if (at)
		{
			*at = '\0';
			alias = at + 1;
		}
		else if (slash)
		{
			*slash = '\0';
			version = slash + 1;
			if (strcmp(version, "latest") == 0)
			{
				latest = true;
				version = NULL;
			}
		}
		r->registry_name = rest;
		if (rest[0] == '\0' || (!alias && !version && !latest))
			OgBadRef(r, "A models:/ URI names a registered model and a version or an alias: models:/name/7 or models:/name@alias.");
	}
	else if (strncmp(ref, "runs:/", 6) == 0)
	{
		char	   *rest = pstrdup(ref + 6);
		char	   *slash = strchr(rest, '/');

		if (slash == NULL || slash == rest || slash[1] == '\0')
			OgBadRef(r, "A runs:/ URI names a run and the model's path among its artifacts: runs:/<run_id>/model.");
		*slash = '\0';
		r->src->run_id = rest;
	}
	else if (ref[0] == '@')
	{
		r->registry_name = pstrdup(src->model);
		alias = pstrdup(ref + 1);
	}
	else if (strcmp(ref, "latest") == 0)
	{
		r->registry_name = pstrdup(src->model);
		latest = true;
	}
	else if (OgIsVersionNumber(ref))
	{
		r->registry_name = pstrdup(src->model);
		version = pstrdup(ref);
	}
	else
		OgBadRef(r, "The reference is not a version, an alias, \"latest\" or a URI og_model reads.");

	if (alias && alias[0] == '\0')
		OgBadRef(r, "The alias is empty.");
	if (version && !OgIsVersionNumber(version))
		OgBadRef(r, "A version is a number.");
	/* names and paths go into URLs: no segment may lead elsewhere */
	if ((r->registry_name && OgPathHasDotSegment(r->registry_name)) ||
		(alias && OgPathHasDotSegment(alias)) ||
		(r->registry_name == NULL && OgPathHasDotSegment(ref + 6)))
		OgBadRef(r, "The reference has a \".\" or \"..\" path segment.");

	OgRemoteConnect(r);

	if (r->registry_name == NULL)
	{
		char	   *path = strchr(ref + 6, '/') + 1;

		OgRemoteResolveRun(r, src->run_id, path);
	}
	else if (alias)
		OgRemoteResolveAlias(r, alias);
	else if (latest)
		OgRemoteResolveLatest(r);
	else
		OgRemoteResolveVersion(r, version);
}

/*
 * Log metrics to an MLflow run (runs/log-batch) on og_model.tracking_uri,
 * with the same credentials as loads.  Raises an ERROR naming the model
 * when the server cannot be reached or refuses.
 */
void
OgRegistryLogMetrics(const char *model, const char *run_id, int n,
					 const char *const *keys, const double *values)
{
	OgRemote   *r = palloc0(sizeof(OgRemote));
	OgSource	src;
	OgHttpResponse resp;
	cJSON	   *volatile body = NULL;
	char	   *json = NULL;
	char	   *url;
	/* milliseconds since 1970, as MLflow timestamps are */
	int64		now_ms = GetCurrentTimestamp() / 1000 +
		(int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000;

	memset(&src, 0, sizeof(src));
	src.model = model;
	src.ref = run_id;
	r->src = &src;
	r->action = psprintf("cannot log metrics of model \"%s\"", model);
	OgRemoteConnect(r);

	PG_TRY();
	{
		cJSON	   *metrics;
		int			i;

		body = cJSON_CreateObject();
		if (body == NULL ||
			cJSON_AddStringToObject(body, "run_id", run_id) == NULL ||
			(metrics = cJSON_AddArrayToObject(body, "metrics")) == NULL)
			elog(ERROR, "out of memory");
		for (i = 0; i < n; i++)
		{
			cJSON	   *m = cJSON_CreateObject();
			char		value[40];
			char		stamp[32];

			/*
			 * cJSON prints numbers with 15 digits when that reads back
			 * nearly equal; 17 digits give back the very same double.
			 */
			snprintf(value, sizeof(value), "%.17g", values[i]);
			snprintf(stamp, sizeof(stamp), INT64_FORMAT, now_ms);
			if (m == NULL || !cJSON_AddItemToArray(metrics, m) ||
				cJSON_AddStringToObject(m, "key", keys[i]) == NULL ||
				cJSON_AddRawToObject(m, "value", value) == NULL ||
				cJSON_AddRawToObject(m, "timestamp", stamp) == NULL ||
				cJSON_AddNumberToObject(m, "step", 0) == NULL)
				elog(ERROR, "out of memory");
		}
		json = cJSON_PrintUnformatted(body);
		if (json == NULL)
			elog(ERROR, "out of memory");
	}
	PG_FINALLY();
	{
		if (body)
			cJSON_Delete(body);
	}
	PG_END_TRY();

	url = psprintf("%s/api/2.0/mlflow/runs/log-batch", r->base);
	OgHttpPostJson(url, OgRemoteCredentialsFor(r, url), json, OG_MAX_API_BYTES, &resp);
	cJSON_free(json);
	if (resp.outcome != OG_HTTP_OK)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("cannot log metrics of model \"%s\" to MLflow run %s",
						model, run_id),
				 errdetail_internal("POST %s/api/2.0/mlflow/runs/log-batch failed: %s",
									r->server, resp.error)));
	if (resp.status != 200)
		ereport(ERROR,
				(errcode(resp.status == 401 ? ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION :
						 resp.status == 403 ? ERRCODE_INSUFFICIENT_PRIVILEGE :
						 resp.status == 404 ? ERRCODE_UNDEFINED_OBJECT :
						 ERRCODE_CONNECTION_FAILURE),
				 errmsg("cannot log metrics of model \"%s\" to MLflow run %s",
						model, run_id),
				 errdetail_internal("MLflow server %s answered POST /api/2.0/mlflow/runs/log-batch with HTTP %ld: %s",
									r->server, resp.status, OgBodyExcerpt(&resp)),
				 resp.status == 403 ?
				 errhint("Grant the MLflow user that og_model authenticates as EDIT permission on the run's experiment.") : 0));
}

/* ------------------------------------------------------------- writing */

/*
 * A remote for a request that is not a load: r points at the tracking
 * server for action (the start of error messages, about model).
 */
static OgRemote *
OgRemoteOpen(const char *model, const char *action, bool writing)
{
	OgRemote   *r = palloc0(sizeof(OgRemote));
	OgSource   *src = palloc0(sizeof(OgSource));

	src->model = model;
	src->ref = "";
	r->src = src;
	r->action = action;
	r->writing = writing;
	OgRemoteConnect(r);
	return r;
}

/* The string at a dotted key path ("run.info.run_id") of obj, or NULL. */
static const char *
OgJsonPathString(const cJSON *obj, const char *path)
{
	char	   *copy = pstrdup(path);
	char	   *save = NULL;
	char	   *key;

	for (key = strtok_r(copy, ".", &save); key && obj; key = strtok_r(NULL, ".", &save))
		obj = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (cJSON_IsString(obj))
		return obj->valuestring;
	return NULL;
}

/*
 * Send a JSON body (or none for a GET) to the REST API path.  An answer
 * with MLflow error code tolerate (or, when not_found, a "does not exist"
 * answer) gives false; other errors raise.  On success, out[i] is the
 * string at key path keys[i] of the answer (a missing one is an error).
 */
static bool
OgRemoteCall(OgRemote *r, const char *method, const char *path,
			 const char *json, const char *tolerate, bool not_found,
			 int n, const char *const *keys, char **out)
{
	char	   *url = psprintf("%s%s", r->base, path);
	OgHttpResponse resp;
	cJSON	   *volatile answer = NULL;
	bool		ok = true;

	r->method = method;
	/* MLflow reads UTF-8, whatever the database's encoding */
	if (json)
		json = pg_server_to_any(json, strlen(json), PG_UTF8);
	OgHttpSend(method, url, OgRemoteCredentialsFor(r, url), json,
			   json ? strlen(json) : 0, "application/json", OG_MAX_API_BYTES, &resp);
	OgRemoteCheckTransport(r, &resp, url, OG_MAX_API_BYTES, NULL);
	PG_TRY();
	{
		answer = cJSON_ParseWithLength(resp.body, resp.len);
		if (resp.status != 200)
		{
			const cJSON *ec = answer ? cJSON_GetObjectItemCaseSensitive(answer, "error_code") : NULL;
			bool		missing = resp.status == 404 ||
				(cJSON_IsString(ec) && strcmp(ec->valuestring, "RESOURCE_DOES_NOT_EXIST") == 0);

			if ((tolerate && cJSON_IsString(ec) && strcmp(ec->valuestring, tolerate) == 0) ||
				(not_found && missing))
				ok = false;
			else
				OgRemoteHttpError(r, &resp, url, NULL, 0, false);
		}
		else
		{
			int			i;

			if (n > 0 && !cJSON_IsObject(answer))
				OgRemoteFail(r, ERRCODE_PROTOCOL_VIOLATION,
							 psprintf("MLflow server %s sent an invalid JSON answer", r->server),
							 psprintf("%s %s answered HTTP 200 with %zu bytes that are not a JSON object.",
									  method, OgRemoteWhere(r, url), resp.len),
							 "Check that og_model.tracking_uri points at an MLflow tracking server.");
			for (i = 0; i < n; i++)
			{
				const char *v = OgJsonPathString(answer, keys[i]);

				if (v == NULL)
					OgRemoteFail(r, ERRCODE_PROTOCOL_VIOLATION,
								 psprintf("MLflow server %s sent an answer without \"%s\"",
										  r->server, keys[i]),
								 psprintf("%s %s.", method, OgRemoteWhere(r, url)), NULL);
				out[i] = pstrdup(v);
			}
		}
	}
	PG_FINALLY();
	{
		if (answer)
			cJSON_Delete(answer);
	}
	PG_END_TRY();
	r->method = NULL;
	return ok;
}

/* A JSON document built with cJSON, as palloc'd text; deletes doc. */
static char *
OgJsonText(cJSON *doc)
{
	char	   *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
	char	   *copy;

	if (doc)
		cJSON_Delete(doc);
	if (text == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	copy = pstrdup(text);
	cJSON_free(text);
	return copy;
}

/* {"k1": "v1", ...} from n pairs (a NULL value is left out). */
static char *
OgJsonObject(int n, const char *const *pairs)
{
	StringInfoData s;
	int			i;
	bool		first = true;

	initStringInfo(&s);
	appendStringInfoChar(&s, '{');
	for (i = 0; i < n; i++)
	{
		if (pairs[2 * i + 1] == NULL)
			continue;
		if (!first)
			appendStringInfoChar(&s, ',');
		escape_json(&s, pairs[2 * i]);
		appendStringInfoChar(&s, ':');
		escape_json(&s, pairs[2 * i + 1]);
		first = false;
	}
	appendStringInfoChar(&s, '}');
	return s.data;
}

static int64
OgNowMs(void)
{
	/* milliseconds since 1970, as MLflow timestamps are */
	return GetCurrentTimestamp() / 1000 +
		(int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000;
}

/*
 * Create the run of rec: the experiment rec->experiment (created when
 * missing), a run in it with rec->run_name and tags saying og_model made
 * it.  Sets rec->experiment_id, run_id, artifact_uri.
 */
void
OgRegistryStartRun(OgRunRecord *rec)
{
	OgRemote   *r = OgRemoteOpen(rec->model,
									   psprintf("cannot register model \"%s\" in MLflow", rec->model), true);
	const char *exp_key[] = {"experiment.experiment_id"};
	const char *id_key[] = {"experiment_id"};
	const char *run_key[] = {"run.info.run_id"};
	const char *uri_key[] = {"run.info.artifact_uri"};
	char	   *out[1] = {NULL};
	char	   *body;
	cJSON	   *doc;
	cJSON	   *tags;
	int			attempt;

	/* get or create the experiment; a concurrent creator may win the race */
	for (attempt = 0;; attempt++)
	{
		const char *pair[] = {"name", rec->experiment};

		if (OgRemoteCall(r, "GET",
						 psprintf("/api/2.0/mlflow/experiments/get-by-name?experiment_name=%s",
								  OgUrlEscape(rec->experiment)),
						 NULL, NULL, true, 1, exp_key, out))
			break;
		if (OgRemoteCall(r, "POST", "/api/2.0/mlflow/experiments/create",
						 OgJsonObject(1, pair), "RESOURCE_ALREADY_EXISTS", false,
						 1, id_key, out) || attempt > 0)
			break;
	}
	if (out[0] == NULL)
		OgRemoteFail(r, ERRCODE_PROTOCOL_VIOLATION,
					 psprintf("MLflow server %s neither finds nor creates experiment \"%s\"",
							  r->server, rec->experiment),
					 NULL, NULL);
	rec->experiment_id = out[0];

	doc = cJSON_CreateObject();
	tags = doc ? cJSON_AddArrayToObject(doc, "tags") : NULL;
	if (tags == NULL ||
		cJSON_AddStringToObject(doc, "experiment_id", rec->experiment_id) == NULL ||
		cJSON_AddStringToObject(doc, "run_name", rec->run_name) == NULL ||
		cJSON_AddNumberToObject(doc, "start_time", (double) OgNowMs()) == NULL)
	{
		if (doc)
			cJSON_Delete(doc);
		doc = NULL;
	}
	else
	{
		const char *const tag[][2] = {
			{"mlflow.source.name", "og_model"},
			{"mlflow.source.type", "JOB"},
			{"mlflow.user", GetUserNameFromId(GetUserId(), false)},
			{"og_model.database", get_database_name(MyDatabaseId)},
		};
		int			i;

		for (i = 0; i < lengthof(tag); i++)
		{
			cJSON	   *t = cJSON_CreateObject();

			if (t == NULL || !cJSON_AddItemToArray(tags, t) ||
				cJSON_AddStringToObject(t, "key", tag[i][0]) == NULL ||
				cJSON_AddStringToObject(t, "value", tag[i][1] ? tag[i][1] : "") == NULL)
			{
				cJSON_Delete(doc);
				doc = NULL;
				break;
			}
		}
	}
	body = OgJsonText(doc);
	OgRemoteCall(r, "POST", "/api/2.0/mlflow/runs/create", body, NULL, false, 1, run_key, out);
	/* known from here on: a failure ends the run FAILED */
	rec->run_id = out[0];
	OgRemoteCall(r, "GET",
				 psprintf("/api/2.0/mlflow/runs/get?run_id=%s", OgUrlEscape(rec->run_id)),
				 NULL, NULL, false, 1, uri_key, out);
	rec->artifact_uri = out[0];
}

/* params and metrics of rec in one runs/log-batch */
static void
OgRemoteLogBatch(OgRemote *r, const OgRunRecord *rec)
{
	StringInfoData s;
	int64		now = OgNowMs();
	int			i;

	initStringInfo(&s);
	appendStringInfoString(&s, "{\"run_id\":");
	escape_json(&s, rec->run_id);
	appendStringInfoString(&s, ",\"params\":[");
	for (i = 0; i < rec->n_params; i++)
	{
		appendStringInfoString(&s, i ? ",{\"key\":" : "{\"key\":");
		escape_json(&s, rec->param_keys[i]);
		appendStringInfoString(&s, ",\"value\":");
		escape_json(&s, rec->param_values[i]);
		appendStringInfoChar(&s, '}');
	}
	appendStringInfoString(&s, "],\"metrics\":[");
	for (i = 0; i < rec->n_metrics; i++)
	{
		appendStringInfoString(&s, i ? ",{\"key\":" : "{\"key\":");
		escape_json(&s, rec->metric_keys[i]);
		/* 17 digits give back the very same double */
		appendStringInfo(&s, ",\"value\":%.17g,\"timestamp\":" INT64_FORMAT ",\"step\":0}",
						 rec->metric_values[i], now);
	}
	appendStringInfoString(&s, "]}");
	OgRemoteCall(r, "POST", "/api/2.0/mlflow/runs/log-batch", s.data, NULL, false,
				 0, NULL, NULL);
}

/*
 * Log rec's params and metrics, upload its files under <artifact_uri>/model
 * through the server's proxied artifact API, end the run FINISHED and
 * register the directory as a new version of registered model rec->model
 * (created when missing).  Sets rec->version.
 */
void
OgRegistryCompleteRun(OgRunRecord *rec)
{
	OgRemote   *r = OgRemoteOpen(rec->model,
									   psprintf("cannot register model \"%s\" in MLflow", rec->model), true);
	const char *proxied = OgProxiedPath(rec->artifact_uri);
	const char *version_keys[] = {"model_version.version", "model_version.status"};
	const char *status_key[] = {"model_version.status"};
	char	   *out[2] = {NULL, NULL};
	char	   *model_uri;
	int			i;

	if (proxied == NULL)
		OgRemoteFail(r, ERRCODE_FEATURE_NOT_SUPPORTED,
					 psprintf("MLflow server %s does not proxy artifacts", r->server),
					 psprintf("The run's artifact location is %s.", OgRedactUrl(rec->artifact_uri)),
					 "Run the MLflow server with proxied artifact access (mlflow server --serve-artifacts, the default), so og_model can upload the model files.");

	OgRemoteLogBatch(r, rec);

	for (i = 0; i < rec->n_files; i++)
	{
		char	   *url = psprintf("%s/api/2.0/mlflow-artifacts/artifacts/%s/model/%s",
								   r->base, OgPathEscape(proxied), OgUrlEscape(rec->files[i].name));
		OgHttpResponse resp;
		/* text files, written in UTF-8 */
		const char *data = pg_server_to_any(rec->files[i].data, rec->files[i].len, PG_UTF8);

		r->method = "PUT";
		OgHttpSend("PUT", url, OgRemoteCredentialsFor(r, url), data,
				   strlen(data), rec->files[i].content_type, OG_MAX_API_BYTES, &resp);
		OgRemoteCheckTransport(r, &resp, url, OG_MAX_API_BYTES, NULL);
		if (resp.status != 200)
			OgRemoteHttpError(r, &resp, url, NULL, 0, false);
		r->method = NULL;
		CHECK_FOR_INTERRUPTS();
	}

	{
		const char *pair[] = {"run_id", rec->run_id, "status", "FINISHED",
		"end_time", psprintf(INT64_FORMAT, OgNowMs())};

		OgRemoteCall(r, "POST", "/api/2.0/mlflow/runs/update", OgJsonObject(3, pair),
					 NULL, false, 0, NULL, NULL);
	}
	{
		const char *pair[] = {"name", rec->model};

		OgRemoteCall(r, "POST", "/api/2.0/mlflow/registered-models/create",
					 OgJsonObject(1, pair), "RESOURCE_ALREADY_EXISTS", false, 0, NULL, NULL);
	}

	/*
	 * The source is the run's own artifact location: MLflow serves a
	 * version's files (get-artifact) from it, not from a runs:/ URI.
	 */
	model_uri = psprintf("%s/model", rec->artifact_uri);
	{
		const char *pair[] = {"name", rec->model, "source", model_uri,
		"run_id", rec->run_id, "description", rec->description};

		OgRemoteCall(r, "POST", "/api/2.0/mlflow/model-versions/create",
					 OgJsonObject(4, pair), NULL, false, 2, version_keys, out);
	}
	rec->version = out[0];

	/* a server that registers asynchronously: wait until READY (up to 30 s) */
	for (i = 0;; i++)
	{
		if (strcmp(out[1], "FAILED_REGISTRATION") == 0)
			OgRemoteFail(r, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						 psprintf("MLflow server %s failed to register version %s", r->server,
								  rec->version),
						 NULL, NULL);
		if (strcmp(out[1], "READY") == 0)
			break;
		if (i == 120)
			OgRemoteFail(r, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						 psprintf("version %s is still %s after 30 s", rec->version, out[1]),
						 psprintf("MLflow server %s.", r->server), NULL);
		pg_usleep(250 * 1000L);
		CHECK_FOR_INTERRUPTS();
		OgRemoteCall(r, "GET",
					 psprintf("/api/2.0/mlflow/model-versions/get?name=%s&version=%s",
							  OgUrlEscape(rec->model), OgUrlEscape(rec->version)),
					 NULL, NULL, false, 1, status_key, &out[1]);
	}
}

/*
 * Mark rec's run FAILED after an error; best effort, never raises (it is
 * called while an error is being handled).
 */
void
OgRegistryFailRun(OgRunRecord *rec)
{
	MemoryContext cxt = CurrentMemoryContext;

	if (rec->run_id == NULL)
		return;
	PG_TRY();
	{
		OgRemote   *r = OgRemoteOpen(rec->model, "cannot end run", true);
		const char *pair[] = {"run_id", rec->run_id, "status", "FAILED",
		"end_time", psprintf(INT64_FORMAT, OgNowMs())};

		OgRemoteCall(r, "POST", "/api/2.0/mlflow/runs/update", OgJsonObject(3, pair),
					 NULL, false, 0, NULL, NULL);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
	}
	PG_END_TRY();
}

/*
 * The version of registered model model that alias names in MLflow, or
 * NULL when no version holds it (or the model does not exist).
 */
char *
OgRegistryAliasVersion(const char *model, const char *alias)
{
	OgRemote   *r = OgRemoteOpen(model,
									   psprintf("cannot look up alias \"%s\" of registered model \"%s\"",
												alias, model), false);
	const char *key[] = {"model_version.version"};
	char	   *version;

	/* an unknown alias is 400 INVALID_PARAMETER_VALUE, an unknown model 404 */
	if (!OgRemoteCall(r, "GET",
					  psprintf("/api/2.0/mlflow/registered-models/alias?name=%s&alias=%s",
							   OgUrlEscape(model), OgUrlEscape(alias)),
					  NULL, "INVALID_PARAMETER_VALUE", true, 1, key, &version))
		return NULL;
	return version;
}

/* Point alias of registered model model at version, in MLflow. */
void
OgRegistrySetAlias(const char *model, const char *alias, const char *version)
{
	OgRemote   *r = OgRemoteOpen(model,
									   psprintf("cannot set alias \"%s\" of registered model \"%s\"",
												alias, model), true);
	const char *pair[] = {"name", model, "alias", alias, "version", version};

	OgRemoteCall(r, "POST", "/api/2.0/mlflow/registered-models/alias",
				 OgJsonObject(3, pair), NULL, false, 0, NULL, NULL);
}
