"""Attacker profiles plan rounds without nmap: here each is played against a simulated target
(ports that hop at given moments; a round of S seconds reports the ports open at its end)."""
import random

from attacker import profiles
from mtdlab.contract.attackerplan import PROFILES, AttackerPlan

S = 0.5   # a round's duration in these plays


def plan(profile="sweeper", **kw):
    base = dict(ports=((9000, 9999),), timing="T4", pause_s=0.5, version_scan=False, act_delay_s=2.0,
                max_sweeps=1000, profile=profile)
    return AttackerPlan(**{**base, **kw})


class Target:
    """Services whose ports change at the given hop moments (each its own pool of 100 ports)."""

    def __init__(self, hops_by_service, seed=0):
        rng = random.Random(seed)
        self.timeline = []
        for i, hops in enumerate(hops_by_service):
            moments = [0.0] + hops
            ports = [9000 + 100 * i + rng.randrange(100) for _ in moments]
            self.timeline.append(list(zip(moments, ports)))

    def open_at(self, t, scanned=None):
        out = []
        for line in self.timeline:
            port = [p for m, p in line if m <= t][-1]
            if scanned is None or port in scanned:
                out.append(port)
        return sorted(out)


def play(profile, target, until=200.0):
    """Run the profile's rounds against the target; returns [(round, start, end, found)]."""
    now, rounds = 0.0, []
    while now < until:
        rnd, start = profile.next_round(now)
        start = max(start, now)
        end = start + S
        scanned = None if rnd.scope == "full" else _ports(rnd.ports)
        found = target.open_at(end, scanned)
        profile.seen(rnd, start, end, found)
        rounds.append((rnd, start, end, found))
        now = end
    return rounds


def _ports(spec):
    from mtdlab.analysis.sweeps import ports_of
    return ports_of(spec)


def test_every_profile_in_the_scenario_has_a_planner_and_back():
    assert tuple(profiles.PROFILES) == PROFILES
    assert profiles.spec([7, 1, 2, 3, 9, 10]) == "1-3,7,9-10" and _ports("1-3,7,9-10") == {1, 2, 3, 7, 9, 10}


def test_sweeper_and_slow_sweep_everything_with_the_pause():
    rounds = play(profiles.make(plan(), 1), Target([[30.0]]), until=10)
    assert all(r.scope == "full" and r.ports == "9000-9999" and r.delay_s == 2.0 for r, *_ in rounds)
    assert all(b[1] - a[2] == 0.5 for a, b in zip(rounds, rounds[1:]))        # the pause between rounds
    slow = profiles.make(plan("slow", rate_pps=30), 1).next_round(0)[0]
    assert slow.extra == ("--max-rate", "30") and slow.scope == "full"


def test_sampler_scans_a_fresh_share_each_round():
    p = profiles.make(plan("sampler", sample_share=0.25), 1)
    rounds = [p.next_round(0)[0] for _ in range(3)]
    sets = [_ports(r.ports) for r in rounds]
    assert all(r.scope == "sample" and len(s) == 250 and s <= set(range(9000, 10000)) for r, s in zip(rounds, sets))
    assert sets[0] != sets[1] != sets[2]
    assert profiles.make(plan("sampler", sample_share=0.25), 1).next_round(0)[0].ports == rounds[0].ports   # seeded


def test_hop_aware_rescans_around_a_closed_port_at_once_and_acts_at_once():
    p = profiles.make(plan("hop-aware"), 1)
    p.seen(p.next_round(0)[0], 0, S, [9042])
    assert not p.wake.is_set()
    p.followup({"port": 9042, "connected": True, "delay_s": 2.0})
    assert not p.wake.is_set()                                 # it still answered: nothing to do
    p.followup({"port": 9042, "connected": False, "delay_s": 2.0})
    p.followup({"port": 9050, "connected": False, "delay_s": 2.0})  # same neighbourhood: one rescan
    assert p.wake.is_set()
    rnd, start = p.next_round(3.0)
    assert (rnd.scope, rnd.delay_s, start) == ("narrow", 0.0, 3.0) and rnd.note == {"after_closed": 9042}
    assert _ports(rnd.ports) == set(range(9000, 9042 + 129))   # 128 either side, inside its ranges
    assert not p.wake.is_set() and p.next_round(4.0)[0].scope == "full"
    p.followup({"port": 9100, "connected": False, "delay_s": 0.0})   # its own act after a rescan failed: no loop
    assert not p.wake.is_set()


def test_schedule_learner_times_its_sweeps_after_regular_hops():
    period = 10.0
    target = Target([[period * k + 3.3 for k in range(40)]])
    p = profiles.make(plan("schedule-learner"), 1)
    rounds = play(p, target, until=300)
    assert p.regular and abs(p.mean_s - period) < 0.5, (p.mean_s, p.cv, p.lives)
    timed = [(rnd, start) for rnd, start, _, _ in rounds if "timed_after_s" in rnd.note]
    assert len(timed) > 10
    # once it knows the schedule it sweeps about once a hop, each just after a hop
    late = [start for _, start in timed if start > 150]
    assert len(late) <= 150 / period + 2
    for start in late:
        since = (start - 3.3) % period
        assert since < 2.0, since
    # against memoryless hops there is nothing to predict: it keeps sweeping
    rng = random.Random(3)
    t, hops = 0.0, []
    while t < 400:
        t += rng.expovariate(1 / 10)
        hops.append(t)
    q = profiles.make(plan("schedule-learner"), 1)
    rounds = play(q, Target([hops]), until=300)
    assert not q.regular and q.cv is not None and q.cv > 0.35
    assert not any("timed_after_s" in rnd.note for rnd, *_ in rounds)


def test_schedule_learner_learns_again_when_its_predictions_fail():
    p = profiles.make(plan("schedule-learner"), 1)
    # it believes hops every 10 s (as if from a few lucky lives) ...
    p.mean_s, p.cv, p.lives = 10.0, 0.1, [10.0] * 8
    p.last_end, p.open = 0.5, {9042: 0.0}
    # ... but the port never moves: each timed round finds it still open
    for k in range(3):
        rnd, start = p.next_round(p.last_end)
        assert "timed_after_s" in rnd.note
        p.seen(rnd, start, start + S, [9042])
        p.open[9042] = p.last_end - 1.0          # its idea of the birth, so the next round is timed again
    assert p.mean_s is None and p.relearned == 1 and not p.lives
    assert "timed_after_s" not in p.next_round(p.last_end)[0].note


def test_schedule_learner_counts_overdue_ports_as_failed_predictions():
    p = profiles.make(plan("schedule-learner"), 1)
    p.mean_s, p.cv, p.lives = 10.0, 0.1, [10.0] * 8
    p.open = {9001: 0.0, 9101: 0.5, 9201: 1.0, 9301: 1.2}   # none moved by 13 s: the predictions failed
    p.last_end = 13.5
    p.next_round(13.5)                                # (a fourth overdue port after the relearn: no crash)
    assert p.relearned == 1 and p.mean_s is None


def test_schedule_learner_against_services_that_hop_in_phase():
    """The lab's fixed law: every service hops at the same moments. It must keep sweeping
    (here it learns, times a few sweeps, finds its births too coarse, learns again)."""
    target = Target([[10.0 * k + 3.3 for k in range(40)] for _ in range(3)], seed=2)
    p = profiles.make(plan("schedule-learner"), 1)
    rounds = play(p, target, until=300)
    assert rounds[-1][1] > 280 and len(rounds) > 30
