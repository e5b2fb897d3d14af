"""gunicorn's threaded worker, for an instance whose door can close (services/web/start).

At the hop's moment the start script shuts the listening socket (the port refuses new
connections at once, for every process holding it) and asks gunicorn to stop gracefully: the
requests in progress finish, then it exits. A worker still polling the shut listener gets
EINVAL from accept(); the stock worker would crash on it, cutting those requests. This one takes
it as the signal to stop accepting and finish what it has.
"""
import errno

from gunicorn.workers.gthread import ThreadWorker


class DoorWorker(ThreadWorker):
    def accept(self, server, listener):
        try:
            super().accept(server, listener)
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            self.poller.unregister(listener)
            self.alive = False
