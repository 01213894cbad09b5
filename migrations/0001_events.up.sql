-- The append-only event log: the source of truth. See docs/architecture.md.
CREATE TABLE events (
    global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    event_id        uuid        NOT NULL,
    stream_id       text        NOT NULL,
    stream_version  bigint      NOT NULL,
    event_type      text        NOT NULL,
    tenant_id       text        NOT NULL DEFAULT '',
    data            jsonb       NOT NULL,
    metadata        jsonb       NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version),
    CONSTRAINT events_stream_version_check CHECK (stream_version >= 0)
);

-- The global feed reads in (transaction_id, global_position) order.
CREATE INDEX events_feed_idx ON events (transaction_id, global_position);

CREATE FUNCTION events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are immutable: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER events_no_update_delete BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_refuse_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change();

REVOKE UPDATE, DELETE, TRUNCATE ON events FROM PUBLIC;

-- append_events appends a batch to one stream in the caller's transaction
-- (normally the implicit transaction of a single statement: one round trip).
-- It must be the first write of its transaction and takes the per-stream
-- advisory lock before any xid is assigned, so that per-stream order in the
-- (transaction_id, global_position) feed matches stream_version order.
-- Returns the stream version and (transaction_id, global_position) of the last
-- event. Re-appending ids already stored in this stream returns their result
-- without writing. Errors: SQLSTATE 'AQ001' wrong expected version (DETAIL
-- holds the actual version), 'AQ002' invalid append. Callers must run it
-- READ COMMITTED (each statement inside sees commits made before it).
CREATE FUNCTION append_events(
    p_stream     text,
    p_expected   bigint,
    p_ids        uuid[],
    p_types      text[],
    p_tenant     text,
    p_data       jsonb[],
    p_metadata   jsonb[]
) RETURNS TABLE (last_version bigint, last_txid xid8, last_position bigint)
LANGUAGE plpgsql
-- Custom plans look cheaper for `event_id = ANY (p_ids)`, so the plan cache
-- would re-plan every statement on every call (more than doubling the
-- function's cost); the generic plans are the right ones for every call.
SET plan_cache_mode = force_generic_plan
-- The service role may execute this function but not INSERT into events
-- itself, so every append takes the stream lock and the version check.
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    n        int := coalesce(array_length(p_ids, 1), 0);
    current  bigint;
    existing int;
BEGIN
    IF n = 0 THEN
        RAISE EXCEPTION 'append to %: no events', p_stream USING ERRCODE = 'AQ002';
    END IF;
    IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
        RAISE EXCEPTION 'append to %: must be the first write of its transaction', p_stream
            USING ERRCODE = 'AQ002';
    END IF;
    -- The version check below must see appends committed while this one
    -- waited for the stream lock: only READ COMMITTED takes a fresh snapshot
    -- per statement (under REPEATABLE READ it would collide on the unique key).
    IF current_setting('transaction_isolation') NOT IN ('read committed', 'read uncommitted') THEN
        RAISE EXCEPTION 'append to %: needs READ COMMITTED, not %', p_stream,
            current_setting('transaction_isolation') USING ERRCODE = 'AQ002';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended(p_stream, 0));

    SELECT count(*) INTO existing FROM events WHERE event_id = ANY (p_ids);
    IF existing > 0 THEN
        IF existing = n AND NOT EXISTS (
            SELECT 1 FROM events WHERE event_id = ANY (p_ids) AND stream_id <> p_stream) THEN
            RETURN QUERY
                SELECT e.stream_version, e.transaction_id, e.global_position
                FROM events e WHERE e.event_id = ANY (p_ids)
                ORDER BY e.stream_version DESC LIMIT 1;
            RETURN;
        END IF;
        RAISE EXCEPTION 'append to %: % of % event ids already stored (partly, or in another stream)',
            p_stream, existing, n USING ERRCODE = 'AQ002';
    END IF;

    SELECT max(stream_version) INTO current FROM events WHERE stream_id = p_stream;
    current := coalesce(current, -1);
    IF p_expected <> -2 AND p_expected <> current THEN
        RAISE EXCEPTION 'append to %: expected version %, actual %', p_stream, p_expected, current
            USING ERRCODE = 'AQ001', DETAIL = current::text;
    END IF;

    RETURN QUERY
        WITH inserted AS (
            INSERT INTO events (event_id, stream_id, stream_version, event_type, tenant_id, data, metadata)
            SELECT p_ids[i], p_stream, current + i, p_types[i], p_tenant, p_data[i], p_metadata[i]
            FROM generate_series(1, n) AS i
            ORDER BY i
            RETURNING stream_version, transaction_id, global_position)
        SELECT * FROM inserted ORDER BY stream_version DESC LIMIT 1;
END $$;

REVOKE EXECUTE ON FUNCTION append_events(text, bigint, uuid[], text[], text, jsonb[], jsonb[]) FROM PUBLIC;
