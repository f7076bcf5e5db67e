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

#endif							/* OG_SOURCE_H */
