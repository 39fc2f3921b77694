-- bench/reads-data.sql — the venue bench/reads reads: two teams, :games
-- completed games over the 10 days before today in the venue's time zone
-- (:'tz'), 10:00–22:00 each day, each day's players on the two teams in
-- turn, and :queued games waiting in line today. Written straight into the
-- tables. Run with psql -v show=ID -v games=N -v queued=N -v tz=ZONE.
\set ON_ERROR_STOP on
begin;
insert into teams (name) values ('Reds'), ('Blues');
create temporary table plan on commit drop as
select n,
       -- day -10..-1, then a moment of its 12 open hours
       (((now() at time zone :'tz')::date - 10 + (n % 10)::int)::timestamp + interval '10 hours'
          + (n / 10) * (interval '12 hours' / (:games / 10))) at time zone :'tz' as created,
       (120 + (n * 104729) % 180) * interval '1 second' as play,
       (n * 7) % 1000 as score,
       (select id from teams order by id offset ((n / 10) % 2) limit 1) as team_id
from generate_series(0::bigint, :games - 1) n;

insert into players (show_id, first_name, handedness, team_id, created_at)
select :show, 'R' || n, 'R', team_id, created from plan;

insert into games (player_id, show_id, state, created_at, queued_at, recalled_at, confirmed_at, playing_at,
                   completed_at, score, distance, homeruns)
select p.id, :show, 'completed', created, created, created + interval '10 minutes',
       created + interval '12 minutes', created + interval '13 minutes',
       created + interval '13 minutes' + play, score, score * 3, score / 100
from plan join players p on p.first_name = 'R' || plan.n and p.show_id = :show;

insert into players (show_id, first_name, handedness, team_id, created_at)
select :show, 'Q' || n, 'R', (select id from teams order by id offset (n % 2) limit 1), now()
from generate_series(0, :queued - 1) n;

insert into games (player_id, show_id, state, created_at, queued_at, queue_key)
select p.id, :show, 'queued', now(), now(), nextval('games_queue_key')
from players p where p.show_id = :show and p.first_name like 'Q%'
order by p.id;
commit;
analyze;
