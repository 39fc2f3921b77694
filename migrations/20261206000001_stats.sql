-- Numbers for staff (GET /api/v1/stats, docs/reports.md): what a show's
-- report reads, kept where one indexed range per show and day finds it.

-- The wait quoted when the game entered the line (the ETA its player saw
-- then), in seconds; null when none was quoted (the line was paused) and
-- for games queued before this column existed.
alter table games add column quoted_wait_s integer check (quoted_wait_s >= 0);

-- A show's games by the time they were signed up: a day's report is one
-- range of this index.
create index games_show_created on games (show_id, created_at);

-- Texts by show: a join code's text has no game, so the show is kept on the
-- text itself. `segments` is how many SMS segments the provider was given
-- (GSM-7 160/153, UCS-2 70/67 characters), set when a text is sent.
alter table messages
    add column show_id  bigint references shows (id),
    add column segments smallint check (segments > 0);
update messages m set show_id = g.show_id from games g where g.id = m.game_id;
create index messages_show_created on messages (show_id, created_at);

-- The last change of any text: what a cached report is checked against.
create index messages_updated on messages (updated_at);
