-- The execution engine's shared work queue (commands/execution_engine.go).
-- One row per unfinished execution: whoever holds the lease (owner,
-- lease_until) runs it; rows are claimed with FOR UPDATE SKIP LOCKED, the
-- lease is renewed while the execution runs and taken over once it has
-- expired (the process died). due_at delays an execution waiting for a
-- step retry. The execution streams stay the source of truth: this table
-- only says who works on what.
CREATE TABLE execution_work (
    execution_id text        PRIMARY KEY,
    tenant_id    text        NOT NULL,
    owner        text,
    lease_until  timestamptz,
    due_at       timestamptz NOT NULL DEFAULT now(),
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX execution_work_due_idx ON execution_work (due_at);

-- Where the engine's scan of the event feed for new and finished
-- executions stands (one row).
CREATE TABLE execution_feed_checkpoint (
    id       boolean PRIMARY KEY DEFAULT true CHECK (id),
    position text    NOT NULL
);
