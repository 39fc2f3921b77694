-- Running the line: each show's own rules for who may join and how the line
-- moves, changed by staff during the day (docs/running-the-line.md).

alter table shows
    -- 'closed' refuses every new game, however it is asked for.
    add column joining     text not null default 'open' check (joining in ('open', 'closed')),
    -- Last call: a signup whose estimated wait ends after it is refused.
    add column closes_at   timestamptz,
    -- At most this many games new, queued or recalled; null: no limit.
    add column max_waiting integer check (max_waiting >= 1),
    -- The attraction is down: no auto-recall, no no-shows, no ETAs.
    add column paused      boolean not null default false,
    -- When the show was last resumed: a recall counts towards a no-show
    -- only from then, since the player was told the wait was on hold.
    add column resumed_at  timestamptz,
    -- How many play at once. Null only for shows made before this column:
    -- ondeck sets those to STATIONS when it starts (`shows::adopt_stations`).
    add column stations    integer check (stations between 1 and 1000),
    -- Players may join from their own phone.
    add column self_join   boolean not null default false,
    -- Shown where players sign up themselves; accepting it is required there.
    add column waiver_text text not null default '' check (length(waiver_text) <= 5000);
