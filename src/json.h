/*-------------------------------------------------------------------------
 *
 * json.h
 *	  cJSON helpers: strict parsing and checked reads with clear errors.
 *
 * cJSON allocates with palloc in the current memory context (OgJsonInit);
 * callers still delete the trees they parse, in PG_FINALLY where the checked
 * readers may raise errors.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OG_JSON_H
#define OG_JSON_H

#include <cjson/cJSON.h>

extern void OgJsonInit(void);
extern cJSON *OgJsonParse(const char *model, const char *what,
						  const char *buf, Size len);
extern const cJSON *OgJsonRequire(const cJSON *obj, const char *key,
								  const char *model, const char *what);
extern double OgJsonNumber(const cJSON *item, const char *model,
						   const char *what, const char *key);
extern const char *OgJsonString(const cJSON *item, const char *model,
								const char *what, const char *key);
extern int	OgJsonArraySize(const cJSON *item, const char *model,
							const char *what, const char *key, int max);

#endif							/* OG_JSON_H */
