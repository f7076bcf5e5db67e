/*-------------------------------------------------------------------------
 *
 * load.h
 *	  Loading models into the store.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OG_LOAD_H
#define OG_LOAD_H

extern void OgLoadInit(void);
extern void OgCheckModelName(const char *name);

extern struct OgBlobHeader *OgLoadModel(const char *name, const char *ref);
extern ErrorData *OgTakeError(MemoryContext cxt);
extern void OgWarnError(ErrorData *edata, const char *prefix,
						const char *detail, const char *hint);
extern bool OgRunAsWarning(void (*fn) (void *arg), void *arg, const char *hint);

#endif							/* OG_LOAD_H */
