"""Leases: which process is computing a run, so that two never compute the same one at once."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid

from deeplimits.experiment import Progress, no_progress
from deeplimits.store import Store


class Leases:
    """The leases this process holds in a store, renewed in the background while it computes them."""

    POLL_S = 1.0

    def __init__(self, store: Store) -> None:
        self.store = store
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.held: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def claim(self, key: str, rerun: bool = False) -> str:
        """``"done"``, ``"mine"`` or ``"busy"`` (see :meth:`Store.claim`)."""
        state = self.store.claim(key, self.owner, rerun=rerun)
        if state == "mine":
            with self._lock:
                self.held.add(key)
            self._start()
        return state

    def wait_for(self, key: str, rerun: bool, notice: Progress = no_progress) -> str:
        """Claim ``key``, waiting while another live process holds it; ``"done"`` or ``"mine"``."""
        waited = False
        while (state := self.claim(key, rerun)) == "busy":
            if not waited:
                notice(f"waiting for {self.store.holder(key) or 'another process'}, which is computing this run",
                       0, 1)
                waited = True
            time.sleep(self.POLL_S)
        return state

    def forget(self, key: str) -> None:
        """The lease ended with the run's save (same transaction)."""
        with self._lock:
            self.held.discard(key)

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._renew, name="deeplimits-leases", daemon=True)
            self._thread.start()

    def _renew(self) -> None:
        from deeplimits.store.sqlite import LEASE_RENEW_S

        while not self._stop.wait(LEASE_RENEW_S):
            with self._lock:
                keys = sorted(self.held)
            if keys:
                try:
                    self.store.renew(keys, self.owner)
                except Exception:  # a busy store: the next beat tries again
                    pass

    def close(self) -> None:
        """Give back every lease still held (a run that failed or was interrupted); stop renewing."""
        for key in sorted(self.held):
            try:
                self.store.release(key, self.owner)
            except Exception:  # closing after a failure: the lease also lapses when this process ends
                pass
        self.held.clear()
        self._stop.set()
