/*-------------------------------------------------------------------------
 *
 * mlmodel.h
 *	  Reading an MLflow MLmodel file (YAML) into a small tree.
 *
 *-------------------------------------------------------------------------
 */
#ifndef OG_MLMODEL_H
#define OG_MLMODEL_H

#define OG_YAML_MAX_BYTES	(1024 * 1024)
#define OG_YAML_MAX_DEPTH	32
#define OG_YAML_MAX_NODES	100000

typedef enum OgYamlKind
{
	OG_YAML_SCALAR,
	OG_YAML_SEQUENCE,
	OG_YAML_MAPPING
} OgYamlKind;

typedef struct OgYamlNode
{
	OgYamlKind	kind;
	int			line;			/* 1-based, for messages */
	char	   *scalar;			/* OG_YAML_SCALAR */
	int			n;				/* sequence items, or mapping pairs */
	int			cap;
	struct OgYamlNode **items;	/* mapping: key, value, key, value... */
} OgYamlNode;

/* What og_model needs from an MLmodel file. */
typedef struct OgMLmodel
{
	const char *model;			/* model name, for messages */
	const char *path;			/* file, for messages */
	OgYamlNode *root;
	OgYamlNode *flavors;		/* mapping flavor name -> config */
	const char *run_id;			/* or NULL */
	int			n_inputs;		/* -1 without a signature */
	char	  **input_names;	/* n_inputs names, or NULL (tensor spec) */
} OgMLmodel;

extern OgYamlNode *OgYamlParse(const char *model, const char *path,
							   const char *buf, Size len);
extern OgYamlNode *OgYamlParseProfile(const char *path, const char *buf,
									  Size len);
extern OgYamlNode *OgYamlGet(const OgYamlNode *map, const char *key);
extern const char *OgYamlScalar(const OgYamlNode *node);
extern void OgMLmodelParse(const char *model, const char *path,
						   const char *buf, Size len, OgMLmodel *out);

#endif							/* OG_MLMODEL_H */
