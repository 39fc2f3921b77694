-- Venue cues: one row per action a cue ran (a DMX scene, a webhook), so that
-- a failing device or target is recorded and shown, not only logged.

create type cue_action_kind as enum ('dmx', 'webhook');
create type cue_run_status as enum ('pending', 'ok', 'retrying', 'failed');

create table cue_runs (
    id          bigint generated always as identity primary key,
    -- The job that runs the action: however often it is relayed or retried,
    -- it finds this same row.
    outbox_id   bigint not null unique references outbox (id),
    cue         text not null,
    -- The action's position in the cue (0-based).
    action      integer not null,
    kind        cue_action_kind not null,
    -- The webhook's URL without credentials, query or fragment; the DMX
    -- device's path once a process with DMX_DEVICE has taken the job.
    target      text,
    game_id     bigint references games (id),
    status      cue_run_status not null default 'pending',
    attempts    integer not null default 0,
    -- The last attempt's error, short and without secrets.
    error       text,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now(),
    finished_at timestamptz
);
create index cue_runs_status on cue_runs (status, id);
select trigger_updated_at('cue_runs');
