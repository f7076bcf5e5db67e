/*-------------------------------------------------------------------------
 *
 * linear.c
 *	  Our own format: the og_model flavor's model.json, kind "linear".
 *
 *	  {"kind": "linear", "link": "identity" | "logistic",
 *	   "intercept": 0.25, "weights": [0.5, -1.0], "feature_names": ["a", "b"]}
 *
 * kind, intercept and weights are required; link defaults to identity;
 * feature_names and the drift "reference" (reference.h) are optional;
 * unknown keys are ignored.  Every number must be finite.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "formats.h"
#include "json.h"
#include "reference.h"

static void
OgLinearNames(const OgMLmodel *mlm, const char *what, const cJSON *names,
			  int n, OgBlobBuilder *b)
{
	OgOffset   *offs = palloc0(sizeof(OgOffset) * n);
	OgOffset	table;
	const cJSON *item;
	int			i = 0;

	if (mlm->input_names != NULL)
	{
		for (i = 0; i < n; i++)
			offs[i] = OgBlobAppendString(b, mlm->input_names[i]);
	}
	else if (names != NULL)
	{
		cJSON_ArrayForEach(item, names)
			offs[i++] = OgBlobAppendString(b, OgJsonString(item, mlm->model, what,
														   "feature_names"));
	}
	else
		return;
	table = OgBlobAppend(b, offs, sizeof(OgOffset) * n);
	OgBlobHead(b)->feature_names = table;
}

void
OgLinearCompile(const OgMLmodel *mlm, const char *what, const char *buf,
				Size len, OgBlobBuilder *b)
{
	cJSON	   *volatile root = NULL;

	PG_TRY();
	{
		const cJSON *kind;
		const cJSON *link;
		const cJSON *weights;
		const cJSON *names;
		const cJSON *item;
		const char *link_name = "identity";
		double	   *w;
		double		intercept;
		double		zero = 0;
		int			n,
					i = 0;
		OgOffset	w_off,
					i_off,
					base_off,
					obj_off;
		OgBlobHeader *head;
		bool		logistic;

		root = OgJsonParse(mlm->model, what, buf, len);
		if (!cJSON_IsObject(root))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("%s of model \"%s\" is not a JSON object",
							what, mlm->model)));

		kind = OgJsonRequire(root, "kind", mlm->model, what);
		if (strcmp(OgJsonString(kind, mlm->model, what, "kind"), "linear") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("%s of model \"%s\" has unknown kind \"%s\"",
							what, mlm->model, kind->valuestring),
					 errhint("The og_model flavor supports kind \"linear\".")));

		link = cJSON_GetObjectItemCaseSensitive(root, "link");
		if (link != NULL && !cJSON_IsNull(link))
			link_name = OgJsonString(link, mlm->model, what, "link");
		if (strcmp(link_name, "identity") == 0)
			logistic = false;
		else if (strcmp(link_name, "logistic") == 0)
			logistic = true;
		else
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("%s of model \"%s\" has unknown link \"%s\"",
							what, mlm->model, link_name),
					 errhint("The link is \"identity\" or \"logistic\".")));

		intercept = OgJsonNumber(OgJsonRequire(root, "intercept", mlm->model, what),
								 mlm->model, what, "intercept");
		weights = OgJsonRequire(root, "weights", mlm->model, what);
		n = OgJsonArraySize(weights, mlm->model, what, "weights", OG_MAX_FEATURES);
		if (n == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("\"weights\" in %s of model \"%s\" is empty",
							what, mlm->model)));
		if (mlm->n_inputs >= 0 && mlm->n_inputs != n)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("%s of model \"%s\" has %d weights but the MLmodel signature has %d inputs",
							what, mlm->model, n, mlm->n_inputs)));

		names = cJSON_GetObjectItemCaseSensitive(root, "feature_names");
		if (names != NULL && cJSON_IsNull(names))
			names = NULL;
		if (names != NULL)
		{
			int			nn = OgJsonArraySize(names, mlm->model, what,
											 "feature_names", OG_MAX_FEATURES);

			if (nn != n)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_EXCEPTION),
						 errmsg("%s of model \"%s\" has %d weights but %d feature names",
								what, mlm->model, n, nn)));
			if (mlm->input_names != NULL)
			{
				cJSON_ArrayForEach(item, names)
				{
					const char *s = OgJsonString(item, mlm->model, what, "feature_names");

					if (strcmp(s, mlm->input_names[i]) != 0)
						ereport(ERROR,
								(errcode(ERRCODE_DATA_EXCEPTION),
								 errmsg("feature %d of model \"%s\" is \"%s\" in %s but \"%s\" in the MLmodel signature",
										i + 1, mlm->model, s, what,
										mlm->input_names[i])));
					i++;
				}
			}
		}

		w = palloc(sizeof(double) * n);
		i = 0;
		cJSON_ArrayForEach(item, weights)
			w[i++] = OgJsonNumber(item, mlm->model, what, "weights");

		w_off = OgBlobAppend(b, w, sizeof(double) * n);
		i_off = OgBlobAppend(b, &intercept, sizeof(double));
		base_off = OgBlobAppend(b, &zero, sizeof(double));
		OgLinearNames(mlm, what, names, n, b);

		obj_off = OgBlobAppendString(b, logistic ? "logistic" : "linear");

		item = cJSON_GetObjectItemCaseSensitive(root, "reference");
		if (item != NULL && !cJSON_IsNull(item))
		{
			const char **fnames = palloc0(sizeof(char *) * n);
			const cJSON *nm;
			OgRefHeader *r;
			OgOffset	r_off;

			if (mlm->input_names)
				for (i = 0; i < n; i++)
					fnames[i] = mlm->input_names[i];
			else if (names)
			{
				i = 0;
				cJSON_ArrayForEach(nm, names)
					fnames[i++] = nm->valuestring;
			}
			r = OgRefFromJson(item, mlm->model, what, n, fnames);
			if (r != NULL)
			{
				r_off = OgBlobAppend(b, r, OgRefSize(r->n_features, r->total_bins));
				OgBlobHead(b)->reference = r_off;
			}
		}

		head = OgBlobHead(b);
		head->objective = obj_off;
		head->sigmoid_scale = 1.0;
		head->output_scale = 1.0;
		head->kind = OG_KIND_LINEAR;
		head->task = logistic ? OG_TASK_BINARY : OG_TASK_REGRESSION;
		head->transform = logistic ? OG_TRANSFORM_SIGMOID : OG_TRANSFORM_IDENTITY;
		head->flags = 0;
		head->n_features = n;
		head->n_outputs = 1;
		head->weights = w_off;
		head->intercept = i_off;
		head->base_score = base_off;
	}
	PG_FINALLY();
	{
		if (root)
			cJSON_Delete(root);
	}
	PG_END_TRY();
}
