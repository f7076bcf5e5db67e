/*-------------------------------------------------------------------------
 *
 * mlmodel.c
 *	  Parse MLflow's MLmodel file with libyaml.
 *
 * libyaml's event parser feeds a small tree of OgYamlNode allocated in the
 * current memory context.  Debian's libyaml has no nesting limit and slows
 * down quadratically on deep nesting, so the caller caps the file size
 * (OG_YAML_MAX_BYTES) and this file caps depth and node count; aliases are
 * refused (an alias bomb would multiply the tree).  libyaml's own state is
 * freed in PG_FINALLY, whatever error interrupts the parse.
 *
 * The same parser reads og_model profiles (config.c) through
 * OgYamlParseProfile; its errors then name the file and the line in
 * config.c's form: invalid og_model profile "<path>" line <n>: <problem>.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <yaml.h>

#include "blob.h"
#include "json.h"
#include "mlmodel.h"

typedef struct OgYamlBuild
{
	const char *model;
	const char *path;
	bool		profile;		/* an og_model profile, not an MLmodel file */
	OgYamlNode *root;
	OgYamlNode *stack[OG_YAML_MAX_DEPTH + 1];
	int			depth;
	int			nodes;
	bool		done;
} OgYamlBuild;

static void OgYamlProfileFail(const char *path, int line,
							  const char *problem) pg_attribute_noreturn();

/*
 * An error in an og_model profile: the file, the line (0: none) and the
 * problem, with the SQLSTATE and the form of config.c's errors.
 */
static void
OgYamlProfileFail(const char *path, int line, const char *problem)
{
	if (line > 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("invalid og_model profile \"%s\" line %d: %s",
						path, line, problem)));
	ereport(ERROR,
			(errcode(ERRCODE_CONFIG_FILE_ERROR),
			 errmsg("invalid og_model profile \"%s\": %s", path, problem)));
}

static void
OgYamlAddChild(OgYamlNode *parent, OgYamlNode *child)
{
	if (parent->n >= parent->cap)
	{
		int			cap = parent->cap ? parent->cap * 2 : 8;

		if (parent->items)
			parent->items = repalloc(parent->items, sizeof(OgYamlNode *) * cap);
		else
			parent->items = palloc(sizeof(OgYamlNode *) * cap);
		parent->cap = cap;
	}
	parent->items[parent->n++] = child;
}

static void
OgYamlAdd(OgYamlBuild *st, OgYamlNode *node, const yaml_event_t *ev)
{
	if (++st->nodes > OG_YAML_MAX_NODES)
	{
		if (st->profile)
			OgYamlProfileFail(st->path, (int) ev->start_mark.line + 1,
							  psprintf("more than %d YAML nodes",
									   OG_YAML_MAX_NODES));
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("MLmodel file of model \"%s\" has too many elements",
						st->model),
				 errdetail("The limit is %d YAML nodes.", OG_YAML_MAX_NODES)));
	}
	node->line = (int) ev->start_mark.line + 1;
	if (st->depth == 0)
	{
		if (st->root == NULL)
			st->root = node;
	}
	else
	{
		OgYamlNode *parent = st->stack[st->depth - 1];

		/* keys of a mapping must be scalars */
		if (parent->kind == OG_YAML_MAPPING && parent->n % 2 == 0 &&
			node->kind != OG_YAML_SCALAR)
		{
			if (st->profile)
				OgYamlProfileFail(st->path, node->line,
								  "mapping keys must be plain values");
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid MLmodel file for model \"%s\"", st->model),
					 errdetail("Mapping keys must be plain values (line %d).",
							   node->line)));
		}
		OgYamlAddChild(parent, node);
	}
}

static void
OgYamlPush(OgYamlBuild *st, OgYamlNode *node)
{
	if (st->depth >= OG_YAML_MAX_DEPTH)
	{
		if (st->profile)
			OgYamlProfileFail(st->path, node->line,
							  psprintf("nesting is limited to %d levels",
									   OG_YAML_MAX_DEPTH));
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("MLmodel file of model \"%s\" is nested too deeply",
						st->model),
				 errdetail("Nesting is limited to %d levels (line %d).",
						   OG_YAML_MAX_DEPTH, node->line)));
	}
	st->stack[st->depth++] = node;
}

/* Handle one event; libyaml guarantees the events are well nested. */
static void
OgYamlEvent(OgYamlBuild *st, const yaml_event_t *ev)
{
	OgYamlNode *node;

	switch (ev->type)
	{
		case YAML_SCALAR_EVENT:
			node = palloc0(sizeof(OgYamlNode));
			node->kind = OG_YAML_SCALAR;
			node->scalar = pnstrdup((const char *) ev->data.scalar.value,
									ev->data.scalar.length);
			OgYamlAdd(st, node, ev);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			node = palloc0(sizeof(OgYamlNode));
			node->kind = ev->type == YAML_SEQUENCE_START_EVENT ?
				OG_YAML_SEQUENCE : OG_YAML_MAPPING;
			OgYamlAdd(st, node, ev);
			OgYamlPush(st, node);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (st->depth > 0)
				st->depth--;
			break;
		case YAML_ALIAS_EVENT:
			if (st->profile)
				OgYamlProfileFail(st->path, (int) ev->start_mark.line + 1,
								  "YAML aliases are not allowed");
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid MLmodel file for model \"%s\"", st->model),
					 errdetail("YAML aliases are not allowed (line %d).",
							   (int) ev->start_mark.line + 1)));
			break;
		case YAML_DOCUMENT_END_EVENT:
			/* only the first document counts */
			st->done = true;
			break;
		case YAML_STREAM_END_EVENT:
			st->done = true;
			break;
		default:
			break;
	}
}

/*
 * Parse YAML text into a tree.  Errors name the model, or for a profile the
 * file and the line.
 */
static OgYamlNode *
OgYamlParseText(const char *model, const char *path, bool profile,
				const char *buf, Size len)
{
	yaml_parser_t parser;
	yaml_event_t event;
	volatile bool have_event = false;
	OgYamlBuild *st;
	const char *zero;

	if (len > OG_YAML_MAX_BYTES)
	{
		if (profile)
			OgYamlProfileFail(path, 0,
							  psprintf("the file has %zu bytes; the limit is %d bytes",
									   len, OG_YAML_MAX_BYTES));
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("MLmodel file of model \"%s\" is too large", model),
				 errdetail("The file has %zu bytes; the limit is %d bytes.",
						   len, OG_YAML_MAX_BYTES)));
	}
	zero = memchr(buf, '\0', len);
	if (zero != NULL)
	{
		if (profile)
		{
			int			line = 1;
			const char *p;

			for (p = buf; p < zero; p++)
				line += *p == '\n';
			OgYamlProfileFail(path, line, "the file contains a zero byte");
		}
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid MLmodel file for model \"%s\"", model),
				 errdetail("The file contains a zero byte.")));
	}

	st = palloc0(sizeof(OgYamlBuild));
	st->model = model;
	st->path = path;
	st->profile = profile;

	if (!yaml_parser_initialize(&parser))
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	PG_TRY();
	{
		yaml_parser_set_input_string(&parser, (const unsigned char *) buf, len);
		while (!st->done)
		{
			if (!yaml_parser_parse(&parser, &event))
			{
				if (profile && parser.error == YAML_READER_ERROR)
				{
					/* bad encoding: libyaml gives a byte offset, no mark */
					int			line = 1;
					size_t		i;

					for (i = 0; i < parser.problem_offset && i < len; i++)
						line += buf[i] == '\n';
					OgYamlProfileFail(path, line,
									  psprintf("YAML syntax error: %s (byte %zu of the file)",
											   parser.problem ? parser.problem : "invalid text",
											   parser.problem_offset + 1));
				}
				if (profile)
					OgYamlProfileFail(path, (int) parser.problem_mark.line + 1,
									  psprintf("YAML syntax error: %s%s%s (column %d)",
											   parser.context ? parser.context : "",
											   parser.context ? ", " : "",
											   parser.problem ? parser.problem : "invalid YAML",
											   (int) parser.problem_mark.column + 1));
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
						 errmsg("invalid MLmodel file for model \"%s\"", model),
						 errdetail("%s%s%s at line %d, column %d.",
								   parser.context ? parser.context : "",
								   parser.context ? ": " : "",
								   parser.problem ? parser.problem : "YAML syntax error",
								   (int) parser.problem_mark.line + 1,
								   (int) parser.problem_mark.column + 1)));
			}
			have_event = true;
			OgYamlEvent(st, &event);
			yaml_event_delete(&event);
			have_event = false;
		}
	}
	PG_FINALLY();
	{
		if (have_event)
			yaml_event_delete(&event);
		yaml_parser_delete(&parser);
	}
	PG_END_TRY();

	return st->root;
}

/*
 * Parse the text of an MLmodel file into a tree.  Errors name the model.
 */
OgYamlNode *
OgYamlParse(const char *model, const char *path, const char *buf, Size len)
{
	return OgYamlParseText(model, path, false, buf, len);
}

/*
 * Parse the text of an og_model profile into a tree.  Errors have SQLSTATE
 * ERRCODE_CONFIG_FILE_ERROR and name the file (path) and the line.
 */
OgYamlNode *
OgYamlParseProfile(const char *path, const char *buf, Size len)
{
	return OgYamlParseText(NULL, path, true, buf, len);
}

OgYamlNode *
OgYamlGet(const OgYamlNode *map, const char *key)
{
	int			i;

	if (map == NULL || map->kind != OG_YAML_MAPPING)
		return NULL;
	for (i = 0; i + 1 < map->n; i += 2)
		if (strcmp(map->items[i]->scalar, key) == 0)
			return map->items[i + 1];
	return NULL;
}

/* A scalar's text, or NULL for anything else (including YAML null). */
const char *
OgYamlScalar(const OgYamlNode *node)
{
	if (node == NULL || node->kind != OG_YAML_SCALAR)
		return NULL;
	if (strcmp(node->scalar, "") == 0 || strcmp(node->scalar, "~") == 0 ||
		strcmp(node->scalar, "null") == 0)
		return NULL;
	return node->scalar;
}

static bool
OgSignatureTypeNumeric(const char *type)
{
	static const char *const numeric[] = {
		"double", "float", "long", "integer", "boolean"
	};
	int			i;

	for (i = 0; i < lengthof(numeric); i++)
		if (strcmp(type, numeric[i]) == 0)
			return true;
	return false;
}

/*
 * signature.inputs is a JSON string: column specs
 *	 [{"type": "double", "name": "age"}, ...]
 * or one tensor spec
 *	 [{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 4]}}]
 */
static void
OgSignatureParse(OgMLmodel *out, const char *json)
{
	const char *what = "the MLmodel signature";
	cJSON	   *volatile root = NULL;

	PG_TRY();
	{
		const cJSON *item;
		int			n,
					i = 0;

		root = OgJsonParse(out->model, what, json, strlen(json));
		n = OgJsonArraySize(root, out->model, what, "inputs", OG_MAX_FEATURES);
		item = cJSON_GetArrayItem(root, 0);
		if (n == 1 && cJSON_IsObject(item) &&
			cJSON_IsString(cJSON_GetObjectItemCaseSensitive(item, "type")) &&
			strcmp(cJSON_GetObjectItemCaseSensitive(item, "type")->valuestring, "tensor") == 0)
		{
			const cJSON *spec = OgJsonRequire(item, "tensor-spec", out->model, what);
			const cJSON *shape = OgJsonRequire(spec, "shape", out->model, what);
			const char *dtype = OgJsonString(OgJsonRequire(spec, "dtype", out->model, what),
											 out->model, what, "dtype");
			const cJSON *dim;
			int			ndim = OgJsonArraySize(shape, out->model, what, "shape", 8);
			double		count = 1;
			int			d = 0;

			if (strncmp(dtype, "float", 5) != 0 && strncmp(dtype, "int", 3) != 0 &&
				strncmp(dtype, "uint", 4) != 0 && strcmp(dtype, "bool") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("tensor input of model \"%s\" has dtype %s", out->model, dtype),
						 errdetail("og_model scores numeric tensors: float, int, uint or bool.")));
			cJSON_ArrayForEach(dim, shape)
			{
				double		v = OgJsonNumber(dim, out->model, what, "shape");

				/* the first dimension is the batch */
				if (d++ == 0 && ndim > 1)
					continue;
				if (v < 1 || v != floor(v))
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("tensor input of model \"%s\" has no fixed feature count",
									out->model),
							 errdetail("og_model scores tensors of shape (-1, n).")));
				count *= v;
			}
			if (ndim < 1 || count > OG_MAX_FEATURES)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("tensor input of model \"%s\" has an unsupported shape",
								out->model)));
			out->n_inputs = (int) count;
			out->input_names = NULL;
		}
		else
		{
			out->n_inputs = n;
			out->input_names = palloc0(sizeof(char *) * Max(n, 1));
			cJSON_ArrayForEach(item, root)
			{
				const cJSON *type;
				const cJSON *name;

				if (!cJSON_IsObject(item))
					ereport(ERROR,
							(errcode(ERRCODE_DATA_EXCEPTION),
							 errmsg("input %d in the MLmodel signature of model \"%s\" is not an object",
									i + 1, out->model)));
				type = OgJsonRequire(item, "type", out->model, what);
				name = cJSON_GetObjectItemCaseSensitive(item, "name");
				if (name != NULL && !cJSON_IsNull(name))
					out->input_names[i] = pstrdup(OgJsonString(name, out->model, what, "name"));
				else
					out->input_names[i] = psprintf("%d", i + 1);
				if (!OgSignatureTypeNumeric(OgJsonString(type, out->model, what, "type")))
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("input \"%s\" of model \"%s\" has type %s",
									out->input_names[i], out->model, type->valuestring),
							 errdetail("og_model scores numeric inputs: double, float, long, integer or boolean.")));
				i++;
			}
		}
	}
	PG_FINALLY();
	{
		if (root)
			cJSON_Delete(root);
	}
	PG_END_TRY();
}

void
OgMLmodelParse(const char *model, const char *path, const char *buf,
			   Size len, OgMLmodel *out)
{
	OgYamlNode *sig;

	memset(out, 0, sizeof(*out));
	out->model = model;
	out->path = path;
	out->n_inputs = -1;
	out->root = OgYamlParse(model, path, buf, len);
	if (out->root == NULL || out->root->kind != OG_YAML_MAPPING)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("invalid MLmodel file for model \"%s\"", model),
				 errdetail("The file is not a YAML mapping.")));
	out->flavors = OgYamlGet(out->root, "flavors");
	if (out->flavors == NULL || out->flavors->kind != OG_YAML_MAPPING ||
		out->flavors->n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("MLmodel file of model \"%s\" lists no flavors", model),
				 errhint("Point the reference at a directory written by mlflow.<flavor>.save_model or log_model.")));
	out->run_id = OgYamlScalar(OgYamlGet(out->root, "run_id"));

	sig = OgYamlGet(out->root, "signature");
	if (sig != NULL && sig->kind == OG_YAML_MAPPING)
	{
		const char *inputs = OgYamlScalar(OgYamlGet(sig, "inputs"));

		if (inputs != NULL)
			OgSignatureParse(out, inputs);
	}
}
