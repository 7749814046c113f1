-- pricing.bump_rate_card_revision: the statement trigger on rate_card_items and
-- rate_card_versions that sets a fresh pricing.rate_card_revision token on every write;
-- services/pricing/rate_card/repository.py trusts its cached card only while the token holds.
--
-- Migrations install frozen copies of the file beside the repository
-- (alembic/versions/sql/<revision>/): changing it takes a new migration with its own
-- copy, and tests/db/test_sql_functions.py fails until the migrated database matches.
CREATE OR REPLACE FUNCTION pricing.bump_rate_card_revision() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    UPDATE pricing.rate_card_revision SET token = gen_random_uuid();
    RETURN NULL;
END
$fn$;
