"""Close codes under daphne: let the application send the codes RFC 6455 registers.

daphne closes websockets through autobahn's ``sendClose``, which accepts only 1000 and 3000-4999 and
raises for anything else, so ``websocket.close`` with 1001 (pong timeout), 1009 (frame too big) or 1013
(client too slow) never reached the client: the socket stayed open. When daphne serves the process, its
``serverClose`` sends those registered codes with autobahn's frame-level ``sendCloseFrame`` instead.
"""

from __future__ import annotations

import sys
from typing import Any

REGISTERED = frozenset({1001, 1008, 1009, 1011, 1012, 1013, 1014})


def allow_registered_close_codes() -> None:
    """Patch daphne's protocol once, if daphne is what serves this process."""
    module = sys.modules.get("daphne.ws_protocol")
    protocol: Any = getattr(module, "WebSocketProtocol", None)
    if protocol is None or getattr(protocol, "_rxgraphql_close_codes", False):
        return
    original = protocol.serverClose

    def server_close(self: Any, code: int | None = None) -> None:
        if code in REGISTERED:
            self.sendCloseFrame(code=code, isReply=False)
        else:
            original(self, code)

    protocol.serverClose = server_close
    protocol._rxgraphql_close_codes = True
