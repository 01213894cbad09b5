-- One row per projector (consumer group): how far it has applied the global
-- feed, with which read-model version, and whether it is stalled. A projector
-- transaction updates its row together with its read-model writes, so the
-- checkpoint and the read model never disagree. generation counts rebuild
-- switch-overs: a live batch prepared before a switch-over finds it changed
-- when it locks the row, and rolls back rather than apply its events to the
-- new read model as if they were missing there.
CREATE TABLE projection_checkpoints (
    projector        text        PRIMARY KEY,
    version          integer     NOT NULL,
    generation       bigint      NOT NULL DEFAULT 0,
    commit_position  bigint      NOT NULL DEFAULT 0,
    prepare_position bigint      NOT NULL DEFAULT 0,
    status           text        NOT NULL DEFAULT 'running',
    failures         integer     NOT NULL DEFAULT 0,
    last_error       text,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT projection_checkpoints_position_check CHECK (commit_position >= 0 AND prepare_position >= 0),
    CONSTRAINT projection_checkpoints_status_check CHECK (status IN ('running', 'stalled')),
    CONSTRAINT projection_checkpoints_failures_check CHECK (failures >= 0)
);
