-- pricing.quote_lines_have_versions: the statement trigger on quote_lines (insert, update)
-- that refuses a line without its quote version, once per statement instead of a
-- foreign key check per line. services/pricing/quotes/repository.py writes the lines.
--
-- Migrations install frozen copies of the file beside the repository
-- (alembic/versions/sql/<revision>/): changing it takes a new migration with its own
-- copy, and tests/db/test_sql_functions.py fails until the migrated database matches.
CREATE OR REPLACE FUNCTION pricing.quote_lines_have_versions() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF EXISTS (
        SELECT 1 FROM new_lines n
         WHERE NOT EXISTS (
             SELECT 1 FROM pricing.quote_versions v
              WHERE v.tenant_id = n.tenant_id AND v.quote_id = n.quote_id
                AND v.version = n.version))
    THEN
        RAISE foreign_key_violation USING MESSAGE = 'a quote line without its quote version';
    END IF;
    RETURN NULL;
END
$fn$;
