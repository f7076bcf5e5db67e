-- The demo: load the example churn model from the MLflow model registry and
-- score customers from data/.
-- The rows are the DVC pipeline's outputs (dvc.yaml): data/processed/customers.csv
-- (the current customers to score) and data/processed/customer_churn.csv (past
-- customers with their outcome: the table public.customer_churn that the
-- retraining profile config/config_local.yml trains on); models/churn is the
-- pipeline's train stage output.
-- Expects og_model.tracking_uri to name an MLflow tracking server in which the
-- registered model "churn" has the alias "champion" (./setup.sh demo starts one
-- and registers models/churn there with lifecycle/register_example.py).
-- psql variable: data_dir (absolute path of data/ that the server can read).
\set ON_ERROR_STOP 1
\pset footer off
SET client_min_messages = warning;

DROP TABLE IF EXISTS customers;
CREATE TABLE customers (
	id integer PRIMARY KEY,
	tenure_months float8,
	monthly_charges float8,
	support_calls float8,
	contract_years float8
);
SELECT :'data_dir' || '/processed/customers.csv' AS customers_csv \gset
COPY customers FROM :'customers_csv' WITH (FORMAT csv, HEADER true);

-- Past customers and whether they churned: the four features in the model's
-- input order and the label, no identifier (what og_train and the Airflow DAG
-- take from retraining.models[].table).
DROP TABLE IF EXISTS customer_churn;
CREATE TABLE customer_churn (
	tenure_months float8,
	monthly_charges float8,
	support_calls float8,
	contract_years float8,
	churned integer NOT NULL CHECK (churned IN (0, 1))
);
SELECT :'data_dir' || '/processed/customer_churn.csv' AS customer_churn_csv \gset
COPY customer_churn FROM :'customer_churn_csv' WITH (FORMAT csv, HEADER true);
SELECT count(*) AS past_customers, sum(churned) AS churned FROM customer_churn;

\echo
\echo '== og_load_model: fetch churn@champion from MLflow, compile it into shared memory'
SELECT current_setting('og_model.tracking_uri') AS tracking_uri;
SELECT name, version, flavor, task, objective, n_features, bytes, left(sha256, 12) AS sha256
  FROM og_load_model('churn', '@champion');

\echo
\echo '== og_predict: churn probability per customer'
SELECT id, tenure_months, monthly_charges, support_calls, contract_years,
       round(og_predict('churn', ARRAY[tenure_months, monthly_charges, support_calls, contract_years])::numeric, 4)
         AS churn_probability
  FROM customers
 ORDER BY churn_probability DESC;

\echo
\echo '== og_model.models'
\x on
SELECT * FROM og_model.models;
\x off

\echo
\echo '== og_set_reference: training histograms of the features, the baseline of drift'
SELECT jsonb_array_length(og_set_reference('churn',
	'SELECT tenure_months, monthly_charges, support_calls, contract_years FROM customer_churn', 4) -> 'features')
	AS features_with_a_reference;
SET og_model.stats_sample_rate = 1;
SELECT count(og_predict('churn', ARRAY[tenure_months * 2, monthly_charges, support_calls, contract_years]))
	AS rows_scored_with_longer_tenures
  FROM customers;

\echo
\echo '== og_model.quality and og_model.feature_drift: how the model is used, and drift'
SELECT name, version, serving, predictions, errors, round(prediction_mean::numeric, 4) AS prediction_mean,
	   round(latency_mean_us::numeric, 3) AS latency_mean_us, sampled_rows, round(max_psi::numeric, 3) AS max_psi
  FROM og_model.quality;
SELECT feature_name, sampled_rows, round(psi::numeric, 3) AS psi, round(out_of_range_rate::numeric, 2) AS out_of_range_rate
  FROM og_model.feature_drift
 WHERE name = 'churn'
 ORDER BY feature;
