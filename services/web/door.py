"""gunicorn's threaded worker, for an instance whose door can close (services/web/start).

At the hop's moment the start script shuts the listening socket: the port refuses new
connections at once, for every process holding it. A worker polling that listener then gets
EINVAL from accept(); the stock worker would crash on it, cutting the requests it serves. This one
stops polling the listener and goes on serving the keep-alive connections it has (the proxy's,
which the proxy ends between requests within a second); the start script stops gunicorn once
none is left.
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
