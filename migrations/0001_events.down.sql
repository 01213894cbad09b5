DROP FUNCTION IF EXISTS append_events(text, bigint, uuid[], text[], text, jsonb[], jsonb[]);
DROP TABLE IF EXISTS events;
DROP FUNCTION IF EXISTS events_refuse_change();
