"""What the extension does to the server process beyond wiring: stop cleanly
on SIGINT, and count running generations as activity for idle culling."""

from __future__ import annotations

import signal
import threading
from typing import Any

__all__ = ["record_activity", "stop_cleanly_on_sigint"]


def record_activity(serverapp: Any) -> None:
    """A running generation counts as activity for idle culling (a tornado
    setting ending in ``_last_activity``, which JupyterHub's culler reads)."""
    from jupyter_server._tz import utcnow

    if serverapp is not None:
        serverapp.web_app.settings["resumechat_last_activity"] = utcnow()


def stop_cleanly_on_sigint(serverapp: Any) -> None:
    """SIGINT stops the server like SIGTERM (docs/protocol.md#clean-stops).

    Without a terminal jupyter_server leaves SIGINT to Python, whose
    KeyboardInterrupt ends the process without stopping the extensions; that is
    how JupyterHub's local spawners stop a server.  With a terminal the
    server's own prompt ("Shut down this Jupyter server?") is kept.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, serverapp._signal_stop)
