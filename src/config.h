/*-------------------------------------------------------------------------
 *
 * config.h
 *	  The og_model profile: the YAML file named by og_model.config_file,
 *	  read by the background worker at server start and on SIGHUP, and by
 *	  backends for the default tracking URI and credentials.
 *
 * The keys are documented at the top of config.c and in config/config*.yml.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OG_CONFIG_H
#define OG_CONFIG_H

#include "nodes/pg_list.h"

#define OG_CONFIG_MAX_BYTES			(1024 * 1024)
#define OG_CONFIG_MAX_MODELS		10000
#define OG_CONFIG_REFRESH_MS		60000	/* refresh_interval by default */
#define OG_CONFIG_BACKOFF_MS		600000	/* limits.max_backoff by default */

/* One entry of "models": loaded at server start, then kept following. */
typedef struct OgConfigModel
{
	char	   *name;			/* og_model name (og_load_model's rule) */
	char	   *ref;			/* og_load_model's ref; "latest" if absent */
	int			line;			/* line of the entry, for messages */
} OgConfigModel;

/*
 * A profile as OgConfigRead understood it.  Absent keys have the defaults
 * written here; everything is palloc'd in the caller's memory context.
 */
typedef struct OgConfig
{
	char	   *path;			/* as given: named in every message */
	char	   *file;			/* absolute path that was read */
	char	   *tracking_uri;	/* http(s) URL without credentials, or NULL */
	char	   *token_env;		/* names of environment variables of the */
	char	   *username_env;	/* server, or NULL; never their values */
	char	   *password_env;
	char	   *database;		/* NULL: the worker's default, "postgres" */
	int			refresh_interval_ms;	/* 0: do not follow aliases */
	int			http_timeout_ms;	/* -1: keep og_model.http_timeout_ms */
	int64		max_artifact_bytes; /* -1: keep og_model.max_artifact_bytes */
	int			max_backoff_ms; /* upper bound of the retry delay */
	int			n_models;
	OgConfigModel *models;		/* n_models entries, in file order */
	bool		has_retraining; /* a "retraining" mapping is present */
	List	   *warnings;		/* char *: messages of the unknown keys */
} OgConfig;

/*
 * The absolute path of a profile: a relative path is taken from the data
 * directory, as PostgreSQL does for its own file settings.  Palloc'd.
 */
extern char *OgConfigResolvePath(const char *path);

/*
 * Read and check the profile at path (relative to the data directory unless
 * absolute).  Unknown keys are reported at elevel_unknown (WARNING in a
 * backend, LOG in the worker; ERROR makes them fatal) and collected in
 * warnings.  ereport(ERROR) for a missing or unreadable file
 * (errcode_for_file_access), and with ERRCODE_CONFIG_FILE_ERROR for bad
 * content, naming the file and the line; secrets written in the file are
 * refused and never shown.  An empty file, or one of comments only, gives
 * all defaults.  The result is palloc'd in CurrentMemoryContext (nothing
 * else is left there).  Needs neither a transaction nor a database
 * connection: the worker may call it before connecting.
 */
extern OgConfig *OgConfigRead(const char *path, int elevel_unknown);

/*
 * The values of the environment variables the profile names, palloc'd, or
 * NULL for a variable that is not named, not set or empty (the caller then
 * falls back to its defaults, MLFLOW_TRACKING_* of the environment).  The
 * values are secrets: never log them or put them in a message.
 */
extern void OgConfigCredentials(const OgConfig *c, char **token,
								char **username, char **password);

#endif							/* OG_CONFIG_H */
