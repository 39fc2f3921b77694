-- bench/stats-data.sql — a show of :games games over 10 days for bench/stats,
-- written straight into the tables (the API would take an hour to make them).
-- Each day runs 10:00–22:00 in the venue's time zone (:'tz'); games arrive
-- evenly, wait 5–40 minutes, play 2–5 minutes. One in ten is cancelled
-- (left, no-show or by staff, in turn); every game has a welcome text, the
-- called ones a recall, the completed ones a souvenir; one text in fifty
-- failed. Run with psql -v show=ID -v games=N -v tz=ZONE.
\set ON_ERROR_STOP on
begin;
create temporary table plan on commit drop as
select n,
       -- day 0..9, then a moment of its 12 open hours
       ((date :'day0' + (n % 10)::int)::timestamp + interval '10 hours'
          + (n / 10) * (interval '12 hours' / (:games / 10))) at time zone :'tz' as created,
       (300 + (n * 7919) % 2100) * interval '1 second' as wait,
       (120 + (n * 104729) % 180) * interval '1 second' as play,
       (n * 7) % 1000 as score,
       case when n % 10 = 3 then (array['player_left', 'no_show', 'staff'])[1 + (n / 10) % 3] end as cancelled
from generate_series(0::bigint, :games - 1) n;

insert into players (show_id, first_name, handedness, mobile_number, created_at)
select :show, 'P' || n, 'R', '+1555' || lpad(n::text, 7, '0'), created from plan;

create temporary table ids on commit drop as
select p.id as player_id, plan.* from plan join players p on p.first_name = 'P' || plan.n and p.show_id = :show;

insert into games (player_id, show_id, state, created_at, queued_at, recalled_at, confirmed_at, playing_at,
                   completed_at, cancelled_at, cancel_reason, score, distance, homeruns, quoted_wait_s)
select player_id, :show,
       case when cancelled is null then 'completed' else 'cancelled' end::game_state,
       created, created,
       case when cancelled is distinct from 'player_left' then created + wait - interval '2 minutes' end,
       case when cancelled is null then created + wait end,
       case when cancelled is null then created + wait + interval '1 minute' end,
       case when cancelled is null then created + wait + interval '1 minute' + play end,
       case when cancelled is not null then created + wait end,
       cancelled::cancel_reason,
       case when cancelled is null then score end,
       case when cancelled is null then score * 3 end,
       case when cancelled is null then score / 100 end,
       extract(epoch from wait)::int + ((n * 31) % 600) - 300
from ids;

insert into messages (game_id, show_id, kind, "to", body, status, segments, error_code, created_at, sent_at)
select g.id, :show, k.kind::message_kind, '+15550000000', 'a text',
       case when (g.id + k.o) % 50 = 0 then 'failed' else 'delivered' end::message_status,
       case when (g.id + k.o) % 50 = 0 then null else 1 + (g.id % 3 = 0)::int end,
       case when (g.id + k.o) % 50 = 0 then (array['30003', '30005', '30006'])[1 + g.id % 3] end,
       k.at, k.at
from games g
cross join lateral (values ('welcome', 0, g.created_at),
                           ('recall', 1, g.recalled_at),
                           ('souvenir', 2, g.completed_at)) k(kind, o, at)
where g.show_id = :show and k.at is not null;
commit;
analyze;
