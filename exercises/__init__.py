"""The classroom's exercises. Each is a folder here: student.md (goal, rules, hints),
instructor.md (solution, expected scores) and __init__.py (its checker, EXERCISE). EXERCISES is
the one list; a class file enables them by name."""
from exercises import defend, gateway, keyed_client, read_the_schedule, recon_race, see_through_banners

EXERCISES = {e.name: e for e in (recon_race.EXERCISE, read_the_schedule.EXERCISE, keyed_client.EXERCISE,
                                 see_through_banners.EXERCISE, gateway.EXERCISE, defend.EXERCISE)}
