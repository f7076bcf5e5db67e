-- lifecycle/wait_for_model.sql - wait (up to 30 s) until the og_model worker
-- has loaded the model named by the psql variable "model" (./setup.sh up).
SELECT set_config('og_wait.model', :'model', false);
DO $$
BEGIN
    FOR i IN 1..300 LOOP
        PERFORM 1 FROM og_model.models WHERE name = current_setting('og_wait.model');
        IF FOUND THEN
            RETURN;
        END IF;
        PERFORM pg_sleep(0.1);
    END LOOP;
    RAISE EXCEPTION 'the og_model worker did not load model "%" within 30 s',
        current_setting('og_wait.model');
END $$;
