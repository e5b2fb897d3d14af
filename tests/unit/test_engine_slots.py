"""Container starts and removals queue for the controller's engine slots (controller/instances.py):
however many hoppers ask at once, the engine has at most ENGINE_SLOTS of them under way."""
import threading
import time

from controller import instances
from controller.instances import ENGINE_SLOTS, Instances, remove


class Gauge:
    """Counts engine calls under way; each takes a while, as the engine's do."""

    def __init__(self):
        self.lock, self.now, self.most, self.calls = threading.Lock(), 0, 0, 0

    def call(self):
        with self.lock:
            self.now += 1
            self.calls += 1
            self.most = max(self.most, self.now)
        time.sleep(0.02)
        with self.lock:
            self.now -= 1


class FakeContainer:
    def __init__(self, gauge: Gauge):
        self.gauge = gauge

    def remove(self, force=False):
        self.gauge.call()


class FakeClient:
    def __init__(self, gauge: Gauge):
        self.containers = self
        self.gauge = gauge

    def run(self, image, command, **options):
        self.gauge.call()
        return FakeContainer(self.gauge)


class Target:
    id = "target-id"


def test_starts_and_removals_share_the_engine_slots():
    gauge = Gauge()
    lab = Instances(FakeClient(gauge), "mtdlab/lab", Target(), "lab", "run")
    made = []

    def hopper(i: int):
        container = lab.start(f"svc{i}", "redis", 20000 + i, hop=1)
        made.append(container)
        remove(container)

    threads = [threading.Thread(target=hopper, args=(i,)) for i in range(4 * ENGINE_SLOTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(made) == 4 * ENGINE_SLOTS and gauge.calls == 8 * ENGINE_SLOTS   # every start and removal ran
    assert 1 < gauge.most <= ENGINE_SLOTS                                       # side by side, never more
    assert instances.engine_slots.acquire(blocking=False)                       # and every slot came back
    instances.engine_slots.release()
