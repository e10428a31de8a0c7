r"""Connecting to Dask: a LocalCluster of our own, or a running scheduler reached within a bounded time.

:func:`connect` is the one way the distributed runner (:mod:`fenchel_cvx.training.dask`) obtains a
``distributed.Client``. An address is probed twice before the ``Client`` is made -- a TCP connection
(nothing listening) and Dask's handshake (something listening that is not a Dask scheduler, or one that never
answers: ``distributed`` would wait for its reply forever) -- each bounded by ``timeout`` seconds, so a bad
address raises :class:`~fenchel_cvx.errors.SchedulerUnreachable` naming it instead of hanging. Needs the
``distributed`` extra.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import TYPE_CHECKING

import numpy as np

from ..errors import SchedulerUnreachable
from ..validation import check_number

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from distributed import Client

__all__ = ["connect", "need_dask"]


def need_dask() -> None:
    """Raise an ImportError naming the extra when dask.distributed is missing."""
    try:
        import distributed  # noqa: F401
    except ImportError as e:  # pragma: no cover - exercised only without dask
        raise ImportError("the distributed runner needs dask.distributed: "
                          "pip install 'fenchel-cvx[distributed]'") from e


def connect(scheduler: str | Client | None = None, n_workers: int = 2, threads_per_worker: int = 1,
            processes: bool = True, timeout: float = 5.0) -> Client:
    """A ``distributed.Client``: a new LocalCluster (``scheduler`` None or ``"local"``) or a running scheduler.

    ``scheduler``: None/``"local"`` (start ``n_workers`` local worker processes, ``threads_per_worker`` threads each,
    HTTP endpoints on a free port), an address such as ``"tcp://10.0.0.5:8786"`` or ``"10.0.0.5:8786"``, or an existing
    ``Client`` (returned as is). An address that cannot be reached raises ``ConnectionError`` naming it within about
    ``timeout`` seconds -- also when something accepts the connection but never answers the Dask handshake (a bounded
    probe runs before the ``Client`` is made). The LocalCluster runs without work stealing (so a shard's tasks stay
    where the shard is); on a cluster of your own, start the scheduler with
    ``DASK_DISTRIBUTED__SCHEDULER__WORK_STEALING=False`` for the same locality. The returned client of a LocalCluster
    owns it: ``client.close()`` is followed by ``client.cluster.close()`` (:func:`train_distributed` closes what
    it opened).
    """
    need_dask()
    from distributed import Client, LocalCluster

    if isinstance(scheduler, Client):
        return scheduler
    timeout = check_number(timeout, "timeout", lo=0.0, strict=True)
    if scheduler is None or (isinstance(scheduler, str) and scheduler.strip().lower() == "local"):
        if isinstance(n_workers, bool) or not isinstance(n_workers, (int, np.integer)) or n_workers < 1:
            raise ValueError(f"n_workers: expected a positive integer, got {n_workers!r}")
        import dask

        # no work stealing: a shard's tasks stay on the worker that holds the shard (stealing would move
        # the batch's state, i.e. data, between workers to balance load)
        with dask.config.set({"distributed.scheduler.work-stealing": False}):
            cluster = LocalCluster(n_workers=int(n_workers), threads_per_worker=int(threads_per_worker),
                                   processes=bool(processes), dashboard_address=":0", silence_logs=40)
        client = Client(cluster)
        client.wait_for_workers(int(n_workers), timeout=120)
        return client
    if not isinstance(scheduler, str) or not scheduler.strip():
        raise ValueError(f"scheduler: expected None, 'local', an address like 'tcp://host:8786' or a Client, "
                         f"got {scheduler!r}")
    address = scheduler.strip()
    if "://" not in address:
        address = "tcp://" + address
    _probe(address, scheduler, timeout)
    _handshake(address, scheduler, timeout)
    try:
        return Client(address, timeout=timeout)
    except Exception as e:  # noqa: BLE001 - any failure to connect is reported with the address
        raise SchedulerUnreachable(f"scheduler: cannot connect to the Dask scheduler at {scheduler!r} "
                              f"({type(e).__name__}: {e})") from e


def _probe(address: str, given: str, timeout: float):
    """Fail fast (ConnectionError naming the address) when nothing listens at a tcp address."""
    from distributed.comm import parse_address
    from distributed.comm.addressing import parse_host_port

    try:
        proto, loc = parse_address(address)
        if proto not in ("tcp", "tls"):
            return  # other transports (inproc, ucx, ws): let the Client try
        host, port = parse_host_port(loc)
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"scheduler: {given!r} is not a scheduler address (expected e.g. 'tcp://host:8786'): "
                         f"{e}") from e
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as e:
        raise SchedulerUnreachable(f"scheduler: cannot connect to the Dask scheduler at {given!r} "
                              f"(no answer from {host}:{port} within {timeout:g} s: {e})") from e


def _handshake(address: str, given: str, timeout: float):
    """Fail (SchedulerUnreachable naming the address) when the peer accepts the connection but does not complete
    Dask's handshake within ``timeout`` seconds (``distributed`` itself would wait for its reply forever)."""
    from distributed.comm import connect as dask_connect
    from distributed.comm import parse_address

    if parse_address(address)[0] != "tcp":
        return  # tls needs the security arguments of the Client; other transports: let the Client try
    outcome: dict = {}

    async def attempt():
        comm = await asyncio.wait_for(dask_connect(address, timeout=timeout), timeout)
        await comm.close()

    def target():
        try:
            asyncio.run(attempt())
            outcome["ok"] = True
        except BaseException as e:  # noqa: BLE001 - reported below with the address
            outcome["error"] = e

    thread = threading.Thread(target=target, name="fenchel-cvx-dask-handshake", daemon=True)
    thread.start()
    thread.join(timeout + 2.0)
    if not outcome.get("ok"):
        err = outcome.get("error")
        why = "no answer to the Dask handshake" \
            if err is None or isinstance(err, (asyncio.TimeoutError, TimeoutError)) \
            else f"{type(err).__name__}: {err}"
        raise SchedulerUnreachable(f"scheduler: cannot connect to the Dask scheduler at {given!r} ({why} within "
                                   f"{timeout:g} s; is a Dask scheduler listening there?)")
