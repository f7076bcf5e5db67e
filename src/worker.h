/*-------------------------------------------------------------------------
 *
 * worker.h
 *	  The og_model background worker: the profile's models at start,
 *	  aliases followed.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OG_WORKER_H
#define OG_WORKER_H

extern char *og_config_file;

extern void OgWorkerInit(void);

/*
 * In the worker, the profile it works with (the last good one read), else
 * NULL.
 */
extern struct OgConfig *OgWorkerProfile(void);

/* Whether the worker will load a profile's models at this server start. */
extern bool OgWorkerWillPreload(void);

#endif							/* OG_WORKER_H */
