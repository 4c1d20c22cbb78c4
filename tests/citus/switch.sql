-- One application connection (crm_app) serving user after user, with the
-- same prepared statements executed again and again (PostgreSQL switches to
-- a generic plan after five runs, and Citus caches plans too): each
-- execution must see its own user's rows. Three rounds over five users.
\set VERBOSITY terse
\pset footer off
PREPARE one(bigint) AS SELECT id FROM accounts WHERE id = $1;
PREPARE visible AS SELECT count(*) AS n, string_agg(id::text, ',' ORDER BY id) AS ids FROM accounts;
PREPARE top AS SELECT id FROM accounts ORDER BY amount DESC, id LIMIT 3;
BEGIN; SELECT sharing.act_as(1) \gset
EXECUTE visible; EXECUTE one(3); EXECUTE one(8); EXECUTE top;
COMMIT;
BEGIN; SELECT sharing.act_as(2) \gset
EXECUTE visible; EXECUTE one(3); EXECUTE one(8); EXECUTE top;
COMMIT;
BEGIN; SELECT sharing.act_as(3) \gset
EXECUTE visible; EXECUTE one(3); EXECUTE one(8); EXECUTE top;
COMMIT;
BEGIN; SELECT sharing.act_as(4) \gset
EXECUTE visible; EXECUTE one(3); EXECUTE one(8); EXECUTE top;
COMMIT;
BEGIN; SELECT sharing.act_as(5) \gset
EXECUTE visible; EXECUTE one(3); EXECUTE one(8); EXECUTE top;
COMMIT;
BEGIN; SELECT sharing.act_as(1) \gset
EXECUTE visible; EXECUTE one(3); EXECUTE one(8); EXECUTE top;
COMMIT;
BEGIN; SELECT sharing.act_as(2) \gset
EXECUTE visible; EXECUTE one(3); EXECUTE one(8); EXECUTE top;
COMMIT;
BEGIN; SELECT sharing.act_as(3) \gset
EXECUTE visible; EXECUTE one(3); EXECUTE one(8); EXECUTE top;
COMMIT;
BEGIN; SELECT sharing.act_as(4) \gset
EXECUTE visible; EXECUTE one(3); EXECUTE one(8); EXECUTE top;
COMMIT;
BEGIN; SELECT sharing.act_as(5) \gset
EXECUTE visible; EXECUTE one(3); EXECUTE one(8); EXECUTE top;
COMMIT;
BEGIN; SELECT sharing.act_as(1) \gset
EXECUTE visible; EXECUTE one(3); EXECUTE one(8); EXECUTE top;
COMMIT;
BEGIN; SELECT sharing.act_as(2) \gset
EXECUTE visible; EXECUTE one(3); EXECUTE one(8); EXECUTE top;
COMMIT;
BEGIN; SELECT sharing.act_as(3) \gset
EXECUTE visible; EXECUTE one(3); EXECUTE one(8); EXECUTE top;
COMMIT;
BEGIN; SELECT sharing.act_as(4) \gset
EXECUTE visible; EXECUTE one(3); EXECUTE one(8); EXECUTE top;
COMMIT;
BEGIN; SELECT sharing.act_as(5) \gset
EXECUTE visible; EXECUTE one(3); EXECUTE one(8); EXECUTE top;
COMMIT;
