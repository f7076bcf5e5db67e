/*-------------------------------------------------------------------------
 *
 * source.h
 *	  Where a model's files come from: a directory on the server (load.c) or
 *	  an MLflow tracking server (registry.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef OG_SOURCE_H
#define OG_SOURCE_H

typedef struct OgSource OgSource;

/*
 * Read the file at relpath (relative to the model directory) whole, at most
 * max bytes (limit_name is the setting to raise, or NULL); NUL-terminated,
 * *len excludes the terminator.  Errors name the model and the ref.
 */
typedef char *(*OgSourceRead) (OgSource *src, const char *relpath, Size max,
							   const char *limit_name, Size *len);

struct OgSource
{
	const char *model;			/* name it is loaded under */
	const char *ref;			/* as given to og_load_model */
	const char *version;		/* registry version, or NULL */
	const char *run_id;			/* MLflow run, or NULL */
	const char *uri;			/* shown as source in og_model.models */
	OgSourceRead read;
	void	   *priv;
};

extern void OgRegistryInit(void);
extern void OgRegistryResolve(OgSource *src);
extern void OgRegistryLogMetrics(const char *model, const char *run_id, int n,
								 const char *const *keys, const double *values);

/* A file of a model directory to upload. */
typedef struct OgArtifactFile
{
	const char *name;
	const char *data;
	Size		len;
	const char *content_type;
} OgArtifactFile;

/*
 * An MLflow run that records a model og_model made, and the registered
 * version it becomes: OgRegistryStartRun creates the run (the files may
 * name it), OgRegistryCompleteRun logs, uploads and registers;
 * OgRegistryFailRun ends a run that failed half-way.
 */
typedef struct OgRunRecord
{
	const char *model;			/* registered model */
	const char *experiment;		/* experiment name */
	const char *run_name;
	const char *description;	/* of the version, or NULL */
	int			n_params;
	const char *const *param_keys;
	const char *const *param_values;
	int			n_metrics;
	const char *const *metric_keys;
	const double *metric_values;
	int			n_files;
	const OgArtifactFile *files;
	/* filled in */
	char	   *experiment_id;
	char	   *run_id;
	char	   *artifact_uri;
	char	   *version;
} OgRunRecord;

extern bool OgIsVersionNumber(const char *s);
extern char *OgRegistryModelOf(const char *name, const char *ref);
extern void OgRegistryStartRun(OgRunRecord *rec);
extern void OgRegistryCompleteRun(OgRunRecord *rec);
extern void OgRegistryFailRun(OgRunRecord *rec);
extern char *OgRegistryAliasVersion(const char *model, const char *alias);
extern void OgRegistrySetAlias(const char *model, const char *alias,
							   const char *version);

#endif							/* OG_SOURCE_H */
