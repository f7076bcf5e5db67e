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

#endif							/* OG_LOAD_H */
