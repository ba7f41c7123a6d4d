"""Deliver queued spans when a process ends without running ``atexit``.

vaquero's normal exit path is the ``atexit`` shutdown registered by
:mod:`vaquero._pipeline.install`.
Two common ends of a process skip it:

* **SIGTERM** with the default disposition kills the process outright (containers, systemd,
  ``Pool.terminate()``). If, and only if, SIGTERM still has its default disposition at
  ``import vaquero`` (main thread) or when the pipeline is installed, vaquero installs a
  handler that shuts vaquero down within the shutdown budget, puts the default back and
  re-sends SIGTERM, so the process still dies *by SIGTERM* (exit status and parent
  expectations unchanged). Doing it at import matters because setup is lazy: the first span
  may come on a worker thread (a sync FastAPI endpoint), where no handler can be installed,
  and a server that saves "the handler it found" before serving should find this one. A
  handler the application installs is never replaced; one already there is only chained
  (next point).
* **multiprocessing children** (fork and forkserver start methods, Pool workers) leave with
  ``os._exit`` right after ``BaseProcess._bootstrap``. Inside ``_bootstrap`` multiprocessing
  runs its own finalizers (``util._exit_function``) after the target returns; vaquero
  registers a ``multiprocessing.util.Finalize`` there. This was chosen over wrapping
  ``_bootstrap`` because it is a public hook, it runs at the point where the child's work is
  over, and it also covers children whose vaquero pipeline is first configured *inside* the
  child (a wrapper installed then would come too late: the child already runs inside the
  original ``_bootstrap``). ``_bootstrap`` clears the finalizer registry right after fork,
  so for forked children the finalizer is registered from multiprocessing's own after-fork
  hook (``util.register_after_fork``).

* **servers that stop gracefully, then re-raise the signal**. uvicorn (also its
  ``--workers`` children and its gunicorn worker) installs its own SIGTERM/SIGINT handlers,
  shuts down gracefully, puts back the handler it found (the default) and re-raises the
  signal, so the process dies by it before ``atexit`` runs: every queued span was lost.
  vaquero is set up too late to be "the handler it found" (the app, and so vaquero, is
  imported once the server's handlers are in place). So when a server's handler is already
  there, vaquero *chains* it (:class:`_Chained`): the server's handler is called as before;
  vaquero only blocks that signal for the main thread first. The server's graceful shutdown
  runs unchanged; its re-raise stays pending instead of killing the process mid-queue; the
  interpreter exits through ``atexit`` (or multiprocessing's finalizers), vaquero ships its
  spans within the shutdown budget and then unblocks the signal, so the process still dies by
  it: the exit status is the one the server chose. A server that exits normally after the
  signal (hypercorn, a plain asyncio server) has nothing pending, and exits as it would have.
  SIGINT is not held: the default SIGINT handler raises ``KeyboardInterrupt``, which unwinds
  through ``atexit`` by itself. SIGQUIT is held like SIGTERM (gunicorn stops its workers with
  it on SIGINT). Chaining happens on the main thread only, at import when a server's handler
  is present and again when the pipeline is installed. One difference remains: code placed
  *after* ``uvicorn.run(...)`` in a script now runs before the process dies.

All these paths call the pipeline shutdown handed to :func:`install`, not a flush followed
later by the ``atexit`` shutdown: one deadline bounds the whole exit even when the collector
is down.

Plain ``os.fork()`` children that exit normally run ``atexit`` and need nothing here; the
export queue already forgets its parent's spans in the child (``vaquero._pipeline.queue``) and the
OTLP exporter opens a fresh connection there (``vaquero._pipeline.exporters``).
"""

from __future__ import annotations

import atexit
import contextvars
import logging
import os
import queue
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from vaquero._state import STATE

logger = logging.getLogger("vaquero")

# Higher runs earlier among multiprocessing's finalizers; ahead of the default (0) ones so
# spans are out before other finalizers tear down queues and managers.
FINALIZER_PRIORITY = 100



# Signals a server handles for a graceful stop and may re-raise once its own handler is gone.
HELD_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGQUIT") if hasattr(signal, name)
)


class _AfterForkToken:
    """A live object for ``util.register_after_fork``, whose registry holds weak references."""


def install(
    shutdown: Callable[[], None], export_now: Callable[[], None] | None = None
) -> None:
    """Called once per process, after vaquero installed its own provider; never raises.

    ``shutdown`` is the pipeline's bounded shutdown and ``export_now`` wakes its export
    threads, handed in so this module stays below :mod:`vaquero._pipeline.install` rather
    than importing it back.
    """
    STATE.shutdown_pipeline = shutdown
    STATE.export_now = export_now
    if STATE.lifecycle_pid == os.getpid():
        return
    STATE.lifecycle_pid = os.getpid()
    try:
        _install_sigterm_handler()
        chain_server_handlers()
    except Exception:
        logger.debug("vaquero: could not install the SIGTERM handler", exc_info=True)
    try:
        _install_worker_exit_hooks()
    except Exception:
        logger.debug("vaquero: could not hook multiprocessing worker exit", exc_info=True)


# --- SIGTERM -----------------------------------------------------------------------------------
def _install_sigterm_handler() -> None:
    if threading.current_thread() is not threading.main_thread():
        return  # signal.signal() only works on the main thread
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return  # the application's (or SIG_IGN): theirs to keep
    signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Ship what is queued within the shutdown budget, then die by SIGTERM as if unhandled."""
    signal.signal(signum, signal.SIG_DFL)  # a second SIGTERM during the flush kills at once
    if STATE.finishing:
        # The exit finalizer is already delivering spans further down this very stack (a
        # Pool worker that got its stop sentinel and then terminate()'s SIGTERM). Dying now
        # would cut that short; it re-sends the signal once it is done, within its budget.
        STATE.deferred_signal = signum
        return
    try:
        _shutdown()
    finally:
        os.kill(os.getpid(), signum)


def is_sigterm_handler_installed() -> bool:
    return signal.getsignal(signal.SIGTERM) is _on_sigterm


# --- servers' own handlers ---------------------------------------------------------------------
class _Chained:
    """A server's signal handler, called unchanged, after holding that signal for the main thread.

    Holding means blocking it with ``pthread_sigmask`` in the main thread (Python runs signal
    handlers there), so the server's own re-raise at the end of its graceful shutdown stays
    pending until :func:`release_held_signals` runs after vaquero's exit flush.
    """

    __slots__ = ("original",)

    def __init__(self, original: Callable[[int, FrameType | None], Any]) -> None:
        self.original = original

    def __call__(self, signum: int, frame: FrameType | None) -> Any:
        try:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signum})
            STATE.held_signals.add(signum)
            _stop_signals.put(signum)  # reentrant: safe inside a signal handler
        except Exception:
            logger.debug("vaquero: could not hold signal %s", signum, exc_info=True)
        return self.original(signum, frame)

    def __repr__(self) -> str:
        return f"<vaquero chained {self.original!r}>"


def prepare_at_import() -> None:
    """At ``import vaquero``: take SIGTERM if nobody has, chain a server's handlers; never raises.

    Nothing is done off the main thread, under ``OTEL_SDK_DISABLED=true``, or where signals
    cannot be blocked per thread.
    """
    try:
        if threading.current_thread() is not threading.main_thread():
            return
        if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
            return
        _install_sigterm_handler()
    except Exception:
        logger.debug("vaquero: could not install the SIGTERM handler", exc_info=True)
    chain_server_handlers()


def chain_server_handlers() -> None:
    """Chain the handlers a server installed for :data:`HELD_SIGNALS`; never raises.

    Only Python handlers are chained: the default (vaquero's own handler covers it), SIG_IGN
    and handlers installed from C are left alone. Called at ``import vaquero`` and when the
    pipeline is installed, on the main thread only (``signal.signal`` works nowhere else).
    """
    try:
        if threading.current_thread() is not threading.main_thread():
            return
        if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
            return
        if not hasattr(signal, "pthread_sigmask"):
            return
        for signum in HELD_SIGNALS:
            current = signal.getsignal(signum)
            if isinstance(current, _Chained):
                _start_stop_watcher()  # a forked child inherits the handler, not the thread
                continue
            if not callable(current) or current is _on_sigterm:
                continue
            signal.signal(signum, _Chained(current))
            _start_stop_watcher()
            if STATE.release_registered_pid != os.getpid():
                STATE.release_registered_pid = os.getpid()
                atexit.register(release_held_signals)
    except Exception:
        logger.debug("vaquero: could not chain the server's signal handlers", exc_info=True)


# A stop signal wakes the export threads at once, so what is already queued is out even if
# the server is then killed (gunicorn SIGKILLs workers that outlive its graceful timeout).
# The wake happens on this watcher thread: a signal handler must not take the export queue's
# locks, which the interrupted main thread may hold.
_stop_signals: queue.SimpleQueue[int] = queue.SimpleQueue()


def _watch_stop_signals() -> None:
    while True:
        _stop_signals.get()
        export_now = STATE.export_now
        if export_now is not None:
            try:
                export_now()
            except Exception:
                logger.debug("vaquero: could not wake the export threads", exc_info=True)


def _start_stop_watcher() -> None:
    if STATE.stop_watcher_pid == os.getpid():
        return
    STATE.stop_watcher_pid = os.getpid()
    watcher = threading.Thread(target=_watch_stop_signals, name="vaquero-stop", daemon=True)
    contextvars.Context().run(watcher.start)


def release_held_signals() -> None:
    """Unblock the signals a chained handler held: a pending one is delivered now.

    Called right after vaquero's exit flush (and, as a last resort, from ``atexit``), so a
    server that re-raised its signal dies by it with the status it chose.
    """
    held = STATE.held_signals
    if not held:
        return
    signums = set(held)
    held.clear()
    try:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, signums)
    except Exception:
        logger.debug("vaquero: could not release held signals", exc_info=True)


# --- multiprocessing children ----------------------------------------------------------------
def _install_worker_exit_hooks() -> None:
    multiprocessing = sys.modules.get("multiprocessing")
    if multiprocessing is not None and multiprocessing.parent_process() is not None:
        _register_exit_finalizer()  # configured inside a child: its exit is near
    if not STATE.fork_hook_registered and hasattr(os, "register_at_fork"):
        STATE.fork_hook_registered = True
        os.register_at_fork(before=_before_fork)
    _before_fork()  # multiprocessing may already be imported: children forked later need it


def _before_fork() -> None:
    """Make sure multiprocessing children (forked later) register the exit finalizer."""
    if STATE.after_fork_token is not None or "multiprocessing.util" not in sys.modules:
        return  # only a program that uses multiprocessing pays for it
    try:
        from multiprocessing import util

        token = _AfterForkToken()
        util.register_after_fork(token, _in_multiprocessing_child)
        STATE.after_fork_token = token
    except Exception:
        logger.debug("vaquero: could not register the multiprocessing hook", exc_info=True)


def _in_multiprocessing_child(token: Any) -> None:
    try:
        _register_exit_finalizer()
    except Exception:
        logger.debug("vaquero: could not register the worker exit finalizer", exc_info=True)


def _register_exit_finalizer() -> None:
    from multiprocessing import util

    util.Finalize(None, _shutdown, exitpriority=FINALIZER_PRIORITY)


def _shutdown() -> None:
    STATE.finishing = True
    try:
        if STATE.shutdown_pipeline is not None:
            STATE.shutdown_pipeline()
    except Exception:
        logger.debug("vaquero: shutdown at process end failed", exc_info=True)
    finally:
        STATE.finishing = False
    release_held_signals()
    if STATE.deferred_signal is not None:
        os.kill(os.getpid(), STATE.deferred_signal)
